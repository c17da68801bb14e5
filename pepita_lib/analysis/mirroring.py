"""Weight mirroring in stored runs (Srinivasan et al. 2024, Sec. 4; book chapter "Weight
mirroring"): epoch-0 rows, blow-ups of the training loss, the gain ||W_1 F||_2 along a run,
and the comparison of mirrored with fixed feedback in sentences the chapter glues.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..experiments import get_experiment, schedule
from ..report import summary
from ..store import find_record


def with_epoch0(
    runs: pd.DataFrame, hist: pd.DataFrame, keep: list[str] | None = None
) -> pd.DataFrame:
    """``hist`` with each run's state before its first update (its ``initial_*`` metrics,
    after any pre-mirroring) prepended as epoch 0. ``keep``: the run columns the new rows
    carry (default: every column that is not an initial or final metric)."""
    init = runs[["run_id"] + [c for c in runs if c.startswith("initial_")]].copy()
    init.columns = [c.replace("initial_", "") for c in init.columns]
    keep = keep or [c for c in runs if not c.startswith(("initial_", "final_"))]
    zero = runs[list(dict.fromkeys(["run_id", *keep]))].merge(init, on="run_id").assign(epoch=0)
    return pd.concat([zero, hist], ignore_index=True)


NOT_RUN = {"verdict": "not run yet", "gap": "n/a", "slow_gap": "n/a", "speed": "n/a"}
BLOWUP_FACTOR = 10.0  # a training loss this many times its epoch-1 value has blown up


def blowup_index(loss: np.ndarray) -> int | None:
    """Index of the first training loss above BLOWUP_FACTOR times the first one, or None.
    (A run can finish with finite numbers after its weights blew up.)"""
    loss = np.asarray(loss, dtype=float)
    if not len(loss) or not np.nanmax(loss) > BLOWUP_FACTOR * loss[0]:
        return None
    return int(np.argmax(loss > BLOWUP_FACTOR * loss[0]))


def blown_runs(hist: pd.DataFrame) -> set[str]:
    """Run ids whose training loss blew up (:func:`blowup_index`)."""
    by_run = hist.sort_values("epoch").groupby("run_id")["train_loss"]
    return {rid for rid, loss in by_run if blowup_index(loss.to_numpy()) is not None}


def epoch_span(epochs: list[int]) -> str:
    """'first-last' of a set of epochs, one epoch if they agree."""
    lo, hi = min(epochs), max(epochs)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def blowup_table(hist: pd.DataFrame) -> pd.DataFrame:
    """One row per blown-up run: its training loss after epoch 1, at its worst, and the
    epoch where it first passed BLOWUP_FACTOR times its start."""
    rows = []
    for _, h in hist.sort_values(["Dataset", "Variant", "seed", "epoch"]).groupby(
        "run_id", sort=False
    ):
        loss = h["train_loss"].to_numpy(dtype=float)
        k = blowup_index(loss)
        if k is not None:
            r = h.iloc[0]
            rows.append(
                {
                    "Dataset": r["Dataset"],
                    "Variant": r["Variant"],
                    "seed": int(r["seed"]),
                    "loss after epoch 1": f"{loss[0]:.2f}",
                    "worst loss": f"{np.nanmax(loss):.3g}",
                    "blown up from epoch": int(h["epoch"].iloc[k]),
                }
            )
    return pd.DataFrame(rows)


def blowup_summary(table: pd.DataFrame) -> str:
    """:func:`blowup_table` in one sentence: which cells, over how many seeds, when."""
    if table.empty:
        return "no stored run shows a blow-up of its training loss."
    cells = table.groupby(["Variant", "Dataset"], sort=False)["seed"].count()
    which = "; ".join(f"{v} on {d} ({n} seed{'s' if n > 1 else ''})" for (v, d), n in cells.items())
    worst = table["worst loss"].astype(float)
    return (
        f"{which}: the training loss first passes ten times its epoch-1 value at epoch "
        f"{epoch_span(list(table['blown up from epoch']))} and peaks at {worst.min():.2g} "
        f"to {worst.max():.2g} (per run in the collapsed table above)."
    )


def angle_at(
    runs: pd.DataFrame, hist: pd.DataFrame, variant: str, dataset: str, epoch: int
) -> float:
    """Mean angle of F over seeds after ``epoch`` (0: before training), NaN if none."""
    if runs.empty or hist.empty:
        return float("nan")
    if epoch == 0:
        sel = runs[(runs["Variant"] == variant) & (runs["dataset"] == dataset)]["initial_angle_F"]
    else:
        sel = hist[(hist["Variant"] == variant) & (hist["dataset"] == dataset)]
        sel = sel[sel["epoch"] == epoch]["angle_F"]
    return float(sel.dropna().mean()) if sel.notna().any() else float("nan")


def variant_table(runs: pd.DataFrame, hist: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Per dataset and variant: final accuracy (mean ± std), seeds, diverged, accuracy after
    epoch 1, slowness (left out for runs whose loss blew up) and the largest training loss."""
    tab = summary(runs, ["dataset", "Dataset", "Variant"])
    blown = blown_runs(hist)
    ok = runs[(runs["status"] == "finished") & ~runs["run_id"].isin(blown)]
    slow = ok.groupby(["dataset", "Variant"])["slowness"].mean()
    first = hist[hist["epoch"] == 1].groupby(["dataset", "Variant"])["test_accuracy"].mean()
    worst = hist.groupby(["dataset", "Variant"])["train_loss"].max()
    keys = list(zip(tab["dataset"], tab["Variant"]))
    tab["slowness (epochs)"] = [
        f"{slow[k]:.3f}" if k in slow.index else "n/a (loss blew up)" for k in keys
    ]
    tab["after epoch 1 (%)"] = [f"{100 * first.get(k, np.nan):.2f}" for k in keys]
    tab["largest training loss"] = [f"{worst.get(k, np.nan):.3g}" for k in keys]
    tab["Variant"] = pd.Categorical(tab["Variant"], order)
    tab = tab.sort_values(["dataset", "Variant"])
    return tab[
        [
            "Dataset",
            "Variant",
            "ours (%)",
            "seeds",
            "diverged",
            "after epoch 1 (%)",
            "slowness (epochs)",
            "largest training loss",
        ]
    ]


def accuracy_verdict(fixed: pd.Series, mirrored: pd.Series) -> str:
    """WM's final accuracy against a fixed F's (fractions, one per seed), with Welch's test
    (p < 0.05) where both have at least two seeds."""
    gap = 100 * (mirrored.mean() - fixed.mean())
    if len(fixed) < 2 or len(mirrored) < 2:
        return (
            f"WM changes the final accuracy by {gap:+.2f} points ({len(mirrored)} and "
            f"{len(fixed)} seeds: too few for a test)"
        )
    p = stats.ttest_ind(mirrored, fixed, equal_var=False).pvalue
    ptxt = f"Welch p = {p:.2g}, {len(fixed)} and {len(mirrored)} seeds"
    if p < 0.05:
        return f"WM is {'better' if gap > 0 else 'worse'} by {abs(gap):.2f} points ({ptxt})"
    return f"WM changes the final accuracy by {gap:+.2f} points ({ptxt}; not significant)"


def wm_against_fixed(
    runs: pd.DataFrame,
    hist: pd.DataFrame,
    dataset: str,
    fixed: str = "uniform F (original)",
    mirrored: str = "factorised F + WM",
) -> dict[str, str]:
    """Finished runs of ``mirrored`` against ``fixed`` on ``dataset``: the accuracy verdict,
    the accuracy gap, the slowness gap (blown-up runs left out) and the gap after epoch 1."""
    fin = runs[(runs["dataset"] == dataset) & (runs["status"] == "finished")] if len(runs) else runs
    a, b = (fin[fin["Variant"] == v] if len(fin) else fin for v in (fixed, mirrored))
    if not len(a) or not len(b):
        return dict(NOT_RUN)
    blown = blown_runs(hist)
    slow = (
        b[~b["run_id"].isin(blown)]["slowness"].mean()
        - a[~a["run_id"].isin(blown)]["slowness"].mean()
    )
    e1 = hist[hist["epoch"] == 1].set_index("run_id")["test_accuracy"]
    e1_gap = 100 * (e1.reindex(b["run_id"]).mean() - e1.reindex(a["run_id"]).mean())
    return dict(
        verdict=accuracy_verdict(a["final_test_accuracy"], b["final_test_accuracy"]),
        gap=f"{100 * (b['final_test_accuracy'].mean() - a['final_test_accuracy'].mean()):+.2f}",
        slow_gap="n/a (every WM run blew up)" if slow != slow else f"{slow:+.3f}",
        speed=f"after the first epoch WM is {e1_gap:+.2f} points from uniform F",
    )


def angle_claim(pairs: dict[str, tuple[float, float]]) -> str:
    """Whether WM ends with a smaller angle of F than a fixed F, from {dataset label:
    (fixed angle, WM angle)} after the last epoch."""
    if not pairs:
        return "cannot be checked until runs with and without WM are stored"
    if all(w < u for u, w in pairs.values()):
        return (
            "holds in every stored pair: after 100 epochs the angle between $F$ and "
            "$(W_2W_1)^T$ is "
            + ", ".join(
                f"{w:.1f}° with WM against {u:.1f}° without on {d}" for d, (u, w) in pairs.items()
            )
        )
    return "does not hold everywhere: " + ", ".join(
        f"{d} {w:.1f}° with WM against {u:.1f}° without" for d, (u, w) in pairs.items()
    )


def span(values: list[float]) -> str:
    """'lo-hi' over seeds (one decimal below 10, none above), one value if they agree."""
    fmt = [f"{v:.1f}" if v < 10 else f"{v:.0f}" for v in (min(values), max(values))]
    return fmt[0] if fmt[0] == fmt[1] else f"{fmt[0]}-{fmt[1]}"


def gain_runs_summary(h: pd.DataFrame) -> dict | None:
    """Gain g = ||W_1 F||_2 along one cell's runs (one per seed): mean g after epoch 1 and at
    the end, growth per seed, and per blown-up seed (first blown epoch, g there / g_1, the
    epoch of lowest loss before it, g there / g_1)."""
    if h.empty or "gain_W1F" not in h:
        return None
    by_seed = h.sort_values("epoch").groupby("seed")
    g1, gend = by_seed["gain_W1F"].first(), by_seed["gain_W1F"].last()
    blow = {}
    for seed, hs in by_seed:
        loss = hs["train_loss"].to_numpy(dtype=float)
        k = blowup_index(loss)
        if k is not None:
            low = int(np.nanargmin(loss[:k]))  # where the loss turned: the last good epoch
            gain = hs["gain_W1F"].to_numpy(dtype=float) / g1[seed]
            blow[seed] = (int(hs["epoch"].iloc[k]), gain[k], int(hs["epoch"].iloc[low]), gain[low])
    return {
        "g1": g1.mean(),
        "gend": gend.mean(),
        "growth": list(gend / g1),
        "n": len(g1),
        "last_epoch": int(h["epoch"].max()),
        "blow": blow,
        "end_loss": by_seed["train_loss"].last().mean(),
    }


def growth_text(s: dict | None) -> str:
    if s is None:
        return "not run yet"
    return (
        f"{s['g1']:.3f} after epoch 1 → {s['gend']:.3f} after epoch {s['last_epoch']} "
        f"(×{span(s['growth'])} over {s['n']} seed{'s' if s['n'] > 1 else ''})"
    )


def blowup_gain_text(s: dict | None) -> str:
    """When the loss turned and blew up, and the gain then, over seeds."""
    if s is None:
        return "not run yet"
    if not s["blow"]:
        return (
            f"no seed's training loss passes ten times its epoch-1 value; it ends at "
            f"{s['end_loss']:.3f} (mean over seeds)"
        )
    b = list(s["blow"].values())
    return (
        f"the training loss is lowest at epoch {epoch_span([x[2] for x in b])}, when the gain "
        f"already stands at {span([x[3] for x in b])} times its epoch-1 value, and first "
        f"passes ten times its epoch-1 value at epoch {epoch_span([x[0] for x in b])} ({len(b)} of "
        f"{s['n']} seeds), the gain then at {span([x[1] for x in b])} times its epoch-1 value"
    )


def loss_turn(hs: pd.DataFrame, until: int = 60) -> dict | None:
    """One run's training loss up to epoch ``until`` (before the first rate decay, which damps
    any climb): the epoch of its lowest value, how many times that it ends, and the gain's
    growth from epoch 1 to those two epochs where it was logged."""
    hs = hs.sort_values("epoch")
    hs = hs[hs["epoch"] <= until]
    loss = hs["train_loss"].to_numpy(dtype=float)
    if not np.isfinite(loss).any():
        return None
    low = int(np.nanargmin(loss))
    out = {
        "low": int(hs["epoch"].iloc[low]),
        "climb": loss[-1] / loss[low],
        "last": int(hs["epoch"].iloc[-1]),
    }
    if "gain_W1F" in hs and hs["gain_W1F"].notna().all():
        gain = hs["gain_W1F"].to_numpy(dtype=float)
        out.update(g_low=gain[low] / gain[0], g_end=gain[-1] / gain[0])
    return out


def turn_text(frame: pd.DataFrame) -> str:
    """:func:`loss_turn` over the seeds of one cell, as ranges."""
    if frame.empty:
        return "not run yet"
    turns = [t for _, hs in frame.groupby("seed") if (t := loss_turn(hs)) is not None]
    if not turns:
        return "no finite training loss"
    n, last = len(turns), turns[-1]["last"]
    text = (
        f"lowest at epoch {epoch_span([t['low'] for t in turns])}, "
        f"{span([t['climb'] for t in turns])} times that by epoch {last} "
        f"({n} seed{'s' if n > 1 else ''})"
    )
    logged = [t for t in turns if "g_low" in t]
    if logged:
        # runs stored before the gain was logged have none; say over how many seeds it spans
        text += (
            f"; the gain ×{span([t['g_low'] for t in logged])} from epoch 1 to the lowest "
            f"loss and ×{span([t['g_end'] for t in logged])} by epoch {last}"
        )
        if len(logged) < n:
            text += f" ({len(logged)} of the {n} runs logged it)"
    return text


def retrace_gaps(results_dir, profile: str) -> tuple[list[float], list[float]]:
    """|train loss| differences between each stored ``wm_gain`` run and the stored
    ``weight_mirroring`` run of the same config with the full epoch count: after epoch 1,
    and at every epoch the two share."""
    first, every = [], []
    for cfg in get_experiment("wm_gain").configs(profile):
        short = find_record(results_dir, "wm_gain", cfg)
        full = find_record(
            results_dir, "weight_mirroring", cfg.replace(epochs=schedule(profile)["epochs"])
        )
        if short and full:
            d = [
                abs(a["train_loss"] - b["train_loss"])
                for a, b in zip(short["history"], full["history"])
            ]
            first.append(d[0])
            every += d
    return first, every
