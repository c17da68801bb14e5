"""Deeper PEPITA and its remedies, as the chapter "Going deeper" shows them.

Srinivasan et al. (ICLR 2024) name three additions that help PEPITA with more hidden layers:
weight decay, activation normalisation and weight mirroring. The functions here compute what
the chapter reports from stored runs: the first update under each normalisation, how much
weight decay can act, where each cell's rate comes from, the state of every cell, the
feedback gain ||W_1 F||_2 of the normalised runs, slowness, and the verdicts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..config import TrainConfig, run_id
from ..data import Dataset, one_hot
from ..experiments import (
    DEEP_LR,
    DEEP_LR_GRID,
    DEEP_LR_GRID_NORM,
    DEPTH_VARIANTS,
    DEPTHS,
    EXPERIMENTS,
    KNOWN_PLAIN_LR,
    deep_lr,
    get_experiment,
    schedule,
)
from ..nets import dropout_masks, make_net
from ..optim import lr_at
from ..references import published
from ..report import DATASET_LABELS, add_slowness, label_variants, missing_note
from ..rules import make_rule
from ..rules.pepita import pepita_updates

VARIANTS = list(DEPTH_VARIANTS)
NORMED = ["normalisation", "normalisation + WM"]
NORMS = {"none": "no normalisation", "batch": "batch (Frobenius)", "sample": "per sample (L2)"}
TRAIN_SIZE = {"mnist": 60000, "cifar10": 50000, "cifar100": 50000}
PUB_C100_3_WD = 23.13  # CIFAR-100, 3 hidden layers, with weight decay (author replies)
DROP = 5.0  # points between a run's best epoch and its end that count as a fall
THRESH = 0.3  # points; smaller differences between single seeds are not read as effects
SPREAD = 2.0  # points between a cell's best and worst finished seed that mark it uneven
JUMP = 2.0  # a one-epoch rise of the training loss by this factor is reported
FALL = 0.5  # points of validation accuracy lost over a search's last epoch: falling


def n_hidden(d: int) -> str:
    """ "1 hidden layer", "3 hidden layers"."""
    return f"{d} hidden layer{'s' if d > 1 else ''}"


def dataset_order(idx: pd.Index | pd.Series, datasets: list[str]) -> pd.Index | pd.Series:
    """Sort key putting dataset labels in the experiment's order (other levels unchanged)."""
    order = [DATASET_LABELS[ds] for ds in datasets]
    return idx.map(order.index) if idx.name == "Dataset" else idx


# --- the first update ------------------------------------------------------------------


def first_update(data: Dataset, depth: int, batch: int = 64) -> pd.DataFrame:
    """||dW_l|| / ||W_l|| of PEPITA's first update, layer by norm, for seed 0's net with
    ``depth`` hidden layers of 1024 and the first training batch of seed 1's order."""
    from ..data import batches

    idx = next(
        batches(data.x_train.shape[0], batch, torch.Generator().manual_seed(1), torch.device("cpu"))
    )
    x, t = data.x_train[idx], one_hot(data.y_train[idx], 10)
    rows = []
    for norm in NORMS:
        cfg = TrainConfig(rule="pepita", hidden=(1024,) * depth, act_norm=norm)
        gen = torch.Generator().manual_seed(cfg.seed)
        sizes = [data.input_dim, *cfg.hidden, 10]
        net = make_net(sizes, cfg.activation, cfg.init, cfg.dropout, gen, "cpu", norm)
        F = make_rule(cfg).init_state(net, gen)["F"]
        masks = dropout_masks(net, x.shape[0], torch.Generator().manual_seed(cfg.seed + 2))
        grads, _ = pepita_updates(net, F, x, t, masks)
        for layer, (g, w) in enumerate(zip(grads, net.weights), start=1):
            rows.append({"norm": norm, "layer": layer, "rel": float(g.dense().norm() / w.norm())})
    return pd.DataFrame(rows).pivot(index="layer", columns="norm", values="rel")[list(NORMS)]


def first_update_table(upd: pd.DataFrame) -> pd.DataFrame:
    """``first_update`` for display: one row per weight matrix, one column per norm."""
    last = upd.index.max()
    tab = pd.DataFrame({"layer": [f"W{i}" + (" (output)" if i == last else "") for i in upd.index]})
    for norm, lab in NORMS.items():
        tab[lab] = [f"{v:.1e}" for v in upd[norm]]
    return tab


def _times(v: float) -> str:
    """A ratio to two significant figures, with thousands separators above 10."""
    return f"{float(f'{v:.2g}'):,.0f}" if v >= 10 else f"{v:.1f}"


def first_update_findings(upd: pd.DataFrame) -> dict[str, str]:
    """How much each normalisation shrinks the first update: first, deeper hidden, output."""
    out_layer = upd.index.max()
    deep = upd.loc[2 : out_layer - 1]
    lo, hi = deep["none"].min(), deep["none"].max()
    span = f"layers 2 to {out_layer - 1}"
    if hi / lo < 2:
        plain = (
            f"Without normalisation the hidden layers' first updates are of about the same "
            f"relative size ({lo:.1e} to {hi:.1e} for {span}): with He initialisation the "
            "modulation reaches the deep layers without fading."
        )
    else:
        plain = (
            "Without normalisation the hidden layers' first updates range from "
            f"{lo:.1e} to {hi:.1e} ({span})."
        )
    return {
        "gd_upd_plain_sentence": plain,
        "gd_upd_batch_first": _times(upd.loc[1, "none"] / upd.loc[1, "batch"]),
        "gd_upd_batch_deep": _times((deep["none"] / deep["batch"]).median()),
        "gd_upd_batch_out": _times(upd.loc[out_layer, "none"] / upd.loc[out_layer, "batch"]),
        "gd_upd_sample_deep": _times((deep["none"] / deep["sample"]).median()),
    }


# --- weight decay --------------------------------------------------------------------------


def decay_left(lr: float, dataset: str, wd: float) -> float:
    """Fraction of the weights weight decay alone leaves over the paper schedule at rate ``lr``:
    exp(-wd sum_t eta_t / (1 - mu)), summed over every step of every epoch."""
    sched, cfg = schedule("paper"), TrainConfig()
    steps = math.ceil(TRAIN_SIZE[dataset] / cfg.batch_size)
    total = (
        sum(lr_at(e, lr, cfg.lr_decay, sched["decay_epochs"]) for e in range(sched["epochs"]))
        * steps
    )
    return math.exp(-wd * total / (1 - cfg.momentum))


def decay_table(grid: list[TrainConfig], wd: float) -> pd.DataFrame:
    """Per dataset and rate of the weight-decay cells in ``grid``: their depths and the fraction
    of the weights decay alone leaves."""
    cells: dict[tuple[str, float], list[int]] = {}
    for c in grid:
        if c.weight_decay == wd:
            cells.setdefault((c.dataset, c.lr), []).append(len(c.hidden))
    rows = []
    for (ds, lr), depths in cells.items():
        left = decay_left(lr, ds, wd)
        rows.append({"dataset": ds, "lr": lr, "depths": sorted(set(depths)), "left": left})
    return pd.DataFrame(rows, columns=["dataset", "lr", "depths", "left"])


def decay_findings(decay: pd.DataFrame) -> dict[str, str]:
    """MNIST's fractions by rate, and whether decay can act at the 3-hidden-layer rate."""
    mn = decay[decay["dataset"] == "mnist"].sort_values("lr", ascending=False)
    text = "; ".join(f"{f:.3g} at η = {lr:g}" for lr, f in zip(mn["lr"], mn["left"])) or "n/a"
    lr3 = deep_lr("mnist", 3, "weight decay")
    at3 = mn[mn["lr"] == lr3]["left"]
    verdict = "n/a"
    if lr3 is not None and len(at3):
        f3 = float(at3.iloc[0])
        verdict = (
            f"At η = {lr3:g}, the rate of the MNIST cells with three hidden layers, decay alone "
            f"removes {100 * (1 - f3):.0f}% of the weights over the whole run"
            + (", so it can hardly act." if f3 > 0.8 else ".")
        )
    return {"gd_wd_mnist": text, "gd_wd_verdict": verdict}


def decay_display(decay: pd.DataFrame, datasets: list[str]) -> pd.DataFrame:
    """``decay_table`` for display, datasets in the experiment's order."""
    keys = {"key": decay["dataset"].map(datasets.index), "first": decay["depths"].map(min)}
    tab = decay.assign(**keys).sort_values(["key", "first"], kind="stable")
    return pd.DataFrame(
        {
            "Dataset": tab["dataset"].map(DATASET_LABELS),
            "η": [f"{lr:g}" for lr in tab["lr"]],
            "hidden layers": [", ".join(map(str, d)) for d in tab["depths"]],
            "weights left by decay alone": [f"{f:.3g}" for f in tab["left"]],
        }
    )


# --- learning rates ------------------------------------------------------------------------

SEARCH_LABEL = "depth_lr_search (chapter Hebbian and time-local PEPITA)"
RATE_KINDS = {"plain": ("plain", "weight decay", "WM"), "normalisation": tuple(NORMED)}


def rate_source(ds: str, d: int, kind: str, searched: list[str]) -> str:
    """Where the rate of a (dataset, depth, plain | normalisation) cell comes from."""
    if kind == "plain":
        if d == 1:
            return "the dataset's one-layer PEPITA rate"
        if (ds, d, "plain") in DEEP_LR:
            return "deep_lr_search"
        if (ds, d) in KNOWN_PLAIN_LR:
            return SEARCH_LABEL
    elif (ds, d, "normalisation") in DEEP_LR:
        return "deep_lr_search"
    return (
        "awaiting deep_lr_search" if ds in searched else "no search: dataset not in deep_lr_search"
    )


def rate_table(datasets: list[str], searched: list[str]) -> pd.DataFrame:
    """Every (dataset, depth) cell: the rate of each kind of variant and where it comes from."""
    rows = []
    for ds in datasets:
        for d in DEPTHS:
            row = {"Dataset": DATASET_LABELS[ds], "hidden layers": d}
            for kind, names in RATE_KINDS.items():
                lrs = {deep_lr(ds, d, v) for v in names}
                row[f"η: {', '.join(names)}"] = ", ".join(
                    "—" if r is None else f"{r:g}" for r in sorted(lrs, key=str)
                )
                row[f"from ({kind})"] = rate_source(ds, d, kind, searched)
            rows.append(row)
    return pd.DataFrame(rows)


def rate_counts(datasets: list[str]) -> str:
    """Per dataset, how many of its (depth, variant) cells have a rate."""
    parts = []
    for ds in datasets:
        have = sum(deep_lr(ds, d, v) is not None for d in DEPTHS for v in VARIANTS)
        parts.append(
            f"{DATASET_LABELS[ds]}: {have} of {len(DEPTHS) * len(VARIANTS)} cells have a rate"
        )
    return "; ".join(parts)


def search_table(
    lr_runs: pd.DataFrame, lr_hist: pd.DataFrame, grid: list[TrainConfig]
) -> tuple[pd.DataFrame, dict]:
    """deep_lr_search by cell: validation accuracy (%) per rate, the best rate and DEEP_LR's.

    Also returns the findings: completed searches whose best is not in DEEP_LR ("ready"),
    differs from it ("mismatch"), sits at the grid's edge ("edge"), or lost more than FALL
    points over the search's last epoch ("falling", with "falling_keys")."""
    want: dict[tuple, list[float]] = {}
    for c in grid:
        want.setdefault(
            (c.dataset, len(c.hidden), "normalisation" if c.act_norm == "batch" else "plain"), []
        ).append(c.lr)
    all_rates = sorted({c.lr for c in grid}, reverse=True)
    got_all = {}
    if not lr_runs.empty:
        cols = ["dataset", "depth", "Variant", "lr", "status", "final_val_accuracy"]
        got_all = {tuple(r[:4]): (r[4], r[5]) for r in lr_runs[cols].itertuples(index=False)}
    found = {"ready": [], "mismatch": [], "edge": [], "falling": [], "falling_keys": set()}
    rows = []
    for (ds, d, kind), rates in want.items():
        got = {lr: got_all[(ds, d, kind, lr)] for lr in rates if (ds, d, kind, lr) in got_all}
        row = {"Dataset": DATASET_LABELS[ds], "hidden layers": d, "Variant": kind}
        for lr in all_rates:
            st, acc = got.get(lr, ("not run", None))
            row[f"η={lr:g}"] = (
                "—" if lr not in rates else f"{100 * acc:.2f}" if st == "finished" else st
            )
        row["best"] = _search_best(ds, d, kind, rates, got, lr_runs, lr_hist, found)
        entered = DEEP_LR.get((ds, d, kind))
        row["in DEEP_LR"] = "—" if entered is None else f"{entered:g}"
        rows.append(row)
    return pd.DataFrame(rows), found


def _search_best(ds, d, kind, rates, got, lr_runs, lr_hist, found) -> str:
    """The best rate of one search cell as shown, recording its findings in ``found``."""
    ok = {lr: a for lr, (st, a) in got.items() if st == "finished"}
    if not ok:
        return "none trains" if got else "not run"
    best = max(ok, key=ok.get)
    complete, at_edge = len(got) == len(rates), best in (max(rates), min(rates))
    if complete:
        where, entered = f"{DATASET_LABELS[ds]}, {n_hidden(d)}, {kind}", DEEP_LR.get((ds, d, kind))
        if entered is None:
            found["ready"].append(f"{where}: {best:g}")
        elif entered != best:
            found["mismatch"].append(f"{where}: best {best:g}, DEEP_LR {entered:g}")
        if at_edge:
            found["edge"].append(f"{where} ({best:g})")
        sel = (lr_runs["dataset"] == ds) & (lr_runs["depth"] == d) & (lr_runs["Variant"] == kind)
        rid = lr_runs.loc[sel & (lr_runs["lr"] == best), "run_id"]
        curve = lr_hist[lr_hist["run_id"].isin(rid)].sort_values("epoch")["val_accuracy"].tolist()
        if len(curve) > 1 and 100 * (curve[-2] - curve[-1]) > FALL:
            found["falling"].append(
                f"{where}, η = {best:g}: {100 * curve[-2]:.1f} → {100 * curve[-1]:.1f}%"
            )
            found["falling_keys"].add((ds, d, kind))
    return f"{best:g}" + ("" if complete else " (incomplete)") + (" (grid edge)" if at_edge else "")


# --- the experiment's cells --------------------------------------------------------------


def shared_runs(datasets: list[str]) -> str:
    """Which going_deeper cells share their runs (same config, same run id) with another
    experiment; each cell credited to the first experiment, in the library's order."""
    gd_ids = {run_id(c): c for c in get_experiment("going_deeper").configs("paper")}
    owner: dict[str, str] = {}
    for name in EXPERIMENTS:
        for c in get_experiment(name).configs("paper") if name != "going_deeper" else []:
            if run_id(c) in gd_ids:
                owner.setdefault(run_id(c), name)
    if not owner:
        return "none"
    frame = pd.DataFrame([gd_ids[i].to_dict() for i in owner])
    label_variants(frame, DEPTH_VARIANTS)
    frame["depth"], frame["owner"] = [len(gd_ids[i].hidden) for i in owner], list(owner.values())
    groups: dict[tuple, list[int]] = {}
    for (name, v, d), grp in frame.groupby(["owner", "Variant", "depth"], sort=False):
        dss = tuple(sorted(set(grp["dataset"]), key=datasets.index))
        groups.setdefault((name, v, dss), []).append(d)
    parts = []
    for (name, v, dss), depths in groups.items():
        names = [DATASET_LABELS[ds] for ds in dss]
        names = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        depths = sorted(depths)
        layers = f"{' and '.join(map(str, depths))} hidden layer{'s' * (max(depths) > 1)}"
        parts.append(f"{v} on {names} with {layers} (`{name}`)")
    return "; ".join(parts)


def variant_of(c: TrainConfig) -> str:
    """The DEPTH_VARIANTS name of a going_deeper config."""
    default_wd = TrainConfig().weight_decay
    for name, kn in DEPTH_VARIANTS.items():
        if (c.rule, c.act_norm, c.weight_decay) == (
            kn["rule"],
            kn.get("act_norm", "none"),
            kn.get("weight_decay", default_wd),
        ):
            return name
    raise ValueError(f"config {run_id(c)} matches no variant of going_deeper")


def cell_text(runs: pd.DataFrame, n_reg: int, rate: float | None, profile: str) -> str:
    """A cell's final test accuracy (mean ± std, n of registered) or its state."""
    if not n_reg:
        return "awaiting rate search" if rate is None else f"not in the {profile} profile"
    if not len(runs):
        return "registered, not run"
    fin = runs[runs["status"] == "finished"]["final_test_accuracy"] * 100
    n_div = int((runs["status"] == "diverged").sum())
    of = "" if len(runs) == n_reg else f" of {n_reg}"
    if len(fin) == 0:
        return f"diverged ({n_div}{of})"
    txt = (
        f"{fin.mean():.2f}"
        + (f" ± {fin.std(ddof=1):.2f}" if len(fin) > 1 else "")
        + f" (n={len(fin)}{of})"
    )
    return txt + (f", {n_div} diverged" if n_div else "")


def published_text(ds: str, d: int) -> str:
    """Published PEPITA for a dataset and depth (CIFAR-100 with 3: the author replies)."""
    p = published("pepita", ds, d)
    if p is not None:
        return f"{p[0]:.2f}" + (f" ± {p[1]:.2f}" if p[1] else "")
    if ds == "cifar100" and d == 3:
        return f"chance; {PUB_C100_3_WD:.2f} with weight decay"
    return "—"


def state_table(
    runs: pd.DataFrame, grid: list[TrainConfig], ds: str, profile: str
) -> tuple[pd.DataFrame, str]:
    """Depth by variant for one dataset: each cell's accuracy or state, with published PEPITA;
    and a sentence counting its registered cells with runs and the cells awaiting a rate."""
    registered: dict[tuple[int, str], int] = {}
    for c in grid:
        if c.dataset == ds:
            key = (len(c.hidden), variant_of(c))
            registered[key] = registered.get(key, 0) + 1
    rows = []
    for d in DEPTHS:
        row = {"hidden layers": d}
        for v in VARIANTS:
            sel = (
                runs[(runs["dataset"] == ds) & (runs["depth"] == d) & (runs["Variant"] == v)]
                if not runs.empty
                else runs
            )
            row[v] = cell_text(sel, registered.get((d, v), 0), deep_lr(ds, d, v), profile)
        row["published PEPITA"] = published_text(ds, d)
        rows.append(row)
    tab = pd.DataFrame(rows)
    flat = tab[VARIANTS].to_numpy().ravel()
    n_wait, n_todo = (
        int(sum(t == "awaiting rate search" for t in flat)),
        int(sum(t == "registered, not run" for t in flat)),
    )
    sentence = (
        f"{DATASET_LABELS[ds]}: {len(registered) - n_todo} of {len(registered)} registered cells "
        f"have stored runs, {n_wait} of {len(flat)} cells await a rate"
    )
    return tab, sentence


# --- falls, the feedback gain -----------------------------------------------------------------


def best_epochs(fin: pd.DataFrame, hist: pd.DataFrame) -> pd.DataFrame:
    """Each finished run's best epoch (its history row), indexed by run id."""
    curves = hist[hist["run_id"].isin(fin["run_id"])].dropna(subset=["test_accuracy"])
    curves = curves.reset_index(drop=True)  # idxmax needs one label per row
    return curves.loc[curves.groupby("run_id")["test_accuracy"].idxmax()].set_index("run_id")


def gain_per_run(
    gain_runs: pd.DataFrame, gh: pd.DataFrame, best: pd.DataFrame, datasets: list[str]
) -> pd.DataFrame:
    """Per normalised run: its largest gain ||W_1F||_2, whether it fell (ended more than DROP
    points below its best epoch) and, if so, the gain and epoch of the first epoch after the
    best that was that far below it."""
    rows, by_id = [], gain_runs.set_index("run_id")
    for rid, c in gh.sort_values("epoch").groupby("run_id"):
        r, peak = by_id.loc[rid], best.loc[rid]
        fell = peak["test_accuracy"] * 100 - r["final_test_accuracy"] * 100 > DROP
        low = c["test_accuracy"] * 100 < peak["test_accuracy"] * 100 - DROP
        fall = c[(c["epoch"] > peak["epoch"]) & low] if fell else c.iloc[:0]
        rows.append(
            {
                "Dataset": r["Dataset"],
                "hidden layers": int(r["depth"]),
                "Variant": r["Variant"],
                "seed": int(r["seed"]),
                "lr": float(r["lr"]),
                "max gain": c["gain_W1F"].max(),
                "fell": bool(fell),
                "gain at fall": fall["gain_W1F"].iloc[0] if len(fall) else np.nan,
                "epoch of fall": int(fall["epoch"].iloc[0]) if len(fall) else np.nan,
            }
        )
    order = ["Dataset", "hidden layers", "Variant", "seed"]
    return pd.DataFrame(rows).sort_values(order, key=lambda col: dataset_order(col, datasets))


def gain_table(per_run: pd.DataFrame, datasets: list[str]) -> pd.DataFrame:
    """Per dataset and depth, each normalised variant's median largest gain and its falls."""
    summ = per_run.groupby(["Dataset", "hidden layers", "Variant"], sort=False).agg(
        seeds=("seed", "size"), median_max=("max gain", "median"), fell=("fell", "sum")
    )
    summ = summ.reset_index().pivot_table(
        index=["Dataset", "hidden layers"],
        columns="Variant",
        values=["median_max", "fell", "seeds"],
        aggfunc="first",
        sort=False,
    )
    summ = summ.sort_index(key=lambda idx: dataset_order(idx, datasets))
    tab = pd.DataFrame(index=summ.index)
    for v in NORMED:
        if ("median_max", v) in summ.columns:
            cols = zip(
                summ[("median_max", v)], summ[("fell", v)].fillna(0), summ[("seeds", v)].fillna(0)
            )
            tab[v] = [f"{m:.1f} ({int(f)} of {int(n)} fell)" if m == m else "—" for m, f, n in cols]
    return tab.reset_index()


def _fall_list(runs: pd.DataFrame, none: str) -> str:
    text = "; ".join(
        f"{r['Dataset']} {n_hidden(r['hidden layers'])} seed {r['seed']}: "
        f"{r['gain at fall']:.1f} in epoch {int(r['epoch of fall'])}"
        for _, r in runs.iterrows()
    )
    return text or none


def gain_findings(per_run: pd.DataFrame) -> dict[str, str]:
    """Glue texts on the gain: ranges without mirroring, medians with it, falls and the split."""
    out = dict.fromkeys(
        ["gd_gain_norm", "gd_gain_nwm", "gd_gain_fell", "gd_gain_held", "gd_gain_split"], "n/a"
    )
    out.update(
        dict.fromkeys(
            ["gd_gain_ratio", "gd_gain_norm_fell", "gd_gain_rate", "gd_gain_within"], "n/a"
        )
    )
    nw = per_run[per_run["Variant"] == "normalisation"] if len(per_run) else per_run
    wm = per_run[per_run["Variant"] == "normalisation + WM"] if len(per_run) else per_run
    if len(nw):
        out["gd_gain_norm"] = f"{nw['max gain'].min():.1f} to {nw['max gain'].max():.1f}"
        out["gd_gain_norm_fell"] = _fall_list(nw[nw["fell"]], "none")
    if len(wm):
        out.update(_mirroring_gain(wm, nw))
    return out


def _mirroring_gain(wm: pd.DataFrame, nw: pd.DataFrame) -> dict[str, str]:
    out = {}
    med = wm.groupby(["Dataset", "hidden layers"], sort=False)["max gain"].median()
    out["gd_gain_nwm"] = "; ".join(f"{dsl} {n_hidden(d)}: {m:.1f}" for (dsl, d), m in med.items())
    fell, held = wm[wm["fell"]], wm[~wm["fell"]]
    out["gd_gain_fell"] = _fall_list(fell, "no run fell")
    cells = wm.groupby(["Dataset", "hidden layers", "lr"], sort=False)["fell"].agg(["sum", "size"])
    out["gd_gain_rate"] = "; ".join(
        f"{dsl} {n_hidden(d)} at η = {lr:g}: {int(f)} of {int(n)} fell"
        for (dsl, d, lr), (f, n) in cells.iterrows()
    )
    mixed = [
        (k, g)
        for k, g in wm.groupby(["Dataset", "hidden layers"], sort=False)
        if 0 < g["fell"].sum() < len(g)
    ]
    out["gd_gain_within"] = (
        "; ".join(
            f"{dsl} {n_hidden(d)}: largest gain of the runs that held "
            f"{' and '.join(f'{x:.1f}' for x in g.loc[~g['fell'], 'max gain'])}, "
            "of the runs that fell "
            f"{' and '.join(f'{x:.1f}' for x in g.loc[g['fell'], 'max gain'])}"
            for (dsl, d), g in mixed
        )
        or "none"
    )
    # gains are compared within a dataset only: the input size sets the scale of W_1
    ratios = [
        f"{dsl} {g['gain at fall'].min() / nw.loc[nw['Dataset'] == dsl, 'max gain'].max():.1f}"
        for dsl, g in fell.groupby("Dataset", sort=False)
        if (nw["Dataset"] == dsl).any()
    ]
    out["gd_gain_ratio"] = "; ".join(ratios) or "n/a"
    out["gd_gain_held"] = f"{held['max gain'].max():.1f}" if len(held) else "n/a (every run fell)"
    out["gd_gain_split"] = "n/a"
    if len(fell) and len(held):
        lo, hi = fell["gain at fall"].min(), held["max gain"].max()
        out["gd_gain_split"] = (
            f"every run that fell had reached a larger gain ({lo:.1f} or more) than any run "
            f"that held ever did ({hi:.1f})"
            if lo > hi
            else f"the gains overlap: one run fell at a gain of {lo:.1f}, below the largest gain "
            "of a run that "
            f"held ({hi:.1f}), so the gain alone does not predict the fall"
        )
    return out


# --- slowness, three hidden layers, verdicts --------------------------------------------------


def fell_before_decay(fin: pd.DataFrame, hist: pd.DataFrame) -> pd.DataFrame:
    """Finished runs whose test accuracy ended the fitted window (before the first rate
    decay) more than DROP points below its best there: the saturating curve of the slowness
    fit cannot describe them. Columns: run_id, where, best, best epoch, last, last epoch."""
    rows = []
    for _, r in fin.iterrows():
        first = int(str(r["decay_epochs"]).split(",")[0]) if str(r["decay_epochs"]) else None
        c = (
            hist[hist["run_id"] == r["run_id"]].sort_values("epoch")["test_accuracy"].to_numpy()
            * 100
        )
        c = c[:first]
        if c.max() - c[-1] > DROP:
            rows.append(
                {
                    "run_id": r["run_id"],
                    "Dataset": r["Dataset"],
                    "hidden layers": int(r["depth"]),
                    "Variant": r["Variant"],
                    "seed": int(r["seed"]),
                    "best (%)": round(float(c.max()), 2),
                    "best epoch": int(c.argmax()) + 1,
                    "last (%)": round(float(c[-1]), 2),
                    "last epoch": len(c),
                }
            )
    return pd.DataFrame(
        rows,
        columns=["run_id", "Dataset", "hidden layers", "Variant", "seed", "best (%)"]
        + ["best epoch", "last (%)", "last epoch"],
    )


def slowness_table(
    fin: pd.DataFrame, out: pd.DataFrame, datasets: list[str]
) -> tuple[pd.DataFrame, str]:
    """Mean slowness by dataset, depth and variant over the runs not in ``out``; and, at each
    dataset's deepest depth with more than one variant, the variants' slownesses."""
    st = (
        fin[~fin["run_id"].isin(out["run_id"])]
        .groupby(["Dataset", "depth", "Variant"])["slowness"]
        .mean()
        .unstack("Variant")
    )
    st = st.reindex(columns=[v for v in VARIANTS if v in st.columns])
    st = st.sort_index(key=lambda idx: dataset_order(idx, datasets))
    tab = (
        st.map(lambda v: "—" if v != v else f"{v:.2f}")
        .reset_index()
        .rename(columns={"depth": "hidden layers"})
    )
    parts = []
    for (dsl, d), row in st.iterrows():
        vals = row.dropna()
        if len(vals) > 1 and d == st.loc[dsl].dropna(how="all").index.max():
            parts.append(
                f"{dsl}, {n_hidden(d)}: " + ", ".join(f"{v} {s:.2f}" for v, s in vals.items())
            )
    return tab, "; ".join(parts) if parts else "fewer than two variants are stored at any depth"


def three_layers(heb3: pd.DataFrame, gd3: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """MNIST with three hidden layers: published, our earlier plain run (hebbian_depth) and every
    going_deeper variant, with the glue texts comparing them."""
    p3 = published("pepita", "mnist", 3)[0]
    rows = [
        {
            "source": "published, ICLR 2024 Table S1",
            "variant": "—",
            "η": "—",
            "test accuracy (%)": f"{p3:.2f}",
            "seeds": "—",
            "vs published (points)": "—",
        }
    ]
    out = dict.fromkeys(
        ["gd_heb3", "gd_heb3_same", "gd_best3", "gd_best3_vs_pub", "gd_gd3_plain"], "n/a"
    )

    def row(source: str, variant: str, grp: pd.DataFrame) -> dict:
        m = grp["final_test_accuracy"].mean() * 100
        return {
            "source": source,
            "variant": variant,
            "η": f"{grp['lr'].iloc[0]:g}",
            "test accuracy (%)": f"{m:.2f}",
            "seeds": len(grp),
            "vs published (points)": f"{m - p3:+.2f}",
        }

    if len(heb3):
        rows.append(row("our earlier run (hebbian_depth)", "plain", heb3))
        n = len(heb3)
        eta = f"η = {heb3['lr'].iloc[0]:g}"
        out["gd_heb3"] = f"{rows[-1]['test accuracy (%)']}% at {eta} ({n} seed{'s' * (n > 1)})"
    means = {}
    for v in VARIANTS:
        grp = gd3[gd3["Variant"] == v] if len(gd3) else gd3
        if len(grp):
            rows.append(row("going_deeper", v, grp))
            means[v] = grp["final_test_accuracy"].mean() * 100
    if "plain" in means:
        out["gd_gd3_plain"] = f"{means['plain']:.2f}%"
    if means:
        best = max(means, key=means.get)
        out["gd_best3"], out["gd_best3_vs_pub"] = (
            f"{best} ({means[best]:.2f}%)",
            f"{means[best] - p3:+.2f} points",
        )
    if len(heb3) and len(gd3):
        shared = set(heb3["run_id"]) & set(gd3.loc[gd3["Variant"] == "plain", "run_id"])
        s = "s" * (len(shared) > 1)
        out["gd_heb3_same"] = (
            f"the same stored run{s} as going_deeper's plain cell ({len(shared)} shared run id{s})"
            if shared
            else "a different run from going_deeper's plain cell"
        )
    elif len(heb3):
        out["gd_heb3_same"] = "not yet matched by a going_deeper plain run"
    return pd.DataFrame(rows), out


def _seed_note(nseed: pd.Series, ndiv: pd.Series, key: tuple) -> str:
    """Finished seeds behind a mean, and the diverged runs it leaves out."""
    return f"n = {nseed[key]}" + (f", {ndiv[key]} diverged" if key in ndiv else "")


def _dataset_verdicts(ds: str, mean: pd.Series, nseed: pd.Series, ndiv: pd.Series) -> list[str]:
    """At the deepest depth where plain and a remedy both finished: each remedy's gain over
    plain; deeper still, what the remedies reach where plain diverged."""
    m, lab = mean.loc[ds], DATASET_LABELS[ds]
    plain = {d: m[(d, "plain")] for d in DEPTHS if (d, "plain") in m.index}
    both = [d for d in plain if d > 1 and any((d, v) in m.index for v in VARIANTS[1:])]
    if not both:
        return []
    d = max(both)
    gains = {v: m[(d, v)] - plain[d] for v in VARIANTS[1:] if (d, v) in m.index}
    helps = [v for v, g in gains.items() if g > THRESH]
    seeds = {v: _seed_note(nseed, ndiv, (ds, d, v)) for v in ["plain", *gains]}
    text = f"{lab}, {d} hidden layers (plain {plain[d]:.2f}%, {seeds['plain']}): "
    text += ", ".join(f"{v} {g:+.2f} ({seeds[v]})" for v, g in gains.items()) + " points; "
    named = " and ".join(filter(None, [", ".join(helps[:-1]), *helps[-1:]]))
    text += (
        f"{named} improve{'s' * (len(helps) == 1)} on plain PEPITA by more than {THRESH} points"
        if helps
        else f"no remedy improves on plain PEPITA by more than {THRESH} points"
    )
    if 1 in plain:
        bv = max(gains, key=gains.get) if gains and max(gains.values()) > 0 else "plain"
        gap = m[(d, bv)] - plain[1]
        text += f"; the best, {bv}, ends {gap:+.2f} points from the one-hidden-layer net"
    out = [text]
    for dd in (dd for dd in DEPTHS if dd > d and (dd, "plain") not in m.index):
        alive = {v: m[(dd, v)] for v in VARIANTS[1:] if (dd, v) in m.index}
        plain_div = ndiv.get((ds, dd, "plain"), 0)
        if alive and plain_div:
            which = (
                f"(all {plain_div} stored seeds); " if plain_div > 1 else "(the one stored seed); "
            )
            reach = ", ".join(
                f"{v} reaches {a:.2f}% ({_seed_note(nseed, ndiv, (ds, dd, v))})"
                for v, a in alive.items()
            )
            out.append(f"{lab}, {dd} hidden layers: plain PEPITA diverged " + which + reach)
    return out


def verdicts(fin: pd.DataFrame, runs: pd.DataFrame, datasets: list[str]) -> tuple[str, str]:
    """(remedy verdicts per dataset, plain PEPITA's accuracy by depth) as glue texts."""
    if not len(fin):
        return (
            "no remedy has a finished run beyond one hidden layer yet, so none can be judged",
            "n/a",
        )
    acc = fin["final_test_accuracy"] * 100
    keys = [fin["dataset"], fin["depth"], fin["Variant"]]
    mean, nseed = acc.groupby(keys).mean(), acc.groupby(keys).size()
    div = runs[runs["status"] == "diverged"]
    ndiv = div.groupby(["dataset", "depth", "Variant"]).size()
    texts, trends = [], []
    for ds in (ds for ds in datasets if ds in mean.index.get_level_values(0)):
        plain = {d: mean[(ds, d, "plain")] for d in DEPTHS if (ds, d, "plain") in mean.index}
        if len(plain) > 1:
            trends.append(
                f"{DATASET_LABELS[ds]}: "
                + ", ".join(f"{p:.2f}% with {d}" for d, p in plain.items())
            )
        texts += _dataset_verdicts(ds, mean, nseed, ndiv)
    none = "no remedy has a finished run beyond one hidden layer yet, so none can be judged"
    return "; ".join(texts) or none, "; ".join(trends) or "n/a"


def diverged_cells(runs: pd.DataFrame, falling_keys: set) -> pd.DataFrame:
    """Cells with diverged runs: how many, and whether the rate search already saw it fall."""
    div = runs[runs["status"] == "diverged"] if not runs.empty else runs
    rows = []
    for (ds, d, v), grp in div.groupby(["dataset", "depth", "Variant"]) if len(div) else []:
        kind = "normalisation" if v.startswith("normalisation") else "plain"
        rows.append(
            {
                "Dataset": DATASET_LABELS[ds],
                "hidden layers": d,
                "Variant": v,
                "diverged runs": len(grp),
                "search curve already falling": "yes" if (ds, d, kind) in falling_keys else "no",
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "Dataset",
            "hidden layers",
            "Variant",
            "diverged runs",
            "search curve already falling",
        ],
    )


def uneven_cells(fin: pd.DataFrame, hist: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Cells whose finished seeds end more than SPREAD points apart: the seeds' finals, the
    worst seed's peak, and its largest one-epoch rise of the training loss if >= JUMP."""
    rows = []
    for (ds, d, v), grp in fin.groupby(["dataset", "depth", "Variant"]) if len(fin) else []:
        acc = grp.sort_values("seed")["final_test_accuracy"] * 100
        if len(grp) < 2 or acc.max() - acc.min() <= SPREAD:
            continue
        worst = grp.loc[grp["final_test_accuracy"].idxmin()]
        loss = (
            hist[hist["run_id"] == worst["run_id"]]
            .sort_values("epoch")
            .set_index("epoch")["train_loss"]
        )
        rise, peak = loss / loss.shift(), best.loc[worst["run_id"]]
        rows.append(
            {
                "Dataset": DATASET_LABELS[ds],
                "hidden layers": d,
                "Variant": v,
                "finals by seed (%)": " / ".join(f"{a:.2f}" for a in acc),
                "worst seed": int(worst["seed"]),
                "its peak (%)": round(100 * float(peak["test_accuracy"]), 2),
                "peak epoch": int(peak["epoch"]),
                "loss jump": f"{rise.max():.0f}-fold in epoch {rise.idxmax()}"
                if rise.max() >= JUMP
                else "—",
            }
        )
    return pd.DataFrame(rows)


def dropped_runs(fin: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Finished runs that ended more than DROP points below their own best epoch."""
    rows = []
    for _, r in (
        fin.sort_values(["dataset", "depth", "Variant", "seed"]).iterrows() if len(fin) else []
    ):
        peak = best.loc[r["run_id"]]
        if (peak["test_accuracy"] - r["final_test_accuracy"]) * 100 > DROP:
            rows.append(
                {
                    "Dataset": DATASET_LABELS[r["dataset"]],
                    "hidden layers": int(r["depth"]),
                    "Variant": r["Variant"],
                    "seed": int(r["seed"]),
                    "best (%)": round(100 * float(peak["test_accuracy"]), 2),
                    "best epoch": int(peak["epoch"]),
                    "final (%)": round(100 * float(r["final_test_accuracy"]), 2),
                }
            )
    return pd.DataFrame(rows)


def deepest_text(fin: pd.DataFrame, runs: pd.DataFrame, datasets: list[str]) -> str:
    """Per dataset, at its deepest depth with a finished run: plain PEPITA's mean or state and
    the best variant's mean."""
    parts = []
    for ds in datasets:
        f = fin[fin["dataset"] == ds] if len(fin) else fin
        if not len(f):
            continue
        d = int(f["depth"].max())
        at = f[f["depth"] == d]
        means = (at.groupby("Variant")["final_test_accuracy"].mean() * 100).sort_values()
        plain = means.get("plain")
        n_div = int(
            (
                (runs["dataset"] == ds)
                & (runs["depth"] == d)
                & (runs["Variant"] == "plain")
                & (runs["status"] == "diverged")
            ).sum()
        )
        state = (
            f"plain {plain:.2f}%"
            if plain is not None
            else f"plain diverged ({n_div} runs)"
            if n_div
            else "plain not run"
        )
        parts.append(
            f"{DATASET_LABELS[ds]}, {n_hidden(d)}: {state}, "
            f"best {means.index[-1]} {means.iloc[-1]:.2f}%"
        )
    return "; ".join(parts) or "n/a"


def fall_count(per_run: pd.DataFrame, variant: str) -> str:
    """How many runs of ``variant`` (with recorded gain) fell more than DROP points."""
    sel = per_run[per_run["Variant"] == variant] if len(per_run) else per_run
    return f"{int(sel['fell'].sum())} of {len(sel)}" if len(sel) else "n/a"


def missing_line(experiment: str, profile: str, missing: list) -> str:
    """One line: how many runs of ``experiment`` are not stored, and the commands."""
    if not missing:
        return missing_note(experiment, profile, [])
    return (
        f"**Not run yet**: {len(missing)} runs of `{experiment}` "
        f"(`pepita status {experiment}` lists them; "
        f"`pepita run {experiment} --profile {profile}` runs them)."
    )


def known_plain_text() -> str:
    """The deeper plain rates taken over from depth_lr_search."""
    known = [(ds, d, r) for (ds, d), r in sorted(KNOWN_PLAIN_LR.items()) if d > 1]
    text = "; ".join(f"{DATASET_LABELS[ds]} with {d} hidden layers at {r:g}" for ds, d, r in known)
    return text or "no deeper cell"


def no_search_text(datasets: list[str], searched: list[str]) -> str:
    """Which datasets of the experiment deep_lr_search does not cover, and what that means."""
    missing = [DATASET_LABELS[ds] for ds in datasets if ds not in searched]
    if not missing:
        return "The search covers every dataset of the experiment."
    return (
        f"The search covers {' and '.join(DATASET_LABELS[d] for d in searched)}; "
        f"{' and '.join(missing)} beyond one hidden layer, and its normalised cells, have no "
        "search to take a rate from, so they stay unregistered until a rate is entered for "
        "them in DEEP_LR."
    )


def stored_texts(
    runs: pd.DataFrame, grid: list[TrainConfig], datasets: list[str]
) -> dict[str, str]:
    """Glue texts: runs stored of those registered, by dataset, and datasets whose data are
    absent (checked only where no run is stored: a stored run proves its data existed)."""
    from ..data import DataNotFoundError, load_arrays

    counts = {ds: sum(c.dataset == ds for c in grid) for ds in datasets}
    stored = runs["dataset"].value_counts().to_dict() if not runs.empty else {}
    absent = []
    for ds in (ds for ds in datasets if not stored.get(ds, 0)):
        try:
            load_arrays(ds)
        except DataNotFoundError:
            absent.append(DATASET_LABELS[ds])
    by_ds = "; ".join(
        f"{DATASET_LABELS[ds]} {stored.get(ds, 0)} of {n}" for ds, n in counts.items()
    )
    return {
        "gd_stored_total": f"{len(runs)} of {len(grid)}",
        "gd_stored_by_ds": by_ds,
        "gd_data_absent": (
            f"the data of {' and '.join(absent)} are not in this copy of the datasets, so those "
            "cells cannot be run here"
            if absent
            else "all datasets are available"
        ),
    }


# --- what the chapter shows, section by section ---------------------------------------------
# Each returns the tables to display, as (table or Markdown line, caption), and the glue texts.

Tables = list[tuple[pd.DataFrame | str, str]]


def grid_and_datasets(profile: str) -> tuple[list[TrainConfig], list[str]]:
    """going_deeper's registered configs under ``profile``, and every dataset of the whole
    (paper) matrix, registered or not, in the experiment's order."""
    paper = get_experiment("going_deeper").configs("paper")
    return get_experiment("going_deeper").configs(profile), list(
        dict.fromkeys(c.dataset for c in paper)
    )


def setup_facts() -> dict[str, str]:
    """Glue texts fixed by the library: published values, thresholds, rate grids, search setup."""
    search = get_experiment("deep_lr_search").configs("paper")
    return {
        "gd_pub3": f"{published('pepita', 'mnist', 3)[0]:.2f}",
        "gd_pub_c100": f"{PUB_C100_3_WD:.2f}",
        "gd_drop": f"{DROP:g}",
        "gd_fall": f"{FALL}",
        "gd_thresh": f"{THRESH}",
        "gd_spread": f"{SPREAD:g}",
        "gd_grid_plain": ", ".join(f"{r:g}" for r in DEEP_LR_GRID),
        "gd_grid_norm": ", ".join(f"{r:g}" for r in DEEP_LR_GRID_NORM),
        "gd_grid_factor": f"{max(DEEP_LR_GRID_NORM) / max(DEEP_LR_GRID):,.0f}",
        "gd_search_setup": f"{search[0].val_size:,} training images held out for validation, "
        f"{search[0].epochs} epochs, no rate decay",
        "gd_known_plain": known_plain_text(),
    }


def remedies_section(data: Dataset, grid: list[TrainConfig], datasets: list[str]) -> tuple:
    """The first update under each normalisation, and how far weight decay alone would shrink
    the weights at each registered cell's rate."""
    upd = first_update(data, max(DEPTHS))
    wd = DEPTH_VARIANTS["weight decay"]["weight_decay"]
    decay = decay_table(grid, wd)
    tables = [
        (
            first_update_table(upd),
            f"‖ΔW_l‖/‖W_l‖ of PEPITA's first update, {max(DEPTHS)} hidden layers of 1024, "
            "seed 0, first MNIST batch",
        ),
        (
            decay_display(decay, datasets),
            f"Factor by which weight decay λ = {wd:g} alone would shrink the weights over the "
            "100-epoch schedule, exp(−λ Σ η_t / (1 − μ)), at the rate each registered cell "
            "trains with",
        ),
    ]
    return tables, {**first_update_findings(upd), **decay_findings(decay)}


def rate_section(datasets: list[str]) -> tuple[Tables, dict[str, str]]:
    """Every cell's rate and its source, with the counts of cells that have one."""
    searched = list(
        dict.fromkeys(c.dataset for c in get_experiment("deep_lr_search").configs("paper"))
    )
    caption = (
        "Learning rate of every going_deeper cell (— no rate yet: the cell is not registered) "
        "and where it comes from"
    )
    facts = {
        "gd_rate_counts": rate_counts(datasets),
        "gd_no_search": no_search_text(datasets, searched),
    }
    return [(rate_table(datasets, searched), caption)], facts


def search_section(
    lr_runs: pd.DataFrame, lr_hist: pd.DataFrame, missing: list, profile: str
) -> tuple[Tables, dict[str, str], dict]:
    """deep_lr_search's table and findings (``found`` also feeds the diverged-cells table)."""
    grid = get_experiment("deep_lr_search").configs(profile)
    label_variants(lr_runs, DEPTH_VARIANTS)
    tab, found = search_table(lr_runs, lr_hist, grid)
    caption = (
        f"deep_lr_search: validation accuracy (%) after {grid[0].epochs} epochs by depth, "
        "variant and rate (— rate not in this variant's grid)"
    )
    facts = {
        f"gd_lr_{k}": "; ".join(found[k]) or "none"
        for k in ("ready", "mismatch", "edge", "falling")
    }
    facts["gd_lr_search_stored"] = f"{len(lr_runs)} of {len(grid)}"
    tables = [(missing_line("deep_lr_search", profile, missing), ""), (tab, caption)]
    return tables, facts, found


def prepare_runs(runs: pd.DataFrame, hist: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """Label the variants (in place), add slowness, and split off the finished runs with their
    accuracy in percent (``acc``)."""
    for frame in (runs, hist):
        label_variants(frame, DEPTH_VARIANTS)
    if runs.empty:
        return runs, hist, runs
    runs = add_slowness(runs, hist)
    fin = runs[runs["status"] == "finished"].copy()
    fin["acc"] = fin["final_test_accuracy"] * 100
    return runs, hist, fin


def state_section(
    runs: pd.DataFrame, missing: list, grid: list[TrainConfig], datasets: list[str], profile: str
) -> tuple[Tables, dict[str, str]]:
    """One state table per dataset (accuracy or the cell's state), and the stored counts."""
    tables: Tables = [(missing_line("going_deeper", profile, missing), "")]
    states = []
    for ds in datasets:
        tab, sentence = state_table(runs, grid, ds, profile)
        states.append(sentence)
        jpeg = "; published CIFAR-10 values are for the original dataset, ours for the JPEG copy"
        caption = (
            f"{DATASET_LABELS[ds]}: final test accuracy (%) by depth and variant, mean ± std "
            "over n stored seeds (n=1 of 3: one of three registered seeds stored), or the cell's "
            "state" + (jpeg if ds == "cifar10" else "")
        )
        tables.append((tab, caption))
    facts = {**stored_texts(runs, grid, datasets), "gd_shared": shared_runs(datasets)}
    return tables, {**facts, "gd_states": "; ".join(states)}


def normalised_gains(
    fin: pd.DataFrame, hist: pd.DataFrame, best: pd.DataFrame | None, datasets: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The normalised runs' per-epoch gain history, and ``gain_per_run`` of them."""
    gain_runs = fin[fin["Variant"].isin(NORMED)] if len(fin) else fin
    if not len(gain_runs):
        return hist.iloc[:0], hist.iloc[:0]
    gh = hist[hist["run_id"].isin(gain_runs["run_id"])].dropna(subset=["gain_W1F"])
    return gh, gain_per_run(gain_runs, gh, best, datasets) if len(gh) else gh.iloc[:0]


def gain_section(per_run: pd.DataFrame, datasets: list[str]) -> tuple[Tables, dict[str, str]]:
    """The gain table, the (collapsed) table of runs that fell, and the gain findings."""
    facts = {
        **gain_findings(per_run),
        "gd_box_nwm_fell": fall_count(per_run, "normalisation + WM"),
        "gd_box_norm_fell": fall_count(per_run, "normalisation"),
    }
    if not len(per_run):
        return [], facts
    fell = per_run[per_run["fell"]][
        [
            "Dataset",
            "hidden layers",
            "Variant",
            "seed",
            "lr",
            "max gain",
            "gain at fall",
            "epoch of fall",
        ]
    ]
    fmt = {"lr": "{:g}", "max gain": "{:.1f}", "gain at fall": "{:.1f}", "epoch of fall": "{:.0f}"}
    fell = fell.assign(**{c: fell[c].map(f.format) for c, f in fmt.items()})
    tables = [
        (
            gain_table(per_run, datasets),
            "Largest feedback gain ‖W₁F‖₂ of each run, median over seeds; in brackets, runs "
            f"that ended more than {DROP:g} points below their best epoch, of the runs whose "
            "records hold the gain",
        ),
        (
            fell,
            "Normalised runs that fell: largest gain, and the gain at the first epoch after "
            "their best that was that far below it",
        ),
    ]
    return tables, facts


def slowness_section(
    fin: pd.DataFrame, hist: pd.DataFrame, datasets: list[str]
) -> tuple[Tables, dict[str, str]]:
    """The slowness table, the (collapsed) runs left out of it, and their glue texts."""
    if not len(fin):
        return [], {"gd_slow_summary": "n/a", "gd_slow_n_out": "0"}
    out = fell_before_decay(fin, hist)
    tab, summary = slowness_table(fin, out, datasets)
    tables = [
        (
            tab,
            "Slowness s (epochs), mean over seeds; — not run, diverged, or every seed fell "
            "before the first decay",
        ),
        (
            out.drop(columns="run_id"),
            f"Runs left out: test accuracy more than {DROP:g} points "
            "below its best at the end of the fitted window (before the first decay)",
        ),
    ]
    return tables, {"gd_slow_summary": summary, "gd_slow_n_out": f"{len(out)}"}


def three_layers_section(heb: pd.DataFrame, fin: pd.DataFrame) -> tuple[Tables, dict[str, str]]:
    """MNIST with three hidden layers: hebbian_depth's plain run against going_deeper's."""
    heb3 = heb[(heb["depth"] == 3) & (heb["status"] == "finished")] if not heb.empty else heb
    gd3 = fin[(fin["dataset"] == "mnist") & (fin["depth"] == 3)] if len(fin) else fin
    tab, found = three_layers(heb3, gd3)
    return [(tab, "Three hidden layers of 1024, MNIST: final test accuracy")], found


def summary_section(
    fin: pd.DataFrame,
    runs: pd.DataFrame,
    hist: pd.DataFrame,
    best,
    falling_keys: set,
    datasets: list[str],
) -> tuple[Tables, dict[str, str]]:
    """The verdicts, and the (collapsed) tables of diverged, uneven and dropped cells."""
    verdict, trend = verdicts(fin, runs, datasets)
    div = diverged_cells(runs, falling_keys)
    uneven = uneven_cells(fin, hist, best) if len(fin) else div.iloc[:0]
    dropped = dropped_runs(fin, best) if len(fin) else div.iloc[:0]
    facts = {
        "gd_verdict": verdict,
        "gd_plain_trend": trend,
        "gd_box_deepest": deepest_text(fin, runs, datasets),
        "gd_n_diverged": f"{int(div['diverged runs'].sum())} runs in {len(div)} cells",
        "gd_n_uneven": f"{len(uneven)}",
        "gd_n_dropped": f"{len(dropped)}",
    }
    tables = [
        (div, "Cells with diverged runs"),
        (uneven, f"Cells whose finished seeds end more than {SPREAD:g} points apart"),
        (dropped, f"Finished runs that ended more than {DROP:g} points below their best epoch"),
    ]
    return tables, facts
