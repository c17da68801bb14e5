"""Adaptive feedback alignment (AFA): PEPITA to first order in the modulation F e.

Expanding the modulated pass around the clean one (minus convention, ||F e|| << ||x||):

    h_0 - h_0^err = F e
    h_l - h_l^err ~ d_l = sigma'(a_l) * m_l * (W_l d_{l-1})      (a forward-mode derivative)

so PEPITA's hidden update is, to first order, DFA with the *adaptive* feedback matrix
B_l^eff(t) = W_l D_{l-1} W_{l-1} ... D_1 W_1 F (D_k = diag(sigma'(a_k) m_k)):

    Delta W_l = d_l h_{l-1}^T            for l < L   (d_1 = sigma'(a_1) * (W_1 F e))
    Delta W_L = e h_{L-1}^T                           (delta rule)

The feedback changes as W_l learns, which is what sets AFA (and PEPITA) apart from DFA.
With the same seed AFA draws the same initial weights and F as PEPITA, and the trainer
gives both the same dropout masks and batch order, so the two can be compared run for run.
"""

from __future__ import annotations

import torch

from ..nets import Net, forward
from ..optim import SGD, Outer
from .base import Masks, cross_entropy, hidden_derivative
from .pepita import PepitaBase

Tensor = torch.Tensor


def afa_updates(
    net: Net, F: Tensor, x: Tensor, t: Tensor, masks: Masks
) -> tuple[list[Outer], Tensor]:
    """AFA's Delta W_l for every layer and the clean-pass loss."""
    hs, As = forward(net, x, masks)
    e = hs[-1] - t
    n = x.shape[-2]
    grads = []
    d = e @ F.mT  # d_0 = F e, the first-order difference between the two inputs
    for l in range(1, net.depth):
        d = hidden_derivative(net, As[l - 1], masks[l - 1]) * (d @ net.weights[l - 1].mT)
        grads.append(Outer(d, hs[l - 1], n))
    grads.append(Outer(e, hs[-2], n))
    return grads, cross_entropy(As[-1], t)


class AFA(PepitaBase):
    name = "afa"
    summary = "adaptive feedback alignment: PEPITA to first order, feedback W_l...W_1 F"
    batchable = True
    needs_derivative = True  # sigma'(a) in the update

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        grads, loss = afa_updates(net, state["F"], x, t, masks)
        opt.step(net.weights, grads)
        return loss
