"""Depth: PEPITA vs its Hebbian and time-local forms at 2-3 layers, and PEPITA with
weight decay, normalisation and weight mirroring at 1-5 layers (``going_deeper``)."""

from __future__ import annotations

from ..config import TrainConfig
from .rates import (
    DEPTH_LR,
    KNOWN_PLAIN_LR,
    deep_lr,
    depth_lr,
)
from .registry import (
    paper_seeds,
    register,
    schedule,
    search_schedule,
)

DEPTH_LR_GRID = (0.1, 0.03, 0.01, 0.003)
# (dataset, depth) -> rates searched below the grid. On MNIST depth 3 needs them
# (PEPITA-Hebbian stays at chance at 0.003); on Fashion-MNIST, where even the 1-layer PEPITA
# blows up at 0.1, both depths are searched down to 0.0003 from the start.
DEPTH_LR_GRID_EXTRA = {
    ("mnist", 3): (0.001, 0.0003),
    ("fashion_mnist", 2): (0.001, 0.0003),
    ("fashion_mnist", 3): (0.001, 0.0003),
}
HEBBIAN_DEPTH_DATASETS = ("mnist", "fashion_mnist")


@register(
    "depth_lr_search",
    "learning rate per depth for PEPITA and PEPITA-Hebbian on a 10k validation split "
    "(3 epochs, MNIST and Fashion-MNIST): deeper nets diverge at the 1-layer rate",
)
def _depth_lr_search(profile: str) -> list[TrainConfig]:
    common = search_schedule(profile, 3)
    # the smoke profile keeps CI short: MNIST only
    datasets = HEBBIAN_DEPTH_DATASETS if profile == "paper" else ("mnist",)
    return [
        TrainConfig(dataset=ds, rule=rule, hidden=(1024,) * depth, lr=lr, **common)
        for ds in datasets
        for rule in ("pepita", "pepita_hebbian")
        for depth in (2, 3)
        for lr in DEPTH_LR_GRID + DEPTH_LR_GRID_EXTRA.get((ds, depth), ())
    ]


@register(
    "hebbian_depth",
    "PEPITA vs PEPITA-Hebbian vs PEPITA-TL with 2 and 3 hidden layers of 1024 "
    "(depth 1 lives in baselines)",
)
def _hebbian_depth(profile: str) -> list[TrainConfig]:
    sched = schedule(profile)
    seeds = paper_seeds(profile)
    # a (dataset, depth) cell is registered once depth_lr_search has given it a rate; TL
    # waits too, so the three rules of a cell land together
    return [
        TrainConfig(
            dataset=ds,
            rule=rule,
            hidden=(1024,) * depth,
            lr=depth_lr(rule, ds, depth),
            seed=seed,
            **sched,
        )
        for ds in HEBBIAN_DEPTH_DATASETS
        for depth in (2, 3)
        if (ds, depth) in DEPTH_LR
        for rule in ("pepita", "pepita_hebbian", "pepita_tl")
        for seed in seeds
    ]


# --- Going deeper: depth x {weight decay, normalisation, WM} -------------------------------

DEPTH_VARIANTS: dict[str, dict] = {
    "plain": {"rule": "pepita"},
    "weight decay": {"rule": "pepita", "weight_decay": 1e-4},
    "normalisation": {"rule": "pepita", "act_norm": "batch"},
    "WM": {"rule": "pepita_wm"},
    "normalisation + WM": {"rule": "pepita_wm", "act_norm": "batch"},
}
DEPTHS = (1, 2, 3, 4, 5)
DEEP_LR_GRID = (0.1, 0.01, 0.001, 0.0001)
# Whole-batch normalisation shrinks every layer's activity (each sample's vector to about
# 1/sqrt(batch) in norm), hence its updates by orders of magnitude: search higher rates.
# (30 to 1000 were added after the first searches peaked at their upper edge, at every depth)
DEEP_LR_GRID_NORM = (1000.0, 300.0, 100.0, 30.0, 10.0, 1.0, 0.1, 0.01)


@register(
    "deep_lr_search",
    "learning rate per depth on a 10k validation split (2 epochs): plain PEPITA where no "
    "rate is known yet, and activation normalisation at every depth; MNIST, CIFAR-10, CIFAR-100",
)
def _deep_lr_search(profile: str) -> list[TrainConfig]:
    paper = profile == "paper"
    common = search_schedule(profile, 2)
    datasets = ("mnist", "cifar10", "cifar100") if paper else ("mnist",)
    depths = DEPTHS if paper else (2,)
    cells = []
    for ds in datasets:
        for depth in depths:
            # plain cells are searched wherever no other experiment fixed their rate; the test
            # is on KNOWN_PLAIN_LR, not on DEEP_LR, so the search stays registered (and shown)
            # after its best rate has been copied into DEEP_LR
            if (depth > 1 and (ds, depth) not in KNOWN_PLAIN_LR) or not paper:
                cells += [(ds, depth, DEPTH_VARIANTS["plain"], lr) for lr in DEEP_LR_GRID]
            cells += [(ds, depth, DEPTH_VARIANTS["normalisation"], lr) for lr in DEEP_LR_GRID_NORM]
    return [
        TrainConfig(dataset=ds, hidden=(1024,) * depth, lr=lr, **common, **variant)
        for ds, depth, variant, lr in cells
    ]


@register(
    "going_deeper",
    "PEPITA with 1-5 hidden layers of 1024 x {plain, weight decay, normalisation, WM, "
    "normalisation + WM}, MNIST, CIFAR-10 and CIFAR-100, 3 seeds; a cell is registered once "
    "deep_lr_search has given it a rate",
)
def _going_deeper(profile: str) -> list[TrainConfig]:
    sched = schedule(profile)
    paper = profile == "paper"
    seeds = paper_seeds(profile)
    # the smoke profile keeps CI short: two depths on MNIST, one rate for every cell
    datasets = ("mnist", "cifar10", "cifar100") if paper else ("mnist",)
    depths = DEPTHS if paper else (1, 2)
    configs = []
    for ds in datasets:
        for depth in depths:
            for name, variant in DEPTH_VARIANTS.items():
                lr = deep_lr(ds, depth, name) if paper else 0.1
                if lr is None:
                    continue
                configs += [
                    TrainConfig(
                        dataset=ds, hidden=(1024,) * depth, lr=lr, seed=seed, **sched, **variant
                    )
                    for seed in seeds
                ]
    return configs
