"""PEPITA-Hebbian (paper Sec. 5.1, its Eq. 8): a difference of two Hebbian terms.

The presynaptic factor of the clean half comes from the clean pass:

    Delta W_l = h_l h_{l-1}^T - h_l^err (h_{l-1}^err)^T          for l < L
    Delta W_L = h_L h_{L-1}^T - t (h_{L-1}^err)^T
    W_l <- W_l - eta * mean_b Delta W_l      (one update after both passes)

Against PEPITA the hidden update differs by h_l (h_{l-1} - h_{l-1}^err)^T, second order in
the modulation. For ReLU and linear units h_l h_{l-1}^T = (1/2) grad_{W_l} ||h_l||^2, so
the rule is layer-local descent on G(clean) - G(modulated), the goodness difference of
Forward-Forward.
"""

from __future__ import annotations

import torch

from ..nets import Net
from ..optim import SGD, Outer, stack_outer
from .base import Masks, cross_entropy
from .pepita import PepitaBase, two_passes

Tensor = torch.Tensor


def hebbian_updates(
    net: Net, F: Tensor, x: Tensor, t: Tensor, masks: Masks
) -> tuple[list[Outer], Tensor]:
    """PEPITA-Hebbian's Delta W_l (each one fused outer product) and the clean-pass loss."""
    hs, As, hs_err, e = two_passes(net, F, x, t, masks)
    n = x.shape[-2]
    grads = []
    for l in range(1, net.depth + 1):
        post_err = t if l == net.depth else hs_err[l]
        if l == 1 and net.depth > 1:
            # h_1 x^T - h_1^err (x - F e)^T = (h_1 - h_1^err) x^T + (h_1^err e^T) F^T: the
            # second term has rank d_L, so the large first-layer product runs over B samples
            # instead of 2B (same update, about a third less work per step).
            grads.append(
                stack_outer(
                    (1.0, Outer(hs[1] - hs_err[1], x, n)), (1.0, Outer(e.mT @ hs_err[1], F.mT, n))
                )
            )
            continue
        grads.append(
            stack_outer(
                (1.0, Outer(hs[l], hs[l - 1], n)), (-1.0, Outer(post_err, hs_err[l - 1], n))
            )
        )
    return grads, cross_entropy(As[-1], t)


class PepitaHebbian(PepitaBase):
    name = "pepita_hebbian"
    summary = "PEPITA-Hebbian: h h^T (clean) - h^err h^err^T (modulated)"
    batchable = True

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        grads, loss = hebbian_updates(net, state["F"], x, t, masks)
        opt.step(net.weights, grads)
        return loss
