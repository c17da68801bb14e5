"""The cost chapter's reading of stored measurements: ratios, per-layer growth, verdicts."""

from pathlib import Path

import pytest

from pepita_lib.analysis import cost as C

MIB = 2**20


def _report(tl_bytes_per_layer: int = 3 * MIB) -> dict:
    """BP and PEPITA-TL at depths 1-3: memory linear in depth, PEPITA with 1% more FLOPs."""
    rows = []
    for d in (1, 2, 3):
        for rule, flops, per_layer in (
            ("bp", 1e8 * d, 2 * MIB),
            ("pepita", 1.01e8 * d, 2 * MIB),
            ("pepita_tl", 1e8 * d, tl_bytes_per_layer),
        ):
            rows.append(
                {
                    "rule": rule,
                    "depth": d,
                    "flops_per_step": flops,
                    "step_peak_bytes": MIB + per_layer * d,
                    "state_bytes": 4 * MIB * d,
                    "seconds_per_step": 1e-3 * d,
                    "seconds_per_epoch": 0.9 * d,
                }
            )
    seeds = [
        {"dataset": "mnist", "seeds": s, "seconds_per_step": 1e-3 * s / 2, "per_seed": 1e-3 / 2}
        for s in (1, 2, 4)
    ]
    seeds[0]["per_seed"] = seeds[0]["seconds_per_step"] = 1e-3
    return {"device": "cpu: test", "rows": rows, "seed_batch": seeds}


def test_flop_ratio_and_the_table_in_rule_order():
    rows = C.cost_rows(_report())
    assert C.flop_ratio(rows).to_numpy() == pytest.approx([1.01] * 3)
    tab = C.by_depth(rows, "MFLOP / step", 1)
    assert list(tab["Rule"]) == ["BP", "PEPITA", "PEPITA-TL"]
    assert list(tab.columns[1:]) == ["1 hidden", "2 hidden", "3 hidden"]
    assert tab.loc[0, "3 hidden"] == "300.0"


def test_memory_per_layer_is_the_slope_and_the_verdict_names_smaller_rules():
    rows = C.cost_rows(_report())
    per_layer = C.memory_per_layer(rows)
    assert per_layer["BP"] == pytest.approx(2.0) and per_layer["PEPITA-TL"] == pytest.approx(3.0)
    line = C.memory_section(rows)[3][0]
    assert line.startswith("At depth 3 BP's step holds 7.00 MiB; no forward-only rule")
    smaller = C.cost_rows(_report(tl_bytes_per_layer=MIB))
    assert C.memory_section(smaller)[3][0].endswith("less than that: PEPITA-TL.")
    facts = C.answer_facts(_report(tl_bytes_per_layer=MIB), None)
    assert facts["cost_memory_verdict"] == "less than BP: PEPITA-TL"
    assert facts["cost_flops"] == "1.010 to 1.010" and facts["cost_bench"] == "n/a"


def test_seed_batch_speedup_is_relative_to_one_seed():
    tab = C.seed_batch_table(_report()["seed_batch"])
    assert tab["speedup per seed vs S = 1"].to_numpy() == pytest.approx([1.0, 2.0, 2.0])
    assert C.answer_facts(_report(), None)["cost_seeds"].startswith(
        "2.00 times the speed per seed with 4"
    )


def test_bench_targets_are_read_against_their_thresholds():
    shape = {"seconds_per_epoch": 1.0, "plain_loop_seconds_per_epoch": 1.5, "gflops": 100.0}
    bench = {
        "device": "cpu: test",
        "threads": 2,
        "matmul_peak_gflops": 200.0,
        "cifar10": {**shape, "speedup_vs_plain": 1.5, "fraction_of_matmul_peak": 0.5},
    }
    tables = C.bench_section(bench, Path("b.json"))
    assert len(tables[0][0]) == 1
    assert "speedup target (1.3) is met (1.50)" in tables[1][0]
    assert "peak-fraction target (0.75) is not met (0.50)" in tables[1][0]
    assert C.bench_section(None, Path("b.json"))[0][0].startswith("Not run yet")
