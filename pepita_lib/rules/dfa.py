"""Direct feedback alignment (Nokland 2016).

The output error reaches every hidden layer directly through a fixed random matrix:

    e = h_L - t
    delta_l = sigma'(a_l) * m_l * (B_l e),   B_l fixed (d_l x d_L),  l < L
    delta_L = e                                   (delta rule at the output)

Logged: the angle between B_l and the backward path BP would use, (W_L ... W_{l+1})^T.
"""

from __future__ import annotations

import math

import torch

from ..config import TrainConfig
from ..feedback import random_matrix
from ..nets import Net, forward
from ..optim import SGD, Outer
from .base import Masks, RuleBase, angle_deg, cross_entropy, hidden_derivative, product_transpose

Tensor = torch.Tensor


def direct_updates(
    net: Net, B: list[Tensor], signal: Tensor, x: Tensor, t: Tensor, masks: Masks
) -> tuple[list[Outer], Tensor]:
    """Updates of a direct-projection rule: hidden delta_l = sigma'(a_l) m_l (B_l s).

    DFA passes s = e (computed here when ``signal`` is None); DRTP passes s = t.
    """
    hs, As = forward(net, x, masks)
    e = hs[-1] - t
    s = e if signal is None else signal
    deltas = [hidden_derivative(net, As[l], masks[l]) * (s @ B[l].mT) for l in range(net.depth - 1)]
    deltas.append(e)
    n = x.shape[-2]
    return [Outer(d, h, n) for d, h in zip(deltas, hs[:-1])], cross_entropy(As[-1], t)


def init_direct_feedback(net: Net, cfg: TrainConfig, gen: torch.Generator) -> dict[str, Tensor]:
    """B_l (d_l x d_L) for each hidden layer, std feedback_scale * sqrt(2 / d_l)."""
    dev = net.weights[0].device
    d_out = net.weights[-1].shape[0]
    state = {}
    for l, w in enumerate(net.weights[:-1], start=1):
        std = cfg.feedback_scale * math.sqrt(2.0 / w.shape[0])
        state[f"B{l}"] = random_matrix(w.shape[0], d_out, std, cfg.feedback_init, gen).to(dev)
    return state


def direct_B(net: Net, state: dict) -> list[Tensor]:
    return [state[f"B{l}"] for l in range(1, net.depth)]


def direct_angles(net: Net, state: dict) -> dict[str, float]:
    return {
        f"angle_B{l}": angle_deg(state[f"B{l}"], product_transpose(net.weights[l:]))
        for l in range(1, net.depth)
    }


class DFA(RuleBase):
    name = "dfa"
    summary = "direct feedback alignment: B_l e straight to each hidden layer"
    batchable = True
    needs_derivative = True  # sigma'(a) in the update

    def signal(self, t: Tensor) -> Tensor | None:
        """What B_l projects to the hidden layers: the error (None: computed in the pass)."""
        return None

    def init_state(self, net: Net, gen: torch.Generator) -> dict[str, Tensor]:
        return init_direct_feedback(net, self.cfg, gen)

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        grads, loss = direct_updates(net, direct_B(net, state), self.signal(t), x, t, masks)
        opt.step(net.weights, grads)
        return loss

    def angles(self, net: Net, state: dict) -> dict[str, float]:
        return direct_angles(net, state)
