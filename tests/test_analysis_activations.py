"""The goodness-identity study of chapter "Open question 2"."""

from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from pepita_lib.analysis import activations as A
from pepita_lib.config import TrainConfig
from pepita_lib.data import one_hot
from pepita_lib.train import initial_state

SIZES = [20, 16, 3]


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(32, SIZES[0], generator=gen, dtype=torch.float64)
    y = torch.randint(0, SIZES[-1], (32,), generator=gen)
    return x, one_hot(y, SIZES[-1]).double()


def test_seed_state_is_the_runs_initial_state_in_float64():
    net, F = A.seed_state64(SIZES, 0.5, seed=3)
    run_net, state = initial_state(TrainConfig(rule="pepita", f_scale=0.5, seed=3), SIZES)
    assert F.dtype == torch.float64 and F.shape == (SIZES[0], SIZES[-1])
    assert torch.equal(F, state["F"].double())
    assert all(torch.equal(a, b.double()) for a, b in zip(net.weights, run_net.weights))


def test_identity_exact_for_relu_and_linear_only(batch):
    gaps = A.identity_gaps(*batch, SIZES, ["relu", "linear", "tanh", "leaky_relu"], (0.05, 3.0))
    by = gaps.set_index("activation")
    assert (by.loc[["ReLU", "linear"]] < A.EXACT).all().all()
    assert (by.loc[["tanh", "leaky ReLU"]] > 1e-3).all().all()


def test_rounding_level_is_epsilon_times_the_cancellation(batch):
    ratio, level = A.rounding_level(*A.seed_state64(SIZES), *batch)
    assert ratio > 1
    assert level == pytest.approx(torch.finfo(torch.float64).eps * ratio)


def test_init_facts_split_and_scale_ratio():
    gaps = pd.DataFrame(
        {
            "activation": ["ReLU", "tanh", "GELU"],
            "F scale 0.05": [1e-15, 0.2, 0.1],
            "F scale 3": [1e-15, 0.3, 0.1],
        }
    )
    facts = A.init_facts(gaps, 0.05, 3.0)
    assert facts["exact"] == "ReLU" and facts["broken"] == "tanh and GELU"
    assert facts["broken_min_name"] == "GELU" and facts["broken_max_name"] == "tanh"
    assert facts["scale_ratio_range"] == "1.00 to 1.50"
    assert facts["scale_verdict"].startswith("the size of the modulation hardly matters")


def test_listing_and_trend():
    assert A.listing([]) == "none" and A.listing(["a", "b", "c"]) == "a, b and c"
    first, last = (
        pd.Series({"a": 1.0, "b": 1.0, "c": 1.0}),
        pd.Series({"a": 1.5, "b": 0.5, "c": 1.01}),
    )
    assert A.trend(first, last) == {"grew": ["a"], "shrank": ["b"], "flat": ["c"]}


def test_probe_factor_is_sigmoid_loss_over_the_worst_other_unit():
    lo, hi = A.probe_factors(epoch=0)
    assert lo == pytest.approx(5.886 / 0.642) and hi == pytest.approx(7.949 / 0.642)


def test_trajectory_keeps_relu_exact_and_reports_accuracy(batch):
    gen = torch.Generator().manual_seed(1)
    data = SimpleNamespace(
        x_train=torch.rand(40, SIZES[0], generator=gen),
        y_train=torch.randint(0, 3, (40,), generator=gen),
        x_test=torch.rand(10, SIZES[0], generator=gen),
        y_test=torch.randint(0, 3, (10,), generator=gen),
    )
    rows, status, acc = A.gap_trajectory("relu", *batch, data, SIZES, 4, 2, 10, 0.01)
    assert status == "finished" and 0.0 <= acc <= 1.0
    assert [r["step"] for r in rows] == [0, 2, 4]
    assert max(r["relative difference"] for r in rows) < A.EXACT


def _runs(acc):
    rows = [
        {"activation": a, "rule": r, "status": "finished", "final_test_accuracy": v}
        for (a, r), vs in acc.items()
        for v in vs
    ]
    return pd.DataFrame(rows)


def test_accuracy_gap_is_the_difference_of_the_means_and_the_verdict_ranks_it():
    runs = _runs(
        {
            ("relu", "pepita"): [0.98, 0.98],
            ("relu", "pepita_hebbian"): [0.98, 0.98],
            ("tanh", "pepita"): [0.97, 0.97],
            ("tanh", "pepita_hebbian"): [0.96, 0.96],
            ("gelu", "pepita"): [0.97, 0.97],
            ("gelu", "pepita_hebbian"): [0.95, 0.95],
        }
    )
    gap0 = {"ReLU": 1e-15, "tanh": 0.1, "GELU": 0.3}
    table, pairs = A.accuracy_by_activation(runs, gap0, {"relu": 0.1, "tanh": 0.1, "gelu": 0.1})
    assert pairs.set_index("activation")["accuracy gap"].to_dict() == pytest.approx(
        {"ReLU": 0.0, "tanh": -1.0, "GELU": -2.0}
    )
    assert table.loc[0, "PEPITA (%)"] == "98.00 ± 0.00 (n=2)"
    verdict = A.accuracy_verdict(pairs, 3)
    assert "follows the identity gap" in verdict and "+1.00" in verdict
    assert "too few" in A.accuracy_verdict(pairs.iloc[:2], 3)


def test_accuracy_cell_states():
    assert A.accuracy_cell(pd.Series(dtype=float), 2) == "diverged (2)"
    assert A.accuracy_cell(pd.Series(dtype=float), 0) == "not run yet"
    assert A.accuracy_cell(pd.Series([97.5]), 0) == "97.50 (n=1)"


def test_shared_rate_maximises_the_mean_of_both_rules():
    grp = pd.DataFrame(
        {
            "lr": [0.1, 0.1, 0.01, 0.01],
            "Rule": ["a", "b", "a", "b"],
            "final_val_accuracy": [0.99, 0.5, 0.9, 0.9],
        }
    )
    assert A.shared_rate(grp) == 0.01


def test_mismatch_vanishes_exactly_for_the_identity_units():
    a = torch.linspace(-3, 3, 61, dtype=torch.float64)
    by = A.mismatch_curves(a).groupby("activation")["mismatch"].apply(lambda v: v.abs().max())
    assert by["ReLU"] == 0 and by["linear"] == 0
    assert by["tanh"] > 0.1 and by["erf"] > 0.1
    leaky = A.mismatch_curves(a).query("activation == 'leaky ReLU'")
    slope = float(A.leaky_slope())  # below zero sigma sigma' - sigma = (slope - 1) sigma
    assert 0 < slope < 1 and (leaky.loc[leaky["pre-activation a"] > 0, "mismatch"] == 0).all()
    neg = leaky[leaky["pre-activation a"] < 0]
    assert neg["mismatch"].to_numpy() == pytest.approx(
        ((slope - 1) * slope * neg["pre-activation a"]).to_numpy()
    )


def test_trajectory_facts_split_exact_from_broken_and_read_the_trend():
    traj = pd.DataFrame(
        {
            "activation": ["ReLU"] * 3 + ["tanh"] * 3 + ["erf"] * 3,
            "step": [0, 1, 2] * 3,
            "relative difference": [1e-15, 3e-15, 2e-15, 0.1, 0.2, 0.3, 0.4, 0.3, 0.2],
        }
    )
    ends = pd.DataFrame(
        {
            "activation": ["ReLU", "tanh", "erf"],
            "status": ["finished", "diverged at step 2", "finished"],
        }
    )
    facts = A.trajectory_facts(traj, ends)
    assert facts["traj_exact_max"] == "3e-15" and facts["traj_exact_verdict"].startswith("stays")
    assert facts["traj_grew_names"] == "tanh" and facts["traj_shrank_names"] == "erf"
    assert facts["traj_change_range"] == "0.50 to 3.00" and facts["traj_diverged"] == "tanh"
    broken = A.trajectory_facts(
        traj.assign(
            **{"relative difference": traj["relative difference"] + 2e-9 * (traj["step"] > 0)}
        ),
        ends,
    )
    assert broken["traj_exact_verdict"].startswith("leaves")
