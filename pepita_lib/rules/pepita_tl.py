"""PEPITA time-local (TL): each pass updates the weights as soon as it ends.

    after the clean pass:      W_l <- W_l - eta h_l h_{l-1}^T           (W_L: h_L h_{L-1}^T)
    modulated pass on x - F e  with the *updated* weights, then
                               W_l <- W_l + eta h_l^err (h_{l-1}^err)^T  (W_L: t (h_{L-1}^err)^T)

No activity is held between the passes (only the output error e, which drives the
modulation). It differs from PEPITA-Hebbian only in that the second pass sees weights
already moved by the first half.

Momentum: the two halves form one momentum step on their sum, with the first half
applied before the second pass (see :meth:`SGD.step`'s ``applied``); with momentum 0 the
step is exactly the two sequential updates above.
"""

from __future__ import annotations

import torch

from ..nets import Net, forward
from ..optim import SGD, Outer
from .base import Masks, cross_entropy
from .pepita import PepitaBase, modulated_input

Tensor = torch.Tensor


def clean_half(net: Net, x: Tensor, t: Tensor, masks: Masks) -> tuple[list[Outer], Tensor, Tensor]:
    """First half: Delta W_l = h_l h_{l-1}^T from the clean pass; returns (grads, e, loss)."""
    hs, As = forward(net, x, masks)
    n = x.shape[-2]
    return (
        [Outer(hs[l], hs[l - 1], n) for l in range(1, net.depth + 1)],
        hs[-1] - t,
        cross_entropy(As[-1], t),
    )


def modulated_half(
    net: Net, F: Tensor, x: Tensor, t: Tensor, e: Tensor, masks: Masks
) -> list[Outer]:
    """Second half: Delta W_l = -h_l^err (h_{l-1}^err)^T (W_L: -t (h_{L-1}^err)^T)."""
    x_err = x if net.depth == 1 else modulated_input(x, F, e)
    hs_err, _ = forward(net, x_err, masks)
    n = x.shape[-2]
    grads = [Outer(-hs_err[l], hs_err[l - 1], n) for l in range(1, net.depth)]
    grads.append(Outer(-t, hs_err[-2], n))
    return grads


class PepitaTL(PepitaBase):
    name = "pepita_tl"
    summary = "PEPITA time-local: update after each pass, second pass sees new weights"
    batchable = True

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        g1, e, loss = clean_half(net, x, t, masks)
        opt.apply_now(net.weights, g1)
        g2 = modulated_half(net, state["F"], x, t, e, masks)
        opt.step(net.weights, g2, applied=g1)
        return loss
