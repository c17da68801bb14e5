"""Figures of the weight-mirroring chapters: angles of the factors B_l and of F = B_1 ... B_L
to their layers, faceted so that no panel holds more than one net's curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from .mirroring_factorisation import prod_cos_law

F_CURVE = "$(W_L⋯W_1)^T$ vs $F$"


def net_name(depth: int) -> str:
    return f"{depth} hidden layer" + ("s" if depth > 1 else "")


def angle_palette(n_factors: int) -> tuple[list[str], dict[str, tuple]]:
    """Curve order and colours: factors 1..n in viridis, F in black."""
    order = [f"$W_{l}^T$ vs $B_{l}$" for l in range(1, n_factors + 1)] + [F_CURVE]
    colours = sns.color_palette("viridis", n_factors) + [(0, 0, 0)]
    return order, dict(zip(order, colours))


def log_epoch_axis(axes, last_epoch: int, ticks=(0, 1, 3, 10, 30, 100)) -> None:
    """Linear up to epoch 1, logarithmic beyond, with plain tick labels."""
    for ax in axes:
        ax.set_xscale("symlog")
        ax.set_xlim(0, None)
        ax.set_xticks([e for e in ticks if e <= last_epoch])
        ax.xaxis.set_major_formatter(mticker.ScalarFormatter())
        ax.xaxis.set_minor_locator(mticker.NullLocator())


def plot_mirrored(mirrored: pd.DataFrame):
    """Part b: angles against mirror steps, one panel per depth (± std over seeds)."""
    order, palette = angle_palette(int(mirrored["layer"].max()))
    data = mirrored.assign(net=mirrored["hidden layers"].map(net_name))
    g = sns.relplot(
        data=data,
        x="step",
        y="angle",
        hue="curve",
        hue_order=order,
        palette=palette,
        col="net",
        col_wrap=3,
        kind="line",
        errorbar="sd",
        height=2.8,
        aspect=1.1,
    )
    g.set_axis_labels("mirror steps", "angle (degrees)")
    g.set_titles("{col_name}")
    g.legend.set_title("")
    return g


def plot_law(constructed: pd.DataFrame, mirrored: pd.DataFrame):
    """Left: angle of F for constructed factors against their common angle, with the law's
    arccos(cos^L theta); right: measured angle of F against the law, both experiments."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    depths = sorted(constructed["hidden layers"].unique())
    pal = dict(zip(depths, sns.color_palette("rocket_r", len(depths))))
    sns.scatterplot(
        data=constructed, x="theta", y="angle_F", hue="hidden layers", palette=pal, ax=axes[0], s=30
    )
    grid = np.linspace(0, 90, 91)
    for d in depths:
        axes[0].plot(grid, [prod_cos_law([t] * (d + 1)) for t in grid], color=pal[d], lw=1)
    axes[0].set(
        xlabel="angle of every factor to its layer (°)",
        ylabel="angle of F to $(W_L⋯W_1)^T$ (°)",
        title="constructed factors",
    )
    ends = mirrored[mirrored["layer"] == 0]
    sns.scatterplot(data=constructed, x="law", y="angle_F", ax=axes[1], label="constructed", s=20)
    sns.scatterplot(
        data=ends,
        x="predicted",
        y="angle_F",
        ax=axes[1],
        label="mirrored (part b)",
        s=20,
        marker="s",
    )
    axes[1].plot([0, 90], [0, 90], color="grey", lw=1, ls="--")
    axes[1].set(xlabel="∏cos law (°)", ylabel="measured angle of F (°)", title="law vs measurement")
    fig.tight_layout()
    return fig


def plot_trained(long: pd.DataFrame, variant: str):
    """Part c: angles over training for one variant, a row per dataset, a column per depth."""
    order, palette = angle_palette(int(long["hidden layers"].max()) + 1)
    part = long.sort_values(["hidden layers", "epoch"]).assign(
        net=lambda f: f["hidden layers"].map(net_name)
    )
    g = sns.relplot(
        data=part,
        x="epoch",
        y="angle",
        hue="curve",
        hue_order=[c for c in order if c in set(part["curve"])],
        palette=palette,
        col="net",
        row="Dataset",
        kind="line",
        errorbar="sd",
        height=2.8,
        aspect=1.0,
        facet_kws={"margin_titles": True},  # dataset names at the right, not over the panels
    )
    log_epoch_axis(g.axes.flat, int(part["epoch"].max()))
    g.set(ylim=(0, 100))
    g.set_axis_labels("epoch", "angle (degrees)")
    g.set_titles(row_template="{row_name}", col_template="{col_name}")
    g.figure.suptitle(f"PEPITA-WM, variant: {variant}", y=1.02)
    g.legend.set_title("")
    return g


def angles_long(full: pd.DataFrame) -> pd.DataFrame:
    """Per-layer angles (``angle_W<l>T_B<l>``) and ``angle_F`` of a history in long form,
    one row per run, epoch and curve, labelled as in :func:`angle_palette`."""
    layer = {c: int(c[7:].split("T")[0]) for c in full if c.startswith("angle_W")}
    ids = [
        c for c in ("run_id", "Dataset", "Variant", "hidden layers", "epoch", "seed") if c in full
    ]
    long = full.melt(
        id_vars=ids,
        value_vars=sorted(layer, key=layer.get) + ["angle_F"],
        var_name="which",
        value_name="angle",
    ).dropna(subset=["angle"])
    long["curve"] = [
        F_CURVE if w == "angle_F" else f"$W_{layer[w]}^T$ vs $B_{layer[w]}$" for w in long["which"]
    ]
    return long
