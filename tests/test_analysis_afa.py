"""PEPITA against AFA: the first-order gap, the sweep's findings and the gain's growth."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from pepita_lib.analysis.afa import (
    curve_gap,
    divergence_count,
    divergence_note,
    first_net,
    fscale_findings,
    gain_curve,
    growth_prediction,
    init_update_gap,
    measured_growth,
)
from pepita_lib.data import Dataset


def _probe(n: int = 32, d: int = 784) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(n, d, generator=gen)
    return x, torch.eye(10)[torch.randint(0, 10, (n,), generator=gen)]


def test_pepita_and_afa_share_the_initial_net_and_f():
    a, fa = first_net(0.05, [784, 1024, 10])
    b, fb = first_net(0.05, [784, 1024, 10])
    assert torch.equal(fa, fb) and all(torch.equal(u, v) for u, v in zip(a.weights, b.weights))


def test_update_gap_is_first_order_in_the_modulation():
    x, t = _probe()
    (r1, g1), (r2, g2), (r3, g3) = (init_update_gap(s, x, t) for s in (0.005, 0.05, 0.5))
    # ||F e|| is linear in F's scale (e is the clean pass's error, which F does not touch)
    assert r2 / r1 == pytest.approx(10, rel=1e-6) and r3 / r2 == pytest.approx(10, rel=1e-6)
    # the higher-order share of the update grows with the modulation and is small when it is
    assert g1 < g2 < g3 and g1 < 0.05 and g3 > 3 * g1


def test_update_gap_rejects_mismatched_targets():
    x, t = _probe()
    with pytest.raises(ValueError, match="samples"):
        init_update_gap(0.05, x, t[:-1])


def test_curve_gap_is_the_mean_and_max_absolute_difference_in_points():
    hist = pd.DataFrame(
        {
            "epoch": [1, 2, 3] * 2,
            "rule": ["pepita"] * 3 + ["afa"] * 3,
            "test_accuracy": [0.90, 0.95, 0.97, 0.91, 0.93, 0.97],
        }
    )
    mean, top = curve_gap(hist)
    assert mean == pytest.approx(1.0) and top == pytest.approx(2.0)


def _sweep(gaps: list[float]) -> pd.DataFrame:
    scales = [0.005, 0.05, 0.5][: len(gaps)]
    return pd.DataFrame(
        {
            "F scale": scales,
            "‖Fe‖/‖x‖ at init": [s / 5 for s in scales],
            "PEPITA − AFA (points)": gaps,
            "max curve gap (points)": [abs(g) + 0.1 for g in gaps],
        }
    )


def test_sweep_findings_name_the_first_scale_where_the_rules_part():
    out = fscale_findings(_sweep([0.1, -0.2, 0.8]))
    assert out["fs_small_gap"] == "+0.10" and out["fs_orig_gap"] == "-0.20"
    assert out["fs_big_scale"] == "0.5" and "from F scale 0.5" in out["fs_verdict"]
    close = fscale_findings(_sweep([0.1, -0.2]))
    assert "within half a point" in close["fs_verdict"] and "0.30 points" in close["fs_verdict"]


def test_sweep_findings_without_runs_are_not_available():
    out = fscale_findings(pd.DataFrame({"F scale": [0.05]}))
    assert out["fs_small_gap"] == "n/a" and "not been run" in out["fs_verdict"]


def test_divergence_note_pairs_each_diverged_pepita_with_its_afa():
    runs = pd.DataFrame(
        {
            "f_scale": [2.0, 2.0, 0.05, 0.05],
            "rule": ["pepita", "afa", "pepita", "afa"],
            "status": ["diverged", "finished", "finished", "finished"],
            "final_diverged_at_epoch": [47, math.nan, math.nan, math.nan],
            "final_test_accuracy": [math.nan, 0.9396, 0.98, 0.98],
        }
    )
    note = divergence_note(runs)
    assert note == (
        "at scale 2 PEPITA diverged at epoch 47 while AFA, from the same start at the same "
        "rate, finished at 93.96%."
    )
    assert divergence_note(runs[runs["f_scale"] == 0.05]).startswith("No PEPITA run")


def test_measured_growth_recovers_an_exponential_rate():
    steps = np.arange(0, 301, 25)
    assert measured_growth(pd.Series(np.exp(0.02 * steps), index=steps)) == pytest.approx(0.02)
    with pytest.raises(ValueError):
        measured_growth(pd.Series([1.0], index=[0]))


def _tiny_mnist_like(n: int = 256) -> Dataset:
    x, _ = _probe(n)
    y = torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(4))
    return Dataset("tiny", x, y, x[:8], y[:8], None, None, (1, 28, 28), 10, "synthetic")


def test_growth_prediction_sees_nearly_orthogonal_f_columns():
    pred = growth_prediction(_tiny_mnist_like(), 2.0, 0.003, n=128)
    assert pred["ftf_diag"] == pytest.approx(1.0, abs=0.05)
    assert pred["ftf_off"] < 0.2 and pred["rate"] > 0


def test_the_second_order_term_grows_pepita_gain_faster_than_afa():
    data = _tiny_mnist_like()
    pep = gain_curve("pepita", data, 2.0, 0.003, steps=50)
    afa = gain_curve("afa", data, 2.0, 0.003, steps=50)
    assert pep["gain"].iloc[0] == pytest.approx(afa["gain"].iloc[0])  # the same start
    assert list(pep["step"]) == [0, 25, 50] and set(pep["rule"]) == {"PEPITA"}
    assert pep["gain"].iloc[-1] / pep["gain"].iloc[0] > afa["gain"].iloc[-1] / afa["gain"].iloc[0]


def test_divergence_count_counts_scales_where_only_pepita_diverged():
    runs = pd.DataFrame(
        {
            "f_scale": [0.05, 0.05, 2.0, 2.0, 5.0, 5.0],
            "rule": ["pepita", "afa"] * 3,
            "status": ["finished", "finished", "diverged", "finished", "diverged", "diverged"],
        }
    )
    assert divergence_count(runs) == "1 of 3 F scales (2)"
    assert divergence_count(runs.iloc[:2]) == "0 of 1 F scales"
