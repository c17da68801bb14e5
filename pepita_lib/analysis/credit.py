"""The baselines of the chapter "Credit assignment without a backward pass": BP, feedback
alignment (FA, Lillicrap et al. 2016), direct feedback alignment (DFA, Nøkland 2016) and
direct random target projection (DRTP, Frenkel et al. 2021).

All four update W_l <- W_l - eta * mean(delta_l h_{l-1}^T) and differ in the hidden signal
delta_l; with one hidden layer FA (sigma'(a_1) * B_2 e) and DFA (sigma'(a_1) * B_1 e) are the
same rule. The functions here check that identity, pick the best searched rate, and turn the
stored runs into the chapter's tables and sentences.
"""

from __future__ import annotations

import pandas as pd
import torch

from ..config import TrainConfig
from ..experiments import EDGE_STEPS, paper_lr
from ..nets import make_net
from ..references import format_published, published
from ..report import summary
from ..rules import make_rule
from ..rules.dfa import direct_updates
from ..rules.fa import fa_updates


def fa_dfa_gap(x: torch.Tensor, t: torch.Tensor, hidden: int = 1024) -> float:
    """max |dW^FA - dW^DFA| over both layers of a one-hidden-layer ReLU net on (x, t).

    FA's B_2 and DFA's B_1 are drawn from the same generator state, so with one hidden layer
    sigma'(a_1) * B_2 e = sigma'(a_1) * B_1 e and the gap is exactly 0.
    """
    if x.shape[0] != t.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but t has {t.shape[0]}")
    net = make_net(
        [x.shape[1], hidden, t.shape[1]],
        "relu",
        "he_uniform",
        0.0,
        torch.Generator().manual_seed(0),
    )
    fa = make_rule(TrainConfig(rule="fa")).init_state(net, torch.Generator().manual_seed(1))
    dfa = make_rule(TrainConfig(rule="dfa")).init_state(net, torch.Generator().manual_seed(1))
    g_fa = fa_updates(net, [fa["B2"]], x, t, [None])[0]
    g_dfa = direct_updates(net, [dfa["B1"]], None, x, t, [None])[0]
    return max(float((a.dense() - b.dense()).abs().max()) for a, b in zip(g_fa, g_dfa))


def best_rates(runs_lr: pd.DataFrame) -> pd.DataFrame:
    """Per rule and dataset, the searched rate with the highest final validation accuracy."""
    best = (
        runs_lr.sort_values("final_val_accuracy", ascending=False)
        .groupby(["rule", "dataset"], as_index=False)
        .first()
    )
    return pd.DataFrame(
        {
            "Rule": best["Rule"],
            "Dataset": best["Dataset"],
            "chosen η": best["lr"].map(lambda v: f"{v:g}"),
            "validation accuracy (%)": best["final_val_accuracy"] * 100,
        }
    )


def plot_lr_search(runs_lr: pd.DataFrame):
    """Final validation accuracy against the rate, one panel per dataset (accuracy ≤ 100 %)."""
    import seaborn as sns

    d = runs_lr.assign(val=runs_lr["final_val_accuracy"] * 100)
    g = sns.relplot(
        data=d,
        x="lr",
        y="val",
        hue="Rule",
        col="Dataset",
        marker="o",
        kind="line",
        height=3.4,
        aspect=1.2,
    )
    g.set(xscale="log", ylim=(0, 100))
    g.set_axis_labels("learning rate $\\eta$", "validation accuracy at the end (%)")
    g.set_titles("{col_name}")
    return g


def edge_steps_text(runs_lr: pd.DataFrame) -> str:
    """Where the best rate was the lowest of the first grid: the rates tried below it, with
    their validation accuracy, and the rate finally used."""
    steps = []
    for (rule, ds), below in EDGE_STEPS.items():
        sel = runs_lr[(runs_lr["rule"] == rule) & (runs_lr["dataset"] == ds)]
        if sel.empty:
            continue
        val = (100 * sel.set_index("lr")["final_val_accuracy"]).sort_index(ascending=False)
        first = val[val.index > max(below)]
        tried = ", ".join(
            f"{lr:g}: {v:.1f} %" for lr, v in val[val.index <= first.index.min()].items()
        )
        steps.append(
            f"{sel['Rule'].iloc[0]} on {sel['Dataset'].iloc[0]} ({tried}; "
            f"trains at {paper_lr(rule, ds):g})"
        )
    return (
        "Below the low edge of the first grid (validation accuracy after 10 epochs): "
        + "; ".join(steps)
        + "."
    )


def cifar_search_text(runs_lr: pd.DataFrame, hist_lr: pd.DataFrame) -> str:
    """The CIFAR-10 searches in words: accuracy spread, best rate (flagged at a grid edge) and
    the final training loss across the grid (it grows when the weights blow up)."""
    c10 = runs_lr[runs_lr["dataset"] == "cifar10"]
    if c10.empty:
        return ""
    last = hist_lr[hist_lr["dataset"] == "cifar10"].sort_values("epoch").groupby("run_id").last()
    parts = []
    for _, sel in c10.groupby("rule"):
        val = 100 * sel.set_index("lr")["final_val_accuracy"]
        loss = last.loc[sel["run_id"], "train_loss"]
        edge = " (the edge of the grid)" if val.idxmax() in (min(val.index), max(val.index)) else ""
        parts.append(
            f"{sel['Rule'].iloc[0]}: {val.min():.1f} to {val.max():.1f} %, "
            f"best at η = {val.idxmax():g}{edge}, "
            f"final training loss {loss.min():.3g} to {loss.max():.3g}"
        )
    return (
        "CIFAR-10 (JPEG copy), validation accuracy after 10 epochs across the grid (chance "
        "10 %; the training loss is cross-entropy, ln 10 ≈ 2.30 at chance, except FF's layer "
        "loss, 2θ = 40 when no hidden unit responds): " + "; ".join(parts) + "."
    )


def accuracy_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Final test accuracy per rule and dataset (mean ± std over seeds) beside the published
    value and its source; keeps the numeric ``mean`` (%) for gluing."""
    tab = summary(runs, ["rule", "dataset", "Rule", "Dataset"])
    ref = [published(r, d) for r, d in zip(tab["rule"], tab["dataset"])]
    tab["published (%)"] = [format_published(p) if p and p[1] else "—" for p in ref]
    tab["source"] = [p[2] if p else "" for p in ref]
    return tab


def shown(tab: pd.DataFrame) -> pd.DataFrame:
    """The columns of :func:`accuracy_table` a reader sees."""
    return tab[["Rule", "Dataset", "ours (%)", "seeds", "diverged", "published (%)", "source"]]


def accuracy_texts(
    tab: pd.DataFrame, rules: list[str], datasets: list[str], prefix: str
) -> dict[str, str]:
    """``{prefix}acc_<rule>_<dataset>``: mean accuracy (%), and ``{prefix}gap_<rule>_<dataset>``:
    BP minus that rule (points), two decimals; "n/a" where a run is missing."""
    acc = {(r, d): m for r, d, m in zip(tab["rule"], tab["dataset"], tab["mean"])}

    def fmt(v: float | None) -> str:
        return "n/a" if v is None or v != v else f"{v:.2f}"

    out = {}
    for d in datasets:
        bp = acc.get(("bp", d))
        for r in rules:
            out[f"{prefix}acc_{r}_{d}"] = fmt(acc.get((r, d)))
            if r != "bp":
                gap = None if bp is None or acc.get((r, d)) is None else bp - acc[(r, d)]
                out[f"{prefix}gap_{r}_{d}"] = fmt(gap)
    return out


def final_angle(hist: pd.DataFrame, rule: str, column: str) -> pd.Series:
    """Mean over seeds, per dataset, of ``column`` (an angle in degrees) at each dataset's
    last epoch (a mean, so ties between seeds do not depend on the sort)."""
    sel = hist[hist["rule"] == rule].dropna(subset=[column])
    final = sel[sel["epoch"] == sel.groupby("dataset")["epoch"].transform("max")]
    return final.groupby("dataset")[column].mean()


def plot_angle(hist: pd.DataFrame, rule: str, column: str, ylabel: str):
    """The angle ``column`` against epoch for ``rule`` (band: ±1 std over seeds), 0 to 90°."""
    import seaborn as sns

    sel = hist[hist["rule"] == rule].dropna(subset=[column])
    ax = sns.lineplot(data=sel, x="epoch", y=column, hue="Dataset", errorbar="sd")
    ax.set(xlabel="epoch", ylabel=ylabel, ylim=(0, 90))
    return ax
