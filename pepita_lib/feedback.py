"""Fixed random feedback matrices.

- PEPITA's F (d_0 x d_L) projects the output error onto the input. Original
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


def pepita_F(d_in: int, d_out: int, scale: float, dist: str, gen: torch.Generator) -> Tensor:
    """PEPITA's F (d_in x d_out), std scale * sqrt(2 / d_in)."""
    return random_matrix(d_in, d_out, scale * math.sqrt(2.0 / d_in), dist, gen)
