"""Parallel executors (process pool, Ray) write the same records as a sequential run."""

from __future__ import annotations

import pytest
from conftest import assert_records_close

from pepita_lib.experiments import filter_configs, get_experiment
from pepita_lib.runner import run_experiment
from pepita_lib.store import find_record

# PEPITA and PEPITA-WM on MNIST, smoke-sized: two runs
EXP = "weight_mirroring"
FILTERS = {"dataset": "mnist", "seed": "0", "wm_pre_epochs": "0", "wm_schedule": "batch"}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    root = tmp_path_factory.mktemp("sequential")
    assert len(filter_configs(get_experiment(EXP).configs("smoke"), FILTERS)) == 2
    outcomes = dict(run_experiment(EXP, "smoke", root, FILTERS, "cpu", progress=False))
    return root, outcomes


def _compare(sequential, root, outcomes):
    seq_root, seq = sequential
    assert sorted(o for _, o in outcomes) == sorted(seq.values())
    for cfg, _ in outcomes:
        b = find_record(root, EXP, cfg)
        assert b["provenance"]["device"] == "cpu"
        assert_records_close(find_record(seq_root, EXP, cfg), b)


def test_process_pool_matches_sequential_run(sequential, tmp_path):
    outcomes = list(run_experiment(EXP, "smoke", tmp_path, FILTERS, "cpu", progress=False, jobs=2))
    _compare(sequential, tmp_path, outcomes)
    again = list(run_experiment(EXP, "smoke", tmp_path, FILTERS, "cpu", progress=False, jobs=2))
    assert {o for _, o in again} == {"cached"}


def test_ray_executor_matches_sequential_run(sequential, tmp_path):
    ray = pytest.importorskip("ray")
    from pepita_lib.distributed import run_experiment_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        outcomes = list(run_experiment_ray(EXP, "smoke", tmp_path, FILTERS, "cpu", progress=False))
        # a second call finds everything stored and trains nothing
        again = list(run_experiment_ray(EXP, "smoke", tmp_path, FILTERS, "cpu", progress=False))
    finally:
        ray.shutdown()
    _compare(sequential, tmp_path, outcomes)
    assert {o for _, o in again} == {"cached"}
