"""The tables of "Results at a glance": comparisons, their verdicts, and trusted slowness."""

import math

import numpy as np
import pandas as pd
import pytest

from pepita_lib.analysis.results import (
    RULE_ORDER,
    afa_verdict,
    bp_gap_verdict,
    claim_row,
    compare,
    coverage_grid,
    coverage_sentence,
    depth_table,
    hebbian_verdict,
    loss_blew_up,
    main_table,
    missing_sentence,
    seed_accuracy,
    slowness_text,
    trusted_slowness,
)


def _runs(
    rule: str, accs: list[float], dataset: str = "mnist", status: str = "finished"
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rule": rule,
            "dataset": dataset,
            "seed": range(len(accs)),
            "status": status,
            "final_test_accuracy": accs,
            "depth": 1,
        }
    )


def test_seed_accuracy_is_in_percent_and_skips_diverged_runs():
    frame = pd.concat([_runs("bp", [0.98, 0.97]), _runs("bp", [math.nan], status="diverged")])
    acc = seed_accuracy(frame, rule="bp")
    assert list(acc) == pytest.approx([98.0, 97.0]) and list(acc.index) == [0, 1]


def test_compare_paired_uses_seed_matched_differences():
    a = pd.Series([98.0, 97.0, 96.0], index=[0, 1, 2])
    b = a - 0.5 + pd.Series([0.01, -0.01, 0.0], index=[0, 1, 2])
    diff, lo, hi, n = compare(a, b, paired=True)
    assert diff == pytest.approx(0.5) and lo < 0.5 < hi and hi - lo < 0.1 and n == "3 paired seeds"
    # unpaired, the seed-to-seed spread dominates and the interval is wide
    _, lo_w, hi_w, _ = compare(a, b)
    assert hi_w - lo_w > 1.0


def test_compare_with_one_seed_has_no_interval_and_empty_side_none():
    a, b = pd.Series([98.0]), pd.Series([97.0, 96.0])
    diff, lo, hi, n = compare(a, b)
    assert diff == pytest.approx(1.5) and math.isnan(lo) and math.isnan(hi) and n == "1 vs 2 seeds"
    assert compare(pd.Series(dtype=float), b) is None


def test_claim_row_says_why_there_is_no_comparison():
    assert (
        claim_row("c", "l", None, afa_verdict, gone=True)["our runs"]
        == "cannot compare: a run diverged"
    )
    assert claim_row("c", "l", None, afa_verdict)["difference (points)"] == "not run"
    row = claim_row("c", "l", (0.1, -0.2, 0.4, "3 paired seeds"), afa_verdict)
    assert row["95% CI"] == "[-0.20, +0.40]" and row["our runs"] == "agrees: no significant gap"


def test_verdicts_read_the_interval():
    assert bp_gap_verdict(-0.5)(-0.4, -0.9, 0.1, True) == "agrees"
    assert bp_gap_verdict(-0.5)(-2.0, -2.4, -1.6, True).startswith("differs")
    assert bp_gap_verdict(None)(-0.4, math.nan, math.nan, False) == "PEPITA trails BP by 0.40"
    assert hebbian_verdict(0.0, -0.1, 0.1, True) == "agrees"
    assert hebbian_verdict(0.0, -0.5, 0.5, True) == "consistent, CI too wide to confirm"
    assert hebbian_verdict(1.0, 0.5, 1.5, True) == "differs"


def test_main_table_has_every_rule_and_says_not_run():
    tab = main_table(_runs("bp", [0.98, 0.97]))
    assert len(tab) == len(RULE_ORDER) and tab["rule"].is_unique
    bp = tab[tab["rule"] == "BP"].iloc[0]
    assert (
        bp["MNIST: ours"] == "97.50 ± 0.71 (n=2)" and bp["CIFAR-10 (JPEG copy): ours"] == "not run"
    )


def test_depth_table_marks_a_depth_whose_runs_all_diverged():
    deep = _runs("pepita", [math.nan], status="diverged").assign(depth=3)
    tab = depth_table(_runs("pepita", [0.98]), deep)
    row = tab[(tab["rule"] == "PEPITA") & (tab["dataset"] == "MNIST")].iloc[0]
    assert (
        row["1 layer"] == "98.00 (n=1)"
        and row["3 layers"] == "diverged"
        and row["2 layers"] == "not run"
    )
    assert depth_table(pd.DataFrame(), pd.DataFrame()).empty


def test_loss_blew_up_compares_with_the_first_epoch():
    assert (
        loss_blew_up([0.5, 0.3, 6.0]) and not loss_blew_up([0.5, 0.3, 4.0]) and not loss_blew_up([])
    )


def _curve(run_id: str, acc: list[float], loss: list[float]) -> pd.DataFrame:
    n = len(acc)
    return pd.DataFrame(
        {"run_id": run_id, "epoch": np.arange(1, n + 1), "test_accuracy": acc, "train_loss": loss}
    )


def test_a_run_whose_loss_blew_up_has_no_slowness():
    t = np.arange(1, 11)
    smooth = 0.9 * t / (2.0 + t)
    hist = pd.concat(
        [
            _curve("ok", list(smooth), [0.5] * 10),
            _curve("blown", [0.8] + [0.7] * 9, [0.5, 0.4] + [1e5] * 8),
        ]
    )
    runs = pd.DataFrame({"run_id": ["ok", "blown"], "decay_epochs": ["", ""], "dataset": "mnist"})
    fits = trusted_slowness(runs, hist).set_index("run_id")
    assert fits.loc["ok", "fit"] == "ok" and fits.loc["ok", "slowness"] == pytest.approx(
        2.0, rel=1e-3
    )
    assert fits.loc["blown", "fit"] == "loss blew up" and math.isnan(fits.loc["blown", "slowness"])
    assert slowness_text(fits.loc[["blown"]]) == "n/a (loss blew up)"
    assert slowness_text(fits) == "2.00"


def test_a_fit_at_its_lower_bound_counts_as_failed():
    # at its ceiling after the first epoch, or falling back from it: the best s is the bound 0
    hist = pd.concat(
        [_curve("flat", [0.75] * 10, [0.5] * 10), _curve("fell", [0.8] + [0.7] * 9, [0.5] * 10)]
    )
    runs = pd.DataFrame({"run_id": ["flat", "fell"], "decay_epochs": "", "dataset": "mnist"})
    fits = trusted_slowness(runs, hist)
    assert list(fits["fit"]) == ["fit failed"] * 2 and slowness_text(fits) == "n/a (fit failed)"


def _coverage() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "experiment": ["baselines", "baselines", "afa"],
            "dataset": ["mnist", "cifar100", "mnist"],
            "finished": [48, 0, 5],
            "diverged": [2, 0, 1],
            "missing": [0, 45, 2],
            "seconds": [0.0, 0.0, 7200.0],
            "unknown": [0, 45, 0],
        }
    )


def test_coverage_grid_counts_diverged_runs_as_done():
    grid = coverage_grid(_coverage()).set_index("experiment")
    assert (
        grid.loc["baselines", "MNIST"] == "50/50 (2 diverged)"
        and grid.loc["afa", "MNIST"] == "6/8 (1 diverged)"
    )
    assert (
        grid.loc["afa", "CIFAR-100"] == "—"
        and grid.loc["baselines", "est. CPU hours"] == "0.0 + 45 untimed"
    )
    assert grid.loc["afa", "est. CPU hours"] == "2.0" and list(grid.index) == ["baselines", "afa"]
    assert coverage_sentence(_coverage()).startswith(
        "On MNIST, Fashion-MNIST and CIFAR-10: 56 of 58 registered"
    )
    assert "CIFAR-100 (45 runs registered)" in coverage_sentence(_coverage())


def test_missing_sentence_lists_cells_and_hours():
    states = pd.DataFrame(
        {"dataset": ["MNIST", "CIFAR-100", "CIFAR-100"], "rule": ["BP", "BP", "BP"]}
    )
    states["state"] = ["finished", "missing", "missing"]
    text = missing_sentence(states, 7200.0, 0)
    assert "BP on CIFAR-100 (2)" in text and "about 2 hours" in text and "untimed" not in text
    assert missing_sentence(states.iloc[:1], 0.0, 0) == ""
