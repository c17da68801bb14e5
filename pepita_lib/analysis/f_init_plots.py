"""The figures of the chapter "Open question 1": learning curves by draw of F, and final
accuracy, slowness and angle against F's scale."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..experiments import F_INITS, schedule

ANGLE_TITLE = "angle between $F$ and $(W_2W_1)^T$"


def _curves(h: pd.DataFrame, title: str, legend: dict, **style) -> None:
    """Test accuracy (top, capped at 100%) and angle_F (bottom) against epoch."""
    fig, axes = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True)
    acc = h.dropna(subset=["test_accuracy"]).assign(acc=lambda d: d["test_accuracy"] * 100)
    sns.lineplot(data=acc, x="epoch", y="acc", ax=axes[0], **style)
    axes[0].set(ylabel="test accuracy (%)", ylim=(None, 100), title=title)
    axes[0].legend(loc="lower right", **legend)
    sns.lineplot(data=h.dropna(subset=["angle_F"]), x="epoch", y="angle_F", ax=axes[1],
                 legend=False, **style)  # fmt: skip
    axes[1].set(xlabel="epoch", ylabel="angle (degrees)", title=ANGLE_TITLE)
    fig.tight_layout()
    plt.show()


def dist_curves(hist: pd.DataFrame) -> None:
    """Mean ± std over seeds, one line per draw of F."""
    present = [v for v in F_INITS if v in set(hist["Variant"])]
    style = dict(hue="Variant", hue_order=present, style="Variant", style_order=present)
    _curves(hist, "PEPITA on MNIST, 1x1024", {"title": "F drawn"}, errorbar="sd", **style)


def scale_summary(fin: pd.DataFrame, profile: str) -> None:
    """Final accuracy, slowness and final angle against the F scale (log axis)."""
    first_decay = (schedule(profile)["decay_epochs"] or ("end",))[0]
    panels = [
        ("final_test_accuracy", 100, "test accuracy (%)", "final accuracy"),
        ("slowness", 1, "slowness s (epochs)", f"slowness (fit before epoch {first_decay})"),
        ("angle", 1, "angle (degrees)", "final angle between $F$ and $(W_2W_1)^T$"),
    ]
    fig, axes = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    for ax, (col, k, ylabel, title) in zip(axes, panels):
        ax.plot(fin["f_scale"], fin[col] * k, "o-")
        ax.set(xscale="log", ylabel=ylabel, title=title)
    axes[0].set_ylim(top=100)
    axes[-1].xaxis.set_minor_formatter(plt.NullFormatter())  # keep the decade labels apart
    axes[-1].set_xlabel("F scale (multiplier of $\\sqrt{6/d_0}$)")
    fig.tight_layout()
    plt.show()


def scale_curves(fin: pd.DataFrame, hist: pd.DataFrame) -> None:
    """Learning curves of the finished scale runs, one colour per scale."""
    h = hist[hist["run_id"].isin(fin["run_id"])].copy()
    h["F scale"] = h["f_scale"].map("{:g}".format)
    order = [f"{v:g}" for v in sorted(fin["f_scale"])]
    style = dict(hue="F scale", hue_order=order, palette="viridis")
    _curves(h, "test accuracy by F scale", {"title": "F scale", "ncols": 2}, **style)
