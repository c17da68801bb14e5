"""Figures of the chapter "Teacher-student theory", drawn from the stored records read by
:mod:`pepita_lib.analysis.theory` (lines: ODE; markers: simulation)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .theory import ALPHA_LABEL, EPS_LABEL, RULE_LABEL, cosine, curve, find

COLOR = dict(zip(["bp", "dfa", "afa", "pepita"], sns.color_palette("colorblind", 4)))


def tidy(fig) -> None:
    """Readable log axes (plain numbers; 1-2-5 ticks on y; no minor labels), constrained layout."""
    plain = FuncFormatter(lambda val, _: f"{val:g}")
    for ax in fig.axes:
        for axis, subs in ((ax.xaxis, (1.0,)), (ax.yaxis, (1.0, 2.0, 5.0))):
            if axis.get_scale() == "log":
                axis.set_major_locator(LogLocator(base=10, subs=subs))
                axis.set_major_formatter(plain)
                axis.set_minor_formatter(NullFormatter())
    fig.set_layout_engine("constrained")


def plot_main(configs: dict, runs: dict, p0):
    """eps_g against alpha for the four rules, seed 0, a = 0.6; AFA and PEPITA share one ODE."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for rule, marker in [("bp", "s"), ("dfa", "^"), ("afa", "o"), ("pepita", "x")]:
        rec = find(configs, runs, "main", rule=rule, seed=0)
        if rec is None:
            continue
        a = np.array(rec["alpha"])
        if rule != "pepita":
            label = "AFA = PEPITA limit" if rule == "afa" else RULE_LABEL[rule]
            ax.plot(a, curve(rec, "ode"), color=COLOR[rule], lw=2, label=f"ODE, {label}")
        hollow = "none" if rule != "pepita" else None
        ax.plot(
            a,
            curve(rec, "sim"),
            marker,
            color=COLOR[rule],
            ms=5,
            mfc=hollow,
            label=f"simulation, {RULE_LABEL[rule]}",
        )
    title = f"N = {p0.N}, K = M = {p0.K}, η = {p0.lr:g}, σ_F = {p0.sigma_f:g}, a = 0.6, seed 0"
    ax.set(xscale="log", yscale="log", xlabel=ALPHA_LABEL, ylabel=EPS_LABEL, title=title)
    ax.legend(fontsize=8, ncol=2)
    tidy(fig)
    return fig


def plot_align(rec_a: dict, rec_p: dict | None):
    """Seed 0, a = 0.6: eps_g, the feedback |S_k| and cos(S, v), AFA (ODE and simulation)
    with exact PEPITA's simulation."""
    a = np.array(rec_a["alpha"])
    fig, axes = plt.subplots(3, 1, figsize=(7.5, 7.5), sharex=True)
    c_afa, c_pep = COLOR["afa"], COLOR["pepita"]
    axes[0].plot(a, curve(rec_a, "ode"), color=c_afa, lw=2, label="ODE")
    axes[0].plot(a, curve(rec_a, "sim"), "o", color=c_afa, mfc="none", ms=4, label="AFA simulation")
    S_ode, S_sim = curve(rec_a, "ode", "S"), curve(rec_a, "sim", "S")
    for k, ls in zip(range(S_ode.shape[1]), ["-", "--"]):
        axes[1].plot(a, np.abs(S_ode[:, k]), ls, color=c_afa, lw=2, label=f"ODE, unit {k + 1}")
        sim_label = "AFA simulation" if k == 0 else None
        axes[1].plot(a, np.abs(S_sim[:, k]), "o", color=c_afa, mfc="none", ms=4, label=sim_label)
    axes[2].plot(a, cosine(S_ode, curve(rec_a, "ode", "v")), color=c_afa, lw=2, label="ODE")
    cos_sim = cosine(S_sim, curve(rec_a, "sim", "v"))
    axes[2].plot(a, cos_sim, "o", color=c_afa, mfc="none", ms=4, label="AFA simulation")
    if rec_p is not None:
        axes[0].plot(a, curve(rec_p, "sim"), "x", color=c_pep, ms=5, label="PEPITA simulation")
        S_p = curve(rec_p, "sim", "S")
        for k in range(S_p.shape[1]):
            label = "PEPITA simulation" if k == 0 else None
            axes[1].plot(a, np.abs(S_p[:, k]), "x", color=c_pep, ms=5, label=label)
        cos_p = cosine(S_p, curve(rec_p, "sim", "v"))
        axes[2].plot(a, cos_p, "x", color=c_pep, ms=5, label="PEPITA simulation")
    axes[0].set(yscale="log", ylabel=r"$\epsilon_g$")
    axes[1].set(yscale="log", ylabel=r"feedback $|S_k| = |w_k\cdot f|/N$")
    axes[2].set(xscale="log", ylabel=r"$\cos(S, v)$", xlabel=ALPHA_LABEL, ylim=(-1.05, 1.05))
    for ax in axes:
        ax.legend(fontsize=8, loc="best")
    tidy(fig)
    return fig


def plot_random_f(configs: dict, runs: dict):
    """AFA (ODE, simulation) and exact PEPITA per seed, at a = 0.6 (left) and a = 0 (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, a_val, need in [(axes[0], 0.6, "main"), (axes[1], 0.0, "random_f")]:
        for cfg, rec in zip(configs[need], runs[need]):
            if rec is None or cfg.rule not in ("afa", "pepita"):
                continue
            al = np.array(rec["alpha"])
            col = sns.color_palette("colorblind", 6)[3 + cfg.seed % 3]
            first = cfg.seed == 0
            if cfg.rule == "afa":
                ax.plot(al, curve(rec, "ode"), "-", color=col, lw=2, label=f"ODE, seed {cfg.seed}")
                label = "AFA simulation" if first else None
                ax.plot(al, curve(rec, "sim"), "o", color=col, mfc="none", ms=4, label=label)
            else:
                label = "PEPITA simulation" if first else None
                ax.plot(al, curve(rec, "sim"), "x", color=col, ms=5, label=label)
        ax.set(
            xscale="log", yscale="log", xlabel=ALPHA_LABEL, title=f"teacher overlap a = {a_val:g}"
        )
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    axes[0].set_ylabel(EPS_LABEL)
    tidy(fig)
    return fig


def _plot_draws(ax, draws: pd.DataFrame) -> None:
    """Mean initial overlaps against N, with the 1/sqrt(N) law of a random f."""
    for (a_val, what), grp in draws.groupby(["a", "what"]):
        m = grp.groupby("N")["value"].mean()
        colour = sns.color_palette("colorblind")[0 if a_val == 0 else 2]
        style, hollow = ("o-", None) if what == "|P_m|" else ("s--", "none")
        ax.plot(m.index, m.values, style, label=f"{what}, a = {a_val:g}", color=colour, mfc=hollow)
    Ns = sorted(draws["N"].unique())
    Nn = np.array(Ns, dtype=float)
    law = r"$\sqrt{2/\pi}/\sqrt{N}$ (mean |N(0,1/N)|)"
    ax.plot(Nn, math.sqrt(2 / math.pi) / np.sqrt(Nn), "k:", label=law)
    n_draws = len(draws) // (2 * draws["a"].nunique() * len(Ns) * 2)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="input dimension N",
        ylabel="mean overlap (dimensionless)",
    )
    ax.set_title(f"{n_draws} initialisations per N")
    ax.legend(fontsize=8)


def plot_scaling(draws: pd.DataFrame, configs: dict, runs: dict, p0):
    """Left: initial overlaps against N. Right: AFA at three input sizes, seed 0."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    _plot_draws(axes[0], draws)
    ax, pal = axes[1], sns.color_palette("rocket", 3)
    for a_val, ls in [(0.6, "-"), (0.0, "--")]:
        for i, N in enumerate(sorted({c.N for c in configs["scaling"]} | {p0.N})):
            need = "scaling" if N != p0.N else ("main" if a_val == 0.6 else "random_f")
            rec = find(configs, runs, need, rule="afa", teacher_overlap=a_val, N=N, seed=0)
            if rec is None:
                continue
            al = np.array(rec["alpha"])
            ax.plot(
                al, curve(rec, "ode"), ls, color=pal[i], lw=2, label=f"ODE, N = {N}, a = {a_val:g}"
            )
            ax.plot(al, curve(rec, "sim"), "o", color=pal[i], mfc="none", ms=3)
    ax.set(xscale="log", yscale="log", xlabel=ALPHA_LABEL, ylabel=EPS_LABEL)
    ax.set_title("AFA, seed 0 (markers: simulation)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    tidy(fig)
    Ns = sorted(draws["N"].unique())
    axes[0].set_xticks(Ns, [str(n) for n in Ns])
    return fig


def plot_sigma_f(recs: list[dict]):
    """Exact PEPITA at three sigma_F against the AFA ODE (left), and the relative gap (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    al = np.array(recs[0]["alpha"])
    axes[0].plot(al, curve(recs[1], "ode"), "k-", lw=2, label="ODE (AFA limit)")
    for col, rec in zip(sns.color_palette("mako", 3), recs):
        sf = rec["config"]["sigma_f"]
        axes[0].plot(al, curve(rec, "sim"), "x", color=col, ms=5, label=f"PEPITA, σ_F = {sf:g}")
        rel = np.abs(curve(rec, "sim") - curve(rec, "ode")) / curve(rec, "sim")
        axes[1].plot(al, 100 * rel, "-", color=col, lw=2, label=f"σ_F = {sf:g}")
    axes[0].set(xscale="log", yscale="log", xlabel=ALPHA_LABEL, ylabel=EPS_LABEL)
    axes[1].set(xscale="log", xlabel=ALPHA_LABEL, ylabel="|ODE − PEPITA sim| / sim (%)")
    for ax in axes:
        ax.legend(fontsize=8)
    tidy(fig)
    return fig
