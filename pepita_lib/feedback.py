"""Fixed random feedback matrices.

- PEPITA's F (d_0 x d_L) projects the output error onto the input; weight mirroring
  factorises it as F = B_1 ... B_L with B_l shaped like W_l^T. Original
  initialisation: F_ij ~ scale * U[-sqrt(6/d_0), +sqrt(6/d_0)], std scale * sqrt(2/d_0)
  with scale = 0.05. The normal form has the same std.
- FA's B_l is shaped like W_l^T (d_{l-1} x d_l) and replaces W_l^T in the backward pass;
  DFA's and DRTP's B_l (d_l x d_L) carry the output error (DFA) or the target (DRTP)
  straight to hidden layer l. Both get He-like entries, std scale * sqrt(2/d_l), the
  scale of the forward weights they stand in for.
"""

from __future__ import annotations

import math

import torch

Tensor = torch.Tensor

DISTRIBUTIONS = ("uniform", "normal")


def random_matrix(rows: int, cols: int, std: float, dist: str, gen: torch.Generator) -> Tensor:
    """A (rows, cols) matrix of i.i.d. zero-mean entries with standard deviation ``std``."""
    if dist == "uniform":
        bound = std * math.sqrt(3.0)
        return (torch.rand(rows, cols, generator=gen) * 2 - 1) * bound
    if dist == "normal":
        return torch.randn(rows, cols, generator=gen) * std
    raise ValueError(f"unknown feedback distribution {dist!r}; valid: {', '.join(DISTRIBUTIONS)}")


def pepita_F(
    d_in: int, d_out: int, scale: float, dist: str, gen: torch.Generator, mean: float = 0.0
) -> Tensor:
    """PEPITA's F (d_in x d_out), std scale * sqrt(2 / d_in), entries' mean ``mean`` x std."""
    std = scale * math.sqrt(2.0 / d_in)
    return random_matrix(d_in, d_out, std, dist, gen) + mean * std


def factor_std(sizes: list[int], target_std: float) -> float:
    """Std s of i.i.d. N(0, s^2) factors B_l (d_{l-1} x d_l) whose product B_1 ... B_L has
    entries of std ``target_std``: Var(F_ij) = s^(2L) d_1 ... d_{L-1}."""
    L = len(sizes) - 1
    inner = math.prod(sizes[1:-1])
    return (target_std**2 / inner) ** (1.0 / (2 * L))


def factorised_F(sizes: list[int], scale: float, gen: torch.Generator) -> list[Tensor]:
    """Factors B_1..B_L of F = B_1 ... B_L (Srinivasan et al. 2024; chapter
    "Weight mirroring"), B_l shaped like W_l^T, normal entries scaled so that std(F) is
    the original target scale * sqrt(2 / d_0) in
    expectation (use :func:`renormalise` for an exact match)."""
    s = factor_std(sizes, scale * math.sqrt(2.0 / sizes[0]))
    return [torch.randn(sizes[l], sizes[l + 1], generator=gen) * s for l in range(len(sizes) - 1)]


def product(factors: list[Tensor]) -> Tensor:
    """B_1 ... B_L, multiplied right to left so every product has d_L (small) columns."""
    p = factors[-1]
    for b in reversed(factors[:-1]):
        p = b @ p
    return p


def scale_product(factors: list[Tensor], c: float) -> None:
    """Scale B_1 ... B_L by c exactly: each factor, in place, by c^(1/L) (c > 0)."""
    for b in factors:
        b.mul_(c ** (1.0 / len(factors)))


def renormalise(factors: list[Tensor], target_std: float) -> Tensor:
    """Rescale the factors in place so that std(B_1 ... B_L) equals ``target_std`` exactly:
    each factor by c^(1/L), c = target / std(product) (the product then scales by c; a
    per-factor square root would only be right for L = 2). Returns the new product."""
    F = product(factors)
    c = target_std / float(F.std())
    scale_product(factors, c)
    # the product of the rescaled factors is c F: no second product needed
    return F * c if len(factors) > 1 else factors[0].clone()  # never alias a factor
