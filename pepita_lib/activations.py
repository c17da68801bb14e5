"""Hidden non-linearities sigma and their derivatives sigma'(a).

Each activation is a pair of pure functions of the pre-activation ``a``. The
derivative is needed by BP, FA, DFA, DRTP and AFA; PEPITA itself never uses it,
which is one of its selling points.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class Activation:
    name: str
    f: Callable[[Tensor], Tensor]
    df: Callable[[Tensor], Tensor]


def _relu_df(a: Tensor) -> Tensor:
    return (a > 0).to(a.dtype)


def _sigmoid_df(a: Tensor) -> Tensor:
    s = torch.sigmoid(a)
    return s * (1 - s)


_SQRT2 = math.sqrt(2.0)


def _erf(a: Tensor) -> Tensor:
    # erf(a / sqrt 2): the scaling used in the teacher-student literature, so g(z) is
    # odd, saturates at +-1 and has g'(0) = sqrt(2/pi).
    return torch.erf(a / _SQRT2)


def _erf_df(a: Tensor) -> Tensor:
    return math.sqrt(2.0 / math.pi) * torch.exp(-0.5 * a * a)


LEAKY_SLOPE = 0.01  # PyTorch's default negative slope


def _leaky_relu(a: Tensor) -> Tensor:
    return torch.nn.functional.leaky_relu(a, LEAKY_SLOPE)


def _leaky_relu_df(a: Tensor) -> Tensor:
    return torch.where(a > 0, torch.ones_like(a), torch.full_like(a, LEAKY_SLOPE))


def _gelu_df(a: Tensor) -> Tensor:
    # gelu(a) = a Phi(a): derivative Phi(a) + a phi(a)
    cdf = 0.5 * (1 + torch.erf(a / _SQRT2))
    return cdf + a * torch.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", torch.relu, _relu_df),
    "tanh": Activation("tanh", torch.tanh, lambda a: 1 - torch.tanh(a) ** 2),
    "sigmoid": Activation("sigmoid", torch.sigmoid, _sigmoid_df),
    "erf": Activation("erf", _erf, _erf_df),
    "linear": Activation("linear", lambda a: a, torch.ones_like),
    "leaky_relu": Activation("leaky_relu", _leaky_relu, _leaky_relu_df),
    "gelu": Activation("gelu", torch.nn.functional.gelu, _gelu_df),
}


def get_activation(name: str) -> Activation:
    """Return the activation called ``name`` or raise a ValueError listing the valid ones."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; valid: {', '.join(sorted(ACTIVATIONS))}"
        ) from None
