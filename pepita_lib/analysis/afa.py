"""PEPITA against adaptive feedback alignment (AFA), as the chapter "PEPITA as adaptive
feedback alignment" shows it.

Srinivasan et al. (ICLR 2024, Sec. 3, Eq. 6): to first order in the modulation F e,
h_1 - h_1^err ~ sigma'(a_1) * (W_1 F e), so PEPITA is DFA with the adaptive feedback W_1 F.
The functions here measure how far the two rules part: at one update, along a training run,
and in the growth of the gain ||W_1 F|| that the second-order term drives.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..config import TrainConfig
from ..data import Dataset, one_hot
from ..nets import Net, forward, make_net
from ..optim import SGD
from ..rules import make_rule
from ..rules.afa import afa_updates
from ..rules.pepita import pepita_updates

RULES = ("pepita", "afa")
PART_POINTS = 0.5  # final accuracies further apart than this count as the two rules parting


def first_state(rule, sizes: list[int], seed: int = 0) -> tuple[Net, dict]:
    """The initial net (no dropout) and rule state (holding F) of ``seed``; PEPITA and AFA
    draw the same ones."""
    gen = torch.Generator().manual_seed(seed)
    net = make_net(sizes, "relu", "he_uniform", 0.0, gen)
    return net, rule.init_state(net, gen)


def first_net(f_scale: float, sizes: list[int], seed: int = 0) -> tuple[Net, torch.Tensor]:
    """The initial net and F that PEPITA and AFA share for ``seed``."""
    net, state = first_state(make_rule(TrainConfig(rule="pepita", f_scale=f_scale)), sizes, seed)
    return net, state["F"]


def init_update_gap(f_scale: float, x: torch.Tensor, t: torch.Tensor) -> tuple[float, float]:
    """(mean ||F e|| / ||x||, ||dW_1^PEPITA - dW_1^AFA|| / ||dW_1^AFA||) at initialisation.

    Both in double precision, seed 0, on the samples ``x`` with one-hot targets ``t``.
    The first is the modulation's relative size, the second the higher-order terms' share.
    """
    if x.shape[0] != t.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but t has {t.shape[0]}")
    net, F = first_net(f_scale, [x.shape[1], 1024, t.shape[1]])
    net.weights = [w.double() for w in net.weights]
    x, t, F = x.double(), t.double(), F.double()
    e = forward(net, x)[0][-1] - t
    pep = pepita_updates(net, F, x, t, [None])[0][0].dense()
    afa = afa_updates(net, F, x, t, [None])[0][0].dense()
    ratio = float(((e @ F.T).norm(dim=1) / x.norm(dim=1)).mean())
    return ratio, float((pep - afa).norm() / afa.norm())


def curve_gap(hist: pd.DataFrame) -> tuple[float, float]:
    """(mean, max) over epochs of |PEPITA - AFA| seed-mean test accuracy, in points."""
    curves = hist.pivot_table(index="epoch", columns="rule", values="test_accuracy", aggfunc="mean")
    diff = (curves["pepita"] - curves["afa"]).abs().dropna() * 100
    return float(diff.mean()), float(diff.max())


def pair_findings(runs: pd.DataFrame, hist: pd.DataFrame) -> dict[str, str]:
    """Glue texts of the one-layer PEPITA/AFA pair: MNIST gaps and the CIFAR-10 means."""
    out = dict.fromkeys(
        ("afa_final_gap", "afa_mean_curve_gap", "afa_max_curve_gap", "afa_cifar_gap")
        + ("afa_cifar_pepita", "afa_cifar_afa"),
        "n/a",
    )
    fin = runs[runs["status"] == "finished"] if not runs.empty else runs
    means = fin.groupby(["dataset", "rule"])["final_test_accuracy"].mean() * 100 if len(fin) else {}
    if ("mnist", "pepita") in means and ("mnist", "afa") in means:
        out["afa_final_gap"] = f"{means[('mnist', 'pepita')] - means[('mnist', 'afa')]:+.2f}"
        mean_gap, max_gap = curve_gap(hist[hist["dataset"] == "mnist"])
        out["afa_mean_curve_gap"], out["afa_max_curve_gap"] = f"{mean_gap:.2f}", f"{max_gap:.2f}"
    if ("cifar10", "pepita") in means and ("cifar10", "afa") in means:
        pep, afa = means[("cifar10", "pepita")], means[("cifar10", "afa")]
        out["afa_cifar_gap"] = f"{pep - afa:+.2f}"
        out["afa_cifar_pepita"], out["afa_cifar_afa"] = f"{pep:.2f}", f"{afa:.2f}"
    return out


def lr_search_table(lr_runs: pd.DataFrame, chosen: dict[float, float]) -> pd.DataFrame:
    """Validation accuracy (%) of the F-scale rate search, one row per scale, one column per η."""
    cell = [
        f"{100 * v:.2f}" if st == "finished" else st
        for v, st in zip(lr_runs["final_val_accuracy"], lr_runs["status"])
    ]
    tab = lr_runs.assign(cell=cell).pivot_table(
        index="f_scale", columns="lr", values="cell", aggfunc="first"
    )
    tab = tab[sorted(tab.columns, reverse=True)]
    tab.columns = [f"η={c:g}" for c in tab.columns]
    tab = tab.fillna("–").reset_index().rename(columns={"f_scale": "F scale"})
    tab["chosen η"] = [f"{chosen.get(s, float('nan')):g}" for s in tab["F scale"]]
    return tab


def _final(fs_runs: pd.DataFrame, scale: float, rule: str) -> float | str:
    """Seed-mean final test accuracy (%) of one sweep cell, or its state."""
    r = (
        fs_runs[(fs_runs["f_scale"] == scale) & (fs_runs["rule"] == rule)]
        if len(fs_runs)
        else fs_runs
    )
    ok = r[r["status"] == "finished"] if len(r) else r
    if len(ok):
        return float(100 * ok["final_test_accuracy"].mean())
    return "diverged" if len(r) else "not run"


def fscale_table(
    fs_runs: pd.DataFrame, fs_hist: pd.DataFrame, chosen: dict[float, float], x, t
) -> pd.DataFrame:
    """One row per F scale: its rate, the modulation and update gap at initialisation, PEPITA
    and AFA final accuracy, their difference and the largest gap between their curves."""
    scales = sorted({*chosen, *(fs_runs["f_scale"] if not fs_runs.empty else [])})
    rows = []
    for scale in scales:
        ratio, rel = init_update_gap(scale, x, t)
        row = {"F scale": scale, "η": chosen.get(scale, math.nan), "‖Fe‖/‖x‖ at init": ratio}
        row["update gap at init"] = rel
        row["PEPITA (%)"], row["AFA (%)"] = (_final(fs_runs, scale, r) for r in RULES)
        if all(isinstance(row[k], float) for k in ("PEPITA (%)", "AFA (%)")):
            row["PEPITA − AFA (points)"] = row["PEPITA (%)"] - row["AFA (%)"]
            row["max curve gap (points)"] = curve_gap(fs_hist[fs_hist["f_scale"] == scale])[1]
        rows.append(row)
    return pd.DataFrame(rows)


def fscale_verdict(done: pd.DataFrame) -> str:
    """Where along the sweep (rows where both rules trained) the final accuracies part."""
    broke = done[done["PEPITA − AFA (points)"].abs() > PART_POINTS]
    if len(broke):
        first = broke.iloc[0]
        return (
            f"the two rules part by more than half a point from F scale {first['F scale']:g} "
            f"(‖Fe‖/‖x‖ ≈ {first['‖Fe‖/‖x‖ at init']:.2f} at initialisation) on"
        )
    worst = done["max curve gap (points)"].max()
    return (
        "where both rules trained, their final accuracies stay within half a point "
        f"(largest gap between the curves at any epoch: {worst:.2f} points)"
    )


def fscale_findings(fscale: pd.DataFrame) -> dict[str, str]:
    """Glue texts of the sweep: gaps at the smallest, original and largest trained scale."""
    out = dict.fromkeys(("fs_small_gap", "fs_orig_gap", "fs_big_gap", "fs_big_ratio"), "n/a")
    out["fs_big_scale"], out["fs_verdict"] = "n/a", "the sweep has not been run yet"
    col = "PEPITA − AFA (points)"
    done = fscale.dropna(subset=[col]) if col in fscale else fscale.iloc[:0]
    if not len(done):
        return out
    by = done.set_index("F scale")[col]
    for key, scale in (("fs_small_gap", 0.005), ("fs_orig_gap", 0.05)):
        out[key] = f"{by[scale]:+.2f}" if scale in by.index else "n/a"
    big = done.iloc[-1]
    out["fs_big_scale"], out["fs_big_ratio"] = (
        f"{big['F scale']:g}",
        f"{big['‖Fe‖/‖x‖ at init']:.2f}",
    )
    out["fs_big_gap"] = f"{big[col]:+.2f}"
    out["fs_verdict"] = fscale_verdict(done)
    return out


def divergence_note(fs_runs: pd.DataFrame) -> str:
    """One sentence per scale at which PEPITA diverged, with what AFA did from the same start."""
    parts = []
    for scale in sorted(fs_runs["f_scale"].unique()) if not fs_runs.empty else []:
        sub = fs_runs[fs_runs["f_scale"] == scale].set_index("rule")
        if "pepita" not in sub.index or sub.loc["pepita", "status"] != "diverged":
            continue
        if "afa" in sub.index and sub.loc["afa", "status"] == "finished":
            other = (
                "AFA, from the same start at the same rate, finished at "
                f"{100 * sub.loc['afa', 'final_test_accuracy']:.2f}%"
            )
        else:
            other = "AFA " + ("diverged too" if "afa" in sub.index else "is not run yet")
        ep = int(sub.loc["pepita", "final_diverged_at_epoch"])
        parts.append(f"at scale {scale:g} PEPITA diverged at epoch {ep} while {other}")
    return ("; ".join(parts) + ".") if parts else "No PEPITA run of the sweep diverged."


def gain_curve(
    rule_name: str, data: Dataset, f_scale: float, lr: float, steps: int, every: int = 25
) -> pd.DataFrame:
    """||W_1 F|| / ||F|| every ``every`` steps of ``rule_name`` (SGD, momentum 0.9, no dropout),
    from seed 0's net and F, on random batches of 64 drawn with seed 1."""
    rule = make_rule(TrainConfig(rule=rule_name, f_scale=f_scale, lr=lr, dropout=0.0))
    net, state = first_state(rule, [data.input_dim, 1024, 10])
    F = state["F"]
    opt, order, rows = SGD(net.weights, lr, 0.9, 0.0), torch.Generator().manual_seed(1), []
    with torch.no_grad():
        for step in range(steps + 1):
            if step % every == 0:
                rows.append({"step": step, "gain": float((net.weights[0] @ F).norm() / F.norm())})
            idx = torch.randint(0, data.x_train.shape[0], (64,), generator=order)
            batch_t = one_hot(data.y_train[idx], 10)
            rule.step(net, state, opt, data.x_train[idx], batch_t, [None])
    return pd.DataFrame(rows).assign(rule="AFA" if rule_name == "afa" else "PEPITA")


def growth_prediction(data: Dataset, f_scale: float, lr: float, n: int = 2000) -> dict[str, float]:
    """The second-order term's predicted growth of W_1 F per step, from the initial state.

    With F^T F ~ 2 s^2 I, PEPITA's update multiplies W_1 F by (I + 2 s^2 eta e e^T) each step,
    so with momentum 0.9 the gain grows by about 2 s^2 eta lambda_max<e e^T> / (1 - 0.9) per
    step. Returns the mean diagonal and largest off-diagonal entry of F^T F / 2s^2 and the rate.
    """
    net, F = first_net(f_scale, [data.input_dim, 1024, 10])
    ftf = F.T @ F / (2 * f_scale**2)
    x, t = data.x_train[:n], one_hot(data.y_train[:n], 10)
    e = forward(net, x)[0][-1] - t
    lam = float(torch.linalg.eigvalsh(e.T @ e / e.shape[0]).max())
    off = ftf - torch.diag(torch.diagonal(ftf))
    return {
        "ftf_diag": float(torch.diagonal(ftf).mean()),
        "ftf_off": float(off.abs().max()),
        "rate": 2 * f_scale**2 * lr / (1 - 0.9) * lam,
    }


def measured_growth(gain: pd.Series, window: int = 100) -> float:
    """log-growth per step of a gain series indexed by step, over its last ``window`` steps."""
    last = int(gain.index.max())
    first = max(0, last - window)
    if last == first:
        raise ValueError("a growth rate needs a gain series over more than one step")
    return float(np.log(gain[last] / gain[first]) / (last - first))


def divergence_count(fs_runs: pd.DataFrame) -> str:
    """How many swept F scales PEPITA diverged at while AFA, from the same start, finished."""
    if fs_runs.empty:
        return "no sweep run is stored"
    state = fs_runs.pivot_table(index="f_scale", columns="rule", values="status", aggfunc="first")
    if not set(RULES) <= set(state.columns):
        return "the sweep holds only one of the two rules"
    both = state.dropna(subset=list(RULES))
    split = both[(both["pepita"] == "diverged") & (both["afa"] == "finished")].index
    scales = ", ".join(f"{s:g}" for s in split)
    return f"{len(split)} of {len(both)} F scales" + (f" ({scales})" if scales else "")
