"""Metrics computed from a run's history (the per-epoch ones live with the rules)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def slowness_curve(t: np.ndarray, acc_max: float, s: float) -> np.ndarray:
    """acc(t) = acc_max * t / (s + t): the saturating curve of the original PEPITA
    code (Dellaferrera & Kreiman 2022); chapter "Going deeper"."""
    return acc_max * t / (s + t)


def slowness(
    accuracies: Sequence[float], chance: float, first_decay_epoch: int | None = None
) -> dict[str, float]:
    """Fit acc(t) = acc_max t / (s + t) to a test-accuracy curve; s is the slowness.

    ``accuracies[i]`` is the accuracy after epoch i+1. As in the original PEPITA code, the
    chance level is prepended at epoch 0 and only epochs before the first learning-rate
    decay are fitted (a decay makes a second, faster rise that the curve cannot describe).
    Returns ``{"slowness": s, "acc_max": acc_max}`` (NaN when the fit fails).
    """
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit

    acc = np.asarray(accuracies, dtype=float)
    if first_decay_epoch is not None:
        acc = acc[:first_decay_epoch]
    t = np.arange(0, acc.size + 1, dtype=float)
    y = np.concatenate([[chance], acc])
    # At t = 0 the curve is 0, not chance; the original fit accepts that misfit too.
    try:
        with warnings.catch_warnings():
            # short curves leave the covariance undetermined; only the estimates are used
            warnings.simplefilter("ignore", OptimizeWarning)
            (a, s), _ = curve_fit(
                slowness_curve, t, y, p0=(max(y.max(), 1e-3), 1.0), bounds=([0, 0], [2, np.inf])
            )
    except (RuntimeError, ValueError):
        return {"slowness": math.nan, "acc_max": math.nan}
    return {"slowness": float(s), "acc_max": float(a)}
