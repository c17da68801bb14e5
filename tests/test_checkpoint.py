"""Resumable runs: a run stopped after any epoch and started again writes the record an
uninterrupted run writes, bit for bit, for rules with every kind of extra state."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch
from conftest import strip_timing

from pepita_lib import checkpoint
from pepita_lib.cli import main
from pepita_lib.config import TrainConfig, run_id
from pepita_lib.data import load_dataset
from pepita_lib.experiments import get_experiment
from pepita_lib.runner import epoch_seconds, epochs_saved, remaining
from pepita_lib.store import record_path
from pepita_lib.train import train, train_seeds


@pytest.fixture(scope="module")
def tiny(mnist):
    return load_dataset("mnist", download=True, train_subset=1000, test_subset=300)


class Stop(Exception):
    pass


def stop_after(epoch: int):
    def hook(row: dict) -> None:
        if row["epoch"] == epoch:
            raise Stop

    return hook


# the authors' mirroring: epochs 1 and 3 (0-based) mirror, the drive draws dropout masks
# from the noise stream, and the held gain's reference lives in the rule's state
AUTHORS_WM = dict(wm_schedule="period", wm_every=2, wm_pre_epochs=1, wm_drive="block",
                  wm_hold_gain=True, act_norm="sample")  # fmt: skip


# pepita carries W_1 F across steps, pepita_wm owns a noise generator and changes F,
# ff draws wrong labels from its own generator, bp has no rule state at all
@pytest.mark.parametrize(
    "rule, extra",
    [("pepita", {}), ("pepita_wm", {}), ("pepita_wm", AUTHORS_WM), ("ff", {}), ("bp", {})],
)
def test_resumed_run_equals_uninterrupted_run(rule, extra, tiny, tmp_path):
    cfg = TrainConfig(rule=rule, dataset="mnist", hidden=(64, 32), epochs=4, lr=0.01,
                      decay_epochs=(2,), train_subset=1000, test_subset=300, **extra)  # fmt: skip
    whole = train(cfg, "cpu", tiny, out=tmp_path / "whole.json", progress=False)
    out = tmp_path / "cut.json"
    ckpt = checkpoint.checkpoint_path(out)
    with pytest.raises(Stop):  # killed during epoch 3: the checkpoint after epoch 2 survives
        train(cfg, "cpu", tiny, out=out, progress=False, on_epoch=stop_after(3),
              checkpoint_seconds=0)  # fmt: skip
    assert ckpt.exists() and not out.exists()
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2
    resumed = train(cfg, "cpu", tiny, out=out, progress=False, checkpoint_seconds=0)
    assert not ckpt.exists()  # the record replaces it
    assert strip_timing(resumed) == strip_timing(whole)
    segs = resumed["provenance"]["segments"]
    assert [(s["first_epoch"], s["last_epoch"]) for s in segs] == [(1, 2), (3, 4)]
    total = sum(s["wall_seconds"] for s in segs)
    assert resumed["provenance"]["wall_seconds"] == pytest.approx(total, abs=1e-2)
    assert resumed["provenance"]["started"] == segs[0]["started"]
    assert "segments" not in whole["provenance"]


def test_stacked_seeds_resume_as_one_checkpoint(tiny, tmp_path):
    # seeds trained as one stacked net (the GPU default) save one checkpoint for the stack
    cfgs = [TrainConfig(rule="pepita", dataset="mnist", hidden=(32,), epochs=3, seed=s,
                        train_subset=1000, test_subset=300) for s in (0, 1)]  # fmt: skip
    whole = train_seeds(cfgs, "cpu", tiny, outs=[tmp_path / "w0.json", tmp_path / "w1.json"],
                        progress=False)  # fmt: skip
    outs = [tmp_path / "exp" / "c0.json", tmp_path / "exp" / "c1.json"]
    with pytest.raises(Stop):
        train_seeds(cfgs, "cpu", tiny, outs=outs, progress=False, on_epoch=stop_after(2),
                    checkpoint_seconds=0)  # fmt: skip
    assert [p.name for p in tmp_path.glob("*/*.ckpt")] == ["c0.ckpt"]
    assert epochs_saved(tmp_path) == {run_id(c): 1 for c in cfgs}  # both seeds resume
    resumed = train_seeds(cfgs, "cpu", tiny, outs=outs, progress=False, checkpoint_seconds=0)
    assert [strip_timing(r) for r in resumed] == [strip_timing(r) for r in whole]
    assert not list(tmp_path.glob("*/*.ckpt"))


def test_checkpoint_of_another_run_is_refused_with_its_path(tiny, tmp_path):
    a = TrainConfig(rule="pepita", dataset="mnist", hidden=(16,), epochs=2, train_subset=1000,
                    test_subset=300)  # fmt: skip
    out = tmp_path / "a.json"
    with pytest.raises(Stop):
        train(a, "cpu", tiny, out=out, progress=False, on_epoch=stop_after(2),
              checkpoint_seconds=0)  # fmt: skip
    b = a.replace(lr=a.lr * 2)
    with pytest.raises(ValueError, match=str(checkpoint.checkpoint_path(out))):
        train(b, "cpu", tiny, out=out, progress=False)
    assert checkpoint.load(checkpoint.checkpoint_path(out), [run_id(a)])["epoch"] == 1


def test_damaged_checkpoint_is_an_error_not_a_silent_restart(tmp_path):
    path = tmp_path / "x.ckpt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        checkpoint.load(path, ["x"])


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "r.ckpt"
    checkpoint.save(path, {"run_ids": ["r"], "epoch": 3})
    checkpoint.save(path, {"run_ids": ["r"], "epoch": 4})
    assert [p.name for p in tmp_path.iterdir()] == ["r.ckpt"]
    assert torch.load(path, weights_only=True)["epoch"] == 4  # load() also wants every key
    assert checkpoint.load(tmp_path / "none.ckpt", ["r"]) is None


def test_status_names_the_runs_that_will_resume(tmp_path):
    folder = tmp_path / "baselines"
    seg = {"finished": "2026-12-07T12:00"}
    checkpoint.save(folder / "abc.ckpt", {"run_ids": ["abc"], "epoch": 7, "segments": [seg]})
    (folder / "bad.ckpt").write_bytes(b"junk")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["status", "baselines", "--profile", "smoke", "--results", str(tmp_path)]) == 0
    lines = [ln for ln in buf.getvalue().splitlines() if ln.startswith("in progress")]
    assert lines == [
        f"in progress: {folder / 'abc.ckpt'} resumes after epoch 7 (saved 2026-12-07T12:00)",
        f"in progress: {folder / 'bad.ckpt'} unreadable",
    ]


def test_estimates_leave_out_the_epochs_a_checkpoint_holds(tmp_path):
    cfgs = get_experiment("f_init").configs("paper")
    one = cfgs[0]
    pace = epoch_seconds([{"status": "finished", "config": one.replace(seed=99).to_dict(),
                           "final": {"epochs_completed": one.epochs},
                           "provenance": {"wall_seconds": 10.0 * one.epochs}}])  # fmt: skip
    full, _ = remaining("f_init", "paper", tmp_path, per_epoch=pace)
    done = one.epochs // 4
    path = checkpoint.checkpoint_path(record_path(tmp_path, "f_init", one))
    checkpoint.save(path, {"run_ids": [run_id(one)], "epoch": done, "segments": [{}]})
    assert epochs_saved(tmp_path) == {run_id(one): done}
    less, _ = remaining("f_init", "paper", tmp_path, per_epoch=pace)
    assert full - less == pytest.approx(10.0 * done)
