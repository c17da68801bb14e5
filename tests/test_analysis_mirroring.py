"""Weight mirroring in stored runs: epoch 0, blow-ups, the gain along a run, verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pepita_lib.analysis import mirroring as wm


def _hist(losses: dict[str, list[float]], gains: dict[str, list[float]] | None = None):
    rows = []
    for seed, (rid, loss) in enumerate(losses.items()):
        for e, v in enumerate(loss, start=1):
            row = {
                "run_id": rid,
                "seed": seed,
                "epoch": e,
                "train_loss": v,
                "Variant": "factorised F + WM",
                "Dataset": "Fashion-MNIST",
            }
            if gains:
                row["gain_W1F"] = gains[rid][e - 1]
            rows.append(row)
    return pd.DataFrame(rows)


def test_blowup_is_the_first_loss_above_ten_times_the_first():
    assert wm.blowup_index(np.array([0.5, 0.3, 4.9, 5.1, 0.2])) == 3
    assert wm.blowup_index(np.array([0.5, 0.3, 4.9])) is None
    assert wm.blowup_index(np.array([])) is None
    h = _hist({"a": [0.5, 0.3, 6.0], "b": [0.5, 0.4, 0.3]})
    assert wm.blown_runs(h) == {"a"}
    table = wm.blowup_table(h)
    assert table[["seed", "blown up from epoch", "worst loss"]].values.tolist() == [[0, 3, "6"]]
    text = wm.blowup_summary(table)
    assert text.startswith("factorised F + WM on Fashion-MNIST (1 seed): the training loss first")
    assert "at epoch 3 and peaks at 6 to 6" in text
    assert wm.blowup_summary(wm.blowup_table(h[h["run_id"] == "b"])).startswith("no stored run")


def test_with_epoch0_prepends_the_initial_state():
    runs = pd.DataFrame(
        {"run_id": ["a"], "seed": [0], "initial_angle_F": [89.0], "final_test_accuracy": [0.9]}
    )
    hist = pd.DataFrame({"run_id": ["a"], "epoch": [1], "angle_F": [60.0]})
    out = wm.with_epoch0(runs, hist)
    assert out.sort_values("epoch")["angle_F"].tolist() == [89.0, 60.0]
    assert "final_test_accuracy" not in out


def test_gain_summary_finds_the_turn_before_the_blowup():
    h = _hist(
        {"a": [1.0, 0.5, 20.0], "b": [1.0, 0.8, 0.6]}, {"a": [1.0, 2.0, 8.0], "b": [1.0, 1.5, 3.0]}
    )
    s = wm.gain_runs_summary(h)
    assert s["n"] == 2 and s["growth"] == [8.0, 3.0]
    assert s["blow"] == {0: (3, 8.0, 2, 2.0)}  # blown at epoch 3 (gain x8), lowest loss at 2
    assert "×3.0-8.0 over 2 seeds" in wm.growth_text(s)
    assert "(1 of 2 seeds)" in wm.blowup_gain_text(s)
    assert wm.gain_runs_summary(h.drop(columns="gain_W1F")) is None


def test_turn_text_gives_the_lowest_epoch_and_the_climb():
    h = _hist({"a": [1.0, 0.5, 1.0], "b": [1.0, 0.25, 1.0]})
    assert wm.turn_text(h).startswith("lowest at epoch 2, 2.0-4.0 times that by epoch 3 (2 seeds)")
    assert wm.span([3.0, 3.04]) == "3.0" and wm.span([12.0, 30.0]) == "12-30"


def test_accuracy_verdict_needs_two_seeds_and_a_significant_gap():
    few = wm.accuracy_verdict(pd.Series([0.90]), pd.Series([0.95]))
    assert few.startswith("WM changes the final accuracy by +5.00 points") and "too few" in few
    fixed, mirrored = pd.Series([0.90, 0.901, 0.899]), pd.Series([0.80, 0.801, 0.799])
    assert wm.accuracy_verdict(fixed, mirrored).startswith("WM is worse by 10.00 points")
    noisy = wm.accuracy_verdict(pd.Series([0.90, 0.80]), pd.Series([0.85, 0.86]))
    assert noisy.endswith("not significant)")


@pytest.mark.parametrize(
    "pairs, start",
    [
        ({}, "cannot be checked"),
        ({"MNIST": (40.0, 20.0)}, "holds in every stored pair"),
        ({"MNIST": (40.0, 20.0), "CIFAR-10": (30.0, 50.0)}, "does not hold everywhere"),
    ],
)
def test_angle_claim_holds_only_when_wm_is_lower_everywhere(pairs, start):
    assert wm.angle_claim(pairs).startswith(start)


def test_nothing_stored_reads_as_not_run():
    empty = pd.DataFrame()
    assert wm.wm_against_fixed(empty, empty, "mnist")["verdict"] == "not run yet"
    assert np.isnan(wm.angle_at(empty, empty, "factorised F + WM", "mnist", 100))
