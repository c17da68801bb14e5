"""Which hidden activations keep PEPITA-Hebbian's goodness identity (chapter "Open question 2").

For a hidden layer with its input h_{l-1} held fixed and goodness G_l = ||sigma(a_l)||^2,

    (1/2) grad_{W_l} G_l = (sigma(a_l) * sigma'(a_l)) h_{l-1}^T,

which equals PEPITA-Hebbian's h_l h_{l-1}^T for every input iff sigma(a) sigma'(a) = sigma(a),
i.e. sigma' = 1 wherever sigma != 0 (ReLU, linear). The functions here measure the relative
gap ||Delta W^Hebb - (1/2) grad(G_clean - G_mod)|| / ||Delta W^Hebb|| from a seed's initial
state, along a short training trajectory, and set it against the stored accuracy runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..config import TrainConfig
from ..data import load_dataset, one_hot
from ..experiments import get_experiment
from ..experiments.ff import cpu_minutes_estimate
from ..nets import Net
from ..optim import SGD
from ..rules.ff import hebbian_vs_goodness, resolve_activation
from ..rules.pepita import two_passes
from ..store import find_record
from ..train import initial_state

Tensor = torch.Tensor

EXACT = 1e-9  # below this relative difference an identity holds up to float64 rounding
NAMES = {
    "relu": "ReLU",
    "leaky_relu": "leaky ReLU",
    "linear": "linear",
    "erf": "erf",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "gelu": "GELU",
}


def seed_state64(sizes: list[int], f_scale: float = 0.05, seed: int = 0) -> tuple[Net, Tensor]:
    """A seed's initial weights and F, drawn exactly as its stored runs draw them (see
    :func:`pepita_lib.train.initial_state`), cast to float64 for identity checks. The
    weights do not depend on the activation, so the net carries ReLU; no dropout."""
    cfg = TrainConfig(rule="pepita_hebbian", f_scale=f_scale, seed=seed, dropout=0.0)
    net, state = initial_state(cfg, sizes)
    weights = [w.double() for w in net.weights]
    return Net(weights=weights, act=net.act, dropout=0.0, norm="none"), state["F"].double()


def measure_batch(n: int = 256) -> tuple[Tensor, Tensor]:
    """The batch every identity is measured on: ``n`` seeded MNIST test images (the same
    in every chapter), float64, with one-hot targets."""
    data = load_dataset("mnist", test_subset=n, download=True)
    return data.x_test.double(), one_hot(data.y_test, data.num_classes).double()


def with_activation(net: Net, name: str) -> Net:
    """The same weights with another hidden activation (no dropout, no normalisation)."""
    return Net(weights=net.weights, act=resolve_activation(name), dropout=0.0, norm="none")


def identity_gaps(
    x: Tensor, t: Tensor, sizes: list[int], activations: list[str], f_scales: tuple[float, ...]
) -> pd.DataFrame:
    """One row per activation, one column ``F scale s`` per scale: the first hidden layer's
    relative gap from seed 0's initial state (float64)."""
    nets = {s: seed_state64(sizes, s) for s in f_scales}
    rows = []
    for name in activations:
        row = {"activation": NAMES.get(name, name)}
        for s, (net, F) in nets.items():
            gap = hebbian_vs_goodness(with_activation(net, name), F, x, t)["rel_diff"][0]
            row[f"F scale {s:g}"] = gap
        rows.append(row)
    return pd.DataFrame(rows)


def rounding_level(net: Net, F: Tensor, x: Tensor, t: Tensor) -> tuple[float, float]:
    """(ratio, level) for the first layer: ratio = ||h_1 h_0^T|| / ||h_1 h_0^T - h_1^err
    (h_0^err)^T|| (one Hebbian term over their difference), level = eps_64 * ratio, the
    relative error a float64 difference of two such terms carries."""
    hs, _, hs_err, _ = two_passes(net, F, x, t, [None] * (net.depth - 1))
    term = hs[1].mT @ hs[0]
    ratio = float(term.norm() / (term - hs_err[1].mT @ hs_err[0]).norm())
    return ratio, torch.finfo(torch.float64).eps * ratio


def fmt_gap(v: float) -> str:
    """A gap as text: a bare order of magnitude at rounding level, three digits otherwise."""
    return f"{v:.0e}" if v < EXACT else f"{v:.2e}"


def listing(names: list[str]) -> str:
    """'none', 'a', 'a and b', 'a, b and c'."""
    if not names:
        return "none"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def init_facts(gaps: pd.DataFrame, small: float, big: float) -> dict[str, str]:
    """Sentence pieces on the initial gaps: which units keep the identity (gap < EXACT at
    scale ``small``), the range of the others, and how scale ``big`` multiplies them."""
    by = gaps.set_index("activation")
    lo, hi = by[f"F scale {small:g}"], by[f"F scale {big:g}"]
    exact, broken = lo[lo < EXACT], lo[lo >= EXACT]
    ratios = hi[broken.index] / broken
    if len(ratios) and 0.5 < ratios.min() and ratios.max() < 2:
        verdict = (
            "the size of the modulation hardly matters. The gap is set by the units: the "
            "mismatch σσ′ − σ enters the clean and the modulated terms alike and does not "
            "cancel in their difference."
        )
    else:
        verdict = (
            "the size of the modulation matters as well as the units: a larger modulation "
            "moves more pre-activations into the region where σ′ is far from one."
        )
    none = "n/a"
    return {
        "exact": listing(list(exact.index)),
        "broken": listing(list(broken.index)),
        "exact_max": f"{exact.max():.0e}" if len(exact) else none,
        "broken_min": f"{broken.min():.2e}" if len(broken) else none,
        "broken_min_name": broken.idxmin() if len(broken) else none,
        "broken_max": f"{broken.max():.2e}" if len(broken) else none,
        "broken_max_name": broken.idxmax() if len(broken) else none,
        "scale_ratio_range": f"{ratios.min():.2f} to {ratios.max():.2f}" if len(ratios) else none,
        "scale_verdict": verdict,
    }


def gap_trajectory(
    name: str,
    x: Tensor,
    t: Tensor,
    data,
    sizes: list[int],
    steps: int,
    every: int,
    batch: int,
    lr: float,
    momentum: float = 0.9,
) -> tuple[list[dict], str, float | None]:
    """PEPITA-Hebbian from seed 0's initial state (float64, no dropout) on the first
    ``steps * batch`` training images of ``data``; the gap on (x, t) every ``every`` steps.
    Returns (rows of step and gap, status, test accuracy at the end or None if diverged)."""
    from ..rules import make_rule

    net0, F = seed_state64(sizes)
    net, state = with_activation(net0, name), {"F": F}
    rule = make_rule(TrainConfig(rule="pepita_hebbian", dropout=0.0))
    opt = SGD(net.weights, lr, momentum, 0.0)
    rows = []
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            gap = hebbian_vs_goodness(net, F, x, t)["rel_diff"][0]
            rows.append(
                {"activation": NAMES.get(name, name), "step": step, "relative difference": gap}
            )
        if step == steps:
            break
        sl = slice(step * batch, (step + 1) * batch)
        xb, tb = data.x_train[sl].double(), one_hot(data.y_train[sl], sizes[-1]).double()
        with torch.no_grad():
            loss = float(rule.step(net, state, opt, xb, tb, [None]))
        if not (math.isfinite(loss) and all(bool(torch.isfinite(w).all()) for w in net.weights)):
            return rows, f"diverged at step {step + 1}", None
    return rows, "finished", rule.accuracy(net, state, data.x_test.double(), data.y_test)


def trajectory_table(traj: pd.DataFrame, ends: pd.DataFrame) -> pd.DataFrame:
    """Per activation: the gap at step 0, its largest and last value, last / first (only
    where the first is above rounding), the run's status and final accuracy (%)."""
    by = traj.groupby("activation", sort=False)["relative difference"]
    first, last, top = by.first(), by.last(), by.max()
    end = ends.set_index("activation").reindex(first.index)
    return pd.DataFrame(
        {
            "at step 0": first.map(fmt_gap),
            "largest along the way": top.map(fmt_gap),
            "at the last measured step": last.map(fmt_gap),
            "last / first": [f"{last[k] / v:.2f}" if v >= EXACT else "—" for k, v in first.items()],
            "status": end["status"],
            "test accuracy after (%)": [
                "—" if v is None or v != v else f"{100 * v:.1f}" for v in end["accuracy"]
            ],
        }
    ).reset_index()


def trend(first: pd.Series, last: pd.Series, tol: float = 0.02) -> dict[str, list[str]]:
    """Names whose value grew (last > (1+tol) first), shrank, or stayed within the band."""
    grew = [n for n in first.index if last[n] > (1 + tol) * first[n]]
    shrank = [n for n in first.index if last[n] < (1 - tol) * first[n]]
    flat = [n for n in first.index if n not in grew and n not in shrank]
    return {"grew": grew, "shrank": shrank, "flat": flat}


# One-off probe made before the runs were registered (not re-run): mean training loss per
# epoch at eta = 0.1, MNIST, 1 x 1024, 10,000 training images, 3 epochs, seed 0.
SIGMOID_PROBE = {
    "images": 10000,
    "epochs": 3,
    "loss": {
        ("sigmoid", "pepita"): (5.886, 1.051, 1.032),
        ("sigmoid", "pepita_hebbian"): (7.949, 1.047, 0.881),
        ("linear", "pepita"): (0.642, 0.534, 0.448),
        ("linear", "pepita_hebbian"): (0.635, 0.497, 0.425),
        ("erf", "pepita"): (0.532, 0.379, 0.337),
        ("erf", "pepita_hebbian"): (0.532, 0.378, 0.336),
        ("tanh", "pepita"): (0.557, 0.407, 0.350),
        ("tanh", "pepita_hebbian"): (0.557, 0.401, 0.348),
    },
}


def probe_factors(probe: dict = SIGMOID_PROBE, epoch: int = 0) -> tuple[float, float]:
    """(min, max) over the sigmoid's runs of its loss at ``epoch`` divided by the largest
    loss of the other units at that epoch."""
    sig = [v[epoch] for (a, _), v in probe["loss"].items() if a == "sigmoid"]
    rest = max(v[epoch] for (a, _), v in probe["loss"].items() if a != "sigmoid")
    return min(sig) / rest, max(sig) / rest


def shared_rate(grp: pd.DataFrame) -> float:
    """The one rate for both rules of an activation: best mean validation accuracy."""
    return float(grp.groupby("lr")["final_val_accuracy"].mean().idxmax())


def lr_sentence(act: str, grp: pd.DataFrame, used: float) -> str:
    """What the validation search says for one activation's finished runs (both rules)."""
    shared = shared_rate(grp)
    mean = 100 * grp.groupby("lr")["final_val_accuracy"].mean()[shared]
    parts = []
    for rule, g in grp.groupby("Rule"):
        best = g.loc[g["final_val_accuracy"].idxmax()]
        at = g.loc[g["lr"] == shared, "final_val_accuracy"].iloc[0]
        parts.append(
            f"{rule} is best at η = {best['lr']:g} ({100 * best['final_val_accuracy']:.2f} %; "
            f"{100 * (best['final_val_accuracy'] - at):.2f} points above its accuracy at "
            f"η = {shared:g})"
        )
    tail = (
        f"({mean:.2f} %), which the training runs use."
        if shared == used
        else f"({mean:.2f} %), but the training runs use {used:g}: `ACTIVATION_LR` in "
        "`pepita_lib/experiments/ff.py` should be set from this search."
    )
    return (
        f"With {NAMES.get(act, act)} units "
        + "; ".join(parts)
        + f". One rate serves both rules: η = {shared:g}, the best mean of the two "
        + tail
    )


def seed_cell(values: pd.Series, n_diverged: int) -> str:
    """'m ± s' over seeds, the single value, 'diverged (k)' or 'not run yet'."""
    if len(values) > 1:
        return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"
    if len(values) == 1:
        return f"{values.iloc[0]:.2f}"
    return f"diverged ({n_diverged})" if n_diverged else "not run yet"


def accuracy_cell(acc: pd.Series, n_diverged: int) -> str:
    """:func:`seed_cell` with the number of seeds: 'm ± s (n=k)', 'm (n=1)'."""
    return seed_cell(acc, n_diverged) + (f" (n={len(acc)})" if len(acc) else "")


RULE_COLUMNS = {"pepita": "PEPITA", "pepita_hebbian": "PEPITA-Hebbian"}


def accuracy_by_activation(
    runs: pd.DataFrame, gap0: dict[str, float], lrs: dict[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table, pairs): final test accuracy (%) of both rules per activation next to the
    initial identity gap; ``pairs`` holds the activations with both rules finished, with
    the Hebbian − PEPITA accuracy gap and the mean seed std of the two rules."""
    rows, pairs = [], []
    for name, lr in lrs.items():
        label = NAMES.get(name, name)
        row, means = {"activation": label, "η": f"{lr:g}"}, {}
        for rule, col in RULE_COLUMNS.items():
            sub = runs[(runs["activation"] == name) & (runs["rule"] == rule)] if len(runs) else runs
            acc = (
                100 * sub.loc[sub["status"] == "finished", "final_test_accuracy"]
                if len(sub)
                else pd.Series(dtype=float)
            )
            row[f"{col} (%)"] = accuracy_cell(
                acc, int((sub["status"] == "diverged").sum()) if len(sub) else 0
            )
            if len(acc):
                means[rule] = (acc.mean(), acc.std(ddof=1) if len(acc) > 1 else float("nan"))
        diff = means["pepita_hebbian"][0] - means["pepita"][0] if len(means) == 2 else None
        row["Hebbian − PEPITA (points)"] = "—" if diff is None else f"{diff:+.2f}"
        row["identity gap at init"] = fmt_gap(gap0[label])
        rows.append(row)
        if diff is not None:
            stds = [s for _, s in means.values() if np.isfinite(s)]
            pairs.append(
                {
                    "activation": label,
                    "accuracy gap": diff,
                    "identity gap": gap0[label],
                    "seed std": float(np.mean(stds)) if stds else float("nan"),
                }
            )
    return pd.DataFrame(rows), pd.DataFrame(pairs)


def accuracy_verdict(pairs: pd.DataFrame, n_trained: int) -> str:
    """Does |Hebbian − PEPITA| follow the identity gap? Spearman rank correlation over the
    activations in ``pairs`` (exact units tied at zero), with the mean |gap| on each side."""
    if len(pairs) < 3:
        return (
            f"Only {len(pairs)} of the {n_trained} trainable activations "
            f"{'has' if len(pairs) == 1 else 'have'} both rules stored, too few to say whether "
            "the accuracy gap follows the identity gap; the commands above train the rest."
        )
    ident = pairs["identity gap"].where(pairs["identity gap"] >= EXACT, 0.0)
    rho = float(np.corrcoef(ident.rank(), pairs["accuracy gap"].abs().rank())[0, 1])
    how = (
        "follows the identity gap: the further a unit is from the identity, the larger the gap"
        if rho >= 0.7
        else "runs against the identity gap: units further from the identity show smaller gaps"
        if rho <= -0.7
        else "shows no clear relation to the identity gap"
    )
    out = (
        f"Across the {len(pairs)} activations with both rules stored, the size of the "
        f"Hebbian − PEPITA accuracy gap {how} (rank correlation {rho:+.2f})."
    )
    ex = pairs.loc[pairs["identity gap"] < EXACT, "accuracy gap"].abs()
    br = pairs.loc[pairs["identity gap"] >= EXACT, "accuracy gap"].abs()
    if len(ex) and len(br):
        noise = pairs["seed std"].mean()
        out += (
            f" Mean absolute gap: {ex.mean():.2f} points where the identity holds, "
            f"{br.mean():.2f} where it breaks"
            + (
                f"; seeds scatter by {noise:.2f} points (mean std)."
                if np.isfinite(noise)
                else "; one seed per cell, so seed-to-seed scatter is unknown."
            )
        )
    return out


# --- what the chapter "Open question 2" shows, section by section ---------------------------
# Each returns the tables to display, as (table or Markdown line, caption), and glue texts.

SIZES = [784, 1024, 10]  # the runs' net: one hidden layer of 1024
GAP_SCALES = (0.05, 3.0)  # PEPITA's F scale, and one where ||F e|| is comparable to ||x||
N_MEASURE = 256  # test images on which every gap is measured
TRAJECTORY = {"batch": 64, "lr": 0.1, "momentum": 0.9}  # the short PEPITA-Hebbian trajectory


def trajectory_steps(profile: str) -> tuple[int, int]:
    """(steps, measure every): a fraction of an epoch, cheaper still on the smoke profile."""
    return (20, 10) if profile == "smoke" else (300, 25)


def leaky_slope() -> str:
    """Leaky ReLU's slope below zero, -sigma(-1)."""
    return f"{-float(resolve_activation('leaky_relu').f(torch.tensor(-1.0))):g}"


def mismatch_curves(a: Tensor) -> pd.DataFrame:
    """sigma(a) sigma'(a) - sigma(a) per unit of the identity check: zero wherever the goodness
    gradient equals the Hebbian term."""
    from ..experiments.ff import IDENTITY_ACTIVATIONS

    frames = []
    for name in IDENTITY_ACTIVATIONS:
        act = resolve_activation(name)
        mismatch = (act.f(a) * act.df(a) - act.f(a)).numpy()
        frames.append(
            pd.DataFrame(
                {"pre-activation a": a.numpy(), "activation": NAMES[name], "mismatch": mismatch}
            )
        )
    return pd.concat(frames)


def gap_section(gaps: pd.DataFrame, x: Tensor, t: Tensor) -> tuple[list, dict[str, str]]:
    """The initial gaps as shown (an "identity" verdict column) and their glue texts, with
    the float64 rounding level of the cancellation for comparison."""
    cols = [f"F scale {s:g}" for s in GAP_SCALES]
    shown = gaps.assign(
        **{c: gaps[c].map(fmt_gap) for c in cols},
        identity=["exact (rounding)" if v < EXACT else "broken" for v in gaps[cols[0]]],
    )
    ratio, rounding = rounding_level(*seed_state64(SIZES, GAP_SCALES[0]), x, t)
    facts = {
        **init_facts(gaps, *GAP_SCALES),
        "n_measure": f"{N_MEASURE}",
        "width": f"{SIZES[1]}",
        "rounding": f"{rounding:.0e}",
        "ratio": f"{ratio:.0f}",
        "threshold": f"{EXACT:.0e}",
        "small_scale": f"{GAP_SCALES[0]:g}",
        "big_scale": f"{GAP_SCALES[1]:g}",
    }
    caption = (
        "Relative difference ‖Hebbian − ½∇(G_clean − G_mod)‖ / ‖Hebbian‖ at initialisation, "
        f"{N_MEASURE} MNIST test images"
    )
    return [(shown, caption)], {f"oqa_{k}": v for k, v in facts.items()}


def trajectories(x: Tensor, t: Tensor, data, steps: int, every: int) -> tuple[pd.DataFrame, ...]:
    """``gap_trajectory`` of every activation of the identity check: the finite gaps by step,
    and each trajectory's status and final accuracy."""
    from ..experiments.ff import IDENTITY_ACTIVATIONS

    traj, ends = [], []
    for name in IDENTITY_ACTIVATIONS:
        rows, status, acc = gap_trajectory(name, x, t, data, SIZES, steps, every, **TRAJECTORY)
        traj += rows
        ends.append({"activation": NAMES[name], "status": status, "accuracy": acc})
    traj = pd.DataFrame(traj)
    return traj[np.isfinite(traj["relative difference"])], pd.DataFrame(ends)


def trajectory_facts(traj: pd.DataFrame, ends: pd.DataFrame) -> dict[str, str]:
    """Does an exact unit stay at rounding level along the way (it must: the identity is
    algebraic), and how did the broken units' gaps move from first to last step."""
    by = traj.groupby("activation", sort=False)["relative difference"]
    first, last, top = by.first(), by.last(), by.max()
    exact, broken = first[first < EXACT].index, first[first >= EXACT].index
    change = last[broken] / first[broken]
    held = len(exact) and top[exact].max() < EXACT
    return {
        "traj_exact_max": f"{top[exact].max():.0e}" if len(exact) else "n/a",
        "traj_exact_verdict": "stays at rounding level throughout, as it must: the identity is "
        "algebraic, so no weights can break it"
        if held
        else "leaves the rounding level, which the algebra says it cannot: a bug to chase",
        "traj_tol": "2",
        "traj_change_range": f"{change.min():.2f} to {change.max():.2f}" if len(change) else "n/a",
        **{
            f"traj_{k}_names": ", ".join(v) or "none"
            for k, v in trend(first[broken], last[broken]).items()
        },
        "traj_diverged": ", ".join(ends.loc[ends["status"] != "finished", "activation"]) or "none",
    }


def trajectory_section(
    traj: pd.DataFrame, ends: pd.DataFrame, steps: int, every: int, n_test: int
) -> tuple[list, dict[str, str]]:
    """The trajectory table and its glue texts (the trajectory's setting included)."""
    setting = {
        "steps": f"{steps}",
        "batch": f"{TRAJECTORY['batch']}",
        "epochs": f"{steps * TRAJECTORY['batch'] / 60000:.2f}",
        "lr": f"{TRAJECTORY['lr']:g}",
        "momentum": f"{TRAJECTORY['momentum']:g}",
        "every": f"{every}",
    }
    facts = {f"oqa_{k}": v for k, v in {**setting, **trajectory_facts(traj, ends)}.items()}
    caption = f"Relative difference along {steps} steps ({n_test} test images for the accuracy)"
    return [(trajectory_table(traj, ends), caption)], facts


def lr_section(lr_runs: pd.DataFrame, profile: str) -> tuple[list, dict[str, str]]:
    """The rate search by activation, rule and rate, the setting of the runs, and what the
    search says for each activation."""
    from ..experiments import get_experiment
    from ..experiments.ff import TRAINED_ACTIVATIONS, activation_lr

    main = get_experiment("activations").configs(profile)
    search = get_experiment("activations_lr_search").configs(profile)
    start, end = probe_factors(epoch=0), probe_factors(epoch=-1)
    facts = {
        "trained": listing([NAMES[n] for n in TRAINED_ACTIVATIONS]),
        "shared_lr": f"{activation_lr('relu'):g}",
        "n_seeds": f"{len({c.seed for c in main})}",
        "epochs_main": f"{main[0].epochs}",
        "search_val": f"{search[0].val_size:,}",
        "search_epochs": f"{search[0].epochs}",
        "search_grid": ", ".join(f"{v:g}" for v in sorted({c.lr for c in search}, reverse=True)),
        "probe_epochs": f"{SIGMOID_PROBE['epochs']}",
        "probe_images": f"{SIGMOID_PROBE['images']:,}",
        "probe_factor": f"{start[0]:.0f} to {start[1]:.0f}",
        "probe_factor_end": f"{end[0]:.1f} to {end[1]:.1f}",
        "lr_verdict": "The search has not run yet, so the sigmoid's rate is provisional.",
    }
    facts = {f"oqa_{k}": v for k, v in facts.items()}
    if lr_runs.empty:
        return [], facts
    cell = lr_runs.assign(
        cell=[
            f"{100 * v:.2f}" if s == "finished" else s
            for v, s in zip(lr_runs["final_val_accuracy"], lr_runs["status"])
        ]
    )
    tab = cell.pivot_table(
        index=["activation", "Rule"], columns="lr", values="cell", aggfunc="first"
    )
    tab = tab[sorted(tab.columns, reverse=True)]
    tab.columns = [f"η={c:g}" for c in tab.columns]
    fin = lr_runs[lr_runs["status"] == "finished"]
    sentences = [
        lr_sentence(act, grp, activation_lr(act)) for act, grp in fin.groupby("activation")
    ]
    if sentences:
        facts["oqa_lr_verdict"] = " ".join(sentences)
    caption = (
        f"Validation accuracy (%) after {int(lr_runs['epochs'].iloc[0])} epochs, by learning rate η"
    )
    return [(tab.fillna("not run").reset_index(), caption)], facts


def accuracy_section(
    runs: pd.DataFrame, gaps: pd.DataFrame, profile: str, results_dir: str
) -> tuple[list, dict[str, str], pd.DataFrame]:
    """Final accuracy of both rules by activation beside the initial gap, the verdict, what is
    not stored yet, and the finished runs (labelled for the figure)."""
    from ..experiments.ff import TRAINED_ACTIVATIONS, activation_lr

    gap0 = gaps.set_index("activation")[f"F scale {GAP_SCALES[0]:g}"].to_dict()
    table, pairs = accuracy_by_activation(
        runs, gap0, {n: activation_lr(n) for n in TRAINED_ACTIVATIONS}
    )
    n_left, hours = map(
        sum,
        zip(
            *[
                missing_runs(e, profile, results_dir)
                for e in ("activations", "activations_lr_search")
            ]
        ),
    )
    facts = {
        "oqa_verdict": accuracy_verdict(pairs, len(TRAINED_ACTIVATIONS)),
        "oqa_left": f"{n_left} runs are not stored yet (about {hours:.1f} CPU hours on one "
        "thread, estimate)"
        if n_left
        else "Every run this chapter uses is stored",
    }
    fin = runs[runs["status"] == "finished"].copy() if not runs.empty else runs
    if len(fin):
        fin["hidden activation"] = fin["activation"].map(NAMES)
        fin["test accuracy (%)"] = 100 * fin["final_test_accuracy"]
    caption = (
        "Final test accuracy on MNIST (mean ± std over seeds) and the identity gap at "
        "initialisation (F scale 0.05)"
    )
    return [(table, caption)], facts, fin


def missing_runs(experiment: str, profile: str, results_dir: str | Path) -> tuple[int, float]:
    """(number of the experiment's runs not stored, single-thread CPU hours to make them)."""
    todo = [
        c
        for c in get_experiment(experiment).configs(profile)
        if find_record(results_dir, experiment, c) is None
    ]
    return len(todo), sum(cpu_minutes_estimate(c) or 0.0 for c in todo) / 60
