"""The F-initialisation measurements (chapters "Open questions" and "Open question 1")."""

import math
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from pepita_lib.analysis import f_init as FI
from pepita_lib.config import TrainConfig
from pepita_lib.data import one_hot


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(16, 30, generator=gen)
    return x, one_hot(torch.randint(0, 10, (16,), generator=gen), 10)


def test_afa_is_pepita_to_first_order(batch):
    x, t = batch
    sweep = FI.pepita_vs_afa(x.double(), t.double(), [30, 20, 10], [0.005, 0.05, 0.5])
    diff = sweep["‖ΔW₁(PEPITA) − ΔW₁(AFA)‖ / ‖ΔW₁(AFA)‖"]
    assert sweep["‖Fe‖/‖x‖"].is_monotonic_increasing
    assert diff.is_monotonic_increasing and diff.iloc[0] < 0.05
    assert sweep["cosine(PEPITA, AFA)"].iloc[0] > 0.99


def test_a_common_mean_does_not_reach_fe(batch):
    x, t = batch
    plain = FI.first_step({}, 0.05, x, t)
    shifted = FI.first_step({"f_mean": 3.0}, 0.05, x, t)
    assert shifted["mean's effect"] < 1e-5  # 1^T e = 0 for softmax outputs, one-hot targets
    assert shifted["‖Fe‖/‖x‖"] == pytest.approx(plain["‖Fe‖/‖x‖"], rel=1e-4)
    assert shifted["mean cos(columns)"] > plain["mean cos(columns)"] + 0.5


def test_first_batch_follows_the_run_order_generator():
    data = SimpleNamespace(
        x_train=torch.arange(200.0).reshape(100, 2), y_train=torch.arange(100) % 10, num_classes=10
    )
    x, t = FI.first_batch(data, 8, seed=0)
    assert x.shape == (8, 2) and torch.equal(t.argmax(1), x[:, 0].long() // 2 % 10)
    assert not torch.equal(x, FI.first_batch(data, 8, seed=1)[0])


def test_slope_and_step_facts():
    s = pd.Series([0.005, 0.05, 0.5, 5.0])
    assert FI.loglog_slope(s, 3 * s) == pytest.approx(1.0)
    uni = pd.DataFrame(
        {
            "F scale": s,
            "η": [0.1, 0.1, 0.01, 0.001],
            "ΔW1": 2 * s,
            "ΔW2": [1.0] * 4,
            "‖Fe‖/‖x‖": s / 10,
        }
    )
    facts = FI.step_facts(uni)
    assert facts["slope1"] == "1.00" and facts["slope2"] == "0.00"
    assert facts["readout_factor"] == "100"


def test_diff_against_uses_twice_the_standard_error():
    base, other = pd.Series([97.0, 97.2, 97.1]), pd.Series([98.0, 98.2, 98.1])
    text, beats = FI.diff_against(base, other, "normal")
    noise = 2 * math.sqrt(2 * 0.01 / 3)
    assert beats and f"{noise:.2f}" in text and "outside" in text
    assert not FI.diff_against(base, other.iloc[:1], "normal")[1]


def test_search_table_best_rate_and_disagreement():
    grid = [TrainConfig(f_scale=s, lr=lr) for s in (0.05, 0.5) for lr in (0.1, 0.01)]
    runs = pd.DataFrame(
        {
            "f_scale": [0.05, 0.05, 0.5],
            "lr": [0.1, 0.01, 0.1],
            "status": ["finished"] * 3,
            "final_val_accuracy": [0.9, 0.95, 0.5],
        }
    )
    tab = FI.search_table(runs, grid, {0.05: 0.1, 0.5: 0.01}).set_index("F scale")
    assert tab.loc[0.05, "best"] == 0.01 and tab.loc[0.05, "complete"]
    assert tab.loc[0.5, "η=0.01"] == "not run" and not tab.loc[0.5, "complete"]
    text = FI.disagreements(tab.reset_index())
    assert "at scale 0.05 the search prefers 0.01 by 5.00 points" in text
    assert "at scale 0.5 the search prefers 0.1 and the sweep uses 0.01" in text


def test_scale_verdict_counts_missing_scales():
    verdict, rec = FI.scale_verdict({0.05: 98.0, 0.5: 97.8, 5.0: 90.0}, n_total=5, n_div=1)
    assert verdict.startswith("scales 0.05, 0.5 end within 0.3 points")
    assert "diverged at 1 larger scale" in rec and "1 of 5 scales are not trained" in rec


def test_recommendation_falls_back_on_the_search_only_without_a_sweep():
    search = pd.DataFrame({"F scale": [0.05, 0.5], "best val (%)": [97.0, 98.5]})
    provisional = FI.recommendation(None, None, search, inert=True)
    assert (
        provisional.startswith("The scale (provisional")
        and "0.5, whose best rate reached 98.50%" in provisional
    )
    assert provisional.endswith(".") and FI.MEAN_REC[True] in provisional
    swept = FI.recommendation("the scale: 0.05 won", "the distribution: keep", search, inert=False)
    assert swept == "The scale: 0.05 won; the distribution: keep; " + FI.MEAN_REC[False] + "."


def test_init_section_reads_the_mean_as_inert_and_counts_the_forms():
    from pepita_lib.experiments import F_INITS, FSCALE_LR

    scales = sorted(FSCALE_LR)
    forms = [*F_INITS, *FI.MEAN_CHECK]
    init = pd.DataFrame(
        [
            {"distribution": f, "F scale": s, "‖Fe‖/‖x‖": 0.01 * s * (1 + 0.01 * i),
             "mean cos(columns)": 0.5 * ("mean" in f), "mean's effect": 1e-8, "ΔW1": s, "ΔW2": 0.1}
            for i, f in enumerate(forms)
            for s in scales
        ]
    )  # fmt: skip
    tables, facts = FI.init_section(init)
    assert FI.mean_inert(init) and not FI.mean_inert(init.assign(**{"mean's effect": 1.0}))
    assert facts["oq_fi_n_forms"] == "five" and facts["oq_fi_mean_effect"] == "< 1e-05"
    assert float(facts["oq_fi_dist_spread"]) == pytest.approx(100 * 0.04 / 1.02, abs=0.1)
    assert float(facts["oq_fi_slope1"]) == pytest.approx(1.0)  # ΔW1 proportional to the scale
    assert [r.endswith("(not trained)") for r in tables[0][0]["distribution of F"]] == [
        f in FI.MEAN_CHECK for f in forms
    ]
