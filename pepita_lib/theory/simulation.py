r"""Online SGD in the teacher-student setting: the microscopic side of the theory.

One teacher-student pair (:class:`TeacherStudent`), its order parameters
(:func:`order_params`) and the simulation of one rule on fresh Gaussian samples
(:func:`simulate`), whose order parameters the ODEs of :mod:`pepita_lib.theory.ode`
should track as ``N`` grows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .integrals import Array, eps_g, g, g_prime
from .ode import RULES, OrderParams, feedback


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
    """The initialisation of the chapter "Teacher-student theory": ``w*_m ~ N(0, I_N)``,
    ``v*_m = 1``, ``w_k ~ N(0, I_N)``, ``v_k ~ 0.1 N(0,1)``, DFA feedback ``b_k = 1`` and
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

    Rules (``e = yhat - y``; ``h_k = g(lambda_k)``; the step is :class:`OnlineStep`):

    - ``bp``, ``dfa``, ``afa``: ``w_k += (eta/sqrt N) b_k g'(lambda_k)(y - yhat) x`` and the
      delta rule on ``v``, with the feedback ``b_k`` of :func:`pepita_lib.theory.ode.feedback`
      (``v_k``; fixed ``b_k``; ``S_k = w_k.f/N`` recomputed every step);
    - ``pepita`` (exact, two forward passes): modulated input ``x' = x - F e`` with
      ``F = sigma_F f / sqrt N``; modulated fields ``lambda'_k = w_k.x'/sqrt N
      = lambda_k - sigma_F e S_k`` (exact, the pass is linear up to g);
      ``w_k -= (eta/sigma_F)(1/sqrt N) (h_k - h'_k) x'`` and ``v_k -= (eta/N) e h'_k``
      (Dellaferrera & Kreiman 2022: first-pass error, modulated presynaptic activity).
      Since ``h_k - h'_k = g'(lambda_k) sigma_F e S_k + O(sigma_F^2)`` and
      ``x' = x + O(sigma_F)``, the first-layer step is
      ``(eta/sqrt N) S_k g'(lambda_k)(y - yhat) x + O(sigma_F)``: AFA with ``b_k = S_k``;
      the rate ``eta / sigma_F`` is what makes this limit finite.

    Returns ``Q, R, v, S`` at the record times, ``eps_g`` from them (with the actual ``T``),
    and, when ``x_test`` is given, the test-set estimate ``eps_g_test`` of
    ``0.5 E[(y - yhat)^2]`` with its standard error; ``diverged`` if the weights blew up.
    """
    step_once = OnlineStep.of(ts, rule, lr, sigma_f)
    W, v = ts.w.copy(), ts.v.copy()
    recorder = Recorder(ts, record_steps, x_test)
    recorder.at(0, W, v)
    sqrt_n, total, step = math.sqrt(ts.N), recorder.last_step, 0
    diverged = False
    while step < total and not diverged:
        X = rng.standard_normal((min(chunk, total - step), ts.N))
        Y = g(X @ ts.wstar.T / sqrt_n) @ ts.vstar  # the teacher is fixed: label a whole chunk
        for x, y in zip(X, Y):
            step_once(W, v, x, y)
            step += 1
            recorder.at(step, W, v)
        diverged = not (np.isfinite(W).all() and np.isfinite(v).all())
    return {**recorder.rec, "diverged": diverged}


@dataclass(frozen=True)
class OnlineStep:
    """One online step of one rule, applied in place to the student's ``W`` and ``v``."""

    rule: str
    sqrt_n: float
    lr_w: float  # eta / sqrt N (eta / (sigma_F sqrt N) for exact PEPITA)
    lr_v: float  # eta / N
    sigma_f: float
    F: Array  # PEPITA's projection sigma_F f / sqrt N of the (scalar) error onto the input
    f_over_n: Array  # f / N, so that S = W f / N
    b_fixed: Array  # DFA's feedback

    @classmethod
    def of(cls, ts: TeacherStudent, rule: str, lr: float, sigma_f: float) -> OnlineStep:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; use one of {', '.join(RULES)}")
        if rule == "pepita" and sigma_f <= 0:
            raise ValueError(f"pepita needs sigma_f > 0, got {sigma_f}")
        sqrt_n = math.sqrt(ts.N)
        lr_w = lr / (sigma_f * sqrt_n) if rule == "pepita" else lr / sqrt_n
        F = sigma_f * ts.f / sqrt_n
        return cls(rule, sqrt_n, lr_w, lr / ts.N, sigma_f, F, ts.f / ts.N, ts.b)

    def __call__(self, W: Array, v: Array, x: Array, y: float) -> None:
        lam = W @ x / self.sqrt_n
        h = g(lam)
        err = y - h @ v  # y - yhat
        S = W @ self.f_over_n
        if self.rule == "pepita":
            e = -err
            h_mod = g(lam - self.sigma_f * e * S)
            W -= self.lr_w * np.outer(h - h_mod, x - self.F * e)
            v -= self.lr_v * e * h_mod
            return
        delta = feedback(self.rule, v, S, self.b_fixed) * g_prime(lam) * err
        v += self.lr_v * err * h  # uses h of the current weights; delta above is pre-update
        W += self.lr_w * np.outer(delta, x)


class Recorder:
    """The order parameters (and the test-set error) at the record steps of a simulation."""

    def __init__(self, ts: TeacherStudent, record_steps: Sequence[int], x_test: Array | None):
        self.steps = np.asarray(record_steps, dtype=np.int64)
        self.order = np.argsort(self.steps, kind="stable")
        self.last_step = int(self.steps.max()) if len(self.steps) else 0
        self.next = 0  # index into order of the first time not yet recorded
        self.ts, self.x_test = ts, x_test
        self.T = ts.wstar @ ts.wstar.T / ts.N
        sqrt_n = math.sqrt(ts.N)
        self.y_test = None if x_test is None else g(x_test @ ts.wstar.T / sqrt_n) @ ts.vstar
        n, K, M = len(self.steps), ts.w.shape[0], ts.wstar.shape[0]
        self.rec = {
            "Q": np.full((n, K, K), np.nan),
            "R": np.full((n, K, M), np.nan),
            "v": np.full((n, K), np.nan),
            "S": np.full((n, K), np.nan),
            "eps_g": np.full(n, np.nan),
            "eps_g_test": np.full(n, np.nan),
            "eps_g_test_se": np.full(n, np.nan),
        }

    def at(self, step: int, W: Array, v: Array) -> None:
        """Record the state for every record time equal to ``step`` (times come in order)."""
        while self.next < len(self.steps) and self.steps[self.order[self.next]] == step:
            self._record(int(self.order[self.next]), W, v)
            self.next += 1

    def _record(self, j: int, W: Array, v: Array) -> None:
        ts, rec, N = self.ts, self.rec, self.ts.N
        Q, R = W @ W.T / N, W @ ts.wstar.T / N
        rec["Q"][j], rec["R"][j], rec["v"][j], rec["S"][j] = Q, R, v, W @ (ts.f / N)
        rec["eps_g"][j] = eps_g(Q, R, self.T, v, ts.vstar)
        if self.x_test is not None:
            yhat = g(self.x_test @ W.T / math.sqrt(N)) @ v
            sq = 0.5 * np.square(self.y_test - yhat)
            rec["eps_g_test"][j] = sq.mean()
            rec["eps_g_test_se"][j] = sq.std(ddof=1) / math.sqrt(len(sq))
