r"""Gaussian averages of the teacher-student theory of PEPITA, and its generalisation error.

The setting (Saad & Solla 1995; Goldt et al. 2019; Refinetti et al. 2021, whose analysis of
direct feedback alignment the book's chapter "Teacher-student theory" extends to PEPITA):
inputs ``x ~ N(0, I_N)``, teacher ``y = sum_m v*_m g(nu_m)``, student
``yhat = sum_k v_k g(lambda_k)`` with local fields ``nu_m = w*_m . x / sqrt N`` and
``lambda_k = w_k . x / sqrt N``, activation ``g(z) = erf(z / sqrt 2)``. Every drift of the
order-parameter ODEs (:mod:`pepita_lib.theory.ode`) is a Gaussian average over the local
fields; for this ``g`` those averages have closed forms, the integrals :func:`I2`,
:func:`I3` and :func:`I4` (Saad & Solla 1995, Appendix). Everything is numpy float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import erf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

Array = np.ndarray


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


def eps_g(Q: Array, R: Array, T: Array, v: Array, vstar: Array) -> float:
    """Analytic generalisation error ``eps_g = 0.5 E[(y - yhat)^2]`` (Saad & Solla 1995):

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
