"""How PEPITA's F should be initialised (chapters "Open questions: first measurements" and
"Open question 1"): the modulation F e it produces, its first-order (AFA) reading, the
first update it causes, and what the stored runs and rate searches say.

To first order in F e (minus convention), with a_1 = W_1 x,

    Delta W_1^PEPITA = (h_1 - h_1^err) (x - F e)^T
                     ~ Delta W_1^AFA = [sigma'(a_1) * (W_1 F e)] x^T,

and a common mean m sigma_F 1 of F's columns drops out of F e because 1^T e = 0 for softmax
outputs and one-hot targets.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..config import TrainConfig
from ..data import batches, one_hot
from ..nets import dropout_masks
from ..optim import dense
from ..rules.afa import afa_updates
from ..rules.pepita import pepita_updates, two_passes
from ..train import initial_state
from .activations import seed_state64

Tensor = torch.Tensor


def modulation_ratio(F: Tensor, e: Tensor, x: Tensor) -> float:
    """Mean over the batch of ||F e|| / ||x||."""
    return float(((e @ F.mT).norm(dim=1) / x.norm(dim=1)).mean())


def pepita_vs_afa(x: Tensor, t: Tensor, sizes: list[int], f_scales: list[float]) -> pd.DataFrame:
    """Per F scale, from seed 0's initial state (float64, no dropout): the modulation
    ||F e|| / ||x||, ||Delta W_1^PEPITA - Delta W_1^AFA|| / ||Delta W_1^AFA|| and their cosine."""
    rows = []
    for scale in f_scales:
        net, F = seed_state64(sizes, scale)
        masks = [None] * (net.depth - 1)
        e = two_passes(net, F, x, t, masks)[3]
        pep = dense(pepita_updates(net, F, x, t, masks)[0][0])
        afa = dense(afa_updates(net, F, x, t, masks)[0][0])
        rows.append(
            {
                "F scale": scale,
                "‖Fe‖/‖x‖": modulation_ratio(F, e, x),
                "‖ΔW₁(PEPITA) − ΔW₁(AFA)‖ / ‖ΔW₁(AFA)‖": float((pep - afa).norm() / afa.norm()),
                "cosine(PEPITA, AFA)": float((pep * afa).sum() / (pep.norm() * afa.norm())),
            }
        )
    return pd.DataFrame(rows)


def first_batch(data, size: int = 64, seed: int = 0) -> tuple[Tensor, Tensor]:
    """The first mini-batch a run with ``seed`` sees (its order generator is seed + 1)."""
    gen = torch.Generator().manual_seed(seed + 1)
    idx = next(batches(data.x_train.shape[0], size, gen, torch.device("cpu")))
    return data.x_train[idx], one_hot(data.y_train[idx], data.num_classes)


def first_step(knobs: dict, scale: float, x: Tensor, t: Tensor) -> dict[str, float]:
    """PEPITA's first step for F drawn with ``knobs`` (f_init, f_mean) at ``scale``, from the
    run's initial state and dropout mask (seed 0, one hidden layer of 1024):
    ||F e|| / ||x||, the mean cosine between F's class columns, ||m sigma_F 1 1^T e|| / ||F_0 e||
    (the designed mean's part of F e) and ||Delta W_l|| / ||W_l|| for both layers."""
    cfg = TrainConfig(rule="pepita", f_scale=scale, **knobs)
    d0 = x.shape[1]
    net, state = initial_state(cfg, [d0, *cfg.hidden, t.shape[1]])
    F = state["F"]
    masks = dropout_masks(net, x.shape[0], torch.Generator().manual_seed(cfg.seed + 2))
    e = two_passes(net, F, x, t, masks)[3]
    grads, _ = pepita_updates(net, F, x, t, masks)
    F0 = F - cfg.f_mean * cfg.f_scale * math.sqrt(2 / d0)  # F without its designed mean
    cols = F / F.norm(dim=0, keepdim=True)
    off_diagonal = ~torch.eye(F.shape[1], dtype=torch.bool)
    return {
        "‖Fe‖/‖x‖": modulation_ratio(F, e, x),
        "mean cos(columns)": float((cols.mT @ cols)[off_diagonal].mean()),
        "mean's effect": float((e @ (F - F0).mT).norm() / (e @ F0.mT).norm()),
        "ΔW1": float(dense(grads[0]).norm() / net.weights[0].norm()),
        "ΔW2": float(dense(grads[1]).norm() / net.weights[1].norm()),
    }


def loglog_slope(x: pd.Series, y: pd.Series) -> float:
    """Least-squares slope of log y against log x (1: proportional, 0: independent)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def small(v: float, bound: float = 1e-5) -> str:
    """Float32 rounding differs between machines: tiny values shown as a bound."""
    return f"< {bound:.0e}" if v < bound else f"{v:.2e}"


def step_facts(uni: pd.DataFrame) -> dict[str, str]:
    """Facts on the first step of the original uniform F against its scale (columns
    ``F scale``, ``η``, ``ΔW1``, ``ΔW2``, ``‖Fe‖/‖x‖``, sorted by scale)."""
    s = uni["F scale"]
    mid, big = (s >= 0.005) & (s <= 0.5), (s >= 0.5) & (s <= 5.0)
    step1, step2 = uni["η"] * uni["ΔW1"], uni["η"] * uni["ΔW2"]
    return {
        "ratio_orig": f"{uni.loc[s == 0.05, '‖Fe‖/‖x‖'].iloc[0]:.4f}",
        "ratio_max": f"{uni['‖Fe‖/‖x‖'].iloc[-1]:.2f}",
        "scale_max": f"{s.iloc[-1]:g}",
        "slope1": f"{loglog_slope(s[mid], uni['ΔW1'][mid]):.2f}",
        "slope1_big": f"{loglog_slope(s[big], uni['ΔW1'][big]):.2f}",
        "slope2": f"{loglog_slope(s[s >= 0.005], uni['ΔW2'][s >= 0.005]):.2f}",
        "step1_range": f"{step1.min():.1e} to {step1.max():.1e}",
        "step2_range": f"{step2.min():.1e} to {step2.max():.1e}",
        "readout_factor": f"{float(step2[s == 0.05].iloc[0] / step2.iloc[-1]):,.0f}",
    }


def final_angles(runs: pd.DataFrame, hist: pd.DataFrame) -> pd.Series:
    """Each run's last recorded angle between F and (W_2 W_1)^T, aligned with ``runs``."""
    last = hist.dropna(subset=["angle_F"]).sort_values("epoch").groupby("run_id")["angle_F"].last()
    return runs["run_id"].map(last)


def diff_against(base: pd.Series, other: pd.Series, name: str) -> tuple[str, bool]:
    """'name +d points (within/outside twice the standard error of the difference, s)'
    for accuracies in % over seeds; True when ``other`` is better beyond that noise."""
    d = other.mean() - base.mean()
    if len(other) < 2 or len(base) < 2:
        return f"{name} {d:+.2f} points (one seed: not separable from seed noise)", False
    noise = 2 * math.sqrt(other.var(ddof=1) / len(other) + base.var(ddof=1) / len(base))
    where = "within" if abs(d) <= noise else "outside"
    text = (
        f"{name} {d:+.2f} points ({where} twice the standard error of the difference, {noise:.2f})"
    )
    return text, abs(d) > noise and d > 0


def dist_verdict(fin: pd.DataFrame, base: str, others: list[str]) -> tuple[str, str | None]:
    """(verdict, recommendation) for the distributions of F: each of ``others`` against
    ``base`` by final test accuracy of the finished runs in ``fin`` (column ``Variant``)."""
    acc = {v: 100 * fin.loc[fin["Variant"] == v, "final_test_accuracy"] for v in [base, *others]}
    if not len(acc[base]):
        return "n/a", None
    parts, better = [], []
    for v in others:
        if not len(acc[v]):
            parts.append(f"{v}: not run yet")
            continue
        text, beats = diff_against(acc[base], acc[v], v)
        parts.append(text)
        better += [v] if beats else []
    rec = (
        f"the distribution: prefer {' or '.join(better)}, which beat the original beyond seed noise"
        if better
        else "the distribution: keep the original uniform draw, since neither the "
        "normal nor the factorised form beats it beyond seed noise"
    )
    if any("one seed" in p or "not run" in p for p in parts):
        rec += " (provisional: some draws have one seed or none yet)"
    return "; ".join(parts), rec


def search_table(lr_runs: pd.DataFrame, grid: list, used: dict[float, float]) -> pd.DataFrame:
    """Validation accuracy (%) of the rate search by F scale (rows) and rate (columns) with
    the best rate, the rate the sweep uses and their product with the scale; cells not
    searched are '—', searched but missing 'not run'."""
    cell = {
        (s, lr): (st, v)
        for s, lr, st, v in zip(
            lr_runs.get("f_scale", []),
            lr_runs.get("lr", []),
            lr_runs.get("status", []),
            lr_runs.get("final_val_accuracy", []),
        )
    }
    rates = sorted({c.lr for c in grid}, reverse=True)
    rows = []
    for s in sorted({c.f_scale for c in grid}):
        searched = {c.lr for c in grid if c.f_scale == s}
        row = {"F scale": s}
        for lr in rates:
            st, v = cell.get((s, lr), ("not run" if lr in searched else "—", None))
            row[f"η={lr:g}"] = f"{100 * v:.2f}" if st == "finished" else st
        ok = {
            lr: v
            for lr in searched
            for st, v in [cell.get((s, lr), ("", None))]
            if st == "finished"
        }
        row["best"] = max(ok, key=ok.get) if ok else None
        row["best val (%)"] = 100 * ok[row["best"]] if ok else None
        row["complete"] = all((s, lr) in cell for lr in searched)
        row["used"] = used.get(s)
        row["at used (%)"] = 100 * ok[used[s]] if s in used and used[s] in ok else None
        rows.append(row)
    return pd.DataFrame(rows)


def rate_facts(search: pd.DataFrame) -> dict[str, str]:
    """What the rate search (a :func:`search_table`) says: best rate x scale per scale and
    its trend, how fast the best rate falls above the original scale, and where the sweep's
    rate departs from the search's choice."""
    done = search.dropna(subset=["best"])
    best = dict(zip(done["F scale"], done["best"]))
    facts = {"best_prod": "n/a", "prod_verdict": "n/a", "rate_fall": "n/a"}
    if best:
        prod = {s: r * s for s, r in sorted(best.items())}
        peak, top, spread = (
            max(prod, key=prod.get),
            max(prod),
            max(prod.values()) / min(prod.values()),
        )
        facts["best_prod"] = ", ".join(f"{p:.1e} at scale {s:g}" for s, p in prod.items())
        if spread < 2:
            facts["prod_verdict"] = (
                f"constant within a factor {spread:.1f}, so the best rate falls "
                "as fast as the scale grows"
            )
        elif peak < top and prod[peak] / prod[top] >= 2:
            facts["prod_verdict"] = (
                f"it peaks at scale {peak:g} and falls {prod[peak] / prod[top]:,.0f}-fold "
                f"from there to scale {top:g}, so at large scales the best rate "
                "falls faster than the scale grows"
            )
        else:
            facts["prod_verdict"] = (
                f"it varies {spread:,.0f}-fold across scales without falling at the largest ones"
            )
    above = sorted(s for s in best if s > 0.05)
    if len(above) > 1:
        lo, hi = above[0], above[-1]
        fall, grow = best[lo] / best[hi], hi / lo
        facts["rate_fall"] = (
            f"from scale {lo:g} to {hi:g} the best rate falls {fall:,.0f}-fold while the "
            f"scale grows {grow:,.0f}-fold" + ("" if fall > grow else ", no faster than the scale")
        )
    facts["lr_disagree"] = disagreements(search)
    return facts


def disagreements(search: pd.DataFrame) -> str:
    """Where the sweep's rate (``used``) is not the search's best, and by how much."""
    out = []
    for _, r in search.dropna(subset=["best", "used"]).iterrows():
        if r["best"] == r["used"]:
            continue
        at = r["at used (%)"]
        margin = (
            f"by {r['best val (%)'] - at:.2f} points and the sweep uses {r['used']:g}"
            if at == at and at is not None
            else f"and the sweep uses {r['used']:g}, a rate without a finished search run"
        )
        out.append(
            f"at scale {r['F scale']:g} the search prefers {r['best']:g} {margin}"
            + ("" if r["complete"] else " (search incomplete)")
        )
    return "; ".join(out) or "nowhere"


def scale_verdict(acc: dict[float, float], n_total: int, n_div: int) -> tuple[str, str]:
    """(verdict, recommendation) from final test accuracy (%) by F scale (one seed each)."""
    best = max(acc, key=acc.get)
    close = [s for s in sorted(acc) if acc[best] - acc[s] <= 0.3]
    verdict = (
        f"scales {', '.join(f'{s:g}' for s in close)} end within 0.3 points of the best "
        "(one seed each)"
        if len(close) > 1
        else f"only scale {best:g} is within 0.3 points of the best (one seed each)"
    )
    n_miss = n_total - len(acc) - n_div
    rec = (
        f"the scale: {best:g} gave the best final accuracy of the {len(acc)} scales that finished "
        f"({acc[best]:.2f}%, one seed)"
        + (
            f"; PEPITA diverged at {n_div} larger scale{'s' if n_div > 1 else ''} even at its "
            "validated rate"
            if n_div
            else ""
        )
        + (f"; {n_miss} of {n_total} scales are not trained yet" if n_miss > 0 else "")
    )
    return verdict, rec


MEAN_REC = {
    True: "a mean: leave it at zero, because with softmax outputs and one-hot targets the error "
    "sums to zero over classes and a common mean cannot reach the update (at initialisation its "
    "part of Fe is float rounding), which is also why no mean-shifted run is trained",
    False: "a mean: at initialisation its part of Fe is larger than float rounding, which the "
    "identity does not explain; inspect before using it",
}


def dist_table(runs: pd.DataFrame, variants: list[str]) -> pd.DataFrame:
    """Per distribution of F: final test accuracy (mean ± std, %), seeds, diverged runs, mean
    slowness and final angle_F. ``runs`` carries ``Variant``, ``slowness`` and ``angle``."""
    fin = runs[runs["status"] == "finished"]
    rows = []
    for v in variants:
        sub, done = runs[runs["Variant"] == v], fin[fin["Variant"] == v]
        n_div = int((sub["status"] == "diverged").sum())
        acc = done["final_test_accuracy"] * 100
        cell = (
            f"{acc.mean():.2f} ± {acc.std(ddof=1):.2f}"
            if len(acc) > 1
            else f"{acc.mean():.2f}"
            if len(acc)
            else "diverged"
            if n_div
            else "not run"
        )
        rows.append(
            {
                "F": v,
                "ours (%)": cell,
                "seeds": len(done),
                "diverged": n_div,
                "slowness (epochs)": f"{done['slowness'].mean():.2f}" if len(done) else "—",
                "final angle_F (°)": f"{done['angle'].mean():.1f}" if len(done) else "—",
            }
        )
    return pd.DataFrame(rows)


def scale_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per F scale: rate, status, final test accuracy, slowness and final angle_F."""

    def show(v: float, fmt: str) -> str:
        return "—" if v != v else format(v, fmt)

    return pd.DataFrame(
        {
            "F scale": runs["f_scale"].map(lambda v: f"{v:g}"),
            "η": runs["lr"].map(lambda v: f"{v:g}"),
            "status": runs["status"],
            "test accuracy (%)": [
                f"{100 * a:.2f}" if st == "finished" else "—"
                for a, st in zip(runs["final_test_accuracy"], runs["status"])
            ],
            "slowness (epochs)": runs["slowness"].map(lambda v: show(v, ".2f")),
            "final angle_F (°)": runs["angle"].map(lambda v: show(v, ".1f")),
        }
    )


# --- what the chapter "Open question 1" shows, section by section ---------------------------
# Each returns the tables to display, as (table or Markdown line, caption), and glue texts.

D0 = 784  # MNIST input size
MEAN_CHECK = {"uniform, mean = 1 std": {"f_mean": 1.0}, "uniform, mean = 3 std": {"f_mean": 3.0}}
NUMBER_WORDS = {3: "three", 4: "four", 5: "five"}


def setup_facts() -> dict[str, str]:
    """The original sigma_F on MNIST and the published one-layer PEPITA accuracy."""
    from ..references import published

    pub = published("pepita", "mnist", 1)
    return {
        "oq_fi_sigmaF": f"{0.05 * math.sqrt(2 / D0):.5f}",
        "oq_fi_pub": f"{pub[0]:.2f} ± {pub[1]:.2f}",
    }


def init_measures(data) -> pd.DataFrame:
    """``first_step`` for every trained draw of F (and, at initialisation only, the
    mean-shifted ones: 1^T e = 0, so they are not trained) at every swept scale, on the first
    batch the seed-0 runs see."""
    from ..experiments import F_INITS, F_SCALES

    x, t = first_batch(data)
    forms = {**F_INITS, **MEAN_CHECK}
    return pd.DataFrame(
        [
            {"distribution": name, "F scale": s, **first_step(knobs, s, x, t)}
            for name, knobs in forms.items()
            for s in F_SCALES
        ]
    )


def mean_inert(init: pd.DataFrame) -> bool:
    """Whether the designed mean's part of F e stayed at float rounding in every draw."""
    return bool(init["mean's effect"].max() < 1e-5)


def init_section(init: pd.DataFrame) -> tuple[list, dict[str, str]]:
    """F at initialisation (original scale, every form) and the first update against the scale
    (original uniform F), with their glue texts."""
    from ..experiments import F_INITS, FSCALE_LR

    forms = list(dict.fromkeys(init["distribution"]))
    orig = init[init["F scale"] == 0.05].set_index("distribution").loc[forms].reset_index()
    at_init = pd.DataFrame(
        {
            "distribution of F": [v + ("" if v in F_INITS else " (not trained)") for v in forms],
            "‖Fe‖/‖x‖ (scale 0.05)": orig["‖Fe‖/‖x‖"].map("{:.2e}".format),
            "mean cosine between class columns": orig["mean cos(columns)"].map("{:+.2f}".format),
            "‖mσ_F 1 1ᵀe‖ / ‖F₀e‖": orig["mean's effect"].map(small),
        }
    )
    uni = init[init["distribution"] == "uniform (original)"].copy()
    uni["η"] = uni["F scale"].map(FSCALE_LR)
    spread = init.groupby("F scale")["‖Fe‖/‖x‖"].agg(lambda v: (v.max() - v.min()) / v.mean())
    cos_of = orig.set_index("distribution")["mean cos(columns)"]
    facts = {
        **step_facts(uni),
        "dist_spread": f"{100 * spread.max():.1f}",
        "n_forms": NUMBER_WORDS.get(len(forms), str(len(forms))),
        "cos_m1": f"{cos_of['uniform, mean = 1 std']:.2f}",
        "cos_m3": f"{cos_of['uniform, mean = 3 std']:.2f}",
        "mean_effect": small(init["mean's effect"].max()),
    }
    tables = [
        (
            at_init,
            "F at initialisation (seed 0, first MNIST batch of 64): the mean makes the class "
            "columns alike but leaves Fe unchanged",
        ),
        (
            _step_table(uni),
            "The first PEPITA update against the F scale (original uniform F, seed 0): relative "
            "size without and with the rate afa_fscale trains each scale at",
        ),
    ]
    return tables, {f"oq_fi_{k}": v for k, v in facts.items()}


def _step_table(uni: pd.DataFrame) -> pd.DataFrame:
    """The first update's relative size by scale, alone and times the scale's rate."""
    return pd.DataFrame(
        {
            "F scale": uni["F scale"].map("{:g}".format),
            "‖Fe‖/‖x‖": uni["‖Fe‖/‖x‖"].map("{:.3g}".format),
            "‖ΔW₁‖/‖W₁‖": uni["ΔW1"].map("{:.3g}".format),
            "‖ΔW₂‖/‖W₂‖": uni["ΔW2"].map("{:.3g}".format),
            "η used for this scale": uni["η"].map("{:g}".format),
            "η‖ΔW₁‖/‖W₁‖": (uni["η"] * uni["ΔW1"]).map("{:.2e}".format),
            "η‖ΔW₂‖/‖W₂‖": (uni["η"] * uni["ΔW2"]).map("{:.2e}".format),
        }
    )


def dist_section(runs: pd.DataFrame, hist: pd.DataFrame) -> tuple[list, dict[str, str], str | None]:
    """The three draws of F: table, glue texts and the distribution's recommendation.
    Labels ``runs`` and ``hist`` by draw in place and adds slowness and the final angle."""
    from ..experiments import F_INITS
    from ..report import add_slowness, label_variants, mean_std

    variants = list(F_INITS)
    facts = {"oq_fi_orig_acc": "n/a", "oq_fi_dist_verdict": "n/a"}
    if runs.empty:
        return [], facts, None
    label_variants(runs, F_INITS)
    label_variants(hist, F_INITS)
    runs = add_slowness(runs, hist).assign(angle=lambda r: final_angles(r, hist))
    fin = runs[runs["status"] == "finished"]
    base = fin.loc[fin["Variant"] == variants[0], "final_test_accuracy"]
    if len(base):
        facts["oq_fi_orig_acc"] = f"{mean_std(base)}% ({len(base)} seed{'s' * (len(base) > 1)})"
    facts["oq_fi_dist_verdict"], rec = dist_verdict(fin, variants[0], variants[1:])
    caption = (
        "PEPITA on MNIST (1x1024) with F drawn three ways: final test accuracy (mean ± std over "
        "seeds), slowness and final angle"
    )
    return [(dist_table(runs, variants), caption)], facts, rec


def search_section(lr_runs: pd.DataFrame, profile: str) -> tuple[pd.DataFrame, list, dict]:
    """fscale_lr_search as shown (best rate, the sweep's rate, rate x scale), and its facts."""
    from ..experiments import FSCALE_LR, get_experiment

    grid = get_experiment("fscale_lr_search").configs(profile)
    search = search_table(lr_runs, grid, FSCALE_LR)
    best_shown = [
        f"{b:g}" + ("" if c else " (search incomplete)") if b == b and b is not None else "not run"
        for b, c in zip(search["best"], search["complete"])
    ]
    shown = search.drop(columns=["best", "best val (%)", "complete", "used", "at used (%)"])
    shown = shown.assign(
        **{
            "F scale": search["F scale"].map("{:g}".format),
            "best on validation": best_shown,
            "η used (afa_fscale)": search["used"].map(lambda v: "—" if v != v else f"{v:g}"),
            "η × scale": (search["used"] * search["F scale"]).map(
                lambda v: "—" if v != v else f"{v:.1e}"
            ),
        }
    )
    caption = (
        f"Validation accuracy (%) of PEPITA after {grid[0].epochs} epochs by F scale and η "
        "(MNIST, 1x1024; — not searched), the best rate, and the rate the scale sweep uses"
    )
    b05 = dict(zip(search["F scale"], search["best"])).get(0.05)
    keep = b05 == b05 and b05 is not None and b05 != 0.1 and FSCALE_LR.get(0.05) == 0.1
    facts = {
        "search_done": f"{len(lr_runs)} of {len(grid)}",
        **rate_facts(search),
        "keep_note": "At the original scale the library keeps the original recipe's rate on "
        "purpose, so that this run is shared with the other chapters."
        if keep
        else "At the original scale the sweep uses the original recipe's rate.",
    }
    return search, [(shown, caption)], {f"oq_fi_{k}": v for k, v in facts.items()}


def scale_section(
    runs: pd.DataFrame, hist: pd.DataFrame, profile: str
) -> tuple[pd.DataFrame, list, dict[str, str], str | None]:
    """The scale sweep: its finished runs (with slowness and final angle), the table, the glue
    texts and the scale's recommendation (None while no scale has finished)."""
    from ..experiments import get_experiment
    from ..report import add_slowness

    facts = {"n_scales": "0", "diverged": "n/a", "best_scale": "n/a", "scale_table": "n/a"}
    facts["scale_verdict"], rec = "n/a", None
    if runs.empty:
        return runs, [], {f"oq_fi_{k}": v for k, v in facts.items()}, rec
    runs = add_slowness(runs, hist).assign(angle=lambda r: final_angles(r, hist))
    runs = runs.sort_values("f_scale")
    fin, div = runs[runs["status"] == "finished"], runs[runs["status"] == "diverged"]
    facts["n_scales"] = str(len(fin))
    facts["diverged"] = ", ".join(f"{s:g}" for s in div["f_scale"]) or "none"
    acc = dict(zip(fin["f_scale"], fin["final_test_accuracy"] * 100))
    if acc:
        best = max(acc, key=acc.get)
        facts["best_scale"] = f"{best:g} ({acc[best]:.2f}%)"
        facts["scale_table"] = ", ".join(f"{s:g}: {a:.2f}%" for s, a in sorted(acc.items()))
        n_total = sum(c.rule == "pepita" for c in get_experiment("afa_fscale").configs(profile))
        facts["scale_verdict"], rec = scale_verdict(acc, n_total, len(div))
        if len(acc) == 1:
            facts["scale_verdict"] = "only one scale is trained so far"
    caption = "PEPITA across F scales (MNIST, 1x1024, seed 0), each at its own rate"
    return fin, [(scale_table(runs), caption)], {f"oq_fi_{k}": v for k, v in facts.items()}, rec


def recommendation(
    scale_rec: str | None, dist_rec: str | None, search: pd.DataFrame, inert: bool
) -> str:
    """One sentence for scale, distribution and mean; while the sweep is incomplete the scale
    falls back on the validation search, marked provisional."""
    if scale_rec is None and search["best val (%)"].notna().any():
        b = search.loc[search["best val (%)"].idxmax()]
        scale_rec = (
            "the scale (provisional, from the 3-epoch validation search while the 100-epoch "
            f"sweep is incomplete): {b['F scale']:g}, whose best rate reached "
            f"{b['best val (%)']:.2f}% validation accuracy"
        )
    rec = "; ".join(
        (
            scale_rec or "the scale: undecided, neither the sweep nor the search is stored",
            dist_rec or "the distribution: undecided, its runs are not stored yet",
            MEAN_REC[inert],
        )
    )
    return rec[0].upper() + rec[1:] + "."
