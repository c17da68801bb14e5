"""Cost measurements: counted FLOPs against the hand count, the memory tracker's bookkeeping."""

from __future__ import annotations

import argparse
import json
import math

import pytest
import torch

from pepita_lib.bench import (
    _large_products_step,
    impossible_fractions,
    pepita_step_flops,
    run_bench,
)
from pepita_lib.cli import build_parser, main
from pepita_lib.cost import PeakTensorMemory, cost_path, count_flops, make_step, measure

B, D0, D1, C = 64, 784, 1024, 10


def test_counted_bp_flops_equal_the_hand_count():
    """Forward (2 products), the error sent down (1) and two updates: 2 m n k each."""
    step, b, _ = make_step("bp", 1, D0, torch.device("cpu"))
    expected = 2 * b * (D0 * D1 + D1 * C) + 2 * b * C * D1 + 2 * b * (D1 * D0 + C * D1)
    assert count_flops(step) == expected


def test_counted_pepita_flops_equal_the_bench_formula():
    """The benchmark's peak fraction divides by pepita_step_flops: it must be what runs.
    The first step computes the carried W_1 F; later steps only update it."""
    step, _, _ = make_step("pepita", 1, D0, torch.device("cpu"))
    first = count_flops(step)
    assert count_flops(step) == pepita_step_flops(D0, refresh=10**12)
    assert first - pepita_step_flops(D0, refresh=10**12) == 2 * 2 * D1 * D0 * C


def test_large_products_step_executes_exactly_the_two_first_layer_products():
    """The bench's ceiling divides 4 B d_0 d_1 FLOPs by this loop's time: it must be what runs."""
    step = _large_products_step(D0, torch.rand(256, D0), torch.device("cpu"))
    assert count_flops(step) == 2 * 2 * B * D0 * D1


def test_bench_reports_every_figure_per_shape():
    out = run_bench(shapes=["mnist"], steps=10)
    m = out["mnist"]
    assert out["matmul_peak_gflops"] > 0 and out["threads"] == torch.get_num_threads()
    assert m["seconds_per_epoch"] > 0 and m["plain_loop_seconds_per_epoch"] > 0
    assert m["speedup_vs_plain"] == pytest.approx(
        m["plain_loop_seconds_per_epoch"] / m["seconds_per_epoch"], rel=0.01
    )
    assert 0 < m["fraction_of_matmul_peak"] and 0 < m["large_products_only_fraction"]
    assert ("warnings" in out) == bool(impossible_fractions(out))


def test_a_fraction_of_peak_above_one_is_flagged():
    """No product beats the peak product: f > 1 means the peak was timed on a busy machine."""
    result = {"matmul_peak_gflops": 50.0, "threads": 2}
    result["mnist"] = {"fraction_of_matmul_peak": 0.62, "large_products_only_fraction": 0.9}
    assert impossible_fractions(result) == []
    result["cifar10"] = {"fraction_of_matmul_peak": 1.76, "large_products_only_fraction": 0.99}
    (line,) = impossible_fractions(result)
    assert line.startswith("cifar10: fraction_of_matmul_peak = 1.76 > 1 is impossible")


def test_depth_adds_one_square_layer_of_work_per_layer():
    """Each extra 1024-wide hidden layer adds the same products (BP: forward, backward,
    update: 3 x 2 B 1024^2)."""
    flops = [measure("bp", d, reps=1)["flops_per_step"] for d in (1, 2, 3)]
    assert flops[2] - flops[1] == flops[1] - flops[0] == 3 * 2 * B * D1 * D1


def test_peak_memory_counts_live_storage_once():
    mem = PeakTensorMemory()
    with mem:
        a = torch.ones(1000)  # 4000 bytes
        b = torch.ones(2000)  # 8000 bytes, both alive
        a.add_(1)  # in place: no new storage
        v = b.view(40, 50)  # a view: no new storage
        del a
        c = torch.ones(500)  # after a was freed: 10000 bytes alive
    assert mem.peak == 12000
    assert v.shape == (40, 50) and c.numel() == 500


def test_backprop_holds_more_per_layer_as_depth_grows():
    """BP keeps every layer's activities for the backward pass: its working memory grows
    by at least one activity matrix (B x 1024 floats) per extra hidden layer."""
    peaks = [measure("bp", d, reps=1)["step_peak_bytes"] for d in (1, 2, 3)]
    act = B * D1 * 4
    assert peaks[1] - peaks[0] >= act and peaks[2] - peaks[1] >= act


def test_state_bytes_are_weights_momentum_and_feedback():
    m_bp = measure("bp", 1, reps=1)
    m_pep = measure("pepita", 1, reps=1)
    weights = (D0 * D1 + D1 * C) * 4
    assert m_bp["state_bytes"] == 2 * weights
    # PEPITA adds F (d0 x C) and the carried W_1 F, v_1 F (d1 x C each)
    assert m_pep["state_bytes"] == 2 * weights + (D0 * C + 2 * D1 * C) * 4
    assert m_pep["seconds_per_epoch"] == pytest.approx(
        m_pep["seconds_per_step"] * math.ceil(60000 / B)
    )


def test_cost_path_names_the_device_kind(tmp_path):
    assert cost_path(tmp_path, "cuda:0") == tmp_path / "cost" / "cuda.json"
    assert cost_path(tmp_path, "cpu") == tmp_path / "cost" / "cpu.json"


def test_cost_writes_only_where_asked(tmp_path, capsys):
    """The stored file is what the cost chapter shows: a plain `pepita cost` only prints."""
    args = ["cost", "--depths", "1", "--rules", "pepita", "--results", str(tmp_path)]
    assert main(args) == 0
    assert list(tmp_path.iterdir()) == [], "without --out or --store nothing is written"
    assert main([*args, "--out", str(tmp_path / "mine.json")]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["mine.json"]
    assert main([*args, "--store"]) == 0
    assert json.loads(cost_path(tmp_path, "cpu").read_text())["rows"][0]["rule"] == "pepita"


@pytest.mark.parametrize("command", ["cost", "bench"])
def test_every_option_has_help(command):
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert [a.dest for a in sub.choices[command]._actions if not a.help] == []
