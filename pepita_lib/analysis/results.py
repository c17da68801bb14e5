"""The tables of the chapter "Results at a glance": the main table, the papers' comparisons
one by one (Dellaferrera & Kreiman, ICML 2022; Srinivasan et al., ICLR 2024), depth,
mirroring with slowness, and coverage."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from ..experiments import WM_VARIANTS
from ..references import HEBBIAN_GAP_CLAIM, format_published, published
from ..report import DATASET_LABELS, RULE_LABELS, add_slowness, mean_std, summary
from ..scorecard import paired_gaps

RULE_ORDER = ["bp", "fa", "dfa", "drtp", "pepita", "pepita_hebbian", "pepita_tl", "pepita_wm"]
RULE_ORDER += ["afa", "ff"]
DATA_ORDER = ["mnist", "fashion_mnist", "cifar10", "cifar100"]
PUBLISHED_DATASETS = ("mnist", "cifar10", "cifar100")  # Table 1 of the ICML 2022 paper
LOSS_BLOWUP = 10.0  # a training loss this many times its first epoch's has blown up
SLOWNESS_FLOOR = 1e-3  # epochs; a fit driven to its lower bound s = 0 describes no rise

Comparison = tuple[float, float, float, str]  # difference a - b, CI low, CI high, n described
Verdict = Callable[[float, float, float, bool], str]


def main_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Rule by dataset: ours (mean ± std, n seeds) beside the ICML 2022 Table 1 value."""
    cells = {}
    if not runs.empty:
        tab = summary(runs, ["rule", "dataset"])
        cells = {
            (r, d): (o, n)
            for r, d, o, n in zip(tab["rule"], tab["dataset"], tab["ours (%)"], tab["seeds"])
        }
    rows = []
    for r in RULE_ORDER:
        row = {"rule": RULE_LABELS[r]}
        for d in DATA_ORDER:
            ours, n = cells.get((r, d), ("not run", 0))
            row[f"{DATASET_LABELS[d]}: ours"] = f"{ours} (n={n})" if n else "not run"
            if d in PUBLISHED_DATASETS:
                row[f"{DATASET_LABELS[d]}: published"] = format_published(published(r, d))
        rows.append(row)
    return pd.DataFrame(rows)


def seed_accuracy(frame: pd.DataFrame, **where: object) -> pd.Series:
    """Final test accuracy (%) of the finished runs matching ``where``, indexed by seed."""
    if frame.empty:
        return pd.Series(dtype=float)
    sel = frame[frame["status"] == "finished"]
    for k, v in where.items():
        sel = sel[sel[k] == v]
    return sel.set_index("seed")["final_test_accuracy"] * 100


def any_diverged(frame: pd.DataFrame, **where: object) -> bool:
    """Whether a run matching ``where`` diverged."""
    if frame.empty:
        return False
    sel = frame
    for k, v in where.items():
        sel = sel[sel[k] == v]
    return bool((sel["status"] == "diverged").any())


def compare(a: pd.Series, b: pd.Series, paired: bool = False) -> Comparison | None:
    """mean(a) - mean(b) with its 95% interval: paired over shared seeds (one-sample t on the
    differences), else Welch's; NaN bounds with fewer than two seeds a side, None when a side
    is empty."""
    if len(a) == 0 or len(b) == 0:
        return None
    if paired:
        d = paired_gaps(a, b).to_numpy()
        if len(d) >= 2:
            lo, hi = stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
            return float(d.mean()), float(lo), float(hi), f"{len(d)} paired seeds"
    elif len(a) >= 2 and len(b) >= 2:
        ci = stats.ttest_ind(a.to_numpy(), b.to_numpy(), equal_var=False).confidence_interval(0.95)
        return (
            float(a.mean() - b.mean()),
            float(ci.low),
            float(ci.high),
            f"{len(a)} vs {len(b)} seeds",
        )
    return float(a.mean() - b.mean()), np.nan, np.nan, f"{len(a)} vs {len(b)} seeds"


def claim_row(
    claim: str, label: str, res: Comparison | None, agree: Verdict, gone: bool = False
) -> dict:
    """One row of the comparisons table; ``gone``: a run of the cell diverged."""
    if res is None:
        return {
            "claim": claim,
            "comparison": label,
            "difference (points)": "a run diverged" if gone else "not run",
            "95% CI": "—",
            "n": "—",
            "our runs": "cannot compare: a run diverged" if gone else "not run yet",
        }
    diff, lo, hi, n = res
    has_ci = not np.isnan(lo)
    return {
        "claim": claim,
        "comparison": label,
        "difference (points)": f"{diff:+.2f}",
        "95% CI": f"[{lo:+.2f}, {hi:+.2f}]" if has_ci else "— (one seed)",
        "n": n,
        "our runs": agree(diff, lo, hi, has_ci),
    }


def bp_gap_verdict(pub: float | None) -> Verdict:
    """PEPITA − BP against the published gap ``pub`` (None: no published gap)."""

    def agree(d: float, lo: float, hi: float, ci: bool) -> str:
        if pub is None:
            return f"PEPITA {'trails' if d < 0 else 'beats'} BP by {abs(d):.2f}"
        if ci:
            return "agrees" if lo <= pub <= hi else "differs: published gap outside our CI"
        return f"gap {d:+.2f} vs published {pub:+.2f} (one seed: no test)"

    return agree


def hebbian_verdict(d: float, lo: float, hi: float, ci: bool) -> str:
    """Hebbian − PEPITA within the papers' ±HEBBIAN_GAP_CLAIM points: the whole CI inside."""
    if ci:
        if -HEBBIAN_GAP_CLAIM <= lo and hi <= HEBBIAN_GAP_CLAIM:
            return "agrees"
        return "consistent, CI too wide to confirm" if lo <= 0 <= hi else "differs"
    return "agrees (one seed)" if abs(d) <= HEBBIAN_GAP_CLAIM else "differs (one seed)"


def wm_verdict(d: float, lo: float, hi: float, ci: bool) -> str:
    """WM − uniform F: better or worse only when the CI excludes 0."""
    if ci:
        return "WM better" if lo > 0 else "WM worse" if hi < 0 else "no significant difference"
    return f"{'WM ahead' if d > 0 else 'WM behind'} by {abs(d):.2f} (one seed: no test)"


def afa_verdict(d: float, lo: float, hi: float, ci: bool) -> str:
    """PEPITA − AFA: agreement with the first-order reading when the CI covers 0."""
    if ci:
        return "agrees: no significant gap" if lo <= 0 <= hi else f"gap of {d:+.2f} is significant"
    return "agrees (one seed)" if abs(d) < 0.5 else "differs (one seed)"


def tl_verdict(tl_mean: float, pub: float | None) -> Verdict:
    """TL − PEPITA: the cost, its significance, and (CIFAR-10) TL against the published ≈value."""

    def agree(d: float, lo: float, hi: float, ci: bool) -> str:
        cost = f"costs {-d:.2f} points" if d < 0 else f"gains {d:.2f} points"
        sure = "" if not ci else " (significant)" if hi < 0 or lo > 0 else " (not significant)"
        vs = ""
        if pub is not None:
            side = "below" if tl_mean < pub else "at or above"
            vs = f"; {side} the published ≈{pub:.0f} %"
        return f"TL reaches {tl_mean:.1f} %, {cost}{sure}{vs}"

    return agree


def _bp_gap_rows(runs: pd.DataFrame) -> list[dict]:
    pub_gap = {ds: published("pepita", ds)[0] - published("bp", ds)[0] for ds in PUBLISHED_DATASETS}
    rows = []
    for ds in ("mnist", "fashion_mnist", "cifar10"):
        pub = pub_gap.get(ds)
        claim = (
            f"PEPITA trails BP by {-pub:.2f} points (published, 1×1024)"
            if pub is not None
            else "PEPITA trails BP by under a point on MNIST-like data (ours only)"
        )
        res = compare(
            seed_accuracy(runs, rule="pepita", dataset=ds),
            seed_accuracy(runs, rule="bp", dataset=ds),
        )
        rows.append(
            claim_row(
                claim, f"PEPITA − BP, {DATASET_LABELS[ds]}, 1 layer", res, bp_gap_verdict(pub)
            )
        )
    return rows


def _hebbian_rows(runs: pd.DataFrame, deep: pd.DataFrame) -> list[dict]:
    claim, rows = f"PEPITA-Hebbian within {HEBBIAN_GAP_CLAIM} points of PEPITA", []
    for ds in ("mnist", "fashion_mnist"):
        for depth in (1, 2, 3):
            frame = runs if depth == 1 else deep[deep["depth"] == depth] if not deep.empty else deep
            res = compare(
                seed_accuracy(frame, rule="pepita_hebbian", dataset=ds),
                seed_accuracy(frame, rule="pepita", dataset=ds),
            )
            label = f"Hebbian − PEPITA, {DATASET_LABELS[ds]}, {depth} layer{'s' * (depth > 1)}"
            gone = depth > 1 and any_diverged(frame, dataset=ds)
            rows.append(claim_row(claim, label, res, hebbian_verdict, gone))
    return rows


def _wm_afa_rows(wm: pd.DataFrame, afa: pd.DataFrame) -> list[dict]:
    rows = []
    for ds in ("mnist", "fashion_mnist", "cifar10"):
        res = compare(
            seed_accuracy(wm, Variant="factorised F + WM", dataset=ds),
            seed_accuracy(wm, Variant="uniform F (original)", dataset=ds),
        )
        label = f"WM − uniform F, {DATASET_LABELS[ds]}, 1 layer"
        rows.append(claim_row("weight mirroring improves PEPITA", label, res, wm_verdict))
    for ds in ("mnist", "cifar10"):
        pair = (seed_accuracy(afa, rule=r, dataset=ds) for r in ("pepita", "afa"))
        res = compare(*pair, paired=True)
        label = f"PEPITA − AFA, {DATASET_LABELS[ds]}, 1 layer"
        rows.append(claim_row("PEPITA ≈ AFA (first-order reading)", label, res, afa_verdict))
    return rows


def _tl_rows(runs: pd.DataFrame) -> list[dict]:
    tl_pub = published("pepita_tl", "cifar10")[0]
    claim, rows = f"PEPITA-TL trains, at some cost in accuracy (≈{tl_pub:.0f} % on CIFAR-10)", []
    for ds in ("mnist", "fashion_mnist", "cifar10"):
        tl = seed_accuracy(runs, rule="pepita_tl", dataset=ds)
        res = compare(tl, seed_accuracy(runs, rule="pepita", dataset=ds))
        agree = tl_verdict(tl.mean(), tl_pub if ds == "cifar10" else None)
        gone = any_diverged(runs, rule="pepita_tl", dataset=ds)
        rows.append(
            claim_row(claim, f"TL − PEPITA, {DATASET_LABELS[ds]}, 1 layer", res, agree, gone)
        )
    return rows


def claims_table(
    runs: pd.DataFrame, deep: pd.DataFrame, wm: pd.DataFrame, afa: pd.DataFrame
) -> pd.DataFrame:
    """The papers' comparisons against our runs: baselines ``runs``, deeper PEPITA-family
    runs ``deep``, weight-mirroring runs ``wm`` (with a ``Variant`` column) and AFA pairs."""
    rows = _bp_gap_rows(runs) + _hebbian_rows(runs, deep) + _wm_afa_rows(wm, afa) + _tl_rows(runs)
    return pd.DataFrame(rows)


def _depth_cell(tab: pd.DataFrame, rule: str, ds: str, depth: int) -> str:
    sel = tab[(tab["rule"] == rule) & (tab["dataset"] == ds) & (tab["depth"] == depth)]
    if len(sel) and sel["seeds"].iloc[0]:
        div = sel["diverged"].iloc[0]
        return f"{sel['ours (%)'].iloc[0]} (n={sel['seeds'].iloc[0]})" + (
            f", {div} diverged" if div else ""
        )
    return "diverged" if len(sel) and sel["diverged"].iloc[0] else "not run"


def depth_table(runs: pd.DataFrame, deep: pd.DataFrame) -> pd.DataFrame:
    """The PEPITA family at 1, 2 and 3 hidden layers on MNIST and Fashion-MNIST (1 layer from
    the baselines ``runs``), with the published 3-layer value; empty when nothing is stored."""
    family, datasets = ["pepita", "pepita_hebbian", "pepita_tl"], ["mnist", "fashion_mnist"]
    one = (
        runs[runs["rule"].isin(family) & runs["dataset"].isin(datasets)] if not runs.empty else runs
    )
    frames = [f for f in (one, deep) if not f.empty]
    if not frames:
        return pd.DataFrame()
    tab = summary(pd.concat(frames, ignore_index=True), ["rule", "dataset", "depth"])
    rows = []
    for r in family:
        for ds in datasets:
            row = {"rule": RULE_LABELS[r], "dataset": DATASET_LABELS[ds]}
            for depth in (1, 2, 3):
                row[f"{depth} layer{'s' if depth > 1 else ''}"] = _depth_cell(tab, r, ds, depth)
            ref = published(r, ds, 3)
            row["3 layers: published"] = f"{ref[0]:.2f} ({ref[2].split(',')[0]})" if ref else "—"
            rows.append(row)
    return pd.DataFrame(rows)


def loss_blew_up(train_loss: pd.Series | np.ndarray) -> bool:
    """Whether a run's training loss ever exceeded LOSS_BLOWUP times its first epoch's."""
    loss = np.asarray(train_loss, dtype=float)
    return bool(loss.size) and bool(np.nanmax(loss) > LOSS_BLOWUP * loss[0])


def trusted_slowness(runs: pd.DataFrame, hist: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with the fitted slowness (see ``report.add_slowness``) and a ``fit`` column:
    "ok", or why the fit describes nothing ("loss blew up": the curve fell back after a
    blow-up; "fit failed": no fit, or s driven to its lower bound 0). Failed fits get NaN
    slowness."""
    out = add_slowness(runs, hist)
    by_run = hist.sort_values("epoch").groupby("run_id")["train_loss"]
    blown = {rid for rid, loss in by_run if loss_blew_up(loss)}
    s = out["slowness"].to_numpy(dtype=float)
    failed = np.isnan(s) | (s < SLOWNESS_FLOOR)
    out["fit"] = np.where(
        out["run_id"].isin(blown), "loss blew up", np.where(failed, "fit failed", "ok")
    )
    out.loc[out["fit"] != "ok", "slowness"] = np.nan
    return out


def slowness_text(fits: pd.DataFrame) -> str:
    """Mean ± std of the trusted slownesses of one cell, or n/a with the reason none is."""
    if fits.empty:
        return "—"
    ok = fits[fits["fit"] == "ok"]
    if ok.empty:
        return f"n/a ({fits['fit'].mode().iloc[0]})"
    return mean_std(ok["slowness"], scale=1.0, digits=2)


def wm_table(wm: pd.DataFrame, wm_hist: pd.DataFrame) -> pd.DataFrame:
    """Weight-mirroring variants by dataset: final accuracy and slowness (n/a where no run's
    fit can be trusted)."""
    fits = trusted_slowness(wm[wm["status"] == "finished"], wm_hist)
    rows = []
    for variant in WM_VARIANTS:
        row = {"variant": variant}
        for ds in ("mnist", "fashion_mnist", "cifar10"):
            sel = fits[(fits["Variant"] == variant) & (fits["dataset"] == ds)]
            lab = DATASET_LABELS[ds]
            row[f"{lab}: accuracy (%)"] = (
                f"{mean_std(sel['final_test_accuracy'])} (n={len(sel)})" if len(sel) else "not run"
            )
            row[f"{lab}: slowness (epochs)"] = slowness_text(sel)
        rows.append(row)
    return pd.DataFrame(rows)


def baseline_states(results_dir: str, profile: str) -> pd.DataFrame:
    """One row per registered `baselines` run: dataset, rule and state (finished, diverged or
    missing)."""
    from ..experiments import get_experiment
    from ..store import find_record

    rows = []
    for cfg in get_experiment("baselines").configs(profile):
        rec = find_record(results_dir, "baselines", cfg)
        state = "missing" if rec is None else rec["status"]
        rows.append(
            {"dataset": DATASET_LABELS[cfg.dataset], "rule": RULE_LABELS[cfg.rule], "state": state}
        )
    return pd.DataFrame(rows)


def state_counts(states: pd.DataFrame) -> pd.DataFrame:
    """Runs per dataset and state, datasets in the book's order."""
    counts = states.pivot_table(
        index="dataset", columns="state", values="rule", aggfunc="count", fill_value=0
    )
    counts = counts.reindex([DATASET_LABELS[d] for d in DATA_ORDER])
    return counts.reindex(columns=[c for c in ("finished", "diverged", "missing") if c in counts])


def missing_sentence(states: pd.DataFrame, seconds: float, untimed: int) -> str:
    """The cells with seeds missing and the time they need at the stored runs' pace ('' when
    none is missing)."""
    left = states[states["state"] == "missing"].groupby(["dataset", "rule"]).size()
    if not len(left):
        return ""
    cells = "; ".join(f"{r} on {d} ({n})" for (d, r), n in left.items())
    extra = f", plus {untimed} with no comparable stored run to time them by" if untimed else ""
    return (
        f"Not run yet, seeds missing per cell: {cells}. At the pace of the stored runs, one at a "
        f"time, the missing runs need about {seconds / 3600:.0f} hours{extra} (`pepita status` "
        "gives the same estimate per experiment)."
    )


def coverage_grid(cov: pd.DataFrame) -> pd.DataFrame:
    """Experiment by dataset: runs done / registered (diverged count as done), the missing runs
    and their estimated CPU hours. ``cov``: rows of ``runner.coverage``."""
    cov = cov.assign(done=cov["finished"] + cov["diverged"])
    cov["total"] = cov["done"] + cov["missing"]
    cov["cell"] = [
        f"{d}/{t}" + (f" ({v} diverged)" if v else "")
        for d, t, v in zip(cov["done"], cov["total"], cov["diverged"])
    ]
    grid = cov.pivot(index="experiment", columns="dataset", values="cell")
    grid = grid.reindex(
        index=list(dict.fromkeys(cov["experiment"])),
        columns=[d for d in DATA_ORDER if d in set(cov["dataset"])],
    )
    grid = grid.rename(columns=DATASET_LABELS).fillna("—")
    per = cov.groupby("experiment", sort=False).agg(
        missing=("missing", "sum"), seconds=("seconds", "sum"), unknown=("unknown", "sum")
    )
    grid["missing runs"] = per["missing"]
    grid["est. CPU hours"] = [
        "—" if m == 0 else f"{s / 3600:.1f}" + (f" + {u} untimed" if u else "")
        for m, s, u in zip(per["missing"], per["seconds"], per["unknown"])
    ]
    return grid.reset_index()


def coverage_sentence(cov: pd.DataFrame) -> str:
    """Runs done of those registered on MNIST, Fashion-MNIST and CIFAR-10; CIFAR-100's count."""
    three = cov[cov["dataset"].isin(["mnist", "fashion_mnist", "cifar10"])]
    done, total = (
        int((three["finished"] + three["diverged"]).sum()),
        int((three["finished"] + three["diverged"] + three["missing"]).sum()),
    )
    m = int(three["missing"].sum())
    left = "none is missing" if m == 0 else "1 is not run yet" if m == 1 else f"{m} are not run yet"
    c100 = cov[cov["dataset"] == "cifar100"]
    n100 = int((c100["finished"] + c100["diverged"] + c100["missing"]).sum())
    return (
        f"On MNIST, Fashion-MNIST and CIFAR-10: {done} of {total} registered runs are done; "
        f"{left}. CIFAR-100 ({n100} runs registered) runs wherever torchvision can download it."
    )


def jpeg_cost(runs: pd.DataFrame) -> tuple[float, int, tuple] | None:
    """(our BP mean % on the JPEG CIFAR-10 copy, its seeds, the published BP value), or None."""
    ours = seed_accuracy(runs, rule="bp", dataset="cifar10")
    ref = published("bp", "cifar10")
    return (float(ours.mean()), len(ours), ref) if len(ours) and ref else None


def jpeg_cost_text(runs: pd.DataFrame) -> str:
    """Markdown: BP on the JPEG copy against published BP on CIFAR-10, or how to run it."""
    cost = jpeg_cost(runs)
    if cost is None:
        return (
            "Not run yet: BP on CIFAR-10 (`pepita run baselines --profile paper --filter rule=bp "
            "--filter dataset=cifar10`), so the size of the JPEG effect is not measured yet."
        )
    mean, n, ref = cost
    return (
        f"BP on the JPEG copy: {mean:.2f} % (n = {n}); published BP on CIFAR-10: {ref[0]:.2f} ± "
        f"{ref[1]:.2f} %. Effect of the copy plus every other difference between the two setups: "
        f"**{mean - ref[0]:+.2f} points**."
    )


def headline(runs: pd.DataFrame) -> dict[str, str]:
    """Glue texts of the chapter's answer box: PEPITA and BP on MNIST (ours and the published
    gap) and the cost of the JPEG copy."""
    pep, bp = (seed_accuracy(runs, rule=r, dataset="mnist") for r in ("pepita", "bp"))
    pub = published("pepita", "mnist")[0] - published("bp", "mnist")[0]
    out = {"res_pub_gap": f"{pub:+.2f}", "res_mnist_pep": "n/a", "res_mnist_bp": "n/a"}
    out["res_mnist_gap"] = "n/a"
    if len(pep) and len(bp):
        out["res_mnist_pep"], out["res_mnist_bp"] = f"{pep.mean():.2f}", f"{bp.mean():.2f}"
        out["res_mnist_gap"] = f"{pep.mean() - bp.mean():+.2f}"
    cost = jpeg_cost(runs)
    out["res_jpeg_cost"] = (
        "not measured yet" if cost is None else f"{cost[0] - cost[2][0]:+.2f} points"
    )
    return out
