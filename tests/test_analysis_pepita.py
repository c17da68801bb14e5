"""PEPITA chapter: the modulation x - F e, and the two-rate Fashion-MNIST history."""

import pandas as pd
import pytest
import torch

from pepita_lib.analysis.afa import first_net
from pepita_lib.analysis.pepita import modulation, rate_history
from pepita_lib.nets import forward


def _probe(n: int = 24, d: int = 50, classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(n, d, generator=gen)
    return x, torch.eye(classes)[torch.randint(0, classes, (n,), generator=gen)]


def test_modulation_subtracts_the_projected_error_of_seed_zero():
    x, t = _probe()
    x_err, ratio = modulation(x, t)
    net, F = first_net(0.05, [x.shape[1], 1024, t.shape[1]])
    e = forward(net, x)[0][-1] - t
    assert torch.allclose(x - x_err, e @ F.T, atol=1e-6)
    assert ratio == pytest.approx(float(((e @ F.T).norm(dim=1) / x.norm(dim=1)).mean()), rel=1e-5)


def test_modulation_is_linear_in_the_f_scale():
    x, t = _probe()
    _, small = modulation(x, t, f_scale=0.05)
    _, big = modulation(x, t, f_scale=0.5)
    assert big == pytest.approx(10 * small, rel=1e-4)


def test_modulation_names_mismatched_batches():
    with pytest.raises(ValueError, match="samples"):
        modulation(torch.rand(3, 5), torch.eye(10))


def test_rate_history_lists_missing_runs_and_reads_nothing_from_an_empty_store(tmp_path):
    hist, missing = rate_history(tmp_path, "smoke")
    assert isinstance(hist, pd.DataFrame) and hist.empty
    assert sorted(missing) == [0.01, 0.1]
