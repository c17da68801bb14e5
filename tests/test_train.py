"""The training loop end to end on real data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pepita_lib.config import TrainConfig, run_id
from pepita_lib.data import load_dataset
from pepita_lib.experiments import get_experiment
from pepita_lib.runner import (
    coverage,
    epoch_seconds,
    estimate_seconds,
    remaining,
    run_experiment,
    status,
)
from pepita_lib.store import record_path, write_json_atomic
from pepita_lib.train import train

SMALL = dict(dataset="mnist", epochs=2, train_subset=2000, test_subset=500, decay_epochs=(1,))


@pytest.fixture(scope="module")
def small(mnist):
    return load_dataset("mnist", download=True, train_subset=2000, test_subset=500)


def _strip(rec):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rec["history"]]


def test_same_seed_same_record(small):
    cfg = TrainConfig(rule="pepita", lr=0.1, **SMALL)
    a = train(cfg, "cpu", small, progress=False)
    b = train(cfg, "cpu", small, progress=False)
    assert _strip(a) == _strip(b)
    c = train(cfg.replace(seed=1), "cpu", small, progress=False)
    assert _strip(a) != _strip(c)


@pytest.mark.parametrize(
    "rule", ["bp", "fa", "dfa", "drtp", "pepita", "pepita_hebbian", "pepita_tl", "afa"]
)
def test_every_rule_learns_and_records(rule, small, tmp_path):
    lr = 0.01 if rule in ("pepita_tl", "drtp") else 0.1
    cfg = TrainConfig(rule=rule, lr=lr, **SMALL)
    rec = train(cfg, "cpu", small, progress=False, out=tmp_path / "r.json")
    assert rec["status"] == "finished"
    assert json.loads((tmp_path / "r.json").read_text())["run_id"] == rec["run_id"]
    assert {"epoch", "test_accuracy", "train_loss", "lr", "seconds"} <= set(rec["history"][0])
    assert rec["history"][1]["lr"] == pytest.approx(lr * 0.1)
    # chance is 0.1; time-local PEPITA is the slow learner of the family
    assert rec["final"]["test_accuracy"] > (0.2 if rule == "pepita_tl" else 0.5), rec["final"]
    prov = rec["provenance"]
    assert prov["torch_version"] and prov["device_name"] and prov["wall_seconds"] > 0
    if rule.startswith("pepita"):
        assert 0 < rec["history"][-1]["angle_F"] < 180
    if rule == "fa":
        assert "angle_W2T_B2" in rec["history"][-1]


def test_divergence_is_reported(small):
    rec = train(TrainConfig(rule="bp", lr=1e6, **SMALL), "cpu", small, progress=False)
    assert rec["status"] == "diverged"
    assert rec["final"]["test_accuracy"] is None and rec["final"]["diverged_at_epoch"] == 1


def test_runner_resumes_and_never_recomputes(tmp_path, mnist):
    filters = {"dataset": "mnist", "rule": "pepita"}
    outcomes = [
        o for _, o in run_experiment("baselines", "smoke", tmp_path, filters, "cpu", progress=False)
    ]
    assert outcomes == ["finished"]
    assert status("baselines", "smoke", tmp_path, filters) == {
        "finished": 1,
        "diverged": 0,
        "missing": 0,
    }
    again = [
        o for _, o in run_experiment("baselines", "smoke", tmp_path, filters, "cpu", progress=False)
    ]
    assert again == ["cached"]


def _timed_record(cfg: TrainConfig, wall: float, epochs: int, status: str = "finished") -> dict:
    final = {"epochs_completed": epochs}
    return {"run_id": run_id(cfg), "status": status, "config": cfg.to_dict(), "history": [],
            "final": final, "provenance": {"wall_seconds": wall}}  # fmt: skip


def test_remaining_time_is_the_median_pace_of_comparable_stored_runs(tmp_path):
    pep = TrainConfig(rule="pepita", dataset="mnist", epochs=10)
    recs = [
        _timed_record(pep.replace(seed=0), 100.0, 10),  # 10 s / epoch
        _timed_record(pep.replace(seed=1), 300.0, 10),  # 30 s / epoch
        _timed_record(pep.replace(seed=2), 200.0, 10),  # 20 s / epoch: the median
        _timed_record(pep.replace(seed=3), 1.0, 1, status="diverged"),  # not a pace
    ]
    pace = epoch_seconds(recs)
    assert estimate_seconds(pep.replace(seed=7, epochs=100), pace) == pytest.approx(2000.0)
    # another rule on the same setup falls back to the setup's pace over all rules
    assert estimate_seconds(pep.replace(rule="bp"), pace) == pytest.approx(200.0)
    # nothing comparable: another dataset or another net
    assert estimate_seconds(pep.replace(dataset="cifar10"), pace) is None
    assert estimate_seconds(pep.replace(hidden=(1024, 1024)), pace) is None
    # an experiment's missing runs: nothing stored in tmp_path, so every run is missing
    n = len(get_experiment("f_init").configs("paper"))
    assert remaining("f_init", "paper", tmp_path, per_epoch={}) == (0.0, n)
    one = get_experiment("f_init").configs("paper")[0]
    secs, unknown = remaining("f_init", "paper", tmp_path, per_epoch=epoch_seconds(
        [_timed_record(one.replace(seed=99), 50.0 * one.epochs, one.epochs)]))  # fmt: skip
    assert unknown == 0 and secs == pytest.approx(50.0 * one.epochs * n)


def test_coverage_splits_each_experiment_by_dataset_and_adds_up(tmp_path):
    configs = get_experiment("afa_vs_pepita").configs("paper")
    done = [c for c in configs if c.dataset == "cifar10"][:2]
    for i, cfg in enumerate(done):
        status_ = "finished" if i == 0 else "diverged"
        write_json_atomic(record_path(tmp_path, "afa_vs_pepita", cfg),
                          _timed_record(cfg, 10.0 * cfg.epochs, cfg.epochs, status_))  # fmt: skip
    rows = coverage("paper", tmp_path, ["afa_vs_pepita", "f_init"])
    by = {(r["experiment"], r["dataset"]): r for r in rows}
    assert set(by) == {("afa_vs_pepita", "mnist"), ("afa_vs_pepita", "cifar10"),
                       ("f_init", "mnist")}  # fmt: skip
    n_c10 = sum(c.dataset == "cifar10" for c in configs)
    c10 = by[("afa_vs_pepita", "cifar10")]
    assert (c10["finished"], c10["diverged"], c10["missing"]) == (1, 1, n_c10 - 2)
    # the finished CIFAR-10 run times the missing ones; nothing times the MNIST ones
    assert c10["unknown"] == 0 and c10["seconds"] == pytest.approx(10.0 * 100 * (n_c10 - 2))
    mn = by[("afa_vs_pepita", "mnist")]
    assert mn["missing"] == mn["unknown"] == len(configs) - n_c10 and mn["seconds"] == 0.0
    # the rows add up to the experiment's whole status
    for name in ("afa_vs_pepita", "f_init"):
        total = status(name, "paper", tmp_path)
        for key in total:
            assert sum(r[key] for r in rows if r["experiment"] == name) == total[key]


def test_cli_status_by_dataset_prints_one_line_per_dataset(tmp_path):
    out = _cli("status", "afa_vs_pepita", "--profile", "paper", "--by-dataset",
               "--results", str(tmp_path), "--filter", "rule=afa")  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [ln.split() for ln in out.stdout.splitlines()[1:] if ln.startswith("afa_vs_pepita")]
    assert "'>=X (N?)'" in out.stdout, "the est. hours column is explained"
    n = sum(c.rule == "afa" and c.dataset == "mnist"
            for c in get_experiment("afa_vs_pepita").configs("paper"))  # fmt: skip
    assert [ln[:6] for ln in lines] == [
        ["afa_vs_pepita", "paper", "mnist", "0", "0", str(n)],
        ["afa_vs_pepita", "paper", "cifar10", "0", "0", str(n)],
    ]


def test_pepita_full_mnist_one_epoch_reaches_90_percent(mnist):
    cfg = TrainConfig(dataset="mnist", rule="pepita", lr=0.1, epochs=1)
    rec = train(cfg, "cpu", mnist, progress=False)
    assert rec["final"]["test_accuracy"] >= 0.90


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "pepita_lib.cli", *args], capture_output=True, text=True
    )


def test_cli_errors_are_one_clear_line(tmp_path):
    bad = _cli("train", "--dataset", "mnits", "--out", str(tmp_path / "x.json"))
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "unknown dataset 'mnits'" in bad.stderr
    bad = _cli("train", "--rule", "magic")
    assert bad.returncode == 2 and "unknown rule 'magic'" in bad.stderr
    bad = _cli("run", "nothing")
    assert bad.returncode == 2 and "unknown experiment" in bad.stderr


def test_cli_train_writes_record(tmp_path, mnist):
    out = tmp_path / "run.json"
    res = _cli(
        "train",
        "--dataset",
        "mnist",
        "--rule",
        "pepita",
        "--hidden",
        "64",
        "--hidden",
        "32",
        "--epochs",
        "1",
        "--lr",
        "0.1",
        "--train-subset",
        "1000",
        "--test-subset",
        "200",
        "--device",
        "cpu",
        "--quiet",
        "--download",
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    rec = json.loads(out.read_text())
    assert rec["config"]["hidden"] == [64, 32] and rec["status"] == "finished"
    assert "test accuracy" in res.stdout
    listing = _cli("rules")
    for rule in ("pepita_hebbian", "drtp", "pepita_wm", "afa", "ff", "ff_topdown"):
        assert rule in listing.stdout
    assert _cli("theory", "--help").returncode == 0
    bad = _cli("theory", "--rule", "pepita", "--K", "0", "--out", str(tmp_path / "t.json"))
    assert bad.returncode == 2 and bad.stderr.startswith("pepita: error:")


def test_fa_and_dfa_coincide_with_one_hidden_layer(small):
    """With one hidden layer DFA's direct path B_1 e and FA's B_2 e are the same product, and
    both rules draw that matrix first from the seed's generator with the same std
    sqrt(2 / d_1): the runs agree exactly (the main table's FA and DFA rows). With two hidden
    layers the paths differ, so must the runs."""
    fa = train(TrainConfig(rule="fa", lr=0.1, **SMALL), "cpu", small, progress=False)
    dfa = train(TrainConfig(rule="dfa", lr=0.1, **SMALL), "cpu", small, progress=False)
    keep = ("test_accuracy", "train_loss")
    assert [{k: r[k] for k in keep} for r in fa["history"]] == [
        {k: r[k] for k in keep} for r in dfa["history"]
    ]
    deep = dict(SMALL, hidden=(256, 256))
    fa2 = train(TrainConfig(rule="fa", lr=0.1, **deep), "cpu", small, progress=False)
    dfa2 = train(TrainConfig(rule="dfa", lr=0.1, **deep), "cpu", small, progress=False)
    assert fa2["history"][-1]["train_loss"] != dfa2["history"][-1]["train_loss"]
