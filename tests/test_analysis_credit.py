"""Credit-assignment baselines: FA = DFA with one hidden layer, the rate choice, the tables."""

import pandas as pd
import pytest
import torch

from pepita_lib.analysis.credit import accuracy_texts, best_rates, fa_dfa_gap, final_angle


def test_fa_and_dfa_give_the_same_update_with_one_hidden_layer():
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(16, 30, generator=gen)
    t = torch.eye(4)[torch.randint(0, 4, (16,), generator=gen)]
    assert fa_dfa_gap(x, t, hidden=20) == 0.0


def test_fa_dfa_gap_names_mismatched_batches():
    with pytest.raises(ValueError, match="samples"):
        fa_dfa_gap(torch.rand(4, 3), torch.eye(2))


def _lr_runs() -> pd.DataFrame:
    rows = [
        ("fa", "mnist", 0.1, 0.97),
        ("fa", "mnist", 0.01, 0.95),
        ("drtp", "mnist", 0.01, 0.80),
        ("drtp", "mnist", 0.001, 0.85),
    ]
    frame = pd.DataFrame(rows, columns=["rule", "dataset", "lr", "final_val_accuracy"])
    return frame.assign(Rule=frame["rule"].str.upper(), Dataset="MNIST")


def test_best_rate_is_the_one_with_the_highest_validation_accuracy():
    best = best_rates(_lr_runs()).set_index("Rule")
    assert best.loc["FA", "chosen η"] == "0.1" and best.loc["DRTP", "chosen η"] == "0.001"
    assert best.loc["DRTP", "validation accuracy (%)"] == pytest.approx(85.0)


def test_gap_is_bp_minus_the_rule_and_missing_runs_read_na():
    tab = pd.DataFrame({"rule": ["bp", "fa"], "dataset": ["mnist", "mnist"], "mean": [98.5, 98.25]})
    out = accuracy_texts(tab, ["bp", "fa", "drtp"], ["mnist"], "x_")
    assert out["x_gap_fa_mnist"] == "0.25" and out["x_acc_bp_mnist"] == "98.50"
    assert out["x_gap_drtp_mnist"] == "n/a" and "x_gap_bp_mnist" not in out


def test_final_angle_is_the_seed_mean_at_the_last_epoch():
    hist = pd.DataFrame(
        {"rule": "fa", "dataset": "mnist", "epoch": [1, 2, 1, 2], "angle": [80.0, 40.0, 70.0, 50.0]}
    )
    assert final_angle(hist, "fa", "angle")["mnist"] == pytest.approx(45.0)
