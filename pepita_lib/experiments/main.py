"""The main table (``baselines``) and the learning-rate search behind its rates."""

from __future__ import annotations

from ..config import TrainConfig
from .ff import FF_HIDDEN, FF_TRAINING, ff_config
from .rates import (
    baseline_lr,
)
from .registry import (
    SEEDS,
    paper_seeds,
    register,
    schedule,
    search_schedule,
)

DATASETS_MAIN = ("mnist", "fashion_mnist", "cifar10", "cifar100")
BASELINE_RULES = (
    "bp",
    "fa",
    "dfa",
    "drtp",
    "pepita",
    "pepita_hebbian",
    "pepita_tl",
    "pepita_wm",
    "afa",
)

# Forward-Forward in the main table: its own net and schedule (ff.ff_config).
FF_BASELINE_DATASETS = ("mnist", "fashion_mnist", "cifar10")


@register(
    "baselines",
    "the main table: BP, FA, DFA, DRTP, the PEPITA family, PEPITA-WM and AFA (1x1024, four "
    "datasets) and Forward-Forward (its own 2x1000 net; MNIST, Fashion-MNIST, CIFAR-10), 5 seeds",
)
def _baselines(profile: str) -> list[TrainConfig]:
    sched = schedule(profile)
    seeds = paper_seeds(profile, SEEDS)
    one_layer = [
        TrainConfig(
            dataset=ds, rule=rule, hidden=(1024,), lr=baseline_lr(rule, ds), seed=seed, **sched
        )
        for ds in DATASETS_MAIN
        for rule in BASELINE_RULES
        for seed in seeds
    ]
    return one_layer + [
        ff_config(ds, seed, profile) for ds in FF_BASELINE_DATASETS for seed in seeds
    ]


LR_GRID = (0.1, 0.03, 0.01, 0.003, 0.001, 0.0003)
CIFAR_LR_GRID = (0.01, 0.003, 0.001, 0.0003, 0.0001)
FF_CIFAR_LR_GRID = (1.0, 0.3, 0.1, 0.03)
# PEPITA-WM on Fashion-MNIST, searched over more epochs (see _lr_search)
WM_LR_GRID = (0.01, 0.003, 0.001, 0.0003)
WM_SEARCH_EPOCHS = 30
# A best rate at the low edge of its grid is not yet a choice: steps further down until the
# validation accuracy falls.
EDGE_STEPS: dict[tuple[str, str], tuple[float, ...]] = {
    ("drtp", "mnist"): (0.0001, 0.00003),
    ("pepita_tl", "mnist"): (0.0001,),
    ("pepita_tl", "fashion_mnist"): (0.0001,),
    ("pepita_tl", "cifar10"): (0.00003, 0.00001, 0.000003, 0.000001),
}


@register(
    "lr_search",
    "learning-rate search on a 10k validation split (10 epochs; 30 for PEPITA-WM on "
    "Fashion-MNIST) for rules that drift at the dataset's default rate",
)
def _lr_search(profile: str) -> list[TrainConfig]:
    common = search_schedule(profile, 10)
    drifting = [
        TrainConfig(dataset=ds, rule=rule, lr=lr, **common)
        for ds in ("mnist", "fashion_mnist")
        for rule in ("drtp", "pepita_tl")
        for lr in LR_GRID
    ]
    # On Fashion-MNIST PEPITA's training loss explodes at the MNIST rate (0.1) while its
    # test accuracy hovers near 80%: search the family's rate there too.
    family = [
        TrainConfig(dataset="fashion_mnist", rule=rule, lr=lr, **common)
        for rule in ("pepita", "pepita_hebbian")
        for lr in LR_GRID[:4]
    ]
    # CIFAR-10 (JPEG copy) starts from the paper's 0.01; the two rules that needed lower rates
    # on both grey-scale datasets are searched there too, one step further down.
    cifar = [
        TrainConfig(dataset="cifar10", rule=rule, lr=lr, **common)
        for rule in ("drtp", "pepita_tl")
        for lr in CIFAR_LR_GRID
    ]
    # Forward-Forward on CIFAR-10: at its MNIST rate (1.0) a full run's loss sat at 2 theta
    # (the value when no hidden unit responds) from epoch 2 and it ended at chance.
    ff = [
        TrainConfig(
            dataset="cifar10", rule="ff", hidden=FF_HIDDEN, **{**FF_TRAINING, "lr": lr}, **common
        )
        for lr in FF_CIFAR_LR_GRID
    ]
    edge = [
        TrainConfig(dataset=ds, rule=rule, lr=lr, **common)
        for (rule, ds), rates in EDGE_STEPS.items()
        for lr in rates
    ]
    # PEPITA-WM on Fashion-MNIST: at PEPITA's rate its training loss blows up after about 20
    # epochs (the gain of W_1 F grows under mirroring; experiment wm_gain), too late for a
    # 10-epoch search to see, so this one runs 30 epochs.
    longer = search_schedule(profile, WM_SEARCH_EPOCHS)
    wm = [
        TrainConfig(dataset="fashion_mnist", rule="pepita_wm", lr=lr, **longer) for lr in WM_LR_GRID
    ]
    return drifting + family + cifar + ff + edge + wm
