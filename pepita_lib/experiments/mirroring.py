"""Weight mirroring of a factorised F: with and without, its gain, better schedules."""

from __future__ import annotations

from ..config import TrainConfig
from .rates import (
    paper_lr,
)
from .registry import (
    paper_seeds,
    register,
    schedule,
    variant_grid,
)

# --- Weight mirroring ------------------------------------------------------------------------

# How F is made and whether it learns; the rate is PEPITA's own on each dataset.
WM_VARIANTS: dict[str, dict] = {
    "uniform F (original)": {"rule": "pepita"},
    "factorised F, no WM": {"rule": "pepita_wm", "wm_schedule": "none"},
    "factorised F + WM": {"rule": "pepita_wm"},
    "WM + 1 pre-mirroring epoch": {"rule": "pepita_wm", "wm_pre_epochs": 1},
}


@register(
    "weight_mirroring",
    "PEPITA with and without weight mirroring (and pre-mirroring), 1x1024, MNIST, "
    "Fashion-MNIST and CIFAR-10, 3 seeds",
)
def _weight_mirroring(profile: str) -> list[TrainConfig]:
    return _on_wm_datasets(profile, WM_VARIANTS)


def _on_wm_datasets(profile: str, variants: dict[str, dict]) -> list[TrainConfig]:
    """``variants`` on MNIST, Fashion-MNIST and CIFAR-10, each at PEPITA's rate there."""
    return [
        cfg
        for ds in ("mnist", "fashion_mnist", "cifar10")
        for cfg in variant_grid(profile, variants, dataset=ds, lr=paper_lr("pepita", ds))
    ]


# Our remedy for the runaway gain under per-batch mirroring (not the authors'): after each
# mirror round F is rescaled so that ||W_1 F||_2 stays at its value at initialisation. The
# same cells as "factorised F + WM" of weight_mirroring, with the gain held.
WM_GAIN_HELD = {"rule": "pepita_wm", "wm_hold_gain": True}


@register(
    "wm_gain_held",
    "PEPITA + weight mirroring after every batch with the feedback gain ||W_1 F|| held at its "
    "initial value (our variant), 1x1024, MNIST, Fashion-MNIST and CIFAR-10, 3 seeds",
)
def _wm_gain_held(profile: str) -> list[TrainConfig]:
    return _on_wm_datasets(profile, {"gain held": WM_GAIN_HELD})


# Why mirroring blows up on Fashion-MNIST: the first 30 epochs of two weight_mirroring cells
# (the same configs but for the epoch count: the same trajectories up to float rounding),
# now logging the gain ||W_1 F||_2 of the first layer's effective feedback every epoch.
WM_GAIN_VARIANTS = ("uniform F (original)", "factorised F + WM")
WM_GAIN_EPOCHS = 30


@register(
    "wm_gain",
    "the gain ||W_1 F|| of PEPITA's effective first-layer feedback with a fixed F and with "
    "weight mirroring, first 30 epochs, 1x1024, MNIST and Fashion-MNIST, 3 seeds",
)
def _wm_gain(profile: str) -> list[TrainConfig]:
    sched = {**schedule(profile), **({"epochs": WM_GAIN_EPOCHS} if profile == "paper" else {})}
    return [
        TrainConfig(dataset=ds, lr=paper_lr("pepita", ds), seed=seed, **sched, **WM_VARIANTS[v])
        for ds in ("mnist", "fashion_mnist")
        for v in WM_GAIN_VARIANTS
        for seed in paper_seeds(profile)
    ]


# Open question 3: mirror rates per layer and schedules (MNIST, 1x1024, seed 0 first).
WM_TUNING: dict[str, dict] = {
    "every batch, rate 0.01 (default)": {},
    "every batch, rate 0.1": {"wm_lr": 0.1},
    "every batch, rate 0.001": {"wm_lr": 0.001},
    "layer rates (0.1, 0.001)": {"wm_layer_lr": (0.1, 0.001)},
    "layer rates (0.001, 0.1)": {"wm_layer_lr": (0.001, 0.1)},
    "one full pass per epoch": {"wm_schedule": "epoch"},
    "one full pass every 10 epochs": {"wm_schedule": "epoch", "wm_every": 10},
}


@register(
    "wm_tuning",
    "better mirroring: global and layer-specific mirror rates, batch vs epoch schedules "
    "(PEPITA-WM, MNIST, 1x1024)",
)
def _wm_tuning(profile: str) -> list[TrainConfig]:
    return variant_grid(profile, WM_TUNING, dataset="mnist", rule="pepita_wm", lr=0.1)
