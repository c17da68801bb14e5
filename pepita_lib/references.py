"""Published numbers the book compares against, each with its source.

Every value is a :class:`Reference`: test accuracy in percent (mean, std over the authors'
seeds) unless its setting says otherwise, with ``approximate`` set where the number was read
off a plot or a talk rather than printed in a table. They are comparison columns only; every
other number in the book is ours. The scorecard (:mod:`pepita_lib.scorecard`) sets each one
against our stored runs.
"""

from __future__ import annotations

from dataclasses import dataclass

ICML22 = "Dellaferrera & Kreiman 2022, Table 1 (1x1024)"
ICML22_CONV = "Dellaferrera & Kreiman 2022, Table 1 (one convolutional layer)"
ICLR24 = "Srinivasan et al. 2024, author replies / Table S1"
ICLR24_T2 = "Srinivasan et al. 2024, Table 2 (arXiv v1, 1x1024)"
ICLR24_TALK = "Srinivasan et al. 2024, talk of February 2023 (approximate: read off a plot)"
ICLR24_HEBBIAN = "Srinivasan et al. 2024, Sec. 5.1"
HINTON22 = "Hinton 2022 (4x2000 ReLU, 60 epochs)"
ICLR24_TL = "Srinivasan et al. 2024, Sec. 5.1 (approximate: 'about 40%', grid-searched low rate)"

HEBBIAN_GAP_CLAIM = 0.15  # percentage points, PEPITA vs PEPITA-Hebbian (Srinivasan et al. 2024)


@dataclass(frozen=True)
class Reference:
    """One published number. ``rule`` and ``depth`` (hidden layers) name the cell it is for;
    ``net`` is "fc" (fully connected) or "conv"; ``tolerance`` (points) is set for a claim of
    the form "within x points", whose ``published`` value is the claimed difference, 0."""

    id: str
    source: str
    dataset: str
    setting: str
    published: float
    published_sd: float | None
    approximate: bool
    rule: str
    depth: int = 1
    net: str = "fc"
    tolerance: float = 0.0


DATASETS_PUBLISHED = ("mnist", "cifar10", "cifar100")

# Dellaferrera & Kreiman (2022), Table 1: (rule, net) -> one (mean, std) per dataset above
ICML22_TABLE1: dict[tuple[str, str], tuple[tuple[float, float], ...]] = {
    ("bp", "fc"): ((98.63, 0.03), (55.27, 0.32), (27.58, 0.09)),
    ("fa", "fc"): ((98.42, 0.07), (53.82, 0.24), (24.61, 0.28)),
    ("drtp", "fc"): ((95.10, 0.10), (45.89, 0.16), (18.32, 0.18)),
    ("pepita", "fc"): ((98.01, 0.09), (52.57, 0.36), (24.91, 0.22)),
    ("bp", "conv"): ((98.86, 0.04), (64.99, 0.32), (34.20, 0.20)),
    ("fa", "conv"): ((98.50, 0.06), (57.51, 0.57), (27.15, 0.53)),
    ("drtp", "conv"): ((97.32, 0.25), (50.53, 0.81), (20.14, 0.68)),
    ("pepita", "conv"): ((98.29, 0.13), (56.33, 1.35), (27.56, 0.60)),
}

# Srinivasan et al. (2024), Table 2 at one hidden layer of 1024: PEPITA + variant
ICLR24_TABLE2: dict[str, tuple[tuple[float, float], ...]] = {
    "plain": ((98.02, 0.08), (52.45, 0.25), (24.69, 0.17)),
    "WD": ((98.12, 0.08), (53.05, 0.23), (24.86, 0.18)),
    "Norm": ((98.41, 0.08), (53.51, 0.23), (22.87, 0.25)),
    "WM": ((98.05, 0.08), (52.63, 0.30), (27.07, 0.11)),
    "WD+WM": ((98.10, 0.12), (53.46, 0.26), (27.04, 0.19)),
    "Norm+WM": ((98.42, 0.05), (53.80, 0.25), (24.20, 0.36)),
}


def _icml22_table1() -> list[Reference]:
    return [
        Reference(
            id=f"icml22_{net}_{rule}_{ds}",
            source=ICML22 if net == "fc" else ICML22_CONV,
            dataset=ds,
            setting=f"{rule.upper()}, " + ("1x1024" if net == "fc" else "one conv layer"),
            published=mean,
            published_sd=sd,
            approximate=False,
            rule=rule,
            net=net,
        )
        for (rule, net), cells in ICML22_TABLE1.items()
        for ds, (mean, sd) in zip(DATASETS_PUBLISHED, cells)
    ]


def _iclr24_table2() -> list[Reference]:
    return [
        Reference(
            id=f"iclr24_t2_{variant.lower().replace('+', '_')}_{ds}",
            source=ICLR24_T2,
            dataset=ds,
            setting=f"PEPITA + {variant}, 1x1024" if variant != "plain" else "PEPITA, 1x1024",
            published=mean,
            published_sd=sd,
            approximate=False,
            rule="pepita_wm" if "WM" in variant else "pepita",
        )
        for variant, cells in ICLR24_TABLE2.items()
        for ds, (mean, sd) in zip(DATASETS_PUBLISHED, cells)
    ]


def _hebbian_gap(dataset: str, depth: int) -> Reference:
    return Reference(
        id=f"iclr24_hebbian_gap_{dataset}_d{depth}",
        source=ICLR24_HEBBIAN,
        dataset=dataset,
        setting=f"PEPITA-Hebbian minus PEPITA (points), {depth}x1024; "
        f"claim: within {HEBBIAN_GAP_CLAIM}",
        published=0.0,
        published_sd=None,
        approximate=False,
        rule="pepita_hebbian",
        depth=depth,
        tolerance=HEBBIAN_GAP_CLAIM,
    )


# Values given singly: id, source, dataset, setting, value, approximate, rule, hidden layers
SINGLE_VALUES: tuple[tuple[str, str, str, str, float, bool, str, int], ...] = (
    (
        "iclr24_tl_cifar10_text",
        ICLR24_TL,
        "cifar10",
        "PEPITA-TL, 1x1024",
        40.0,
        True,
        "pepita_tl",
        1,
    ),
    (
        "iclr24_tl_cifar10_plot",
        ICLR24_TALK,
        "cifar10",
        "PEPITA-TL, 1x1024",
        41.5,
        True,
        "pepita_tl",
        1,
    ),
    (
        "iclr24_tl_f0_cifar10_plot",
        ICLR24_TALK,
        "cifar10",
        "PEPITA-TL with F = 0, 1x1024",
        19.0,
        True,
        "pepita_tl",
        1,
    ),
    ("iclr24_s1_pepita_mnist_d3", ICLR24, "mnist", "PEPITA, 3x1024", 95.07, False, "pepita", 3),
    ("iclr24_wd_cifar100_d3", ICLR24, "cifar100", "PEPITA + WD, 3x1024", 23.13, False, "pepita", 3),
    (
        "hinton22_ff_mnist",
        HINTON22,
        "mnist",
        "FF, 4x2000 (test error 1.36%)",
        round(100 - 1.36, 2),
        False,
        "ff",
        4,
    ),
)


def _single_values() -> list[Reference]:
    return [
        Reference(ref_id, source, ds, setting, value, None, approx, rule, depth)
        for ref_id, source, ds, setting, value, approx, rule, depth in SINGLE_VALUES
    ]


REFERENCES: tuple[Reference, ...] = tuple(
    _icml22_table1()
    + _iclr24_table2()
    + _single_values()
    + [_hebbian_gap(ds, d) for ds in ("mnist", "cifar100") for d in (1, 2, 3)]
)
BY_ID: dict[str, Reference] = {r.id: r for r in REFERENCES}

# The values the chapters' tables print beside ours, looked up by (rule, dataset, hidden
# layers). The FA and DRTP rows of Table 1 and the 2024 grid are in the scorecard only.
CHAPTER_TABLE_IDS = (
    "icml22_fc_bp_mnist",
    "icml22_fc_bp_cifar10",
    "icml22_fc_bp_cifar100",
    "icml22_fc_pepita_mnist",
    "icml22_fc_pepita_cifar10",
    "icml22_fc_pepita_cifar100",
    "iclr24_s1_pepita_mnist_d3",
    "hinton22_ff_mnist",
    "iclr24_tl_cifar10_text",
)

# (rule, dataset, hidden layers) -> (mean %, std % or None, source)
PUBLISHED: dict[tuple[str, str, int], tuple[float, float | None, str]] = {
    (r.rule, r.dataset, r.depth): (r.published, r.published_sd, r.source)
    for r in (BY_ID[i] for i in CHAPTER_TABLE_IDS)
}


def published(rule: str, dataset: str, depth: int = 1) -> tuple[float, float | None, str] | None:
    return PUBLISHED.get((rule, dataset, depth))


def format_published(ref: tuple[float, float | None, str] | None) -> str:
    """A published value for a table: "mean ± std", "≈mean" where the source gives a single
    rounded figure (no spread, so no claim of precision), "—" where there is none."""
    if ref is None:
        return "—"
    mean, std, source = ref
    if std is not None:
        return f"{mean:.2f} ± {std:.2f}"
    return f"≈{mean:.0f}" if "approximate" in source else f"{mean:.2f}"
