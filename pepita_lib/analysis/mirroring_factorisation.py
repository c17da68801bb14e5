"""Is the factorised feedback F = B_1 ... B_L stable? (Srinivasan et al. 2024, Sec. 4;
book chapter "Is the factorisation of F stable?").

Three measurements on fixed random networks of MNIST sizes:

- the scale of F: i.i.d. N(0, s^2) factors give Var(F_ij) = s^(2L) d_1 ... d_{L-1} only in
  expectation; the exact rule rescales each factor by c^(1/L), c = sigma_F / std(F), while
  a per-factor sqrt(c) multiplies the product by c^(L/2) and maps r = std(F) / sigma_F to
  r^(1 - L/2);
- mirroring nested networks with the library's ``mirror_step``, one noise draw per layer
  shared by every depth that has the layer;
- the product-of-cosines law cos angle(F, (W_L ... W_1)^T) ~ prod_l cos theta_l, on
  mirrored and on constructed factors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..config import TrainConfig
from ..feedback import factor_std, factorised_F, product, renormalise
from ..nets import Net, make_net
from ..rules.base import angle_deg
from ..rules.pepita_wm import layer_drive, mirror_step

Tensor = torch.Tensor
EXACT_TOL = 1e-6  # float32 rounding is about 1e-7 relative


def sigma_f(f_scale: float, d_in: int = 784) -> float:
    """sigma_F = f_scale sqrt(2 / d_0), the std of the original uniform F."""
    return f_scale * math.sqrt(2.0 / d_in)


def mlp_sizes(depth: int, d_in: int = 784, width: int = 1024, d_out: int = 10) -> list[int]:
    """Layer sizes [d_0, d_1, ..., d_L] of a net with ``depth`` hidden layers of ``width``."""
    if depth < 0:
        raise ValueError(f"depth must be at least 0, got {depth}")
    return [d_in] + [width] * depth + [d_out]


def std_ratio(factors: list[Tensor], target: float) -> float:
    """r = std(B_1 ... B_L) / target, the product taken in float64 so that a check of the
    float32 rule does not share its rounding."""
    return float(product([b.double() for b in factors]).std()) / target


def sqrt_correction(factors: list[Tensor], target: float) -> None:
    """The naive rescaling, in place: every factor times sqrt(c), c = target / std(F).
    It multiplies F by c^(L/2), so r -> r^(1 - L/2): exact only for L = 2."""
    c = 1.0 / std_ratio(factors, target)
    for b in factors:
        b.mul_(math.sqrt(c))


def prod_cos_law(angles_deg: list[float] | np.ndarray) -> float:
    """The angle of F predicted from its factors' angles theta_l: arccos(prod_l cos theta_l)."""
    return math.degrees(math.acos(float(np.prod(np.cos(np.radians(angles_deg))))))


def angle_needed(target_deg: float, n_factors: int) -> float:
    """The common per-factor angle theta with arccos(cos^L theta) = target (L = n_factors)."""
    return math.degrees(math.acos(math.cos(math.radians(target_deg)) ** (1 / n_factors)))


def column_norm_ratio(F: Tensor) -> float:
    """max / min of the column norms of F (one column per class)."""
    norms = F.double().norm(dim=0)
    return float(norms.max() / norms.min())


def excess_kurtosis(F: Tensor) -> float:
    """E[z^4] - 3 of the standardised entries z of F (0 for a Gaussian, -1.2 for a uniform)."""
    z = F.double()
    z = (z - z.mean()) / z.std()
    return float((z**4).mean() - 3)


def scale_draw(depth: int, seed: int, f_scale: float) -> dict[str, float]:
    """One draw of the factors of a net with ``depth`` hidden layers, and what happens to
    the scale of their product: as drawn (raw r - 1), after ``renormalise`` (the largest
    |r - 1| of the factors and of the returned F), the shape of F, and factors drawn with
    the std that is right for L = 2 at every depth (r), then given a sqrt(c) correction."""
    sizes = mlp_sizes(depth)
    target = sigma_f(f_scale, sizes[0])
    g = torch.Generator().manual_seed(seed)
    factors = factorised_F(sizes, f_scale, g)
    raw = std_ratio(factors, target) - 1
    F = renormalise(factors, target)
    exact = max(abs(std_ratio(factors, target) - 1), abs(float(F.double().std()) / target - 1))
    s_two = factor_std(mlp_sizes(1, sizes[0], sizes[1], sizes[-1]), target)
    fixed = [torch.randn(a, b, generator=g) * s_two for a, b in zip(sizes, sizes[1:])]
    r_fixed = std_ratio(fixed, target)
    sqrt_correction(fixed, target)
    return {
        "L": depth + 1,
        "hidden layers": depth,
        "seed": seed,
        "raw": raw,
        "exact": exact,
        "kurtosis": excess_kurtosis(F),
        "colratio": column_norm_ratio(F),
        "fixed": r_fixed,
        "naive": std_ratio(fixed, target) - 1,
    }


def scale_draws(depths: list[int], seeds: range | list[int], f_scale: float) -> pd.DataFrame:
    """:func:`scale_draw` for every depth and seed, one row each."""
    return pd.DataFrame([scale_draw(d, s, f_scale) for d in depths for s in seeds])


def sqrt_iterates(depth: int, f_scale: float, rounds: int = 6, kick: float = 1.1) -> list[float]:
    """r - 1 before and after each of ``rounds`` sqrt(c) corrections, starting from exactly
    renormalised factors (seed 0) whose first factor is then multiplied by ``kick``."""
    sizes = mlp_sizes(depth)
    target = sigma_f(f_scale, sizes[0])
    factors = factorised_F(sizes, f_scale, torch.Generator().manual_seed(0))
    renormalise(factors, target)
    factors[0].mul_(kick)
    errors = [std_ratio(factors, target) - 1]
    for _ in range(rounds):
        sqrt_correction(factors, target)
        errors.append(std_ratio(factors, target) - 1)
    return errors


def iteration_verdict(errors: list[float], tol: float = EXACT_TOL) -> str:
    """What repeated corrections did to a relative error: corrected at once, shrinks (to
    below half), grows (above twice) or persists."""
    start, first, last = (abs(errors[i]) for i in (0, 1, -1))
    if first < tol:
        return "corrected at once"
    if last < 0.5 * start:
        return "the error shrinks"
    return "the error grows" if last > 2 * start else "the error persists"


def nested_weights(
    seed: int, depths: list[int], width: int = 1024
) -> tuple[dict[int, list[Tensor]], Net, torch.Generator]:
    """Weights of nets with d hidden layers for every d in ``depths`` that share their
    hidden layers: the first d hidden layers of one net of the largest depth (returned, for
    its activation), each with an output layer of its own; and the generator, for more draws."""
    g = torch.Generator().manual_seed(seed)
    deepest = max(depths)
    deep = make_net(mlp_sizes(deepest, width=width), gen=g)
    hidden = deep.weights[:deepest]
    nets = {d: hidden[:d] + make_net(mlp_sizes(0, width), gen=g).weights for d in depths}
    return nets, deep, g


def shared_mirror_round(
    nets: dict[int, list[Tensor]],
    factors: dict[int, list[Tensor]],
    hidden_drive,
    cfg: TrainConfig,
    gen: torch.Generator,
) -> None:
    """One ``mirror_step`` for every factor of every depth, then exact renormalisation.
    A hidden layer's noise is drawn once and replayed for every depth that has the layer
    (its step depends only on the layer and the noise); the output layers are linear."""
    step = (cfg.wm_noise, cfg.wm_lr, cfg.wm_decay, cfg.batch_size, gen)
    for layer in range(max(nets)):
        state = gen.get_state()
        for d in (d for d in nets if layer < d):
            gen.set_state(state)
            mirror_step(nets[d][layer], factors[d][layer], hidden_drive, *step)
    for d, weights in nets.items():
        mirror_step(weights[-1], factors[d][-1], lambda a: a, *step)
        renormalise(factors[d], sigma_f(cfg.f_scale, weights[0].shape[1]))


def alignment_rows(
    seed: int, step: int, weights: list[Tensor], factors: list[Tensor], scale0: float
) -> list[dict]:
    """Long rows (one per factor and one for F, layer 0) of the angles of B_l to W_l^T and
    of F to (W_L ... W_1)^T, with the law's prediction and the first factor's std / scale0."""
    per = [angle_deg(W.T, B) for W, B in zip(weights, factors)]
    base = {
        "seed": seed,
        "hidden layers": len(weights) - 1,
        "step": step,
        "angle_F": angle_deg(product([W.T for W in weights]), product(factors)),
        "predicted": prod_cos_law(per),
        "factor scale": float(factors[0].std()) / scale0,
    }
    rows = [
        {**base, "curve": f"$W_{l}^T$ vs $B_{l}$", "layer": l, "angle": v}
        for l, v in enumerate(per, start=1)
    ]
    return rows + [{**base, "curve": "$(W_L⋯W_1)^T$ vs $F$", "layer": 0, "angle": base["angle_F"]}]


def mirror_fixed_nets(
    seed: int, depths: list[int], steps: int, every: int, cfg: TrainConfig | None = None
) -> pd.DataFrame:
    """Mirror the factorised F of fixed random nested nets (:func:`nested_weights`) for
    ``steps`` rounds with the mirror settings of ``cfg`` (the library's defaults), logging
    :func:`alignment_rows` every ``every`` rounds and at the end. Noise seed: 1000 + seed."""
    if steps < 0 or every < 1:
        raise ValueError(f"need steps >= 0 and every >= 1, got {steps} and {every}")
    cfg = cfg or TrainConfig()
    nets, deep, g = nested_weights(seed, depths)
    target = sigma_f(cfg.f_scale, nets[depths[0]][0].shape[1])
    factors = {d: factorised_F(mlp_sizes(d), cfg.f_scale, g) for d in depths}
    for d in depths:
        renormalise(factors[d], target)
    scale0 = {d: float(factors[d][0].std()) for d in depths}
    noise = torch.Generator().manual_seed(1000 + seed)
    drive = layer_drive(deep, 0, "linear", noise)
    rows: list[dict] = []
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            for d in depths:
                rows += alignment_rows(seed, step, nets[d], factors[d], scale0[d])
        if step < steps:
            shared_mirror_round(nets, factors, drive, cfg, noise)
    return pd.DataFrame(rows)


def constructed_angles(seed: int, depths: list[int], thetas: list[float]) -> pd.DataFrame:
    """Factors set to make exactly the angle theta with their layers of the nested nets of
    ``seed``: B_l = cos(theta) W_l^T / ||W_l|| + sin(theta) N_l, N_l a unit Gaussian direction
    orthogonal to W_l^T; the measured angle of F and the law's arccos(cos^L theta)."""
    nets, _, g = nested_weights(seed, depths)
    units: dict[tuple[int, int], tuple[Tensor, Tensor]] = {}
    rows = []
    for d in depths:
        keys = [(l, d if l == d else 0) for l in range(d + 1)]  # hidden layers are shared
        for l, key in enumerate(keys):
            if key not in units:
                w = nets[d][l].T / nets[d][l].norm()
                n = torch.randn(w.shape, generator=g)
                n -= (n * w).sum() * w
                units[key] = (w, n / n.norm())
        WT = product([W.T for W in nets[d]])
        for th in thetas:
            c, s = math.cos(math.radians(th)), math.sin(math.radians(th))
            F = product([c * units[k][0] + s * units[k][1] for k in keys])
            rows.append(
                {
                    "seed": seed,
                    "hidden layers": d,
                    "theta": th,
                    "angle_F": angle_deg(WT, F),
                    "law": prod_cos_law([th] * (d + 1)),
                }
            )
    return pd.DataFrame(rows)


def sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits."""
    return f"{x:.{digits}g}"


def rel_err(x: float, tol: float = EXACT_TOL) -> str:
    """A relative error to 3 significant digits; float rounding (below ``tol``) shows as ≈ 0."""
    return f"{x:+.3g}" if abs(x) >= tol else "≈ 0"


def readable(v: float) -> str:
    """3 significant digits, as x.xx × 10^k in plain text once |v| >= 1000."""
    if abs(v) < 1000:
        return sig(v)
    k = int(math.floor(math.log10(abs(v))))
    sup = str(k).translate(str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"))
    return f"{v / 10**k:.2f} × 10{sup}"


def below_or(value: float, tol: float = EXACT_TOL, fmt=sig) -> str:
    """'below tol' for float-rounding-sized values, else the value."""
    return f"below {tol:.0e}" if abs(value) < tol else fmt(value)


def scale_table(draws: pd.DataFrame, f_scale: float) -> pd.DataFrame:
    """Per depth, over seeds (:func:`scale_draws`): the factor std, std(F)/sigma_F - 1 as
    drawn (mean ± std, %), after renormalise (largest), fixed-std factors before and after
    sqrt(c), excess kurtosis and column-norm ratio (means)."""
    g = draws.groupby("L")
    stds = [factor_std(mlp_sizes(L - 1), sigma_f(f_scale)) for L in g.groups]
    return pd.DataFrame(
        {
            "weight layers L": g["L"].first(),
            "factor std s": [sig(s) for s in stds],
            "as drawn: std(F)/σ_F − 1 (%)": [
                f"{100 * m:+.2f} ± {100 * s:.2f}" for m, s in zip(g["raw"].mean(), g["raw"].std())
            ],
            "after renormalise: max |std(F)/σ_F − 1|": [below_or(v) for v in g["exact"].max()],
            "one factor std for all L: std(F)/σ_F": [sig(v) for v in g["fixed"].mean()],
            "then √c per factor: std(F)/σ_F − 1": [rel_err(v) for v in g["naive"].mean()],
            "excess kurtosis of F": [f"{v:+.2f}" for v in g["kurtosis"].mean()],
            "column norms max/min": [f"{v:.2f}" for v in g["colratio"].mean()],
        }
    )


def iterates_table(iterates: dict[int, list[float]]) -> pd.DataFrame:
    """r - 1 at the start and after each sqrt(c) correction, one row per L (depth + 1)."""
    return pd.DataFrame(
        [
            {
                "weight layers L": d + 1,
                "start": rel_err(errs[0]),
                **{f"after {k}": rel_err(e) for k, e in enumerate(errs[1:], start=1)},
            }
            for d, errs in iterates.items()
        ]
    )


def scale_glue(
    draws: pd.DataFrame, iterates: dict[int, list[float]], f_scale: float, width: int = 1024
) -> dict[str, str]:
    """The numbers the chapter's part a quotes, as text."""
    g = draws.groupby("L")
    exact, naive, fixed = float(draws["exact"].max()), g["naive"].mean(), g["fixed"].mean()
    s_lo, s_hi = (factor_std(mlp_sizes(d), sigma_f(f_scale)) for d in (1, max(iterates)))
    cr = g["colratio"].mean()
    verdicts = [f"L = {d + 1}: {iteration_verdict(e)}" for d, e in iterates.items()]
    return {
        "cf_exact": f"below {EXACT_TOL:.0e}" if exact < EXACT_TOL else f"up to {sig(exact)}",
        "cf_raw_max": f"{100 * draws['raw'].abs().max():.2f}",
        "cf_s_range": f"{sig(s_lo)} for L = 2 to {sig(s_hi)} for L = {max(iterates) + 1}",
        "cf_fixed_step": sig(s_lo * math.sqrt(width)),
        "cf_fixed_deep": sig(float(fixed.iloc[-1])),
        "cf_naive_deep": readable(float(naive.iloc[-1])),
        "cf_naive_two": below_or(float(naive.iloc[0]), fmt=lambda v: f"{abs(v):.0e}"),
        "cf_naive_iter": "; ".join(verdicts),
        "cf_kurt": f"{draws['kurtosis'].abs().max():.2f}",
        "cf_colratio": f"{cr.iloc[0]:.2f} at L = 2 to {cr.iloc[-1]:.2f} at L = {cr.index[-1]}",
        "cf_fail_scale": "does not fail" if exact < EXACT_TOL else "is not exact",
    }


def final_angles(mirrored: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The last logged step of :func:`mirror_fixed_nets` rows: (factor rows, F rows)."""
    last = mirrored[mirrored["step"] == mirrored["step"].max()]
    return last[last["layer"] > 0], last[last["layer"] == 0]


def mirror_table(mirrored: pd.DataFrame) -> pd.DataFrame:
    """Per depth after the last step: the factors' angles (means over seeds), the angle of F
    (± std over seeds), the law's prediction and the first factor's scale."""
    fin, ends = final_angles(mirrored)
    rows = []
    for d, e in ends.groupby("hidden layers"):
        per = fin[fin["hidden layers"] == d].groupby("layer")["angle"].mean()
        spread = f" ± {e['angle'].std():.2f}" if len(e) > 1 else ""
        rows.append(
            {
                "hidden layers": d,
                "per-layer angles (degrees)": ", ".join(f"{v:.1f}" for v in per),
                "F angle (degrees)": f"{e['angle'].mean():.1f}" + spread,
                "∏cos law (degrees)": f"{e['predicted'].mean():.1f}",
                "factor scale / initial": f"{e['factor scale'].mean():.3f}",
            }
        )
    return pd.DataFrame(rows)


def law_glue(mirrored: pd.DataFrame, constructed: pd.DataFrame) -> dict[str, str]:
    """How far the measured angle of F is from the product-of-cosines law, as text."""
    ends = mirrored[mirrored["layer"] == 0]
    dev_b = float((ends["angle_F"] - ends["predicted"]).abs().max())
    dev_map = float((constructed["angle_F"] - constructed["law"]).abs().max())
    depths = sorted(constructed["hidden layers"].unique())
    close = max(dev_b, dev_map) < 3
    return {
        "cf_map_seeds": str(constructed["seed"].nunique()),
        "cf_law_map": f"{dev_map:.1f}",
        "cf_law_b": f"{dev_b:.1f}",
        "cf_law_verdict": "accounts for that lag"
        if close
        else "does not fully account for that lag",
        "cf_need45": ", ".join(f"{angle_needed(45, d + 1):.0f}°" for d in depths),
    }


def seed_spread_glue(mirrored: pd.DataFrame) -> dict[str, str]:
    """The largest std over seeds of the hidden factors', output factor's and F's angles."""
    spread = mirrored.groupby(["hidden layers", "step", "layer"])["angle"].std().reset_index()
    if mirrored["seed"].nunique() < 2:
        keys = ("cf_seed_spread", "cf_seed_spread_out", "cf_seed_spread_F")
        return {
            **dict.fromkeys(keys, "n/a (one seed)"),
            "cf_seeds_verdict": "cannot be judged with one seed",
        }
    out = spread["layer"] == spread["hidden layers"] + 1
    hidden = (spread["layer"] > 0) & ~out
    return {
        "cf_seed_spread": f"{spread[hidden]['angle'].max():.2f}",
        "cf_seed_spread_out": f"{spread[out]['angle'].max():.2f}",
        "cf_seed_spread_F": f"{spread[spread['layer'] == 0]['angle'].max():.2f}",
        "cf_seeds_verdict": "matter little" if spread["angle"].max() < 2 else "matter",
    }


def mirror_glue(mirrored: pd.DataFrame, cfg: TrainConfig, steps_per_epoch: int) -> dict[str, str]:
    """The numbers the chapter's part b quotes, as text."""
    fin, ends = final_angles(mirrored)
    steps, deepest = int(mirrored["step"].max()), int(mirrored["hidden layers"].max())
    first = fin[fin["layer"] == 1].groupby("hidden layers")["angle"].mean()
    out = fin[fin["layer"] == fin["hidden layers"] + 1].groupby("hidden layers")["angle"].mean()
    fa = ends.groupby("hidden layers")["angle"].mean()
    factors = fin.groupby("hidden layers")["angle"].mean()
    lag = fa - factors
    drive = [
        cfg.wm_lr
        * cfg.wm_noise**2
        / 2
        * math.sqrt(2 / 1024)
        / factor_std(mlp_sizes(d), sigma_f(cfg.f_scale))
        for d in (fa.index[0], deepest)
    ]
    scale = ends.groupby("hidden layers")["factor scale"].mean()
    return {
        "cf_steps": str(steps),
        "cf_epoch_frac": f"{steps / steps_per_epoch:.2f}",
        "cf_b_first": f"{first.iloc[0]:.1f}° with one hidden layer but only to "
        f"{first.iloc[-1]:.1f}° with {deepest}",
        "cf_b_last": f"{out.iloc[0]:.1f}° (one hidden layer) and {out.iloc[-1]:.1f}° ({deepest})",
        "cf_b_F": f"{fa.iloc[0]:.1f}° with one hidden layer, "
        + ", ".join(f"{v:.1f}°" for v in fa.iloc[1:-1])
        + f" and {fa.iloc[-1]:.1f}° with {deepest}",
        "cf_drive": f"{drive[0]:.2g} with one hidden layer and {drive[1]:.2g} with {deepest}",
        "cf_lag": f"{lag.iloc[0]:.1f}° with one hidden layer and {lag.iloc[-1]:.1f}° "
        f"with {deepest}",
        "cf_seeds_b": str(mirrored["seed"].nunique()),
        "cf_scale_drift": f"{scale.min():.3f} to {scale.max():.3f}",
        "cf_fail_align": f"After the {steps} mirror steps of part b, F is {fa.iloc[0]:.1f}° "
        f"from the network with one hidden layer and {fa.iloc[-1]:.1f}° with {deepest}, "
        f"while its factors average {factors.iloc[0]:.1f}° and {factors.iloc[-1]:.1f}°",
    }


def trained_alignment(runs: pd.DataFrame, hist: pd.DataFrame) -> pd.DataFrame:
    """One row per finished PEPITA-WM run: its factors' angles after the last epoch (list,
    layer 1 first), the angle of F, the law's prediction and the final test accuracy."""
    if runs.empty:
        return pd.DataFrame(
            columns=["Dataset", "Variant", "hidden layers", "per", "F", "law", "acc"]
        )
    last = hist.sort_values("epoch").groupby("run_id").tail(1).set_index("run_id")
    rows = []
    for rid, r in runs.set_index("run_id").iterrows():
        if r["status"] != "finished" or rid not in last.index:
            continue
        h = last.loc[rid]
        per = [h[f"angle_W{l}T_B{l}"] for l in range(1, int(r["depth"]) + 2)]
        rows.append(
            {
                "Dataset": r["Dataset"],
                "Variant": r["Variant"],
                "hidden layers": int(r["depth"]),
                "per": per,
                "F": h["angle_F"],
                "law": prod_cos_law(per),
                "acc": r["final_test_accuracy"],
            }
        )
    return pd.DataFrame(
        rows, columns=["Dataset", "Variant", "hidden layers", "per", "F", "law", "acc"]
    )


def trained_table(aligned: pd.DataFrame) -> pd.DataFrame:
    """:func:`trained_alignment` averaged over seeds per dataset, variant and depth."""
    rows = []
    for (ds, var, d), grp in aligned.groupby(["Dataset", "Variant", "hidden layers"], sort=True):
        per = np.mean(np.stack(grp["per"].to_list()), axis=0)
        rows.append(
            {
                "Dataset": ds,
                "Variant": var,
                "hidden layers": d,
                "seeds": len(grp),
                "per-layer angles (degrees)": ", ".join(f"{v:.1f}" for v in per),
                "F angle (degrees)": f"{grp['F'].mean():.1f}",
                "∏cos law (degrees)": f"{grp['law'].mean():.1f}",
                "test accuracy (%)": f"{100 * grp['acc'].mean():.2f}",
            }
        )
    return pd.DataFrame(rows)


def law_verdict(mean_gap: float) -> str:
    """What a mean (law - measured) gap in degrees says about trained networks."""
    if mean_gap > 2:
        return (
            "F ends better aligned than the law predicts from its factors: trained weights are "
            "not the independent random matrices the law assumes, and for them the law is a "
            "pessimistic estimate."
        )
    if mean_gap < -2:
        return (
            "F ends less aligned than the law predicts from its factors: trained weights are "
            "not the random matrices the law assumes."
        )
    return "The law found on random networks carries over to trained ones."


def depth_verdict(by_depth: pd.DataFrame) -> str:
    """Whether the deepest nets end with F less aligned than every shallowest one, from the
    min and max angle of F per depth."""
    if len(by_depth) == 1:
        return "Only one depth is stored so far, so the trend with depth cannot be read yet."
    shallow, deep = by_depth["max"].iloc[0], by_depth["min"].iloc[-1]
    if deep > shallow:
        return (
            f"The deepest stored nets end with F less aligned than every shallowest one "
            f"({deep:.0f}° or more against at most {shallow:.0f}°): in training, too, the "
            "factorisation aligns F worse as depth grows."
        )
    return (
        "Some of the deepest stored nets end with F as aligned as the shallowest ones, so in "
        "training depth does not by itself prevent the alignment of F."
    )


def trained_glue(aligned: pd.DataFrame) -> dict[str, str]:
    """The numbers and verdicts the chapter's part c quotes, as text."""
    n = len(aligned)
    out = {
        "c_runs": f"{n} finished run is" if n == 1 else f"{n} finished runs are",
        "c_law": "not available yet (no finished run)",
        "c_final_F": "n/a",
        "c_first_layer": "n/a",
        "c_verdict": "No stored run has finished yet.",
        "c_law_verdict": "There is nothing to compare yet.",
    }
    if aligned.empty:
        return out
    gap = aligned["law"] - aligned["F"]
    side = "below" if gap.mean() > 0 else "above"
    out["c_law"] = (
        f"{abs(gap.mean()):.1f} degrees {side} the ∏cos law on average "
        f"(largest difference {gap.abs().max():.1f} degrees)"
    )
    out["c_law_verdict"] = law_verdict(gap.mean())
    byd = aligned.groupby("hidden layers")["F"].agg(["min", "max"])
    out["c_final_F"] = "; ".join(
        f"{d} hidden: {lo:.0f}°–{hi:.0f}°" if hi - lo >= 0.5 else f"{d} hidden: {lo:.0f}°"
        for d, (lo, hi) in byd.iterrows()
    )
    first = aligned.assign(first=[p[0] for p in aligned["per"]]).groupby("hidden layers")["first"]
    out["c_first_layer"] = "; ".join(f"{d} hidden: {v:.0f}°" for d, v in first.mean().items())
    out["c_verdict"] = depth_verdict(byd)
    return out
