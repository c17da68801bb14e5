"""CUDA: the same code path as the CPU (skipped where no GPU is present).

Run on a GPU machine with ``pytest tests/test_gpu.py``. Initial weights, feedback matrices
and batch order come from CPU generators on every device; dropout masks are drawn on the
device, so CPU-vs-CUDA comparisons switch dropout off.
"""

from __future__ import annotations

import pytest
import torch
from conftest import assert_records_close

from pepita_lib.config import TrainConfig
from pepita_lib.cost import measure
from pepita_lib.train import data_for, train, train_seeds

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SMALL = TrainConfig(
    dataset="mnist",
    train_subset=1000,
    test_subset=500,
    hidden=(64, 64),
    epochs=2,
    decay_epochs=(1,),
    lr=0.05,
    dropout=0.0,
)


@pytest.fixture(scope="module")
def both_devices():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    return {"cpu": data_for(SMALL, cpu), "cuda": data_for(SMALL, cuda)}


@pytest.mark.parametrize("rule", ["bp", "pepita", "pepita_hebbian", "afa", "pepita_wm"])
def test_cuda_run_matches_cpu_run(rule, both_devices):
    cfg = SMALL.replace(rule=rule)
    on_cpu = train(cfg, "cpu", both_devices["cpu"], progress=False)
    on_gpu = train(cfg, "cuda", both_devices["cuda"], progress=False)
    assert on_gpu["provenance"]["device"].startswith("cuda")
    for a, b in zip(on_cpu["history"], on_gpu["history"]):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-3)
        assert b["test_accuracy"] == pytest.approx(a["test_accuracy"], abs=0.01)


def test_stacked_seeds_on_cuda_equal_separate_cuda_runs(both_devices):
    cfgs = [SMALL.replace(rule="pepita", dropout=0.1, seed=s) for s in range(4)]
    data = both_devices["cuda"]
    separate = [train(c, "cuda", data, progress=False) for c in cfgs]
    stacked = train_seeds(cfgs, "cuda", data, progress=False)
    for a, b in zip(separate, stacked):
        assert_records_close(a, b, tol=1e-4)


def test_cost_counts_the_same_flops_on_cuda():
    cpu, gpu = (
        measure("pepita", 2, device="cpu", reps=2),
        measure("pepita", 2, device="cuda", reps=2),
    )
    assert gpu["flops_per_step"] == cpu["flops_per_step"]
    assert gpu["step_peak_bytes"] > 0 and gpu["seconds_per_step"] > 0
