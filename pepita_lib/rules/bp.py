"""Backpropagation, written out by hand (the reference every other rule is compared to).

delta_L = h_L - t                                   (softmax + cross-entropy)
delta_l = sigma'(a_l) * m_l * (W_{l+1}^T delta_{l+1})
Delta W_l = mean_b delta_l h_{l-1}^T,   W_l <- W_l - eta Delta W_l
"""

from __future__ import annotations

import torch

from ..nets import Net, forward
from ..optim import SGD, Outer
from .base import Masks, RuleBase, cross_entropy, hidden_derivative

Tensor = torch.Tensor


def backward_deltas(
    net: Net, hs: list[Tensor], As: list[Tensor], t: Tensor, masks: Masks, back: list[Tensor]
) -> list[Tensor]:
    """delta_l for l = 1..L, with ``back[l]`` (shaped like W_{l+1}) carrying delta_{l+1} down.

    BP passes the forward weights; FA passes its fixed B_{l+1}^T instead.
    """
    deltas = [hs[-1] - t]
    for l in range(net.depth - 2, -1, -1):
        deltas.append(hidden_derivative(net, As[l], masks[l]) * (deltas[-1] @ back[l]))
    return deltas[::-1]


def backward_updates(
    net: Net, back: list[Tensor], x: Tensor, t: Tensor, masks: Masks
) -> tuple[list[Outer], Tensor]:
    """Updates delta_l h_{l-1}^T of a layer-by-layer backward pass through ``back``."""
    hs, As = forward(net, x, masks)
    deltas = backward_deltas(net, hs, As, t, masks, back)
    n = x.shape[-2]
    return [Outer(d, h, n) for d, h in zip(deltas, hs[:-1])], cross_entropy(As[-1], t)


def bp_updates(net: Net, x: Tensor, t: Tensor, masks: Masks) -> tuple[list[Outer], Tensor]:
    """The BP gradient of the mean cross-entropy, one Outer per layer, and the loss."""
    return backward_updates(net, net.weights[1:], x, t, masks)


class BP(RuleBase):
    name = "bp"
    summary = "backpropagation (reference)"
    batchable = True
    needs_derivative = True  # sigma'(a) in the update

    def init_state(self, net: Net, gen: torch.Generator) -> dict[str, Tensor]:
        return {}

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        grads, loss = bp_updates(net, x, t, masks)
        opt.step(net.weights, grads)
        return loss

    def angles(self, net: Net, state: dict) -> dict[str, float]:
        return {}
