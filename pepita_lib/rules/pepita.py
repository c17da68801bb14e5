"""PEPITA: learning from two forward passes (Dellaferrera & Kreiman 2022), minus convention.

Per mini-batch:

1. clean pass h_1..h_L, output error e = h_L - t;
2. modulated pass on h_0^err = x - F e (F fixed, d_0 x d_L), h_l^err = sigma(W_l h_{l-1}^err),
   with the same dropout masks as the clean pass;
3. W_l <- W_l - eta * mean_b Delta W_l with
       Delta W_l = (h_l - h_l^err) (h_{l-1}^err)^T        for l < L
       Delta W_L = e (h_{L-1}^err)^T                      (option: e^err = h_L^err - t)

The ICML paper writes x + F e; that is the same rule under F -> -F (F is zero-mean).
This project uses the minus sign throughout because only that form turns weight
mirroring, which aligns F with +(W_L...W_1)^T, into descent.

With a single weight layer there is no hidden layer to modulate: the modulated pass is
skipped and the update is the delta rule e x^T.

Speed: the first layer of the modulated pass is exact algebra on the clean one,
W_1 (x - F e) = W_1 x - (W_1 F) e, a rank-d_L correction, so the modulated pass needs no
second large first-layer matmul. W_1 F itself is carried along instead of recomputed: the
momentum step is linear, so W_1 F and v_1 F follow the same recurrence as W_1 and v_1 with
the update's presynaptic factor projected through F ((x - F e) F, a B x d_L product); both
are recomputed from W_1 and v_1 every ``REFRESH_STEPS`` steps so rounding cannot drift, and
whenever W_1, v_1 or F changed outside this rule's step.
"""

from __future__ import annotations

import math

import torch

from ..feedback import factorised_F, pepita_F, renormalise
from ..nets import Net, forward
from ..optim import SGD, Outer
from .base import Masks, RuleBase, angle_deg, cross_entropy, product_transpose

Tensor = torch.Tensor


def modulated_input(x: Tensor, F: Tensor, e: Tensor) -> Tensor:
    """h_0^err = x - F e (rows are samples: x - e F^T)."""
    return x - e @ F.mT


def feedback_gain(W1: Tensor, F: Tensor) -> float:
    """||W_1 F||_2, the largest singular value of the first layer's effective feedback.

    To first order in F e, h_1 - h_1^err ~ sigma'(a_1) * (W_1 F e) (Srinivasan et al. 2024,
    Sec. 3, Eq. 6; chapter "PEPITA as adaptive feedback alignment"): PEPITA's first layer
    learns like DFA through B_1^eff = W_1 F, so this gain scales its effective step at
    a fixed learning rate. std(F) is held fixed, but W_1 F is not.
    """
    return float(torch.linalg.matrix_norm((W1.double() @ F.double()), ord=2))


def two_passes(
    net: Net,
    F: Tensor,
    x: Tensor,
    t: Tensor,
    masks: Masks,
    reuse_first_layer: bool = True,
    W1F: Tensor | None = None,
) -> tuple[list[Tensor], list[Tensor], list[Tensor], Tensor]:
    """Clean and modulated passes sharing ``masks``.

    Returns (hs, As, hs_err, e): clean activities and pre-activations, modulated
    activities [h_0^err..h_L^err], and the clean output error e = h_L - t. ``W1F``: the
    product W_1 F when the caller carries it (else computed here).
    """
    hs, As = forward(net, x, masks)
    e = hs[-1] - t
    if net.depth == 1:
        return hs, As, hs, e
    x_err = modulated_input(x, F, e)
    # (W_1 F)^T computed as F^T W_1^T: same numbers, but the skinny product is ~2x faster
    # in this orientation on CPU BLAS (a (d_L x d_0)(d_0 x d_1) product).
    if reuse_first_layer:
        W1F_T = W1F.mT if W1F is not None else F.mT @ net.weights[0].mT
        a1_err = As[0] - e @ W1F_T
    else:
        a1_err = None
    hs_err, _ = forward(net, x_err, masks, first_preact=a1_err)
    return hs, As, hs_err, e


def pepita_updates(
    net: Net,
    F: Tensor,
    x: Tensor,
    t: Tensor,
    masks: Masks,
    last_error: str = "clean",
    W1F: Tensor | None = None,
) -> tuple[list[Outer], Tensor]:
    """PEPITA's Delta W_l for every layer (as outer products) and the clean-pass loss."""
    hs, As, hs_err, e = two_passes(net, F, x, t, masks, W1F=W1F)
    n = x.shape[-2]
    grads = [Outer(hs[l] - hs_err[l], hs_err[l - 1], n) for l in range(1, net.depth)]
    e_last = e if last_error == "clean" else hs_err[-1] - t
    grads.append(Outer(e_last, hs_err[-2], n))
    return grads, cross_entropy(As[-1], t)


class PepitaBase(RuleBase):
    """State shared by the PEPITA family: the fixed feedback F and its alignment angle."""

    def init_state(self, net: Net, gen: torch.Generator) -> dict[str, Tensor]:
        """F drawn as the config says: i.i.d. uniform (original) or normal entries, or the
        product of normal factors B_1 ... B_L renormalised to the same std
        (Srinivasan et al. 2024; chapter "Weight mirroring")."""
        cfg, dev = self.cfg, net.weights[0].device
        d0, dL = net.sizes[0], net.sizes[-1]
        if cfg.f_init == "factorised":
            factors = [b.to(dev) for b in factorised_F(net.sizes, cfg.f_scale, gen)]
            F = renormalise(factors, self.target_std(net)) + cfg.f_mean * self.target_std(net)
            return {"F": F, **{f"B{l}": b for l, b in enumerate(factors, start=1)}}
        F = pepita_F(d0, dL, cfg.f_scale, cfg.f_init, gen, cfg.f_mean)
        return {"F": F.to(dev)}

    def target_std(self, net: Net) -> float:
        return self.cfg.f_scale * math.sqrt(2.0 / net.sizes[0])

    def angles(self, net: Net, state: dict[str, Tensor]) -> dict[str, float]:
        """Angle between vec((W_L ... W_1)^T) and vec(F) (90 degrees means unaligned) and,
        with a hidden layer, the gain of the first layer's effective feedback (Srinivasan et al.
        2024, Sec. 3; chapter "PEPITA as adaptive feedback alignment")."""
        out = {"angle_F": angle_deg(product_transpose(net.weights), state["F"])}
        if net.depth > 1:
            out["gain_W1F"] = feedback_gain(net.weights[0], state["F"])
        return out


class Pepita(PepitaBase):
    name = "pepita"
    summary = "PEPITA: clean pass, then a pass on x - F e; local differences update W"
    batchable = True
    carry_first_layer = True  # False where F changes during training (weight mirroring)
    REFRESH_STEPS = 100

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        carry = self.carry_first_layer and net.depth > 1
        F = state["F"]
        if carry and not self._carried_is_current(net, state, opt):
            state["W1F"] = (F.mT @ net.weights[0].mT).mT
            state["V1F"] = (F.mT @ opt.velocity[0].mT).mT
            self._carried_steps = 0
        W1F = state["W1F"] if carry else None
        grads, loss = pepita_updates(net, F, x, t, masks, self.cfg.last_error, W1F)
        opt.step(net.weights, grads)
        if carry:
            g = grads[0]
            # (x - F e) F as (F^T (x - F e)^T)^T: same product, ~3x faster on CPU BLAS in
            # this orientation (a d_L-row times B-column product; bench/RESULTS.md)
            pre_F = (F.mT @ g.pre.mT).mT
            opt.step_image(state["W1F"], state["V1F"], Outer(g.post, pre_F, g.n))
            self._carried_steps += 1
            self._carried_tag = self._tag(net, state, opt)
        return loss

    def checkpoint_extras(self, net: Net, state: dict, opt: SGD) -> dict:
        # the carried W_1 F is in ``state``; what must survive is whether it is current and
        # how many steps it has run since its last refresh (else a resume recomputes it early)
        current = self.carry_first_layer and self._carried_is_current(net, state, opt)
        return {"carried_steps": self._carried_steps if current else None}

    def restore_extras(self, net: Net, state: dict, opt: SGD, extras: dict) -> None:
        if extras.get("carried_steps") is not None:
            self._carried_steps = extras["carried_steps"]
            self._carried_tag = self._tag(net, state, opt)

    @staticmethod
    def _tag(net: Net, state: dict, opt: SGD) -> tuple:
        # tensors' in-place version counters: any change to W_1, v_1 or F other than this
        # rule's own step (a notebook editing weights, mirroring) forces a recomputation
        tensors = (net.weights[0], opt.velocity[0], state["F"], state["W1F"])
        return (id(state), *((id(a), a._version) for a in tensors))

    def _carried_is_current(self, net: Net, state: dict, opt: SGD) -> bool:
        return (
            "W1F" in state
            and getattr(self, "_carried_steps", 0) < self.REFRESH_STEPS
            and getattr(self, "_carried_tag", None) == self._tag(net, state, opt)
        )
