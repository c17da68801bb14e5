"""Better mirroring (open question 3 of the book): mirror rates per layer and block schedules
of PEPITA-WM (Srinivasan et al. 2024, Sec. 4) compared by how fast and how well they align F
with (W_2 W_1)^T, and whether that buys accuracy or speed, in sentences the chapter glues.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ..report import add_slowness, label_variants, mean_std
from .mirroring import with_epoch0

DEFAULT = "every batch, rate 0.01 (default)"
SETTING_COLUMNS = [
    "Variant",
    "source",
    "n",
    "diverged",
    "mirror steps per epoch",
    "early",
    "final_angle",
    "epoch_45",
    "acc",
    "acc_sd",
    "acc_text",
    "slow",
    "slow_sd",
    "slow_text",
    "acc1",
    "slow_max",
]
REFERENCES = ["uniform F (original)", "factorised F, no WM", "WM + 1 pre-mirroring epoch"]


def s3(x: float) -> str:
    """3 significant digits (slowness spans hundredths to tens of epochs)."""
    return "n/a" if x != x else f"{x:.3g}"


def s3_std(v: pd.Series) -> str:
    v = v.dropna()
    if v.empty:
        return "n/a"
    return s3(v.mean()) if len(v) == 1 else f"{s3(v.mean())} ± {s3(v.std())}"


def steps_per_epoch(r: pd.Series) -> int:
    """Training batches per epoch of a run (its subset, less the validation split)."""
    n = r["train_subset"] if r["train_subset"] == r["train_subset"] and r["train_subset"] else 60000
    return math.ceil((n - (r["val_size"] or 0)) / r["batch_size"])


def mirror_steps_text(r: pd.Series) -> str:
    """Mirror rounds per epoch of a run's schedule."""
    if r["rule"] != "pepita_wm" or r["wm_schedule"] == "none":
        return "none"
    if r["wm_schedule"] == "epoch":
        return f"{steps_per_epoch(r) / r['wm_every']:.0f} (in one block)"
    return f"{steps_per_epoch(r)}"


def prepare(runs: pd.DataFrame, hist: pd.DataFrame, variants: dict, source: str):
    """Label the runs by variant, add slowness and the source experiment, and prepend each
    run's state before its first update to its history as epoch 0."""
    if runs.empty:
        return runs, hist
    runs = runs.copy()
    label_variants(runs, variants)
    runs["source"] = source
    with warnings.catch_warnings():  # short curves leave the fit's covariance undefined
        warnings.simplefilter("ignore")
        runs = add_slowness(runs, hist)
    hist = hist.merge(runs[["run_id", "Variant"]], on="run_id")
    hist = with_epoch0(runs, hist, keep=["run_id", "Variant", "seed"])
    return runs, hist.sort_values(["run_id", "epoch"])


def setting_row(r: pd.DataFrame, h: pd.DataFrame, upto: int) -> dict:
    """One setting's runs ``r`` (history ``h``, epoch 0 included): alignment (angle of F
    averaged over epochs 1..upto, after the last epoch, first epoch below 45°), accuracy and
    slowness over its finished runs."""
    fin = r[r["status"] == "finished"]
    h = h[h["run_id"].isin(fin["run_id"])]
    early, final = [], []
    for _, hh in h.groupby("run_id"):
        early.append(hh[(hh["epoch"] >= 1) & (hh["epoch"] <= upto)]["angle_F"].mean())
        final.append(hh[hh["epoch"] == hh["epoch"].max()]["angle_F"].mean())
    below = h[(h["epoch"] >= 1) & (h["angle_F"] < 45)].groupby("run_id")["epoch"].min()
    if not len(below):
        e45 = "never"
    elif len(below) == len(early):
        e45 = f"{below.mean():.0f}"
    else:
        e45 = f"{below.mean():.0f} ({len(below)} of {len(early)} runs)"
    acc, slow = fin["final_test_accuracy"], fin["slowness"]
    return {
        "Variant": r["Variant"].iloc[0],
        "source": r["source"].iloc[0],
        "n": len(fin),
        "diverged": int((r["status"] == "diverged").sum()),
        "mirror steps per epoch": mirror_steps_text(r.iloc[0]),
        "early": np.mean(early) if early else np.nan,
        "final_angle": np.mean(final) if final else np.nan,
        "epoch_45": e45,
        "acc": acc.mean() * 100 if len(fin) else np.nan,
        "acc_sd": acc.std() * 100 if len(fin) > 1 else np.nan,
        "acc_text": mean_std(acc),
        "slow": slow.mean() if len(fin) else np.nan,
        "slow_sd": slow.std() if len(fin) > 1 else np.nan,
        "slow_text": s3_std(slow),
        "acc1": mean_std(h[h["epoch"] == 1]["test_accuracy"]),
        "slow_max": slow.max() if len(fin) else np.nan,
    }


def settings(runs: pd.DataFrame, hist: pd.DataFrame, order: list[str], upto: int) -> pd.DataFrame:
    """:func:`setting_row` for every variant of ``order`` (columns even when there is none)."""
    rows = [setting_row(runs[runs["Variant"] == v], hist, upto) for v in order]
    return pd.DataFrame(rows, columns=SETTING_COLUMNS)


def settings_table(t: pd.DataFrame, upto: int, last_epoch: int) -> pd.DataFrame:
    """The columns of :func:`settings` a reader needs, formatted."""

    def deg(v):
        return "n/a" if v != v else f"{v:.1f}"

    return pd.DataFrame(
        {
            "setting": t["Variant"],
            "runs": t["n"],
            "diverged": t["diverged"],
            "mirror steps per epoch": t["mirror steps per epoch"],
            f"angle of F, mean over epochs 1–{upto} (°)": t["early"].map(deg),
            "first epoch with angle of F below 45°": t["epoch_45"],
            f"angle of F after epoch {last_epoch} (°)": t["final_angle"].map(deg),
            "test accuracy after epoch 1 (%)": t["acc1"],
            "final test accuracy (%)": t["acc_text"],
            "slowness (epochs)": t["slow_text"],
        }
    )


def compare(a: pd.Series, b: pd.Series, col: str, sd: str, unit: str, fmt, dfmt) -> str:
    """'a against b (difference d; verdict)': within noise unless |d| exceeds two standard
    errors sqrt(sd_a^2 / n_a + sd_b^2 / n_b); with one seed on either side, not conclusive."""
    d = a[col] - b[col]
    if a["n"] >= 2 and b["n"] >= 2:
        se = math.sqrt(a[sd] ** 2 / a["n"] + b[sd] ** 2 / b["n"])
        verdict = (
            "within seed-to-seed noise"
            if abs(d) <= 2 * se
            else ("higher" if d > 0 else "lower") + " by more than two standard errors"
        )
    else:
        verdict = "one seed, so not conclusive on its own"
    return f"{fmt(a[col])}{unit} against {fmt(b[col])}{unit} (difference {dfmt(d)}; {verdict})"


def rank_corr(x: pd.Series, y: pd.Series) -> str:
    """Pearson correlation of two rank vectors, or 'undefined' when either has no spread."""
    if x.nunique() < 2 or y.nunique() < 2 or y.isna().any():
        return "undefined (no spread)"
    return f"{float(np.corrcoef(x, y)[0, 1]):+.2f}"


def fastest_sentence(wm: pd.DataFrame, de: pd.Series | None, upto: int, last_epoch: int) -> str:
    """Which stored WM setting aligns F fastest (lowest mean angle over epochs 1..upto),
    which ends best aligned, and how the fastest compares with the default."""
    fast, best = wm.loc[wm["early"].idxmin()], wm.loc[wm["final_angle"].idxmin()]
    E = last_epoch
    if len(wm) == 1:
        return (
            f"Only one WM setting is stored so far, “{fast['Variant']}”: the angle of F to "
            f"(W₂W₁)ᵀ averages {fast['early']:.1f}° over epochs 1–{upto} and ends at "
            f"{fast['final_angle']:.1f}° after epoch {E}. "
            "Which setting aligns fastest is still open."
        )
    text = (
        f"Among the {len(wm)} WM settings stored, “{fast['Variant']}” aligns F fastest: the angle "
        f"of F to (W₂W₁)ᵀ averages {fast['early']:.1f}° over epochs 1–{upto}"
        + (f" (the default: {de['early']:.1f}°)" if de is not None else "")
    )
    if best["Variant"] == fast["Variant"]:
        text += f", and it also ends best aligned, at {best['final_angle']:.1f}° after epoch {E}."
    else:
        text += (
            f", and “{best['Variant']}” ends best aligned, at {best['final_angle']:.1f}° "
            f"after epoch {E}."
        )
    if de is None:
        return text + " The default run is not stored yet, so the fastest setting has no baseline."
    if fast["Variant"] == DEFAULT:
        return text + " The default is itself the fastest setting stored."
    acc = compare(
        fast, de, "acc", "acc_sd", "%", lambda x: f"{x:.2f}", lambda x: f"{x:+.2f} points"
    )
    slow = compare(fast, de, "slow", "slow_sd", " epochs", s3, lambda x: f"{x:+.2g}")
    return (
        text + f" The fastest setting's final test accuracy is {acc} for the default, and its "
        f"slowness {slow}."
    )


def payoff_sentence(wm: pd.DataFrame) -> str:
    """Rank correlations, across WM settings, of the early angle of F with final accuracy
    and with slowness (needs four settings with accuracies)."""
    if len(wm) < 4 or not wm["acc"].notna().all():
        return "Too few WM settings are stored yet to relate alignment to accuracy across settings."
    ra = wm[["early", "acc", "slow"]].rank()
    return (
        f"Across the {len(wm)} WM settings, the rank correlation of the early angle of F with "
        f"final accuracy is {rank_corr(ra['early'], ra['acc'])} and with slowness "
        f"{rank_corr(ra['early'], ra['slow'])}; faster alignment would pay off if the first "
        "were clearly negative and the second clearly positive."
    )


def summary_parts(t: pd.DataFrame, upto: int, last_epoch: int) -> tuple[str, str]:
    """The chapter's answer: (:func:`fastest_sentence`, :func:`payoff_sentence`)."""
    wm = t[(t["source"] == "wm_tuning") & t["early"].notna()]
    if wm.empty:
        return (
            "No `wm_tuning` run is stored yet, so which setting aligns F fastest is still "
            "open here."
        ), ""
    tt = t.set_index("Variant")
    de = tt.loc[DEFAULT] if DEFAULT in tt.index and tt.loc[DEFAULT, "n"] else None
    return fastest_sentence(wm, de, upto, last_epoch), payoff_sentence(wm)


def angles_text(tt: pd.DataFrame, variants: tuple[str, ...], upto: int, long: bool) -> str:
    """The early and final angle of F for those of ``variants`` that are stored."""
    shown = [v for v in variants if v in tt.index]
    if not shown:
        return "not run yet"
    if long:
        return "; ".join(
            f"“{v}”: {tt.loc[v, 'early']:.1f}° over epochs 1–{upto} and "
            f"{tt.loc[v, 'final_angle']:.1f}° at the end"
            for v in shown
        )
    return "; ".join(
        f"“{v}”: {tt.loc[v, 'early']:.1f}° and {tt.loc[v, 'final_angle']:.1f}°" for v in shown
    )


def references_text(tt: pd.DataFrame, last_epoch: int) -> str:
    """Accuracy, slowness and final angle of F of each stored reference."""
    refs = [v for v in REFERENCES if v in tt.index and tt.loc[v, "n"] > 0]
    if not refs:
        return "not stored yet"
    return "; ".join(
        f"{v}: {tt.loc[v, 'acc']:.2f}%, slowness {s3(tt.loc[v, 'slow'])} epochs, angle of F "
        f"{tt.loc[v, 'final_angle']:.1f}° after epoch {last_epoch} ({int(tt.loc[v, 'n'])} "
        f"run{'s' if tt.loc[v, 'n'] > 1 else ''})"
        for v in refs
    )


def paper_text(tt: pd.DataFrame) -> str:
    """Default WM against the factorised F that never mirrors, read against the paper's
    report that WM speeds up convergence."""
    stored = [v in tt.index and tt.loc[v, "n"] for v in (DEFAULT, "factorised F, no WM")]
    if not all(stored):
        return (
            "Default WM and the factorised F without mirroring are not both stored yet, so "
            "the two cannot be compared."
        )
    de, nw = tt.loc[DEFAULT], tt.loc["factorised F, no WM"]
    rel = (de["slow"] - nw["slow"]) / nw["slow"]
    cmp = "the same" if abs(rel) < 0.005 else "lower" if rel < 0 else "higher"
    return (
        f"Against the factorised F without mirroring, default WM ends with F at "
        f"{de['final_angle']:.1f}° instead of {nw['final_angle']:.1f}°, has {cmp} slowness "
        f"({s3(de['slow'])} against {s3(nw['slow'])} epochs) and {de['acc']:.2f}% against "
        f"{nw['acc']:.2f}% test accuracy. Taken at face value the slowness is "
        + ("in line with" if cmp == "lower" else "unlike")
        + " the paper's report that WM "
        "speeds up convergence, but a difference this small, from single runs on MNIST, is "
        "within what seeds alone change (see the note on slowness below)."
    )


def fixed_f_text(tt: pd.DataFrame) -> str:
    """How far PEPITA turns the network towards an F that never changes."""
    fixed = [v for v in REFERENCES[:2] if v in tt.index and tt.loc[v, "n"] > 0]
    if not fixed:
        return (
            "Whether PEPITA turns the network towards a fixed F on its own cannot be read "
            "yet: no reference run is stored."
        )
    lo, hi = (f(tt.loc[v, "final_angle"] for v in fixed) for f in (min, max))
    rng = f"{lo:.1f}°" if hi - lo < 0.05 else f"{lo:.1f}° to {hi:.1f}°"
    tail = ", far below 90°, so mirroring has to beat that alignment, not 90°." if hi < 80 else "."
    return (
        "PEPITA turns the network towards F even when F never changes: in the runs without "
        f"mirroring the angle of the fixed F ends at {rng}" + tail
    )


def slowness_note(t: pd.DataFrame) -> str:
    """Whether slowness can separate the settings at all."""
    if t.empty or not t["slow_max"].notna().any():
        return "No run is stored yet."
    smax = float(t["slow_max"].max())
    if smax < 0.5:
        return (
            f"Every stored run has a slowness of at most {s3(smax)} epochs: on MNIST at this "
            "learning rate the first epoch already brings the net close to its final accuracy, "
            "so the fitted curve saturates within a fraction of an epoch and slowness can "
            "hardly separate the settings; the accuracy after epoch 1 (table) is the more "
            "sensitive measure here."
        )
    return (
        f"Every stored run has a slowness of at most {s3(smax)} epochs: across settings it "
        f"ranges from {s3(float(t['slow'].min()))} to {s3(smax)} epochs."
    )


def tuning_glue(t: pd.DataFrame, upto: int, last_epoch: int) -> dict[str, str]:
    """Every sentence the chapter glues, by name."""
    tt = t.set_index("Variant")
    fastest, payoff = summary_parts(t, upto, last_epoch)
    return {
        "bm_refs": references_text(tt, last_epoch),
        "bm_paper": paper_text(tt),
        "bm_layer": angles_text(
            tt, ("layer rates (0.1, 0.001)", "layer rates (0.001, 0.1)"), upto, True
        ),
        "bm_epoch_sched": angles_text(
            tt, ("one full pass per epoch", "one full pass every 10 epochs"), upto, False
        ),
        "bm_summary": " ".join(p for p in (fastest, payoff) if p),
        "bm_fastest": fastest,
        "bm_payoff": payoff or "not measurable yet",
        "bm_plain": fixed_f_text(tt),
        "bm_slow_note": slowness_note(t),
    }
