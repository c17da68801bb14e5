"""Published numbers the book compares against, each with its source.

Test accuracy in percent (mean, std) for fully connected nets, as given in SPEC.md
section 2. They are comparison columns only; every other number in the book is ours.
"""

from __future__ import annotations

ICML22 = "Dellaferrera & Kreiman 2022, Table 1 (1x1024)"
ICLR24 = "Srinivasan et al. 2024, author replies / Table S1"
HINTON22 = "Hinton 2022 (4x2000 ReLU, 60 epochs)"
ICLR24_TL = "Srinivasan et al. 2024, Sec. 5.1 (approximate: 'about 40%', grid-searched low rate)"

# (rule, dataset, hidden layers) -> (mean %, std % or None, source)
PUBLISHED: dict[tuple[str, str, int], tuple[float, float | None, str]] = {
    ("bp", "mnist", 1): (98.63, 0.03, ICML22),
    ("bp", "cifar10", 1): (55.27, 0.32, ICML22),
    ("bp", "cifar100", 1): (27.58, 0.09, ICML22),
    ("pepita", "mnist", 1): (98.01, 0.09, ICML22),
    ("pepita", "cifar10", 1): (52.57, 0.36, ICML22),
    ("pepita", "cifar100", 1): (24.91, 0.22, ICML22),
    ("pepita", "mnist", 3): (95.07, None, ICLR24),
    ("ff", "mnist", 4): (100 - 1.36, None, HINTON22),
    ("pepita_tl", "cifar10", 1): (40.0, None, ICLR24_TL),
}

HEBBIAN_GAP_CLAIM = 0.15  # percentage points, PEPITA vs PEPITA-Hebbian (Srinivasan et al. 2024)


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
