"""The figure of the chapter "What forward-only learning costs": cost of a step against depth."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..cost import COST_RULES
from .cost import LABEL


def cost_by_depth(rows: pd.DataFrame, device_name: str) -> None:
    """Counted MFLOP, seconds per epoch and peak working memory per step against depth, one
    line per rule (``rows`` from :func:`pepita_lib.analysis.cost.cost_rows`)."""
    order = [LABEL[r] for r in COST_RULES if LABEL[r] in set(rows["Rule"])]
    names = {
        "MFLOP / step": "counted MFLOP per step",
        "seconds_per_epoch": f"seconds per epoch ({device_name})",
        "working memory (MiB)": "peak working memory per step (MiB)",
    }
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (var, title) in zip(axes, names.items()):
        sns.lineplot(data=rows, x="depth", y=var, hue="Rule", hue_order=order, marker="o", ax=ax,
                     legend=ax is axes[-1])  # fmt: skip
        ax.set(xlabel="hidden layers (1024 units each)", ylabel=title,
               xticks=sorted(rows["depth"].unique()))  # fmt: skip
    axes[-1].legend(fontsize=8)
    fig.suptitle("Cost of one training step against depth (MNIST input)")
    plt.tight_layout()
    plt.show()
