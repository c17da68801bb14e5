"""Feedback alignment (Lillicrap et al. 2016).

BP with the transposed forward weights replaced by fixed random matrices:

    delta_l = sigma'(a_l) * m_l * (B_{l+1} delta_{l+1}),   B_{l+1} fixed, shaped like W_{l+1}^T

Logged: the angle between W_{l+1}^T and B_{l+1} for each l (alignment happens when the
forward weights come to agree with the fixed feedback).
"""

from __future__ import annotations

import math

import torch

from ..feedback import random_matrix
from ..nets import Net
from ..optim import SGD, Outer
from .base import Masks, RuleBase, angle_deg
from .bp import backward_updates

Tensor = torch.Tensor


def fa_updates(
    net: Net, B: list[Tensor], x: Tensor, t: Tensor, masks: Masks
) -> tuple[list[Outer], Tensor]:
    """FA updates; ``B[l]`` is B_{l+2} in 1-based notation, shaped (d_{l+1}, d_{l+2})."""
    return backward_updates(net, [b.mT for b in B], x, t, masks)


class FA(RuleBase):
    name = "fa"
    summary = "feedback alignment: fixed random B_l in place of W_l^T"
    batchable = True
    needs_derivative = True  # sigma'(a) in the update

    def init_state(self, net: Net, gen: torch.Generator) -> dict[str, Tensor]:
        dev = net.weights[0].device
        state = {}
        for l, w in enumerate(net.weights[1:], start=2):
            std = self.cfg.feedback_scale * math.sqrt(2.0 / w.shape[1])
            state[f"B{l}"] = random_matrix(
                w.shape[1], w.shape[0], std, self.cfg.feedback_init, gen
            ).to(dev)
        return state

    @staticmethod
    def _B(net: Net, state: dict) -> list[Tensor]:
        return [state[f"B{l}"] for l in range(2, net.depth + 1)]

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        grads, loss = fa_updates(net, self._B(net, state), x, t, masks)
        opt.step(net.weights, grads)
        return loss

    def angles(self, net: Net, state: dict) -> dict[str, float]:
        return {
            f"angle_W{l}T_B{l}": angle_deg(net.weights[l - 1].T, state[f"B{l}"])
            for l in range(2, net.depth + 1)
        }
