"""The figures of the chapter "Going deeper": accuracy against depth, learning curves at the
deepest stored depth, and the feedback gain ||W_1 F||_2 of the normalised runs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..experiments import DEPTHS
from ..references import published
from ..report import DATASET_LABELS
from .depth import NORMED, VARIANTS, n_hidden

PALETTE = dict(zip(VARIANTS, sns.color_palette("colorblind", len(VARIANTS))))
PANEL = dict(kind="line", height=3.6, aspect=1.2)


def _present(frame: pd.DataFrame) -> list[str]:
    return [v for v in VARIANTS if v in set(frame["Variant"])]


def accuracy_by_depth(fin: pd.DataFrame) -> None:
    """Final test accuracy (%, mean ± std over seeds) against depth, one panel per dataset,
    with the published PEPITA values as black crosses; the axis stops at 100%."""
    g = sns.relplot(data=fin, x="depth", y="acc", hue="Variant", hue_order=_present(fin),
                    palette=PALETTE, col="Dataset", marker="o", errorbar="sd",
                    facet_kws={"sharey": False}, **PANEL)  # fmt: skip
    by_label = {v: k for k, v in DATASET_LABELS.items()}
    for ds_label, ax in g.axes_dict.items():
        ds = by_label[ds_label]
        pts = [(d, published("pepita", ds, d)[0]) for d in DEPTHS if published("pepita", ds, d)]
        if pts:
            lab = "published PEPITA" + (" (original CIFAR-10)" if ds == "cifar10" else "")
            (h_pub,) = ax.plot(*zip(*pts), "kx", markersize=9, label=lab)
            ax.legend(handles=[h_pub], loc="best", fontsize=8)
        ax.set_xticks(DEPTHS)
        ax.set_ylim(top=min(100, ax.get_ylim()[1]))
    g.set_axis_labels("hidden layers (count)", "final test accuracy (%)")
    g.set_titles("{col_name}")
    plt.show()


def deepest_curves(fin: pd.DataFrame, hist: pd.DataFrame) -> None:
    """Test accuracy and the angle between (W_L...W_1)^T and F against epoch, at each
    dataset's deepest depth with finished runs (mean ± std over seeds)."""
    deepest = fin.groupby("dataset")["depth"].max()
    sel = hist[(hist["depth"] == hist["dataset"].map(deepest)) & hist["run_id"].isin(fin["run_id"])]
    sel = sel.assign(
        panel=[
            f"{DATASET_LABELS[ds]}, {n_hidden(d)}" for ds, d in zip(sel["dataset"], sel["depth"])
        ],
        acc=sel["test_accuracy"] * 100,
    )
    style = dict(
        hue="Variant", hue_order=_present(sel), palette=PALETTE, col="panel", errorbar="sd"
    )
    acc = sns.relplot(data=sel.dropna(subset=["acc"]), x="epoch", y="acc", **style, **PANEL,
                      facet_kws={"sharey": False})  # fmt: skip
    acc.set_axis_labels("epoch", "test accuracy (%)")
    for ax in acc.axes.flat:
        ax.set_ylim(top=min(100, ax.get_ylim()[1]))
    angle = sns.relplot(
        data=sel.dropna(subset=["angle_F"]), x="epoch", y="angle_F", **style, **PANEL
    )
    angle.set_axis_labels("epoch", "angle between $(W_L\\cdots W_1)^T$ and $F$ (degrees)")
    for g in (acc, angle):
        g.set_titles("{col_name}")
        plt.show()


def gain_curves(gh: pd.DataFrame, datasets: list[str]) -> None:
    """The feedback gain of every normalised run against epoch (log scale, one line per seed,
    colour by depth), one panel per dataset and normalised variant."""
    gh = gh.assign(**{"hidden layers": gh["depth"], "panel": gh["Dataset"] + ", " + gh["Variant"]})
    panels = [f"{DATASET_LABELS[ds]}, {v}" for ds in datasets for v in NORMED]
    g = sns.relplot(data=gh, x="epoch", y="gain_W1F", hue="hidden layers", palette="viridis",
                    col="panel", col_order=[p for p in panels if p in set(gh["panel"])], col_wrap=2,
                    units="run_id", estimator=None, kind="line", height=3.4, aspect=1.3,
                    linewidth=1)  # fmt: skip
    g.set(yscale="log")
    g.set_axis_labels("epoch", "gain $\\|W_1 F\\|_2$ (no unit)")
    g.set_titles("{col_name}")
    plt.show()
