"""The Forward-Forward chapter's measurements: identity by layer, FF's sign, summaries."""

import pandas as pd
import pytest
import torch

from pepita_lib.analysis import ff as FFA
from pepita_lib.analysis.activations import EXACT
from pepita_lib.data import one_hot

SIZES = [20, 16, 12, 3]


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(24, SIZES[0], generator=gen, dtype=torch.float64)
    return x, one_hot(torch.randint(0, 3, (24,), generator=gen), 3).double()


def test_identity_holds_in_every_layer_for_relu_not_tanh(batch):
    ident = FFA.identity_by_layer(*batch, SIZES, ["relu", "tanh"])
    assert list(ident["hidden layer"]) == [1, 2, 1, 2]
    gaps = ident.set_index("activation")["relative difference"]
    assert (gaps["relu"] < EXACT).all() and (gaps["tanh"] > 1e-3).all()


def test_sign_rows_cosines_are_cosines(batch):
    rows = pd.DataFrame(FFA.sign_rows(*batch, [20, 16, 3], 0.05))
    assert len(rows) == 2 and rows["‖Fe‖/‖x‖"].gt(0).all()
    for col in (FFA.MOD_NEG, FFA.CLEAN_NEG):
        assert rows[col].between(-1, 1).all()


def test_cosine_and_macs():
    a = torch.tensor([1.0, 0.0])
    assert FFA.cosine(a, a) == pytest.approx(1.0) and FFA.cosine(a, -a) == pytest.approx(-1.0)
    assert FFA.macs([784, 1000, 10]) == 784 * 1000 + 1000 * 10


def test_sign_facts_reads_the_orientation():
    sign = pd.DataFrame(
        {
            "θ": ["1.00 (rule default)", "0.50 (mean initial goodness)"],
            FFA.MOD_NEG: [0.50, -0.30],
            FFA.CLEAN_NEG: [0.55, 0.30],
        }
    )
    facts = FFA.sign_facts(sign, theta_default=1.0, g_small=0.5)
    assert facts["sign_verdict"].startswith("In every row")
    assert facts["sign_half"] == "+0.30 to +0.30" and facts["sign_half_mod"] == "-0.30 to -0.30"
    assert facts["sign_half_verdict"].startswith("the sign derived above")
    assert facts["sign_default_verdict"].startswith("almost the same. Positive")


def test_by_group_error_is_hundred_minus_accuracy():
    runs = pd.DataFrame(
        {
            "dataset": ["mnist", "mnist", "fmnist"],
            "status": ["finished"] * 2 + ["diverged"],
            "final_test_accuracy": [0.98, 0.96, float("nan")],
        }
    )
    out = FFA.by_group(runs, "dataset", ["mnist", "fmnist", "cifar"], error=True).set_index(
        "dataset"
    )
    assert out.loc["mnist", "mean"] == pytest.approx(3.0) and out.loc["mnist", "seeds"] == 2
    assert out.loc["fmnist", "cell"] == "diverged (1)" and out.loc["cifar", "cell"] == "not run yet"


def test_probe_facts_and_compare():
    facts = FFA.probe_facts((1000, 1000))
    assert "1000×1000×1000" in facts["probe_table"]
    assert facts["probe_verdict"].startswith("Deeper nets gained nothing")
    assert (
        facts["hinton_cost"] == f"{FFA.macs([784, *[2000] * 4]) / FFA.macs([784, 1000, 1000]):.0f}"
    )
    assert FFA.compare(2.0, 1.5) == "0.50 points above"
