"""Shared fixtures: small float64 nets for identities, real data for integration tests.

Real-data tests read ``$PEPITA_DATA_DIR`` (CI) and otherwise let torchvision download
into the default data root, so ``make test`` works on a fresh online machine too.
"""

from __future__ import annotations

import pytest
import torch

from pepita_lib.data import load_dataset, one_hot
from pepita_lib.nets import Net, make_net


def double_net(
    sizes: list[int], activation: str = "relu", seed: int = 0, dropout: float = 0.0
) -> Net:
    net = make_net(sizes, activation, "he_uniform", dropout, torch.Generator().manual_seed(seed))
    net.weights = [w.double() for w in net.weights]
    return net


def batch(d0: int, classes: int, n: int = 16, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d0, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, one_hot(y, classes).double()


@pytest.fixture(scope="session")
def mnist():
    return load_dataset("mnist", download=True)


TIMING_KEYS = {"seconds", "wall_seconds", "started", "finished", "start_time", "end_time"}


def strip_timing(obj):
    """A run record without what legitimately differs between two executions (times, host)."""
    if isinstance(obj, dict):
        return {
            k: strip_timing(v) for k, v in obj.items() if k not in TIMING_KEYS and k != "provenance"
        }
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj


def assert_records_close(a, b, tol: float = 1e-6) -> None:
    """Equal structure and values; floats within ``tol`` (thread counts change rounding)."""
    a, b = strip_timing(a), strip_timing(b)

    def walk(x, y):
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            for k in x:
                walk(x[k], y[k])
        elif isinstance(x, list):
            assert len(x) == len(y)
            for u, v in zip(x, y):
                walk(u, v)
        elif isinstance(x, float):
            assert x == pytest.approx(y, rel=tol, abs=tol)
        else:
            assert x == y

    walk(a, b)
