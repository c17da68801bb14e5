"""The chapter "PEPITA: two forward passes" (Dellaferrera and Kreiman 2022): the mechanism as
a figure, the size of the modulation x - F e at initialisation, and the Fashion-MNIST runs
at two learning rates."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch

from ..config import TrainConfig
from ..experiments import paper_lr, schedule
from ..nets import forward
from ..rules.pepita import modulated_input
from ..store import find_record
from .afa import first_net


def modulation(
    x: torch.Tensor, t: torch.Tensor, f_scale: float = 0.05
) -> tuple[torch.Tensor, float]:
    """(x - F e, mean over samples of ||F e|| / ||x||) for the initial net and F of seed 0,
    with e = h_L - t the clean pass's output error."""
    if x.shape[0] != t.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but t has {t.shape[0]}")
    net, F = first_net(f_scale, [x.shape[1], 1024, t.shape[1]])
    x_err = modulated_input(x, F, forward(net, x)[0][-1] - t)
    return x_err, float(((x_err - x).norm(dim=1) / x.norm(dim=1)).mean())


def plot_modulation(x: torch.Tensor, x_err: torch.Tensor, side: int = 28):
    """The first image, its perturbation -F e (symmetric colour scale) and x - F e."""
    fig, axes = plt.subplots(1, 3, figsize=(8, 2.9))
    pert = (x_err - x)[0].reshape(side, side)
    lim = float(pert.abs().max())
    grey = dict(cmap="gray_r", vmin=0, vmax=1)
    panels = [
        (x[0].reshape(side, side), "input $x$", grey),
        (pert, f"$-Fe$ (±{lim:.3f})", dict(cmap="RdBu_r", vmin=-lim, vmax=lim)),
        (x_err[0].reshape(side, side), "modulated $x - Fe$", grey),
    ]
    for ax, (img, title, kw) in zip(axes, panels):
        im = ax.imshow(img, **kw)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.colorbar(im, ax=axes[2], fraction=0.046, label="pixel value")
    return fig


def _box(ax, xy: tuple[float, float], text: str, modulated: bool) -> None:
    colour = "#fde0c5" if modulated else "#dbe9f6"
    ax.text(
        *xy, text, ha="center", va="center", fontsize=12, bbox=dict(boxstyle="round", fc=colour)
    )


def _arrow(ax, start, end, text="", color="k", rad=0.0, text_at=None) -> None:
    style = dict(arrowstyle="->", color=color, connectionstyle=f"arc3,rad={rad}")
    ax.annotate("", xy=end, xytext=start, arrowprops=style)
    if text:
        tx, ty = text_at or ((start[0] + end[0]) / 2, start[1] + 0.07)
        ax.text(tx, ty, text, ha="center", fontsize=10, color=color)


def plot_mechanism():
    """The two passes of one PEPITA step and the two local updates, as a diagram."""
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.set(xlim=(0, 1), ylim=(-0.12, 1.0))
    ax.axis("off")
    for xy, text in [
        ((0.06, 0.8), "$x$"),
        ((0.34, 0.8), "$h_1$"),
        ((0.62, 0.8), "$h_2$ (softmax)"),
        ((0.9, 0.8), "$e = h_2 - t$"),
    ]:
        _box(ax, xy, text, False)
    for xy, text in [
        ((0.06, 0.22), "$x - Fe$"),
        ((0.34, 0.22), "$h_1^{err}$"),
        ((0.62, 0.22), "$h_2^{err}$"),
    ]:
        _box(ax, xy, text, True)
    _arrow(ax, (0.10, 0.8), (0.30, 0.8), "$W_1$")
    _arrow(ax, (0.38, 0.8), (0.52, 0.8), "$W_2$")
    _arrow(ax, (0.72, 0.8), (0.81, 0.8))
    red = "#c0392b"
    _arrow(
        ax,
        (0.9, 0.73),
        (0.07, 0.29),
        "project the error: $F$ (fixed, random)",
        red,
        0.12,
        (0.64, 0.47),
    )
    _arrow(ax, (0.11, 0.22), (0.29, 0.22), "$W_1$")
    _arrow(ax, (0.39, 0.22), (0.56, 0.22), "$W_2$")
    blue = "#1f618d"
    ax.text(
        0.34, -0.08, "$\\Delta W_1=(h_1-h_1^{err})(x-Fe)^T$", ha="center", fontsize=10, color=blue
    )
    ax.text(0.66, -0.08, "$\\Delta W_2=e\\,(h_1^{err})^T$", ha="center", fontsize=10, color=blue)
    ax.text(0.0, 0.97, "pass 1 (clean)", fontsize=10, va="top")
    ax.text(0.0, 0.4, "pass 2 (modulated, same dropout mask)", fontsize=10, va="top")
    return fig


def rate_history(
    results_dir: str | Path, profile: str, dataset: str = "fashion_mnist"
) -> tuple[pd.DataFrame, list[float]]:
    """Per-epoch training loss and test accuracy (%) of the stored PEPITA runs (experiment
    ``baselines``, seed 0) at eta = 0.1 and at the rate the book uses on ``dataset``; also the
    rates whose run is not stored."""
    rows, missing = [], []
    for lr in sorted({0.1, paper_lr("pepita", dataset)}, reverse=True):
        cfg = TrainConfig(dataset=dataset, rule="pepita", lr=lr, **schedule(profile))
        rec = find_record(results_dir, "baselines", cfg)
        if rec is None:
            missing.append(lr)
            continue
        for row in rec["history"]:
            acc = None if row["test_accuracy"] is None else 100 * row["test_accuracy"]
            rows.append(
                {
                    "η": f"{lr:g}",
                    "epoch": row["epoch"],
                    "training loss": row["train_loss"],
                    "test accuracy (%)": acc,
                }
            )
    return pd.DataFrame(rows), missing


def plot_rate_history(d: pd.DataFrame, title: str = "PEPITA on Fashion-MNIST"):
    """Training loss (log scale) and test accuracy (0 to 100 %) against epoch, one line per rate."""
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    sns.lineplot(data=d, x="epoch", y="training loss", hue="η", ax=axes[0])
    axes[0].set(yscale="log", ylabel="training loss (cross-entropy, log scale)")
    sns.lineplot(data=d, x="epoch", y="test accuracy (%)", hue="η", ax=axes[1])
    axes[1].set(ylabel="test accuracy (%)", ylim=(0, 100))
    fig.suptitle(title)
    return fig
