"""The figures of the chapter "Open question 2": the per-unit mismatch, the identity gap at
initialisation and along a short trajectory, and accuracy by hidden activation."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from ..experiments.ff import TRAINED_ACTIVATIONS
from .activations import EXACT, NAMES, mismatch_curves

GAP_LABEL = "relative difference (ratio, log scale)"


def mismatch(a_max: float = 3.0) -> None:
    """sigma(a) sigma'(a) - sigma(a) against the pre-activation, one line per unit."""
    a = torch.linspace(-a_max, a_max, 601, dtype=torch.float64)
    ax = sns.lineplot(data=mismatch_curves(a), x="pre-activation a", y="mismatch", hue="activation")
    ax.set(
        xlabel="pre-activation a (dimensionless)",
        ylabel="σ(a) σ′(a) − σ(a) (activity units)",
        title="Per-unit mismatch between the goodness gradient and the Hebbian term",
    )
    plt.show()


def initial_gaps(gaps: pd.DataFrame) -> None:
    """The gap at initialisation by unit and F scale (log axis, dotted: rounding threshold)."""
    cols = [c for c in gaps.columns if c.startswith("F scale")]
    long = gaps.melt(
        id_vars=["activation"],
        value_vars=cols,
        var_name="F scale",
        value_name="relative difference",
    )
    ax = sns.barplot(data=long, x="activation", y="relative difference", hue="F scale")
    ax.set(
        yscale="log",
        xlabel="hidden activation",
        ylabel=GAP_LABEL,
        title="PEPITA-Hebbian vs goodness-difference gradient at initialisation",
    )
    ax.axhline(EXACT, color="grey", ls=":", lw=1)
    plt.xticks(rotation=20)
    plt.show()


def gap_along_training(traj: pd.DataFrame) -> None:
    """The gap against the training step, one line per unit (log axis)."""
    ax = sns.lineplot(data=traj, x="step", y="relative difference", hue="activation", marker="o")
    ax.set(
        yscale="log",
        xlabel="PEPITA-Hebbian training step (batches)",
        ylabel=GAP_LABEL,
        title="Identity gap along a short PEPITA-Hebbian trajectory (MNIST, 1×1024)",
    )
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))
    plt.show()


def accuracy(fin: pd.DataFrame) -> None:
    """Final test accuracy (mean ± std over seeds) of both rules by hidden activation."""
    present = set(fin["hidden activation"])
    order = [NAMES[n] for n in TRAINED_ACTIVATIONS if NAMES[n] in present]
    ax = sns.pointplot(
        data=fin,
        x="hidden activation",
        y="test accuracy (%)",
        hue="Rule",
        order=order,
        errorbar="sd",
        dodge=0.3,
        linestyle="none",
        markers="o",
    )
    ax.set(
        xlabel="hidden activation",
        ylabel="final test accuracy (%)",
        ylim=(None, 100),
        title="PEPITA and PEPITA-Hebbian by hidden activation (MNIST, 1×1024)",
    )
    plt.show()
