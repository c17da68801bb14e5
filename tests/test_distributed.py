"""The Ray executor writes the same records as a local run."""

from __future__ import annotations

import pytest

from pepita_lib.experiments import filter_configs, get_experiment
from pepita_lib.runner import run_experiment
from pepita_lib.store import find_record

ray = pytest.importorskip("ray")

TIMING = {"seconds", "wall_seconds", "started", "finished", "start_time", "end_time"}


def _strip(obj):
    """A record without what legitimately differs between two executions (times, host)."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMING and k != "provenance"}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _close(a, b, tol=1e-6):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k], tol)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y, tol)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=tol, abs=tol)
    else:
        assert a == b


def test_ray_executor_matches_local_run(tmp_path, monkeypatch):
    from pepita_lib.distributed import run_experiment_ray

    # PEPITA and PEPITA-WM on MNIST, smoke-sized: two runs
    exp = "weight_mirroring"
    filters = {"dataset": "mnist", "seed": "0", "wm_pre_epochs": "0", "wm_schedule": "batch"}
    assert len(filter_configs(get_experiment(exp).configs("smoke"), filters)) == 2
    local = dict(run_experiment(exp, "smoke", tmp_path / "local", filters, "cpu", progress=False))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = list(
            run_experiment_ray(exp, "smoke", tmp_path / "ray", filters, "cpu", progress=False)
        )
        # a second call finds everything stored and trains nothing
        again = list(
            run_experiment_ray(exp, "smoke", tmp_path / "ray", filters, "cpu", progress=False)
        )
    finally:
        ray.shutdown()
    assert sorted(o for _, o in remote) == sorted(local.values())
    assert {o for _, o in again} == {"cached"}
    for cfg in {c for c, _ in remote}:
        a = find_record(tmp_path / "local", exp, cfg)
        b = find_record(tmp_path / "ray", exp, cfg)
        assert b["provenance"]["device"] == "cpu"
        _close(_strip(a), _strip(b))
