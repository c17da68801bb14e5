r"""Teacher-student theory of PEPITA: Gaussian integrals, ODEs and online-SGD simulations.

The setting (SPEC section 3; Saad & Solla 1995, Goldt et al. 2019, Refinetti et al. 2021):
inputs ``x ~ N(0, I_N)``, one fresh sample per step, time ``alpha = steps / N``.

- teacher ``y = sum_m v*_m g(nu_m)``, ``nu_m = w*_m . x / sqrt(N)``, ``m = 1..M``;
- student ``yhat = sum_k v_k g(lambda_k)``, ``lambda_k = w_k . x / sqrt(N)``, ``k = 1..K``;
- ``g(z) = erf(z / sqrt 2)``, ``g'(z) = sqrt(2/pi) exp(-z^2/2)``;
- generalisation error ``eps_g = 0.5 E[(y - yhat)^2]``.

Learning rules, all written as "DFA with feedback b_k" (SPEC section 3)::

    w_k += (eta / sqrt N) b_k g'(lambda_k) (y - yhat) x      (first layer)
    v_k += (eta / N)      g(lambda_k) (y - yhat)             (second layer)

    BP:         b_k = v_k(t)            (the backward pass uses the current second layer)
    DFA:        b_k fixed               (here b_k = 1 for all k)
    AFA/PEPITA: b_k = S_k(t) = w_k . f / N

Exact PEPITA (two forward passes, minus convention of SPEC 1.1) with ``F = sigma_F f / sqrt N``
and first-layer rate ``eta / sigma_F`` equals AFA to first order in ``sigma_F``, see
:func:`simulate`.

Order parameters: ``Q_kl = w_k.w_l/N``, ``R_km = w_k.w*_m/N``, ``T_mn = w*_m.w*_n/N``,
``v``, ``v*``, and for the adaptive feedback ``S_k = w_k.f/N``, ``P_m = w*_m.f/N`` and
``f.f/N``. In the limit ``N -> infinity`` they follow closed ODEs (:func:`ode_rhs`), whose
right-hand sides are Gaussian averages over the local fields ``(lambda, nu, phi)`` with
``phi = f.x/sqrt N``; those averages are the integrals :func:`I2`, :func:`I3`, :func:`I4`.

Everything here is numpy float64; nothing needs torch (provenance imports it lazily).
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erf

RULES = ("bp", "dfa", "afa", "pepita")
EXPERIMENT = "theory"  # records live in results/<EXPERIMENT>/<config hash>.json
DEFAULT_TEST_SAMPLES = 10_000
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

Array = np.ndarray


# --------------------------------------------------------------------------------------
# Activation and the Gaussian integrals (SPEC section 3)
# --------------------------------------------------------------------------------------


def g(z: Array) -> Array:
    """``g(z) = erf(z / sqrt 2)``."""
    return erf(z / math.sqrt(2.0))


def g_prime(z: Array) -> Array:
    """``g'(z) = sqrt(2/pi) exp(-z^2 / 2)``."""
    return _SQRT_2_OVER_PI * np.exp(-0.5 * np.square(z))


def _arcsin(x: Array) -> Array:
    # Rounding can push a correlation like C_aa / (1 + C_aa) or L0 / sqrt(L1 L2) a hair
    # past +-1 when two of the fields coincide; the exact value is then +-1.
    return np.arcsin(np.clip(x, -1.0, 1.0))


def I2(caa: Array, cbb: Array, cab: Array) -> Array:
    """``I2(a,b) = E[g(a) g(b)] = (2/pi) arcsin(C_ab / sqrt((1+C_aa)(1+C_bb)))``.

    Arguments are covariance entries of the Gaussian pair ``(a, b)``; numpy broadcasting
    applies, so whole tables are evaluated at once.
    """
    return (2.0 / math.pi) * _arcsin(cab / np.sqrt((1.0 + caa) * (1.0 + cbb)))


def I3(caa: Array, ccc: Array, cab: Array, cac: Array, cbc: Array) -> Array:
    """``I3(a,b,c) = E[g'(a) b g(c)]``

    ``= (2/pi) (C_bc (1+C_aa) - C_ab C_ac) / ((1+C_aa) sqrt((1+C_aa)(1+C_cc) - C_ac^2))``.
    ``C_bb`` does not enter (the average is linear in ``b``).
    """
    one_a = 1.0 + caa
    lam3 = one_a * (1.0 + ccc) - np.square(cac)
    return (2.0 / math.pi) * (cbc * one_a - cab * cac) / (one_a * np.sqrt(lam3))


def I4(
    caa: Array,
    cbb: Array,
    ccc: Array,
    cdd: Array,
    cab: Array,
    cac: Array,
    cad: Array,
    cbc: Array,
    cbd: Array,
    ccd: Array,
) -> Array:
    """``I4(a,b,c,d) = E[g'(a) g'(b) g(c) g(d)] = (4/pi^2) arcsin(L0 / sqrt(L1 L2)) / sqrt(L4)``

    with ``L4 = (1+C_aa)(1+C_bb) - C_ab^2``,
    ``L0 = L4 C_cd - C_bc C_bd (1+C_aa) - C_ac C_ad (1+C_bb) + C_ab C_ac C_bd + C_ab C_ad C_bc``,
    ``L1 = L4 (1+C_cc) - C_bc^2 (1+C_aa) - C_ac^2 (1+C_bb) + 2 C_ab C_ac C_bc``,
    ``L2 = L4 (1+C_dd) - C_bd^2 (1+C_aa) - C_ad^2 (1+C_bb) + 2 C_ab C_ad C_bd``.
    """
    one_a, one_b = 1.0 + caa, 1.0 + cbb
    l4 = one_a * one_b - np.square(cab)
    l0 = l4 * ccd - cbc * cbd * one_a - cac * cad * one_b + cab * cac * cbd + cab * cad * cbc
    l1 = l4 * (1.0 + ccc) - np.square(cbc) * one_a - np.square(cac) * one_b + 2 * cab * cac * cbc
    l2 = l4 * (1.0 + cdd) - np.square(cbd) * one_a - np.square(cad) * one_b + 2 * cab * cad * cbd
    return (4.0 / math.pi**2) * _arcsin(l0 / np.sqrt(l1 * l2)) / np.sqrt(l4)


def gaussian_mc(
    cov: Array, func: Callable[[Array], Array], n: int = 1_000_000, seed: int = 0
) -> tuple[float, float]:
    """Monte Carlo estimate (mean, standard error) of ``E[func(z)]`` for ``z ~ N(0, cov)``.

    ``func`` receives the samples as an ``(n, D)`` array and returns ``n`` values. Used by
    the tests to check the closed forms above (and, with ``g(z) = z``, itself).
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, cov.shape[0])) @ np.linalg.cholesky(cov).T
    vals = np.asarray(func(z), dtype=np.float64)
    return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(n))


# --------------------------------------------------------------------------------------
# Order parameters
# --------------------------------------------------------------------------------------


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


def eps_g(Q: Array, R: Array, T: Array, v: Array, vstar: Array) -> float:
    """Analytic generalisation error ``eps_g = 0.5 E[(y - yhat)^2]`` (SPEC section 3):

    ``(1/pi) [sum_ik v_i v_k arcsin(Q_ik / sqrt((1+Q_ii)(1+Q_kk)))
    + sum_nm v*_n v*_m arcsin(T_nm / sqrt((1+T_nn)(1+T_mm)))
    - 2 sum_in v_i v*_n arcsin(R_in / sqrt((1+Q_ii)(1+T_nn)))]``,

    i.e. ``0.5 u^T I2 u`` with ``u = (-v, v*)`` since ``I2 = (2/pi) arcsin(...)``.
    """
    qd, td = np.diag(Q), np.diag(T)
    ss = v @ I2(qd[:, None], qd[None, :], Q) @ v
    tt = vstar @ I2(td[:, None], td[None, :], T) @ vstar
    st = v @ I2(qd[:, None], td[None, :], R) @ vstar
    return float(0.5 * (ss + tt - 2.0 * st))


def gaussian_tables(C: Array, K: int) -> tuple[Array, Array, Array]:
    """All integrals the ODEs need, from the field covariance ``C`` (D x D, the first K
    fields are the student's, the last one may be ``phi``; the error involves the first
    ``n = D - 1`` fields only when ``phi`` is present, so pass the full matrix).

    Returns ``I2t[i, c] = I2(lambda_i, c)`` (K x n), ``I3t[i, b, c] = I3(lambda_i, b, c)``
    (K x D x n) and ``I4t[i, k, c, d] = I4(lambda_i, lambda_k, c, d)`` (K x K x n x n),
    where ``c, d`` run over the student and teacher fields and ``b`` over all fields.
    """
    D = C.shape[0]
    n = D - 1
    d = np.diag(C)
    i = np.arange(K)
    c = np.arange(n)
    b = np.arange(D)
    # K x n
    t2 = I2(d[i][:, None], d[c][None, :], C[np.ix_(i, c)])
    # K x D x n
    t3 = I3(
        d[i][:, None, None],
        d[c][None, None, :],
        C[np.ix_(i, b)][:, :, None],
        C[np.ix_(i, c)][:, None, :],
        C[np.ix_(b, c)][None, :, :],
    )
    # K x K x n x n
    ii, kk = i[:, None, None, None], i[None, :, None, None]
    cc, dd = c[None, None, :, None], c[None, None, None, :]
    t4 = I4(
        d[ii],
        d[kk],
        d[cc],
        d[dd],
        C[ii, kk],
        C[ii, cc],
        C[ii, dd],
        C[kk, cc],
        C[kk, dd],
        C[cc, dd],
    )
    return t2, t3, t4


# --------------------------------------------------------------------------------------
# ODEs
# --------------------------------------------------------------------------------------


def feedback(rule: str, op: OrderParams, b_dfa: Array | None = None) -> Array:
    """The feedback ``b_k`` each rule uses: BP ``v``, DFA fixed ``b``, AFA/PEPITA ``S``."""
    if rule == "bp":
        return op.v
    if rule == "dfa":
        return np.ones(op.K) if b_dfa is None else np.asarray(b_dfa, dtype=np.float64)
    if rule in ("afa", "pepita"):
        return op.S
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
    for quadratic order parameters). With ``b_i = S_i`` this is SPEC's formula
    ``dS_k/dalpha = eta S_k [sum_m v*_m I3(k,phi,m) - sum_j v_j I3(k,phi,j)]``: re-derived
    here, no change was needed. (``f.f/N`` does not enter: I3 does not depend on the
    variance of its middle field.) The same equation tracks ``S`` under BP and DFA, where it
    is only a diagnostic.

    The growth of ``S`` is multiplicative: early on ``yhat ~ 0`` and
    ``I3(k,phi,m) ~ (2/pi) P_m (1+Q_kk)/((1+Q_kk) sqrt(...)) > 0`` when ``P_m > 0``, so
    ``|S_k|`` grows exponentially at a rate ``~ eta P`` ("align"). If ``f`` is independent
    of the teacher, ``P = O(1/sqrt N)`` and that rate vanishes as ``N`` grows.
    """
    b = feedback(rule, op, b_dfa)
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


# --------------------------------------------------------------------------------------
# Microscopic simulation
# --------------------------------------------------------------------------------------


@dataclass
class TeacherStudent:
    """Weights of one teacher-student pair. ``wstar (M,N)``, ``vstar (M,)``, ``w (K,N)``,
    ``v (K,)``, ``f (N,)`` (PEPITA's projection direction), ``b (K,)`` (DFA feedback)."""

    wstar: Array
    vstar: Array
    w: Array
    v: Array
    f: Array
    b: Array

    @property
    def N(self) -> int:
        return self.w.shape[1]


def init_teacher_student(
    N: int, K: int, M: int, teacher_overlap: float, rng: np.random.Generator
) -> TeacherStudent:
    """Initialisation of SPEC section 3: ``w*_m ~ N(0, I_N)``, ``v*_m = 1``,
    ``w_k ~ N(0, I_N)``, ``v_k ~ 0.1 N(0,1)``, DFA feedback ``b_k = 1`` and
    ``f = a (w*_1 + ... + w*_M)/sqrt(M) + sqrt(1 - a^2) z``, ``z ~ N(0, I_N)``, ``a`` the
    teacher overlap (so ``f.f/N ~ 1`` and ``P_m ~ a / sqrt(M)``).

    The draws happen in a fixed order whatever the rule, so one seed gives BP, DFA, AFA and
    PEPITA the same teacher, student and ``f``.
    """
    wstar = rng.standard_normal((M, N))
    w = rng.standard_normal((K, N))
    v = 0.1 * rng.standard_normal(K)
    z = rng.standard_normal(N)
    a = float(teacher_overlap)
    f = a * wstar.sum(axis=0) / math.sqrt(M) + math.sqrt(max(0.0, 1.0 - a * a)) * z
    return TeacherStudent(wstar, np.ones(M), w, v, f, np.ones(K))


def order_params(ts: TeacherStudent) -> OrderParams:
    """Order parameters of actual weights: ``Q = w w^T/N``, ``R = w w*^T/N``, ...,
    ``S = w f/N``, ``P = w* f/N``, ``ff = f.f/N``."""
    N = ts.N
    return OrderParams(
        Q=ts.w @ ts.w.T / N,
        R=ts.w @ ts.wstar.T / N,
        T=ts.wstar @ ts.wstar.T / N,
        v=ts.v.copy(),
        vstar=ts.vstar.copy(),
        S=ts.w @ ts.f / N,
        P=ts.wstar @ ts.f / N,
        ff=float(ts.f @ ts.f / N),
    )


def simulate(
    ts: TeacherStudent,
    rule: str,
    lr: float,
    sigma_f: float,
    record_steps: Sequence[int],
    rng: np.random.Generator,
    x_test: Array | None = None,
    chunk: int = 512,
) -> dict[str, Any]:
    r"""Online SGD, one fresh ``x ~ N(0, I_N)`` per step, state recorded after each of
    ``record_steps`` steps (``alpha = steps / N``). ``ts`` is not modified.

    Rules (``e = yhat - y``; ``h_k = g(lambda_k)``):

    - ``bp``: ``w_k += (eta/sqrt N) v_k g'(lambda_k)(y - yhat) x``, delta rule on ``v``;
    - ``dfa``: the same with fixed ``b_k``;
    - ``afa``: the same with ``b_k = S_k = w_k.f/N`` recomputed every step;
    - ``pepita`` (exact, two forward passes): modulated input ``x' = x - F e`` with
      ``F = sigma_F f / sqrt N``; modulated fields ``lambda'_k = w_k.x'/sqrt N
      = lambda_k - sigma_F e S_k`` (exact, the pass is linear up to g);
      ``w_k -= (eta/sigma_F)(1/sqrt N) (h_k - h'_k) x'`` and ``v_k -= (eta/N) e h'_k``
      (SPEC 1.1: first-pass error, modulated presynaptic activity). Since
      ``h_k - h'_k = g'(lambda_k) sigma_F e S_k + O(sigma_F^2)`` and ``x' = x + O(sigma_F)``,
      the first-layer step is ``(eta/sqrt N) S_k g'(lambda_k)(y - yhat) x + O(sigma_F)``:
      AFA with ``b_k = S_k``; the rate ``eta / sigma_F`` is what makes this limit finite.

    Returns ``Q, R, v, S`` at the record times, ``eps_g`` from them (with the actual ``T``),
    and, when ``x_test`` is given, the test-set estimate ``eps_g_test`` of
    ``0.5 E[(y - yhat)^2]`` with its standard error; ``diverged`` if the weights blew up.
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; use one of {', '.join(RULES)}")
    if rule == "pepita" and sigma_f <= 0:
        raise ValueError(f"pepita needs sigma_f > 0, got {sigma_f}")
    N = ts.N
    W, v = ts.w.copy(), ts.v.copy()
    wstar, vstar, f, b_fixed = ts.wstar, ts.vstar, ts.f, ts.b
    T = wstar @ wstar.T / N
    sqrt_n = math.sqrt(N)
    c1, c2 = lr / sqrt_n, lr / N
    f_over_n = f / N
    F = sigma_f * f / sqrt_n  # the projection of the (scalar) error onto the input
    c1_pep = lr / (sigma_f * sqrt_n) if rule == "pepita" else 0.0

    steps = np.asarray(record_steps, dtype=np.int64)
    n_rec = len(steps)
    K, M = W.shape[0], wstar.shape[0]
    rec = {
        "Q": np.full((n_rec, K, K), np.nan),
        "R": np.full((n_rec, K, M), np.nan),
        "v": np.full((n_rec, K), np.nan),
        "S": np.full((n_rec, K), np.nan),
        "eps_g": np.full(n_rec, np.nan),
        "eps_g_test": np.full(n_rec, np.nan),
        "eps_g_test_se": np.full(n_rec, np.nan),
    }
    y_test = g(x_test @ wstar.T / sqrt_n) @ vstar if x_test is not None else None

    def record(j: int) -> None:
        Q, R = W @ W.T / N, W @ wstar.T / N
        rec["Q"][j], rec["R"][j], rec["v"][j], rec["S"][j] = Q, R, v, W @ f_over_n
        rec["eps_g"][j] = eps_g(Q, R, T, v, vstar)
        if x_test is not None:
            sq = 0.5 * np.square(y_test - g(x_test @ W.T / sqrt_n) @ v)
            rec["eps_g_test"][j] = sq.mean()
            rec["eps_g_test_se"][j] = sq.std(ddof=1) / math.sqrt(len(sq))

    order = np.argsort(steps, kind="stable")
    total = int(steps.max()) if n_rec else 0
    step, k = 0, 0
    diverged = False
    while k < n_rec and steps[order[k]] == 0:
        record(order[k])
        k += 1
    while step < total and not diverged:
        n_chunk = min(chunk, total - step)
        X = rng.standard_normal((n_chunk, N))
        Y = g(X @ wstar.T / sqrt_n) @ vstar  # the teacher is fixed: label a whole chunk
        for x, y in zip(X, Y):
            lam = W @ x / sqrt_n
            h = g(lam)
            err = y - h @ v  # y - yhat
            if rule == "pepita":
                e = -err
                S = W @ f_over_n
                h_mod = g(lam - sigma_f * e * S)
                W -= c1_pep * np.outer(h - h_mod, x - F * e)
                v -= c2 * e * h_mod
            else:
                if rule == "bp":
                    b = v
                elif rule == "dfa":
                    b = b_fixed
                else:  # afa
                    b = W @ f_over_n
                delta = b * g_prime(lam) * err
                v += c2 * err * h  # uses h of the current weights; b above is pre-update
                W += c1 * np.outer(delta, x)
            step += 1
            while k < n_rec and steps[order[k]] == step:
                record(order[k])
                k += 1
        if not (np.isfinite(W).all() and np.isfinite(v).all()):
            diverged = True
    rec["diverged"] = diverged
    return rec


# --------------------------------------------------------------------------------------
# One run: config, ODE + simulation, JSON record, load-or-run for chapters
# --------------------------------------------------------------------------------------


def make_config(
    rule: str,
    N: int,
    K: int,
    M: int,
    lr: float,
    sigma_f: float,
    teacher_overlap: float,
    alpha: float,
    seed: int,
    dt: float = 0.01,
    n_points: int = 50,
    n_test: int = DEFAULT_TEST_SAMPLES,
) -> dict[str, Any]:
    """A validated, JSON-able config (the thing that is hashed into the record's name)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; use one of {', '.join(RULES)}")
    for name, val in (("N", N), ("K", K), ("M", M), ("n_points", n_points)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {val}")
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2, got {n_points}")
    if int(n_test) != n_test or n_test < 0:
        raise ValueError(f"n_test must be an integer >= 0, got {n_test}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if not sigma_f > 0:
        raise ValueError(f"sigma_f must be > 0, got {sigma_f}")
    if not -1.0 <= teacher_overlap <= 1.0:
        raise ValueError(f"teacher_overlap must lie in [-1, 1], got {teacher_overlap}")
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    if not alpha >= 10 * dt:
        raise ValueError(f"alpha must be >= 10 dt = {10 * dt}, got {alpha}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed}")
    return {
        "rule": rule,
        "N": int(N),
        "K": int(K),
        "M": int(M),
        "lr": float(lr),
        "sigma_f": float(sigma_f),
        "teacher_overlap": float(teacher_overlap),
        "alpha": float(alpha),
        "seed": int(seed),
        "dt": float(dt),
        "n_points": int(n_points),
        "n_test": int(n_test),
    }


def config_id(config: dict[str, Any]) -> str:
    """16 hex digits of sha256 over the config (sorted keys): the record's file name."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def alpha_grid(alpha: float, n_points: int, dt: float) -> Array:
    """``n_points`` log-spaced times from ``max(10 dt, alpha/1e4)`` to ``alpha``, on the Euler
    grid (multiples of ``dt``; duplicates after rounding are dropped)."""
    lo = max(10 * dt, alpha / 1e4)
    grid = np.geomspace(lo, alpha, n_points)
    # round away the binary noise of k * dt so the JSON shows 0.57, not 0.5700000000000001
    return np.round(np.unique(np.rint(grid / dt).astype(np.int64)) * dt, 12)


def _rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    # independent streams for the initial weights, the training samples and the test set,
    # so that e.g. changing n_test does not change the trajectory
    init, stream, test = np.random.SeedSequence(seed).spawn(3)
    return np.random.default_rng(init), np.random.default_rng(stream), np.random.default_rng(test)


def _clean(x: Any) -> Any:
    """numpy -> lists, non-finite -> None (JSON has no NaN; the store refuses it)."""
    if isinstance(x, dict):
        return {k: _clean(y) for k, y in x.items()}
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, list | tuple):
        return [_clean(y) for y in x]
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _op_dict(op: OrderParams) -> dict[str, Any]:
    return {
        "Q": op.Q,
        "R": op.R,
        "T": op.T,
        "v": op.v,
        "vstar": op.vstar,
        "S": op.S,
        "P": op.P,
        "ff": op.ff,
    }


def run_theory(
    rule: str,
    N: int,
    K: int,
    M: int,
    lr: float,
    sigma_f: float,
    teacher_overlap: float,
    alpha: float,
    seed: int,
    dt: float = 0.01,
    n_points: int = 50,
    n_test: int = DEFAULT_TEST_SAMPLES,
) -> dict[str, Any]:
    """ODE and simulation of one rule from the same initial weights, as a JSON-able record.

    ``rule`` in ``bp, dfa, afa, pepita``; the ODE of ``afa`` and ``pepita`` is the same (the
    AFA limit ``sigma_F -> 0``), the simulation of ``pepita`` is the exact two-pass rule.
    ``sigma_f`` only enters the ``pepita`` simulation; ``teacher_overlap`` only ``f``
    (so for BP and DFA only the diagnostic ``S``). Keys: ``config``, ``id``, ``status``,
    ``alpha`` (log-spaced times), ``init`` (initial order parameters, shared by ODE and
    simulation), ``ode`` and ``sim`` (``eps_g``, ``Q``, ``R``, ``v``, ``S`` at each time; the
    simulation also ``eps_g_test`` on ``n_test`` held-out samples and its standard error),
    ``provenance``.
    """
    from .provenance import environment, now

    config = make_config(
        rule, N, K, M, lr, sigma_f, teacher_overlap, alpha, seed, dt, n_points, n_test
    )
    started, t0 = now(), time.perf_counter()
    r_init, r_stream, r_test = _rngs(seed)
    ts = init_teacher_student(N, K, M, teacher_overlap, r_init)
    op0 = order_params(ts)
    alphas = alpha_grid(alpha, n_points, dt)
    ode = integrate_ode(op0, rule, lr, alphas, dt, ts.b)
    t_ode = time.perf_counter() - t0
    x_test = r_test.standard_normal((n_test, N)) if n_test else None
    steps = np.rint(alphas * N).astype(np.int64)
    sim = simulate(ts, rule, lr, sigma_f, steps, r_stream, x_test)
    diverged = bool(sim.pop("diverged"))
    if n_test == 0:
        sim.pop("eps_g_test")
        sim.pop("eps_g_test_se")
    import torch

    prov = environment(torch.device("cpu"))
    prov.update(
        {
            "started": started,
            "finished": now(),
            "wall_seconds": time.perf_counter() - t0,
            "ode_seconds": t_ode,
        }
    )
    ode_finite = bool(np.isfinite(ode["eps_g"]).all())
    return _clean(
        {
            "experiment": EXPERIMENT,
            "id": config_id(config),
            "config": config,
            "status": "finished" if not diverged and ode_finite else "diverged",
            "alpha": alphas,
            "sim_steps": steps,
            "init": _op_dict(op0),
            "dfa_feedback": ts.b,
            "ode": ode,
            "sim": sim,
            "provenance": prov,
        }
    )


def record_path(config: dict[str, Any], results_dir: str | Path) -> Path:
    """``{results_dir}/theory/<config hash>.json``."""
    return Path(results_dir) / EXPERIMENT / f"{config_id(config)}.json"


def theory_command(config: dict[str, Any], out: str | Path | None = None) -> str:
    """The ``pepita theory ...`` command line that computes and stores ``config``."""
    c = config
    args = [
        "pepita", "theory", "--rule", c["rule"], "--N", str(c["N"]), "--K", str(c["K"]),
        "--M", str(c["M"]), "--lr", repr(c["lr"]), "--sigma-f", repr(c["sigma_f"]),
        "--teacher-overlap", repr(c["teacher_overlap"]), "--alpha", repr(c["alpha"]),
        "--seed", str(c["seed"]), "--dt", repr(c["dt"]), "--points", str(c["n_points"]),
    ]  # fmt: skip
    if c["n_test"] != DEFAULT_TEST_SAMPLES:
        args += ["--test-samples", str(c["n_test"])]
    if out is not None:
        args += ["--out", str(out)]
    return shlex.join(args)


def _display_path(path: Path) -> str:
    # the command in a chapter's note is meant to be run from the repository root
    root = Path(__file__).resolve().parents[1]
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path.resolve())


def load_or_run(
    config: dict[str, Any], results_dir: str | Path, run_missing: bool = False
) -> tuple[dict[str, Any] | None, str]:
    """The stored record of ``config`` (computing and storing it first when missing and
    ``run_missing``), and the command that produces it. ``None`` when it is missing."""
    from .store import read_record, write_json_atomic

    path = record_path(config, results_dir)
    cmd = theory_command(config, _display_path(path))
    if path.is_file():
        return read_record(path), cmd
    if not run_missing:
        return None, cmd
    c = config
    rec = run_theory(
        c["rule"], c["N"], c["K"], c["M"], c["lr"], c["sigma_f"], c["teacher_overlap"],
        c["alpha"], c["seed"], c["dt"], c["n_points"], c["n_test"],
    )  # fmt: skip
    write_json_atomic(path, rec)
    return rec, cmd


def missing_note(commands: Sequence[str]) -> str:
    """Markdown for a chapter: which theory runs are missing and how to compute them."""
    if not commands:
        return "All teacher-student runs this chapter uses are stored."
    lines = [
        f"**Not run yet** ({len(commands)} teacher-student runs). From the repository root:",
        "",
    ]
    lines += [f"- `{c}`" for c in commands]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# The runs the book chapter reads (chapters/teacher_student.ipynb)
# --------------------------------------------------------------------------------------

PROFILES = ("paper", "smoke")


def chapter_configs(profile: str) -> dict[str, list[dict[str, Any]]]:
    """The configs behind each figure of the teacher-student chapter.

    ``paper``: SPEC's check parameters (N = 500, K = M = 2, eta = 0.2, sigma_F = 0.05,
    teacher overlap a = 0.6 or 0), alpha up to 300, three seeds; ``smoke``: the same
    structure with N = 60 and alpha = 5 so the chapter runs in seconds.

    - ``main``: BP, DFA, AFA and exact PEPITA at a = 0.6 (the Fig. 2b analogue);
    - ``random_f``: AFA and PEPITA at a = 0 (F independent of the teacher);
    - ``scaling``: AFA at a in {0, 0.6} for two more input sizes N;
    - ``sigma_f``: exact PEPITA at a smaller and a larger sigma_F (seed 0).
    """
    if profile == "paper":
        base = dict(N=500, K=2, M=2, lr=0.2, sigma_f=0.05, alpha=300.0, dt=0.01, n_points=50)
        seeds, scale_n, scale_seeds, n_test = [0, 1, 2], [250, 1000], [0, 1], DEFAULT_TEST_SAMPLES
    elif profile == "smoke":
        base = dict(N=60, K=2, M=2, lr=0.2, sigma_f=0.05, alpha=5.0, dt=0.01, n_points=15)
        seeds, scale_n, scale_seeds, n_test = [0], [30, 120], [0], 1000
    else:
        raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")

    def cfg(**kw: Any) -> dict[str, Any]:
        return make_config(**{**base, "n_test": n_test, **kw})

    return {
        "main": [
            cfg(rule=r, teacher_overlap=0.6, seed=s)
            for r in ("bp", "dfa", "afa", "pepita")
            for s in seeds
        ],
        "random_f": [
            cfg(rule=r, teacher_overlap=0.0, seed=s) for r in ("afa", "pepita") for s in seeds
        ],
        "scaling": [
            cfg(rule="afa", teacher_overlap=a, seed=s, N=n)
            for a in (0.0, 0.6)
            for n in scale_n
            for s in scale_seeds
        ],
        "sigma_f": [
            cfg(rule="pepita", teacher_overlap=0.6, seed=0, sigma_f=sf)
            for sf in (4 * base["sigma_f"], base["sigma_f"] / 4)
        ],
    }
