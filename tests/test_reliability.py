"""Bad input of every kind is one clear line, one bad file never blocks the rest, and no
finished run is lost or recomputed: under kills at random moments and two processes at once.

The grids here are tiny real-data runs (MNIST, 300 training images, a 16-unit layer) of
an experiment registered for the test only."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pepita_lib import checkpoint
from pepita_lib.cli import main
from pepita_lib.config import TrainConfig, run_id
from pepita_lib.data import DataFileError, load_arrays
from pepita_lib.divergence import PATIENCE, blowup, divergence
from pepita_lib.experiments import EXPERIMENTS, Experiment
from pepita_lib.locks import file_lock
from pepita_lib.runner import run_experiment
from pepita_lib.store import RecordError, load_record, record_path, run_folders
from pepita_lib.train import train

EXP = "reliability_tiny"
REPO = Path(__file__).resolve().parents[1]
TINY = dict(dataset="mnist", train_subset=300, test_subset=200, hidden=(16,), epochs=2,
            decay_epochs=(1,))  # fmt: skip
CONFIGS = [TrainConfig(rule=r, seed=s, **TINY) for r in ("bp", "pepita") for s in (0, 1, 2)]


@pytest.fixture(autouse=True)
def tiny_experiment(monkeypatch):
    monkeypatch.setitem(EXPERIMENTS, EXP, Experiment(EXP, "test grid", lambda p: list(CONFIGS)))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield


def snapshot(root: Path) -> dict[str, bytes]:
    """Every stored file under ``root`` by path (what must never change or vanish)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.json")}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """The tiny grid, trained once: a results folder to copy and damage."""
    root = tmp_path_factory.mktemp("stored")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(EXPERIMENTS, EXP, Experiment(EXP, "test grid", lambda p: list(CONFIGS)))
        outcomes = [o for _, o in run_experiment(EXP, "smoke", root, device="cpu", progress=False)]
    assert sorted(outcomes) == ["finished"] * len(CONFIGS)
    return snapshot(root)


def restore(files: dict[str, bytes], root: Path) -> Path:
    for name, blob in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(blob)
    return root


def one_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# records ---------------------------------------------------------------------------------


def test_every_stored_record_in_results_is_valid():
    folders = run_folders(REPO / "results")
    paths = [p for f in folders for p in sorted(f.glob("*.json"))]
    assert len(paths) >= 680
    for path in paths:
        load_record(path)  # raises RecordError naming the file


def _bad(rec: dict, rid: str) -> dict[str, str]:
    other = TrainConfig(seed=99).to_dict()
    return {
        "truncated": json.dumps(rec)[:500],
        "empty": "",
        "not a record": '{"hello": "world"}',
        "unknown status": json.dumps({**rec, "status": "done"}),
        "final null": json.dumps({**rec, "final": None}),
        "wrong config": json.dumps({**rec, "config": other}),
    }


@pytest.mark.parametrize(
    "kind",
    ["truncated", "empty", "not a record", "unknown status", "final null", "wrong config"],
)
def test_a_corrupt_record_is_named_listed_moved_aside_and_retrained(kind, stored, tmp_path, capsys):
    root = restore(stored, tmp_path)
    victim = record_path(root, EXP, CONFIGS[1])
    text = _bad(json.loads(victim.read_text()), victim.stem)[kind]
    victim.write_text(text)
    before = snapshot(root)

    assert main(["status", EXP, "--profile", "smoke", "--results", str(root)]) == 0
    out = capsys.readouterr().out
    line = one_line("\n".join(ln for ln in out.splitlines() if ln.startswith("corrupt")))
    assert str(victim) in line
    assert f"{EXP} smoke " in out  # the table is still printed: nothing else is blocked
    assert snapshot(root) == before  # status changes nothing

    assert main(["run", EXP, "--profile", "smoke", "--results", str(root), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert f"corrupt record {victim}" in err and "Traceback" not in err
    aside = victim.with_name(victim.name + ".corrupt")
    assert aside.read_text() == text  # kept, never deleted
    assert load_record(victim)["status"] in ("finished", "diverged")  # trained again
    after = snapshot(root)
    assert {k: v for k, v in after.items() if k != f"{EXP}/{victim.name}"} == {
        k: v for k, v in before.items() if k != f"{EXP}/{victim.name}"
    }


# configs and paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, says",
    [
        (["--lr", "inf"], "lr must be a finite number"),
        (["--momentum", "nan"], "momentum must be a finite number"),
        (["--wm-noise", "nan"], "wm_noise must be a finite number"),
        (["--f-scale", "inf"], "f_scale must be a finite number"),
        (["--hidden", "100000000"], "hidden widths must be <="),
        (["--device", "foo"], "unknown device 'foo'"),
        (["--momentum", "1.5"], "momentum must be in [0, 1)"),
    ],
)
def test_a_bad_setting_is_one_line_before_training(args, says, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["train", "--epochs", "1", "--out", str(out), "--quiet", *args]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("pepita: error:") and says in line
    assert not out.exists() and not checkpoint.checkpoint_path(out).exists()


def test_bad_output_paths_are_refused_before_training(tmp_path, capsys):
    started = time.perf_counter()
    assert main(["train", "--out", str(tmp_path), "--quiet", "--device", "cpu"]) == 2
    assert "is a directory" in one_line(capsys.readouterr().err)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", "--out", str(blocker / "r.json"), "--quiet"]) == 2
    assert "cannot be written" in one_line(capsys.readouterr().err)
    assert main(["run", EXP, "--profile", "smoke", "--results", str(blocker)]) == 2
    assert "is a file" in one_line(capsys.readouterr().err)
    assert main(["status", "--results", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in one_line(capsys.readouterr().err)
    flt = ["--filter", "rule=nosuchrule"]
    assert main(["run", EXP, "--profile", "smoke", "--results", str(tmp_path), *flt]) == 2
    assert "matches" in one_line(capsys.readouterr().err)
    assert time.perf_counter() - started < 30  # all refused before any training


def test_a_record_that_cannot_be_written_goes_to_a_fallback_file(tmp_path, monkeypatch, capsys):
    from pepita_lib import store

    def refuse(path, obj):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_json_atomic", refuse)
    monkeypatch.setattr(store.tempfile, "gettempdir", lambda: str(tmp_path))
    out = tmp_path / "out" / "r.json"
    argv = ["train", "--rule", "bp", "--hidden", "16", "--epochs", "1", "--train-subset", "300",
            "--test-subset", "200", "--out", str(out), "--quiet", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 2
    line = one_line(capsys.readouterr().err)
    (fallback,) = tmp_path.glob("pepita-unsaved-*.json")
    assert str(fallback) in line and "No space left" in line
    rec = json.loads(fallback.read_text())
    assert rec["status"] == "finished" and rec["run_id"] in fallback.name


# data files --------------------------------------------------------------------------------


def _npz(path: Path, **changes) -> None:
    g = np.random.default_rng(0)
    arrays = {
        "x_train": g.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "y_train": g.integers(0, 10, 40),
        "x_test": g.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_test": g.integers(0, 10, 20),
    }
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


DAMAGE = {
    "missing y_test": (lambda p: _npz(p, y_test=None), "missing y_test"),
    "truncated": (lambda p: (_npz(p), p.write_bytes(p.read_bytes()[:3000])), "not a readable"),
    "empty": (lambda p: p.write_bytes(b""), "empty file"),
    "random bytes": (lambda p: p.write_bytes(os.urandom(5000)), "not a readable"),
    "labels out of range": (lambda p: _npz(p, y_train=np.full(40, 12)), "labels in [12, 12]"),
    "too few labels": (lambda p: _npz(p, y_test=np.zeros(5, np.int64)), "5 labels y_test"),
    "float images": (
        lambda p: _npz(p, x_train=np.full((40, 28, 28), 1000.0)),
        "dtype float64, expected uint8",
    ),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_data_file_is_one_line_naming_it(kind, tmp_path, monkeypatch, capsys):
    path = tmp_path / "mnist.npz"
    damage, says = DAMAGE[kind]
    damage(path)
    monkeypatch.setenv("PEPITA_DATA_DIR", str(tmp_path))
    with pytest.raises(DataFileError) as info:
        load_arrays("mnist")
    assert str(path) in str(info.value) and says in str(info.value)
    assert "\n" not in str(info.value)
    results = tmp_path / "results"
    assert main(["run", EXP, "--profile", "smoke", "--results", str(results), "--quiet"]) == 3
    assert json.loads(capsys.readouterr().out) == {"bad data": len(CONFIGS)}
    assert not list(results.rglob("*.json"))  # nothing recorded as finished


def test_a_valid_small_data_file_loads(tmp_path, monkeypatch):
    _npz(tmp_path / "mnist.npz")
    monkeypatch.setenv("PEPITA_DATA_DIR", str(tmp_path))
    (x, y, _, _), source = load_arrays("mnist")
    assert x.shape == (40, 28, 28) and source.startswith("npz:")


# checkpoints -------------------------------------------------------------------------------


def test_a_damaged_checkpoint_affects_only_its_run(stored, tmp_path, capsys):
    root = restore(stored, tmp_path)
    victim, lost = record_path(root, EXP, CONFIGS[2]), record_path(root, EXP, CONFIGS[4])
    victim.unlink()
    lost.unlink()
    ckpt = checkpoint.checkpoint_path(victim)
    ckpt.write_bytes(b"not a checkpoint")
    before = snapshot(root)
    assert main(["run", EXP, "--profile", "smoke", "--results", str(root), "--device", "cpu"]) == 3
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"cached": 4, "bad checkpoint": 1, "finished": 1}
    assert f"cannot read checkpoint {ckpt}" in captured.err
    assert lost.exists() and not victim.exists() and ckpt.read_bytes() == b"not a checkpoint"
    assert {k: v for k, v in snapshot(root).items() if k in before} == before


def test_a_checkpoint_lacking_a_key_names_it(tmp_path):
    path = tmp_path / "r.ckpt"
    torch.save({"format": checkpoint.FORMAT, "run_ids": ["a"], "epoch": 1}, path)
    with pytest.raises(checkpoint.CheckpointError, match="lacks weights"):
        checkpoint.load(path, ["a"])


def test_a_checkpoint_beside_its_finished_record_is_not_in_progress(stored, tmp_path):
    root = restore(stored, tmp_path)
    ckpt = checkpoint.checkpoint_path(record_path(root, EXP, CONFIGS[0]))
    torch.save({"epoch": 1, "run_ids": [run_id(CONFIGS[0])]}, ckpt)
    assert checkpoint.in_progress(root) == []
    record_path(root, EXP, CONFIGS[0]).unlink()
    assert [p for p, *_ in checkpoint.in_progress(root)] == [ckpt]


def test_ctrl_c_says_which_epochs_are_kept_and_which_are_lost(tmp_path, mnist_tiny):
    def stop(row):
        if row["epoch"] == 3:
            raise KeyboardInterrupt

    out = tmp_path / "r.json"
    cfg = CONFIGS[0].replace(epochs=4)
    with pytest.raises(checkpoint.Interrupted) as info:
        train(cfg, "cpu", mnist_tiny, out=out, progress=False, on_epoch=stop,
              checkpoint_seconds=0)  # fmt: skip
    msg = str(info.value)
    assert f"epochs 1-2 kept in {checkpoint.checkpoint_path(out)}" in msg
    assert "epoch 3 lost" in msg


@pytest.fixture(scope="module")
def mnist_tiny():
    from pepita_lib.data import load_dataset

    return load_dataset("mnist", train_subset=300, test_subset=200)


# divergence --------------------------------------------------------------------------------


def test_fa_on_cifar10_blew_up_and_recovered_and_the_stored_record_is_untouched():
    path = REPO / "results" / "baselines" / "fb48eb8be19e83be.json"
    blob = path.read_bytes()
    rec = load_record(path)
    assert rec["config"]["rule"] == "fa" and rec["status"] == "finished"
    blew = blowup(rec["history"], 10)
    assert blew["loss"] > 100 * math.log(10) and 1 <= blew["epoch"] <= 60
    assert divergence(rec["history"], 10, last_epoch=True) is None  # it recovered: finished
    assert path.read_bytes() == blob


def test_divergence_needs_a_blow_up_at_chance_for_patience_epochs():
    def row(e, loss, acc):
        return {"epoch": e, "train_loss": loss, "test_accuracy": acc}

    calm = [row(1, 2.0, 0.5)]
    exploded = [row(e, 1e9, 0.1) for e in range(2, 2 + PATIENCE)]
    assert divergence(calm + exploded[:-1], 10) is None
    assert "since epoch 2" in divergence(calm + exploded, 10)
    assert divergence(calm + exploded[:3], 10, last_epoch=True) is not None
    learning = [row(e, 1e9, 0.6) for e in range(2, 40)]  # huge loss, still learning
    assert divergence(calm + learning, 10, last_epoch=True) is None
    assert blowup(calm + learning, 10)["epoch"] == 2
    assert "not finite" in divergence(calm + [row(2, None, None)], 10)


def test_a_run_whose_loss_explodes_is_recorded_as_diverged_with_reason(tmp_path, mnist_tiny):
    cfg = TrainConfig(lr=1000.0, **{**TINY, "epochs": 3})
    rec = train(cfg, "cpu", mnist_tiny, out=tmp_path / "r.json", progress=False)
    assert rec["status"] == "diverged"
    assert rec["final"]["diverged_at_epoch"] >= 1 and rec["final"]["diverged_reason"]
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "diverged"


# concurrency and kills ---------------------------------------------------------------------


def _fork(fn) -> int:
    pid = os.fork()
    if pid == 0:  # child: one thread, run, leave without pytest's teardown
        code = 1
        try:
            torch.set_num_threads(1)
            code = fn()
        finally:
            sys.stdout.flush()
            os._exit(code or 0)
    return pid


def _grid(root: Path, counts: Path | None = None):
    def run() -> int:
        if counts is not None:
            sys.stdout = open(counts, "w")
        return main(["run", EXP, "--profile", "smoke", "--results", str(root), "--quiet",
                     "--device", "cpu", "--checkpoint-every", "0"])  # fmt: skip

    return run


def test_two_concurrent_runs_of_one_grid_train_each_run_once(tmp_path):
    root = tmp_path / "results"
    pids = [_fork(_grid(root, tmp_path / f"counts{i}.json")) for i in range(2)]
    for pid in pids:
        assert os.waitpid(pid, 0)[1] == 0
    counts = [json.loads((tmp_path / f"counts{i}.json").read_text()) for i in range(2)]
    trained = sum(c.get("finished", 0) + c.get("diverged", 0) for c in counts)
    assert trained == len(CONFIGS)
    assert sum(c.get("cached", 0) for c in counts) == len(CONFIGS)
    for cfg in CONFIGS:
        load_record(record_path(root, EXP, cfg))


def test_a_second_train_on_the_same_out_refuses_with_one_line(tmp_path, capsys):
    out = tmp_path / "r.json"
    with file_lock(out):
        assert main(["train", "--out", str(out), "--quiet", "--epochs", "1"]) == 2
    assert "another pepita train is writing" in one_line(capsys.readouterr().err)
    assert not out.exists()


def test_kills_at_20_random_moments_lose_and_recompute_nothing(tmp_path, monkeypatch):
    # runs of a fraction of a second each, so that kills land inside the grid, not only
    # before it starts or after it ends
    heavier = [c.replace(train_subset=2000, hidden=(64,), epochs=3) for c in CONFIGS]
    monkeypatch.setitem(EXPERIMENTS, EXP, Experiment(EXP, "test grid", lambda p: heavier))
    root = tmp_path / "results"
    started = time.perf_counter()
    assert os.waitpid(_fork(_grid(tmp_path / "timing")), 0)[1] == 0
    whole = time.perf_counter() - started
    pid = _fork(_grid(root))  # one kill just after the first record is stored
    while not list(root.glob(f"{EXP}/*.json")) and time.perf_counter() - started < 60:
        time.sleep(0.002)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    seen = snapshot(root)
    assert 0 < len(seen) < len(heavier)
    rng = random.Random(50)
    for _ in range(20):
        pid = _fork(_grid(root))
        time.sleep(rng.uniform(0.0, whole))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        now = snapshot(root)
        assert {k: now.get(k) for k in seen} == seen  # nothing stored changed or vanished
        seen = now
    assert os.waitpid(_fork(_grid(root)), 0)[1] == 0
    final = snapshot(root)
    assert {k: final[k] for k in seen} == seen  # finished runs were not recomputed
    names = sorted(final)
    assert names == sorted(f"{EXP}/{run_id(c)}.json" for c in heavier)  # each stored once
    for name in names:
        load_record(root / name)
    assert not list(root.rglob("*.ckpt"))


def test_record_errors_are_one_line(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": "unterminated')
    with pytest.raises(RecordError) as info:
        load_record(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
