"""Configs, run ids and the results store."""

from __future__ import annotations

import json
import os
import stat

import pytest

from pepita_lib.config import TrainConfig, run_id
from pepita_lib.experiments import (
    DEPTH_LR,
    HEBBIAN_DEPTH_DATASETS,
    depth_lr,
    filter_configs,
    get_experiment,
    paper_lr,
    schedule,
)
from pepita_lib.store import records_to_frames, write_json_atomic


def test_run_id_is_a_content_hash():
    a = TrainConfig(rule="bp", hidden=[1024])
    assert run_id(a) == run_id(TrainConfig(rule="bp", hidden=(1024,)))
    assert run_id(a) != run_id(a.replace(seed=1))
    assert TrainConfig.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    # only non-default settings enter the hash, so new fields keep old ids valid
    assert run_id(TrainConfig()) == run_id(TrainConfig(dropout=0.1))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="lr must be > 0"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="unknown config fields: colour"):
        TrainConfig.from_dict({"colour": 1})


def test_atomic_write_gives_records_the_usual_file_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "r.json", {"a": 1})
        os.umask(0o077)
        write_json_atomic(tmp_path / "private.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600


def test_atomic_write_leaves_old_record_on_failure(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"a": float("nan")})  # NaN is refused, not written
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_experiment_registry_and_filters():
    cfgs = get_experiment("baselines").configs("paper")
    assert len(cfgs) == 4 * 9 * 5 + 3 * 5  # nine 1x1024 rules on four datasets, FF on three
    one_layer = [c for c in cfgs if c.rule != "ff"]
    assert all(
        c.epochs == 100 and c.decay_epochs == (60, 90) and c.batch_size == 64 for c in one_layer
    )
    mnist_pep = filter_configs(cfgs, {"dataset": "mnist", "rule": "pepita"})
    assert [c.seed for c in mnist_pep] == [0, 1, 2, 3, 4]
    assert filter_configs(cfgs, {"hidden": "1024"}) == one_layer
    assert len(filter_configs(cfgs, {"hidden": "1000,1000"})) == 3 * 5
    with pytest.raises(ValueError, match="unknown filter key"):
        filter_configs(cfgs, {"colour": "red"})
    with pytest.raises(ValueError, match="unknown experiment"):
        get_experiment("nope")
    with pytest.raises(ValueError, match="unknown profile"):
        schedule("huge")


def test_records_to_frames():
    rec = {
        "run_id": "x",
        "experiment": "e",
        "profile": "smoke",
        "status": "finished",
        "config": TrainConfig(hidden=(8, 8)).to_dict(),
        "final": {"test_accuracy": 0.5},
        "provenance": {"device_name": "cpu", "wall_seconds": 1.0},
        "history": [{"epoch": 1, "test_accuracy": 0.4}, {"epoch": 2, "test_accuracy": 0.5}],
    }
    runs, hist = records_to_frames([rec])
    assert runs.loc[0, "hidden"] == "8x8" and runs.loc[0, "depth"] == 2
    assert runs.loc[0, "final_test_accuracy"] == 0.5
    assert hist["epoch"].tolist() == [1, 2]


def test_find_record_is_content_addressed_across_experiments(tmp_path):
    from pepita_lib.store import find_record, record_path

    cfg = TrainConfig(rule="pepita", seed=3)
    write_json_atomic(
        record_path(tmp_path, "baselines", cfg),
        {
            "run_id": run_id(cfg),
            "status": "finished",
            "config": cfg.to_dict(),
            "history": [],
            "final": {},
            "provenance": {},
        },  # fmt: skip
    )
    assert find_record(tmp_path, "afa_vs_pepita", cfg)["status"] == "finished"
    assert find_record(tmp_path, "afa_vs_pepita", cfg.replace(seed=4)) is None


def test_hebbian_depth_rates_come_from_each_datasets_search():
    # a deeper cell trains at a rate its own dataset's validation search tried; PEPITA and
    # PEPITA-Hebbian share it (like with like), PEPITA-TL keeps its 1-layer rate
    search = get_experiment("depth_lr_search").configs("paper")
    assert {c.dataset for c in search} == set(HEBBIAN_DEPTH_DATASETS)
    searched = {(c.dataset, len(c.hidden), c.lr) for c in search}
    cells = get_experiment("hebbian_depth").configs("paper")
    assert {(c.dataset, len(c.hidden)) for c in cells} == set(DEPTH_LR)
    for c in cells:
        if c.rule == "pepita_tl":
            assert c.lr == paper_lr("pepita_tl", c.dataset)
        else:
            assert c.lr == DEPTH_LR[(c.dataset, len(c.hidden))]
            assert (c.dataset, len(c.hidden), c.lr) in searched
    assert depth_lr("pepita", "mnist", 1) == paper_lr("pepita", "mnist")
    assert depth_lr("pepita", "mnist", 7) is None  # never searched: not registered
