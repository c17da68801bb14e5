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

import numpy as np
import pandas as pd
import torch

from ..config import TrainConfig
from ..data import load_dataset, one_hot
from ..nets import Net
from ..optim import SGD
from ..rules.ff import hebbian_vs_goodness, resolve_activation
from ..rules.pepita import two_passes
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
