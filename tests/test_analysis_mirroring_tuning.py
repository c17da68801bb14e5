"""Better mirroring: per-setting alignment, seed-aware comparisons, the glued sentences."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pepita_lib.analysis import mirroring_tuning as mt


def _setting(variant, angles, accs, slows, source="wm_tuning"):
    """Runs (one per seed) whose angle of F follows ``angles`` over epochs 0, 1, 2, ..."""
    runs, hist = [], []
    for seed, (acc, slow) in enumerate(zip(accs, slows)):
        rid = f"{variant}-{seed}"
        runs.append(
            {
                "run_id": rid,
                "Variant": variant,
                "source": source,
                "seed": seed,
                "status": "finished",
                "final_test_accuracy": acc,
                "slowness": slow,
                "rule": "pepita_wm",
                "wm_schedule": "batch",
                "wm_every": 1,
                "train_subset": 0,
                "val_size": 0,
                "batch_size": 64,
            }
        )
        hist += [
            {
                "run_id": rid,
                "Variant": variant,
                "seed": seed,
                "epoch": e,
                "angle_F": a,
                "test_accuracy": acc,
            }
            for e, a in enumerate(angles)
        ]
    return pd.DataFrame(runs), pd.DataFrame(hist)


def _table(*settings):
    runs = pd.concat([s[0] for s in settings], ignore_index=True)
    hist = pd.concat([s[1] for s in settings], ignore_index=True)
    return mt.settings(runs, hist, list(dict.fromkeys(runs["Variant"])), upto=2)


def test_setting_row_averages_early_and_final_angles_and_finds_45_degrees():
    t = _table(_setting(mt.DEFAULT, [90, 60, 40, 30], [0.97, 0.98], [0.05, 0.06]))
    row = t.iloc[0]
    assert row["early"] == pytest.approx(50) and row["final_angle"] == pytest.approx(30)
    assert row["epoch_45"] == "2" and row["n"] == 2
    assert row["mirror steps per epoch"] == str(math.ceil(60000 / 64))


def test_compare_says_noise_unless_beyond_two_standard_errors():
    a = pd.Series({"n": 3, "x": 1.0, "sd": 0.1})
    assert "within seed-to-seed noise" in mt.compare(a, a.copy(), "x", "sd", "", str, str)
    b = pd.Series({"n": 3, "x": 2.0, "sd": 0.1})
    assert "lower by more than two standard errors" in mt.compare(a, b, "x", "sd", "", str, str)
    one = pd.Series({"n": 1, "x": 2.0, "sd": float("nan")})
    assert "one seed" in mt.compare(a, one, "x", "sd", "", str, str)


def test_the_fastest_setting_is_named_and_compared_with_the_default():
    t = _table(
        _setting(mt.DEFAULT, [90, 80, 70, 50], [0.97, 0.98], [0.05, 0.06]),
        _setting("layer rates (0.1, 0.001)", [90, 50, 40, 60], [0.97, 0.98], [0.05, 0.06]),
    )
    glued = mt.tuning_glue(t, 2, 3)
    assert glued["bm_fastest"].startswith(
        "Among the 2 WM settings stored, “layer rates (0.1, 0.001)”"
    )
    assert "(the default: 75.0°)" in glued["bm_fastest"]
    assert f"“{mt.DEFAULT}” ends best aligned, at 50.0°" in glued["bm_fastest"]
    assert "within seed-to-seed noise" in glued["bm_fastest"]
    assert glued["bm_layer"].startswith("“layer rates (0.1, 0.001)”: 45.0° over epochs 1–2")
    assert glued["bm_payoff"].startswith("Too few WM settings")
    assert glued["bm_refs"] == "not stored yet"


def test_rank_correlation_is_undefined_without_spread():
    assert mt.rank_corr(pd.Series([1.0, 2.0, 3.0]), pd.Series([3.0, 2.0, 1.0])) == "-1.00"
    assert mt.rank_corr(pd.Series([1.0, 1.0]), pd.Series([1.0, 2.0])) == "undefined (no spread)"


def test_no_runs_gives_sentences_that_say_so():
    glued = mt.tuning_glue(
        mt.settings(pd.DataFrame(columns=["Variant"]), pd.DataFrame(), [], 1), 1, 1
    )
    assert glued["bm_summary"].startswith("No `wm_tuning` run is stored yet")
    assert glued["bm_slow_note"] == "No run is stored yet."
    assert glued["bm_plain"].startswith("Whether PEPITA turns")
