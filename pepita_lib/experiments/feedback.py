"""The feedback matrix F: PEPITA read as adaptive feedback alignment (``afa_vs_pepita``),
where that reading breaks as F grows (``afa_fscale``), and how F is drawn (``f_init``)."""

from __future__ import annotations

from ..config import TrainConfig
from .rates import (
    DATASET_LR,
    FSCALE_LR,
)
from .registry import (
    paper_seeds,
    register,
    schedule,
    search_schedule,
    variant_grid,
)


@register(
    "afa_vs_pepita",
    "PEPITA next to identically initialised AFA (same weights, F, dropout masks, batch "
    "order), 1x1024, MNIST and CIFAR-10, 3 seeds",
)
def _afa_vs_pepita(profile: str) -> list[TrainConfig]:
    sched = schedule(profile)
    seeds = paper_seeds(profile)
    return [
        TrainConfig(dataset=ds, rule=rule, hidden=(1024,), lr=DATASET_LR[ds], seed=seed, **sched)
        for ds in ("mnist", "cifar10")
        for rule in ("pepita", "afa")
        for seed in seeds
    ]


# --- PEPITA as AFA: where the first-order reading breaks (F-scale sweep) -------------------

# F-scale multipliers (the "0.05" of the original F): three decades around the original.
F_SCALES = (0.005, 0.05, 0.5, 2.0, 5.0)
FSCALE_LR_GRID = (0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
# large F diverges at every rate of the grid above but its lowest: search further down
FSCALE_LR_GRID_EXTRA = {2.0: (0.0003, 0.0001), 5.0: (0.0003, 0.0001, 0.00003)}


@register(
    "fscale_lr_search",
    "PEPITA's learning rate for each F scale on a 10k validation split (3 epochs, MNIST): "
    "the first-layer update grows with F, so a fixed rate diverges at large scales",
)
def _fscale_lr_search(profile: str) -> list[TrainConfig]:
    common = search_schedule(profile, 3)
    paper = profile == "paper"
    scales, rates = (F_SCALES, FSCALE_LR_GRID) if paper else ((0.05, 5.0), (0.1, 0.001))
    return [
        TrainConfig(dataset="mnist", rule="pepita", f_scale=s, lr=lr, **common)
        for s in scales
        for lr in rates + (FSCALE_LR_GRID_EXTRA.get(s, ()) if paper else ())
    ]


@register(
    "afa_fscale",
    "PEPITA vs identically initialised AFA across F scales 0.005-5 (MNIST, 1x1024), each "
    "at the rate chosen for it on validation",
)
def _afa_fscale(profile: str) -> list[TrainConfig]:
    sched = schedule(profile)
    return [
        TrainConfig(dataset="mnist", rule=rule, f_scale=s, lr=FSCALE_LR[s], **sched)
        for s in F_SCALES
        for rule in ("pepita", "afa")
    ]


# --- Open question 1: how should F be initialised? -----------------------------------------

# No non-zero-mean variant is trained: softmax outputs and one-hot targets both sum to one,
# so 1^T e = 0 and a mean added to every entry of F never reaches x - F e (F e is unchanged
# up to rounding). Chapter "Open question 1" derives this and checks it numerically.
F_INITS: dict[str, dict] = {
    "uniform (original)": {},
    "normal": {"f_init": "normal"},
    "factorised normal": {"f_init": "factorised"},
}


@register(
    "f_init",
    "PEPITA with F drawn uniform / normal / factorised (MNIST, 1x1024; the scale sweep "
    "lives in afa_fscale)",
)
def _f_init(profile: str) -> list[TrainConfig]:
    return variant_grid(profile, F_INITS, dataset="mnist", rule="pepita", lr=0.1)
