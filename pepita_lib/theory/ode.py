r"""Order-parameter ODEs of online learning in the teacher-student setting.

Learning rules, all written as "DFA with feedback b_k" (Refinetti et al. 2021)::

    w_k += (eta / sqrt N) b_k g'(lambda_k) (y - yhat) x      (first layer)
    v_k += (eta / N)      g(lambda_k) (y - yhat)             (second layer)

    BP:         b_k = v_k(t)            (the backward pass uses the current second layer)
    DFA:        b_k fixed               (here b_k = 1 for all k)
    AFA/PEPITA: b_k = S_k(t) = w_k . f / N

Exact PEPITA (two forward passes, Dellaferrera & Kreiman 2022) with ``F = sigma_F f / sqrt N``
and first-layer rate ``eta / sigma_F`` equals AFA to first order in ``sigma_F``
(Srinivasan et al. 2024), see :func:`pepita_lib.theory.simulation.simulate`.

Order parameters: ``Q_kl = w_k.w_l/N``, ``R_km = w_k.w*_m/N``, ``T_mn = w*_m.w*_n/N``,
``v``, ``v*``, and for the adaptive feedback ``S_k = w_k.f/N``, ``P_m = w*_m.f/N`` and
``f.f/N``. In the limit ``N -> infinity`` they follow closed ODEs (:func:`ode_rhs`) in the
time ``alpha = steps / N``, whose right-hand sides are Gaussian averages over the local
fields ``(lambda, nu, phi)`` with ``phi = f.x/sqrt N`` (:mod:`pepita_lib.theory.integrals`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .integrals import Array, eps_g, gaussian_tables

RULES = ("bp", "dfa", "afa", "pepita")


@dataclass(frozen=True)
class OrderParams:
    """Macroscopic state. Shapes: Q (K,K), R (K,M), T (M,M), v (K,), vstar (M,), S (K,),
    P (M,), ff scalar. ``T, vstar, P, ff`` are constant in time (teacher and f are fixed)."""

    Q: Array
    R: Array
    T: Array
    v: Array
    vstar: Array
    S: Array
    P: Array
    ff: float

    @property
    def K(self) -> int:
        return self.Q.shape[0]

    @property
    def M(self) -> int:
        return self.T.shape[0]

    def covariance(self) -> Array:
        """Covariance of the local fields ``(lambda_1..K, nu_1..M, phi)``:
        ``[[Q, R, S], [R^T, T, P], [S^T, P^T, f.f/N]]``."""
        K, M = self.K, self.M
        C = np.empty((K + M + 1, K + M + 1))
        C[:K, :K], C[:K, K : K + M], C[:K, -1] = self.Q, self.R, self.S
        C[K : K + M, :K], C[K : K + M, K : K + M], C[K : K + M, -1] = self.R.T, self.T, self.P
        C[-1, :K], C[-1, K : K + M], C[-1, -1] = self.S, self.P, self.ff
        return C


def feedback(rule: str, v: Array, S: Array, b_dfa: Array | None = None) -> Array:
    """The feedback ``b_k`` each rule uses: BP the second layer ``v``, DFA the fixed ``b``
    (ones when not given), AFA and PEPITA the adaptive ``S_k = w_k.f/N``.

    The ODE passes order parameters, the simulation the actual weights' ``v`` and ``S``.
    """
    if rule == "bp":
        return v
    if rule == "dfa":
        return np.ones(len(v)) if b_dfa is None else np.asarray(b_dfa, dtype=np.float64)
    if rule in ("afa", "pepita"):
        return S
    raise ValueError(f"unknown rule {rule!r}; use one of {', '.join(RULES)}")


def ode_rhs(
    op: OrderParams, rule: str, lr: float, b_dfa: Array | None = None
) -> tuple[Array, Array, Array, Array]:
    r"""``(dQ, dR, dv, dS) / dalpha`` for DFA with feedback ``b_k`` (:func:`feedback`).

    With ``u = (-v, v*)`` so that ``y - yhat = sum_c u_c g(c)`` over the student and teacher
    fields ``c``, and ``A[i, b] = E[g'(lambda_i) b (y - yhat)] = sum_c u_c I3(i, b, c)``::

        dR_in/dalpha = eta b_i A[i, nu_n]
                     = eta b_i [sum_m v*_m I3(i,n,m) - sum_j v_j I3(i,n,j)]
        dQ_ik/dalpha = eta b_i A[i, lambda_k] + eta b_k A[k, lambda_i]
                       + eta^2 b_i b_k sum_cd u_c u_d I4(i,k,c,d)
        dv_i/dalpha  = eta sum_c u_c I2(i, c)
                     = eta [sum_n v*_n I2(i,n) - sum_k v_k I2(i,k)]
        dS_i/dalpha  = eta b_i A[i, phi]
                     = eta b_i [sum_m v*_m I3(i,phi,m) - sum_j v_j I3(i,phi,j)]

    **The S ODE.** ``S_i = w_i.f/N`` changes by ``Delta S_i = Delta w_i . f / N``
    ``= (eta/sqrt N) b_i g'(lambda_i)(y - yhat) (x.f)/N = (eta/N) b_i g'(lambda_i)(y-yhat) phi``
    per step, with ``phi = f.x/sqrt N``. One step is ``dalpha = 1/N``, and by the law of
    large numbers the drift is the average over ``x``, so
    ``dS_i/dalpha = eta b_i E[g'(lambda_i) phi (y - yhat)]``. ``phi`` is jointly Gaussian with
    the other fields with ``E[phi^2] = f.f/N``, ``E[phi lambda_k] = S_k``,
    ``E[phi nu_m] = P_m``, which closes the system. ``S`` is linear in ``w``, so unlike
    ``Q`` it has no ``eta^2`` term (the fluctuation term ``(eta^2/N) ... x.x/N`` exists only
    for quadratic order parameters). With ``b_i = S_i`` this is the adaptive-feedback ODE
    ``dS_k/dalpha = eta S_k [sum_m v*_m I3(k,phi,m) - sum_j v_j I3(k,phi,j)]`` of the
    chapter "Teacher-student theory". (``f.f/N`` does not enter: I3 does not depend on the
    variance of its middle field.) The same equation tracks ``S`` under BP and DFA, where it
    is only a diagnostic.

    The growth of ``S`` is multiplicative: early on ``yhat ~ 0`` and
    ``I3(k,phi,m) ~ (2/pi) P_m (1+Q_kk)/((1+Q_kk) sqrt(...)) > 0`` when ``P_m > 0``, so
    ``|S_k|`` grows exponentially at a rate ``~ eta P`` ("align"). If ``f`` is independent
    of the teacher, ``P = O(1/sqrt N)`` and that rate vanishes as ``N`` grows.
    """
    b = feedback(rule, op.v, op.S, b_dfa)
    K, M = op.K, op.M
    C = op.covariance()
    t2, t3, t4 = gaussian_tables(C, K)
    u = np.concatenate([-op.v, op.vstar])
    A = t3 @ u  # K x D: E[g'(lambda_i) * field * (y - yhat)]
    B = np.einsum("ikcd,c,d->ik", t4, u, u)  # E[g'(l_i) g'(l_k) (y - yhat)^2]
    G = t2 @ u  # E[g(lambda_i) (y - yhat)]
    bA = b[:, None] * A
    dQ = lr * (bA[:, :K] + bA[:, :K].T) + lr**2 * np.outer(b, b) * B
    dR = lr * bA[:, K : K + M]
    dv = lr * G
    dS = lr * bA[:, K + M]
    return dQ, dR, dv, dS


def integrate_ode(
    op0: OrderParams,
    rule: str,
    lr: float,
    alphas: Sequence[float],
    dt: float = 0.01,
    b_dfa: Array | None = None,
) -> dict[str, Array]:
    """Euler integration of :func:`ode_rhs` from ``op0``; the state at each of ``alphas``
    (rounded to the Euler grid ``k dt``). Returns arrays ``eps_g (n,)``, ``Q (n,K,K)``,
    ``R (n,K,M)``, ``v (n,K)``, ``S (n,K)``; integration stops (NaN afterwards) if the state
    stops being finite.
    """
    if dt <= 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    steps = np.rint(np.asarray(alphas, dtype=np.float64) / dt).astype(np.int64)
    if np.any(steps < 0):
        raise ValueError("alphas must be >= 0")
    n = len(steps)
    K, M = op0.K, op0.M
    out = {
        "eps_g": np.full(n, np.nan),
        "Q": np.full((n, K, K), np.nan),
        "R": np.full((n, K, M), np.nan),
        "v": np.full((n, K), np.nan),
        "S": np.full((n, K), np.nan),
    }
    order = np.argsort(steps, kind="stable")
    Q, R, v, S = (np.array(a, dtype=np.float64) for a in (op0.Q, op0.R, op0.v, op0.S))
    step = 0
    for j in order:
        while step < steps[j]:
            dQ, dR, dv, dS = ode_rhs(replace(op0, Q=Q, R=R, v=v, S=S), rule, lr, b_dfa)
            Q, R, v, S = Q + dt * dQ, R + dt * dR, v + dt * dv, S + dt * dS
            # keep Q exactly symmetric (Euler preserves it up to rounding)
            Q = 0.5 * (Q + Q.T)
            step += 1
            if not (np.isfinite(Q).all() and np.isfinite(v).all()):
                return out
        out["eps_g"][j] = eps_g(Q, R, op0.T, v, op0.vstar)
        out["Q"][j], out["R"][j], out["v"][j], out["S"][j] = Q, R, v, S
    return out


def ode_convergence(
    op0: OrderParams,
    rule: str,
    lr: float,
    alphas: Sequence[float],
    dt: float = 0.01,
    b_dfa: Array | None = None,
) -> float:
    """Max over ``alphas`` of ``|eps_g(dt) - eps_g(dt/2)| / eps_g(dt/2)``: the Euler error.

    ``alphas`` should be multiples of ``dt`` so both runs report the same times.
    """
    a = integrate_ode(op0, rule, lr, alphas, dt, b_dfa)["eps_g"]
    b = integrate_ode(op0, rule, lr, alphas, dt / 2, b_dfa)["eps_g"]
    return float(np.max(np.abs(a - b) / np.abs(b)))
