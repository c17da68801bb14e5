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
        rows.append({
            "F scale": scale,
            "‖Fe‖/‖x‖": modulation_ratio(F, e, x),
            "‖ΔW₁(PEPITA) − ΔW₁(AFA)‖ / ‖ΔW₁(AFA)‖": float((pep - afa).norm() / afa.norm()),
            "cosine(PEPITA, AFA)": float((pep * afa).sum() / (pep.norm() * afa.norm())),
        })  # fmt: skip
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
