"""PEPITA with weight mirroring (WM) of a factorised F (paper Sec. 4; SPEC 1.3).

F = B_1 B_2 ... B_L with B_l shaped like W_l^T (d_{l-1} x d_l). Each factor learns to
mirror its layer from noise alone, with no error signal:

    xi ~ N(0, noise^2)  (n x d_{l-1}),   y = sigma_l(W_l xi)   (linear at the output)
    B_l <- B_l + eta_wm xi^T y / n - eta_wm lambda_wm B_l

For zero-mean Gaussian xi, E[xi sigma(W xi)^T] is proportional to W^T for ReLU and linear
units, so B_l turns towards W_l^T and F towards (W_L ... W_1)^T, the direction for which
PEPITA's update (minus convention) is descent. After every mirror step the factors are
rescaled so that std(F) stays exactly at its target (only the direction of F learns).

Schedules (cfg.wm_schedule): one mirror step per layer after every training batch
("batch"), a full pass of mirror steps (as many as batches) at the start of every
wm_every-th epoch ("epoch"), or none; plus wm_pre_epochs mirroring-only epochs before
training. cfg.wm_layer_lr gives each layer its own mirror rate.
"""

from __future__ import annotations

import torch

from ..feedback import factorised_F, renormalise
from ..nets import Net
from ..optim import SGD
from .base import Masks, angle_deg
from .pepita import Pepita

Tensor = torch.Tensor


def mirror_step(
    W: Tensor,
    B: Tensor,
    act,
    noise: float,
    lr: float,
    decay: float,
    n: int,
    gen: torch.Generator,
    output_layer: bool,
) -> None:
    """One WM step on B (in place): B <- B + lr xi^T sigma(W xi) / n - lr decay B."""
    xi = torch.randn(n, W.shape[1], generator=gen, device=gen.device, dtype=W.dtype) * noise
    a = xi @ W.T
    y = a if output_layer else act.f(a)
    B.mul_(1.0 - lr * decay).addmm_(xi.T, y, alpha=lr / n)


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
        return {"F": F, **{f"B{l}": b for l, b in enumerate(factors, start=1)}}

    def factors(self, net: Net, state: dict) -> list[Tensor]:
        return [state[f"B{l}"] for l in range(1, net.depth + 1)]

    def mirror(self, net: Net, state: dict, rounds: int = 1) -> None:
        """``rounds`` mirror steps for every layer, each followed by exact renormalisation."""
        cfg = self.cfg
        rates = cfg.wm_layer_lr or (cfg.wm_lr,) * net.depth
        factors = self.factors(net, state)
        for _ in range(rounds):
            for l, (W, B) in enumerate(zip(net.weights, factors)):
                mirror_step(
                    W,
                    B,
                    net.act,
                    cfg.wm_noise,
                    rates[l],
                    cfg.wm_decay,
                    cfg.batch_size,
                    self.noise_gen,
                    l == net.depth - 1,
                )
            state["F"] = renormalise(factors, self.target_std(net))

    def before_training(self, net: Net, state: dict, steps_per_epoch: int) -> None:
        if self.cfg.wm_pre_epochs and self.cfg.wm_schedule != "none":
            self.mirror(net, state, self.cfg.wm_pre_epochs * steps_per_epoch)

    def begin_epoch(self, net: Net, state: dict, epoch: int, steps_per_epoch: int) -> None:
        if self.cfg.wm_schedule == "epoch" and epoch % self.cfg.wm_every == 0:
            self.mirror(net, state, steps_per_epoch)

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        loss = super().step(net, state, opt, x, t, masks)
        if self.cfg.wm_schedule == "batch":
            self.mirror(net, state)
        return loss

    def angles(self, net: Net, state: dict) -> dict[str, float]:
        out = super().angles(net, state)
        for l, (W, B) in enumerate(zip(net.weights, self.factors(net, state)), start=1):
            out[f"angle_W{l}T_B{l}"] = angle_deg(W.T, B)
        return out
