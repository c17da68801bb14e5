"""PEPITA with weight mirroring (WM) of a factorised F (Srinivasan et al. 2024, Sec. 4).

F = B_1 B_2 ... B_L with B_l shaped like W_l^T (d_{l-1} x d_l). Each factor learns to
mirror its layer from noise alone, with no error signal:

    xi ~ N(0, noise^2)  (n x d_{l-1}),   y = g_l(W_l xi)
    B_l <- B_l + eta_wm xi^T y / n - eta_wm lambda_wm B_l

The drive g_l (cfg.wm_drive) is what the layer's units do with the noise:

- "linear": g_l = sigma for hidden layers, the identity at the output;
- "block", as the authors' trainer drives it: the whole block of the forward pass, i.e.
  sigma, the activation normalisation where it is on and dropout (a fresh inverted-dropout
  mask from the mirroring noise stream) for hidden layers, the softmax at the output.

For zero-mean Gaussian xi, E[xi sigma(W xi)^T] is proportional to W^T for ReLU and linear
units, so B_l turns towards W_l^T and F towards (W_L ... W_1)^T, the direction for which
PEPITA's update (minus convention) is descent. The softmax keeps this only to first order
in the noise: softmax(a) ~ 1/d + J a with J = (I - 1 1^T / d) / d at a = 0, so
E[xi softmax(W xi)^T] ~ noise^2 W^T J, W^T with its column mean removed and about d times
weaker than the linear drive (book chapter "Weight mirroring").

After every mirror round (one step per layer) the factors are rescaled so that std(F)
stays exactly at its target: only the direction of F learns. With cfg.wm_hold_gain (our
remedy, not the authors') the round ends with a second rescaling, of the product by c,
that holds the first layer's feedback gain ||W_1 F||_2 at its value at initialisation
(before any pre-mirroring): the gain, not std(F), then sets F's scale, because mirroring
alone lets the gain grow until training blows up (chapter "Weight mirroring"). The std
renormalisation still runs first, so the direction is the same as without the hold.

Schedules (cfg.wm_schedule): one mirror round after every training batch ("batch"); one
after every batch of the epochs e (0-based) with (e + 1) % wm_every == 0 ("period", the
authors' trainer; wm_every = 1 is "batch"); a full pass of rounds (as many as batches) at
the start of every wm_every-th epoch ("epoch"); or none. wm_pre_epochs adds that many
epochs' worth of mirroring-only rounds before training. cfg.wm_layer_lr gives each layer
its own mirror rate.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..feedback import factorised_F, renormalise, scale_product
from ..nets import Net, dropout_mask, hidden_activity
from ..optim import SGD
from .base import Masks, angle_deg
from .pepita import Pepita, feedback_gain

Tensor = torch.Tensor
Drive = Callable[[Tensor], Tensor]  # a layer's response y = g(a) to a pre-activation a


def mirror_step(
    W: Tensor,
    B: Tensor,
    drive: Drive,
    noise: float,
    lr: float,
    decay: float,
    n: int,
    gen: torch.Generator,
) -> None:
    """One WM step on B (in place), with n noise samples xi ~ N(0, noise^2 I) drawn from gen:

    B <- (1 - lr decay) B + lr xi^T g(W xi) / n,   g = ``drive``.
    """
    xi = torch.randn(n, W.shape[1], generator=gen, device=gen.device, dtype=W.dtype) * noise
    y = drive(xi @ W.T)
    B.mul_(1.0 - lr * decay).addmm_(xi.T, y, alpha=lr / n)


def layer_drive(net: Net, layer: int, mode: str, gen: torch.Generator) -> Drive:
    """The drive g of 0-based ``layer``: "linear" is sigma (identity at the output); "block"
    is the forward pass's block (hidden: sigma, normalisation, dropout with a mask drawn
    from ``gen`` at each call; output: softmax)."""
    output = layer == net.depth - 1
    if mode == "linear":
        return (lambda a: a) if output else net.act.f
    if output:
        return lambda a: torch.softmax(a, dim=-1)

    def block(a: Tensor) -> Tensor:
        mask = None
        if net.dropout > 0:
            mask = dropout_mask(a.shape[0], a.shape[1], net.dropout, gen, a.dtype)
        return hidden_activity(net, a, mask)

    return block


def hold_gain(factors: list[Tensor], F: Tensor, W1: Tensor, gain: float) -> Tensor:
    """Rescale B_1 ... B_L in place by c = gain / ||W_1 F||_2 (the product exactly, each
    factor by c^(1/L)), so that ||W_1 B_1 ... B_L||_2 = gain; returns c F."""
    c = gain / feedback_gain(W1, F)
    scale_product(factors, c)
    return F * c


class PepitaWM(Pepita):
    name = "pepita_wm"
    summary = "PEPITA + weight mirroring of a factorised F = B_1 ... B_L"
    batchable = False  # mirroring keeps per-net noise and factor state
    carry_first_layer = False  # mirroring moves F, so W_1 F is recomputed every step

    def init_state(self, net: Net, gen: torch.Generator) -> dict[str, Tensor]:
        dev = net.weights[0].device
        factors = [b.to(dev) for b in factorised_F(net.sizes, self.cfg.f_scale, gen)]
        F = renormalise(factors, self.target_std(net))
        # the mirroring noise has its own stream, so WM settings never shift other draws
        self.noise_gen = torch.Generator(device=dev).manual_seed(self.cfg.seed + 3)
        self.epoch = 0
        state = {"F": F, **{f"B{l}": b for l, b in enumerate(factors, start=1)}}
        if self.cfg.wm_hold_gain:
            # in the state, so a resumed run holds the same reference
            gain = feedback_gain(net.weights[0], F)
            state["gain_ref"] = torch.tensor(gain, dtype=torch.float64, device=dev)
        return state

    def factors(self, net: Net, state: dict) -> list[Tensor]:
        return [state[f"B{l}"] for l in range(1, net.depth + 1)]

    def mirror(self, net: Net, state: dict, rounds: int = 1) -> None:
        """``rounds`` mirror rounds: a step for every layer, then exact renormalisation of
        std(F) and, with wm_hold_gain, of ||W_1 F||_2."""
        cfg = self.cfg
        rates = cfg.wm_layer_lr or (cfg.wm_lr,) * net.depth
        factors = self.factors(net, state)
        drives = [layer_drive(net, l, cfg.wm_drive, self.noise_gen) for l in range(net.depth)]
        for _ in range(rounds):
            for W, B, drive, rate in zip(net.weights, factors, drives, rates):
                mirror_step(
                    W, B, drive, cfg.wm_noise, rate, cfg.wm_decay, cfg.batch_size, self.noise_gen
                )
            state["F"] = renormalise(factors, self.target_std(net))
            if cfg.wm_hold_gain:
                gain = float(state["gain_ref"])
                state["F"] = hold_gain(factors, state["F"], net.weights[0], gain)

    def before_training(self, net: Net, state: dict, steps_per_epoch: int) -> None:
        if self.cfg.wm_pre_epochs and self.cfg.wm_schedule != "none":
            self.mirror(net, state, self.cfg.wm_pre_epochs * steps_per_epoch)

    def begin_epoch(self, net: Net, state: dict, epoch: int, steps_per_epoch: int) -> None:
        self.epoch = epoch
        if self.cfg.wm_schedule == "epoch" and epoch % self.cfg.wm_every == 0:
            self.mirror(net, state, steps_per_epoch)

    def mirrors_after_each_batch(self) -> bool:
        """Whether this epoch interleaves a mirror round with every PEPITA step."""
        schedule = self.cfg.wm_schedule
        in_period = (self.epoch + 1) % self.cfg.wm_every == 0
        return schedule == "batch" or (schedule == "period" and in_period)

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        loss = super().step(net, state, opt, x, t, masks)
        if self.mirrors_after_each_batch():
            self.mirror(net, state)
        return loss

    def angles(self, net: Net, state: dict) -> dict[str, float]:
        out = super().angles(net, state)
        for l, (W, B) in enumerate(zip(net.weights, self.factors(net, state)), start=1):
            out[f"angle_W{l}T_B{l}"] = angle_deg(W.T, B)
        return out
