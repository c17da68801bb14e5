"""The stored teacher-student runs (:mod:`pepita_lib.theory`) read for the chapter
"Teacher-student theory": ODE against simulation, escape times, the feedback overlap S_k and
its scaling with N (Srinivasan et al. 2024, Sec. 3.2 and Fig. 2; Saad and Solla 1995;
Refinetti et al. 2021).

A record holds, at the recorded times ``alpha``, the ODE and simulation curves
(``eps_g``, ``S``, ``v``, ...) and the initial order parameters ``init``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import theory as th

RULE_LABEL = {"bp": "BP", "dfa": "DFA", "afa": "AFA", "pepita": "PEPITA (exact)"}
ALPHA_LABEL = r"$\alpha$ = steps / $N$ (training samples per input dimension)"
EPS_LABEL = r"generalisation error $\epsilon_g$ (squared output units)"
Record = dict


def split_runs(grid: list, stored: dict) -> tuple[dict, dict]:
    """(configs, records) per figure of the chapter: ``main`` (teacher overlap a = 0.6 at the
    base N and sigma_F), ``random_f`` (a = 0), ``scaling`` (other N), ``sigma_f`` (other
    sigma_F). ``grid[0]`` holds the base settings."""
    p0 = grid[0]
    configs = {
        "main": [c for c in grid if (c.N, c.sigma_f, c.teacher_overlap) == (p0.N, p0.sigma_f, 0.6)],
        "random_f": [c for c in grid if (c.N, c.teacher_overlap) == (p0.N, 0.0)],
        "scaling": [c for c in grid if c.N != p0.N],
        "sigma_f": [c for c in grid if c.sigma_f != p0.sigma_f],
    }
    return configs, {need: [stored[c] for c in cfgs] for need, cfgs in configs.items()}


def find(configs: dict, runs: dict, need: str, **match) -> Record | None:
    """The stored record of ``need`` whose config matches ``match``, or None."""
    for cfg, rec in zip(configs[need], runs[need]):
        if rec is not None and all(getattr(cfg, k) == v for k, v in match.items()):
            return rec
    return None


def curve(rec: Record, part: str, key: str = "eps_g") -> np.ndarray:
    """One recorded curve (``part``: "ode" or "sim") as an array over the recorded times."""
    return np.array(rec[part][key], dtype=float)


def eps0(rec: Record) -> float:
    """eps_g = 1/2 u^T I_2 u of the initial weights (shared by ODE and simulation)."""
    i = rec["init"]
    return th.eps_g(*(np.array(i[k], dtype=float) for k in ("Q", "R", "T", "v", "vstar")))


def max_rel(rec: Record) -> tuple[float, float]:
    """(max over recorded times of |ODE - sim| / sim, the alpha where it is reached)."""
    sim = curve(rec, "sim")
    rel = np.abs(curve(rec, "ode") - sim) / sim
    j = int(np.nanargmax(rel))
    return float(rel[j]), float(rec["alpha"][j])


def escape(rec: Record, part: str) -> float | None:
    """First recorded alpha with eps_g below half its initial value (None: not yet)."""
    hit = np.nonzero(curve(rec, part) < 0.5 * eps0(rec))[0]
    return float(rec["alpha"][hit[0]]) if hit.size else None


def cosine(S: np.ndarray, v: np.ndarray) -> np.ndarray:
    """cos(S, v) = S.v / (|S| |v|) at each recorded time (rows)."""
    return (S * v).sum(1) / (np.linalg.norm(S, axis=1) * np.linalg.norm(v, axis=1))


def fmt(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def escape_text(x: float | None, alpha: float) -> str:
    return fmt(x, 0) if x else f"not by {alpha:g}"


def parameter_table(p0, n_seeds: int) -> pd.DataFrame:
    """The base settings of the runs, each with the reason it was chosen."""
    rows = [
        (
            "N (input dimension)",
            f"{p0.N}",
            "large enough for the ODE limit, small enough for fast simulations",
        ),
        (
            "K = M (hidden units)",
            f"{p0.K}",
            "smallest committee with a symmetric plateau (Saad and Solla 1995)",
        ),
        (
            "η (learning rate)",
            f"{p0.lr:g}",
            "moderate: plateau, escape and convergence all fit in the α range below; "
            "ODE Euler error negligible",
        ),
        (
            "σ_F (F scale)",
            f"{p0.sigma_f:g}",
            "the original PEPITA scale 0.05; O(σ_F) corrections checked below",
        ),
        (
            "a (teacher overlap of f)",
            "0.6 and 0",
            "0.6: F partly aligned with the teacher; 0: F independent of it",
        ),
        (
            "v*, init",
            "v* = 1, w ~ N(0,1), v ~ 0.1 N(0,1)",
            "the usual committee-machine choice (Saad and Solla 1995); DFA feedback b = 1",
        ),
        (
            "α range",
            f"0.1 to {p0.alpha:g}, {p0.n_points} log-spaced points",
            "plateau, escape and convergence",
        ),
        (
            "ODE step",
            f"Euler, dt = {p0.dt:g}",
            "halving dt changes ε_g by less than 1e-3 relative (tested)",
        ),
        (
            "seeds",
            f"{n_seeds}",
            "one initialisation and sample stream per seed, shared by all rules",
        ),
        (
            "test set",
            f"{p0.n_test} Gaussian samples",
            "a direct measurement of ε_g next to the analytic one",
        ),
    ]
    return pd.DataFrame(rows, columns=["parameter", "value", "why"])


def ode_sim_table(
    configs: dict, runs: dict, alpha_max: float
) -> tuple[pd.DataFrame, dict[str, str]]:
    """ODE against simulation at a = 0.6, per rule over seeds, and the glued numbers:
    ``ts_dev_<rule>`` / ``ts_devmin_<rule>`` (largest / smallest over seeds of the max
    relative gap, %) and ``ts_zmax`` (max |test-set eps_g - analytic| in standard errors)."""
    rows, texts, zs = [], {}, []
    for rule in th.RULES:
        recs = [
            r for c, r in zip(configs["main"], runs["main"]) if c.rule == rule and r is not None
        ]
        rel = [max_rel(r) for r in recs]
        texts[f"ts_dev_{rule}"] = fmt(100 * max(x for x, _ in rel) if rel else None)
        texts[f"ts_devmin_{rule}"] = fmt(100 * min(x for x, _ in rel) if rel else None)
        if not recs:
            continue
        z = [
            np.nanmax(
                np.abs(curve(r, "sim", "eps_g_test") - curve(r, "sim"))
                / curve(r, "sim", "eps_g_test_se")
            )
            for r in recs
        ]
        zs.append(max(z))
        end_label = f"ε_g at α = {alpha_max:g}: ODE"
        rows.append(
            {
                "rule": RULE_LABEL[rule],
                "max |ODE - sim| / sim, per seed (%)": ", ".join(f"{100 * x:.1f}" for x, _ in rel),
                "at α": ", ".join(f"{a:.0f}" for _, a in rel),
                end_label: f"{np.mean([curve(r, 'ode')[-1] for r in recs]):.4f}",
                "simulation": f"{np.mean([curve(r, 'sim')[-1] for r in recs]):.4f}",
                "test set": f"{np.mean([curve(r, 'sim', 'eps_g_test')[-1] for r in recs]):.4f}",
                "max |test - analytic| / s.e.": f"{max(z):.1f}",
            }
        )
    texts["ts_zmax"] = fmt(max(zs) if zs else None)
    return pd.DataFrame(rows), texts


def align_texts(rec: Record | None) -> dict[str, str]:
    """Align, then memorise (seed 0, AFA ODE): when cos(S, v) first exceeds 0.9, when eps_g
    halves, the mean |S_k| at the start and the end, and the initial eps_g."""
    if rec is None:
        return {k: "n/a" for k in ("ts_align", "ts_escape", "ts_S0", "ts_Send", "ts_eps0")}
    hit = np.nonzero(cosine(curve(rec, "ode", "S"), curve(rec, "ode", "v")) > 0.9)[0]
    return {
        "ts_align": fmt(float(rec["alpha"][hit[0]]) if hit.size else None, 0),
        "ts_escape": fmt(escape(rec, "ode"), 0),
        "ts_S0": fmt(float(np.abs(np.array(rec["init"]["S"])).mean()), 3),
        "ts_Send": fmt(float(np.abs(curve(rec, "ode", "S")[-1]).mean()), 2),
        "ts_eps0": fmt(eps0(rec), 2),
    }


def random_f_table(
    configs: dict, runs: dict, alpha_max: float
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Random F (a = 0) against aligned F (a = 0.6) per seed, AFA ODE; glued: how many runs
    escape (AFA ODE, PEPITA simulation), the ODE-simulation gaps and the largest final |S|."""
    rows, gaps, esc_afa, esc_pep, s_end = [], {"afa": [], "pepita": []}, [], [], []
    for cfg, rec in zip(configs["random_f"], runs["random_f"]):
        if rec is None:
            continue
        gaps[cfg.rule].append(max_rel(rec)[0])
        if cfg.rule == "pepita":
            esc_pep.append(escape(rec, "sim"))
        if cfg.rule != "afa":
            continue
        esc_afa.append(escape(rec, "ode"))
        s_end.append(float(np.abs(curve(rec, "ode", "S")[-1]).mean()))
        aligned = find(configs, runs, "main", rule="afa", seed=cfg.seed)
        rows.append(
            {
                "seed": cfg.seed,
                "P_m (a = 0)": ", ".join(f"{x:.3f}" for x in rec["init"]["P"]),
                "|S| at end, a = 0": f"{s_end[-1]:.3f}",
                "α at which ε_g halves, a = 0 (ODE)": escape_text(esc_afa[-1], alpha_max),
                "same, a = 0.6": escape_text(
                    escape(aligned, "ode") if aligned else None, alpha_max
                ),
                f"ε_g at α = {alpha_max:g}, a = 0 (ODE)": f"{curve(rec, 'ode')[-1]:.3f}",
            }
        )

    def count(esc: list) -> str:
        return f"{sum(e is not None for e in esc)} of {len(esc)}" if esc else "n/a"

    texts = {
        "ts_rf_escaped": count(esc_afa),
        "ts_rf_escaped_pep": count(esc_pep),
        "ts_rf_dev_afa": fmt(100 * max(gaps["afa"]) if gaps["afa"] else None),
        "ts_rf_dev_pep": fmt(100 * max(gaps["pepita"]) if gaps["pepita"] else None),
        "ts_rf_devmin_pep": fmt(100 * min(gaps["pepita"]) if gaps["pepita"] else None),
        "ts_rf_S": fmt(max(s_end) if s_end else None, 3),
    }
    return pd.DataFrame(rows), texts


def overlap_draws(Ns: list[int], n_draws: int, overlaps=(0.0, 0.6), K: int = 2) -> pd.DataFrame:
    """|S_k(0)| = |w_k.f|/N and |P_m| = |w*_m.f|/N of fresh initialisations (no training),
    per N and teacher overlap a; without a teacher component both are ~ |N(0, 1/N)|."""
    rows = []
    for a in overlaps:
        for N in Ns:
            for s in range(n_draws):
                op = th.order_params(
                    th.init_teacher_student(N, K, K, a, np.random.default_rng(1000 + s))
                )
                rows += [{"N": N, "a": a, "what": "|S_k(0)|", "value": abs(x)} for x in op.S]
                rows += [{"N": N, "a": a, "what": "|P_m|", "value": abs(x)} for x in op.P]
    return pd.DataFrame(rows)


def draw_texts(draws: pd.DataFrame) -> dict[str, str]:
    """sqrt(N) times the mean overlap at a = 0 (-> sqrt(2/pi) ~ 0.80) and mean |P_m| at a = 0.6,
    both at the largest N."""
    n = draws["N"].max()
    at_n = draws[draws["N"] == n]
    s = at_n[at_n["a"] == 0.0]["value"].mean() * math.sqrt(n)
    p6 = at_n[(at_n["a"] == 0.6) & (at_n["what"] == "|P_m|")]["value"].mean()
    return {"ts_sqrtN_S": f"{s:.2f}", "ts_P06": f"{p6:.2f}", "ts_Nmax": f"{n}"}


def scaling_table(configs: dict, runs: dict) -> pd.DataFrame:
    """AFA at other input sizes: escape times (ODE, simulation) and the ODE-simulation gap."""
    rows = []
    for cfg, rec in zip(configs["scaling"], runs["scaling"]):
        if rec is not None:
            rows.append(
                {
                    "a": cfg.teacher_overlap,
                    "N": cfg.N,
                    "seed": cfg.seed,
                    "α at which ε_g halves (ODE)": escape_text(escape(rec, "ode"), cfg.alpha),
                    "(simulation)": escape_text(escape(rec, "sim"), cfg.alpha),
                    "max |ODE - sim| / sim (%)": f"{100 * max_rel(rec)[0]:.1f}",
                }
            )
    return pd.DataFrame(rows)


def sigma_f_records(configs: dict, runs: dict, sigma_f: float) -> list[Record | None]:
    """Exact PEPITA, seed 0, a = 0.6, at 4 sigma_F, sigma_F and sigma_F / 4."""
    return [
        find(configs, runs, "sigma_f", sigma_f=4 * sigma_f),
        find(configs, runs, "main", rule="pepita", seed=0),
        find(configs, runs, "sigma_f", sigma_f=sigma_f / 4),
    ]


def sigma_f_texts(recs: list[Record | None], sigma_f: float) -> dict[str, str]:
    """Per sigma_F (big, mid, small): its value and the largest |sim - ODE| / sim (%)."""
    out = {}
    for name, sf, rec in zip(("big", "mid", "small"), (4 * sigma_f, sigma_f, sigma_f / 4), recs):
        gap = None if rec is None else max_rel(rec)[0]
        out[f"ts_sf_{name}"] = f"{sf:g}"
        out[f"ts_sfdev_{name}"] = fmt(100 * gap if gap is not None else None)
    return out
