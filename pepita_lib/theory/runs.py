"""Teacher-student runs: one frozen config, the ODE and the simulation from the same initial
weights as one JSON record, and the grid the chapter "Teacher-student theory" reads.

The records live in the results store like training runs (``results/theory/<run id>.json``,
:mod:`pepita_lib.store`), and the grid is registered as the experiment ``theory``
(:mod:`pepita_lib.experiments`), so ``pepita status``, ``pepita run theory`` and the
chapters' missing-run notes cover these runs too. Nothing here needs torch except the
provenance of a new record.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import content_hash
from .integrals import Array
from .ode import RULES, OrderParams, integrate_ode
from .simulation import init_teacher_student, order_params, simulate

EXPERIMENT = "theory"  # records live in results/<EXPERIMENT>/<run id>.json
DESCRIPTION = (
    "teacher-student ODEs against online-SGD simulations: BP, DFA, AFA and exact PEPITA, "
    "aligned and random F, three input sizes, three sigma_F (numpy, no data)"
)


def _setting(default: Any, help: str, **meta: Any) -> Any:
    # a field whose help text (and, for a few, its historical flag name) the CLI reads
    return field(default=default, metadata={"help": help, **meta})


@dataclass(frozen=True)
class TheoryConfig:
    """Every setting of one teacher-student run. Its :meth:`run_id` names the record."""

    rule: str = _setting("pepita", "learning rule", choices=RULES)
    N: int = _setting(500, "input dimension")
    K: int = _setting(2, "student hidden units")
    M: int = _setting(2, "teacher hidden units")
    lr: float = _setting(0.2, "learning rate eta")
    sigma_f: float = _setting(0.05, "PEPITA's F scale sigma_F (F = sigma_F f/sqrt N)")
    teacher_overlap: float = _setting(
        0.6, "a in f = a (w*_1+..+w*_M)/sqrt(M) + sqrt(1-a^2) z, in [-1, 1]"
    )
    alpha: float = _setting(100.0, "final time alpha = steps / N")
    seed: int = _setting(0, "seed of the initial weights, the samples and the test set")
    dt: float = _setting(0.01, "Euler step of the ODE")
    n_points: int = _setting(50, "log-spaced times recorded", flag="--points")
    n_test: int = _setting(
        10_000, "held-out Gaussian samples for the measured eps_g (0: none)", flag="--test-samples"
    )

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        # the record's hash is over JSON, where 300 and 300.0 differ: fix each field's type
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, type(f.default)(getattr(self, f.name)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def run_id(self) -> str:
        """16 hex digits of sha256 over every setting (not only the non-default ones, as a
        training run's id: the theory's records were named this way from the start)."""
        return content_hash(self.to_dict())

    def replace(self, **changes: Any) -> TheoryConfig:
        return dataclasses.replace(self, **changes)


def _problems(c: TheoryConfig) -> list[str]:
    """Every invalid setting of ``c``, one phrase each."""
    out = []
    if c.rule not in RULES:
        out.append(f"unknown rule {c.rule!r}; use one of {', '.join(RULES)}")
    for name in ("N", "K", "M", "n_points"):
        val = getattr(c, name)
        if int(val) != val or val < 1:
            out.append(f"{name} must be an integer >= 1, got {val}")
    if c.n_points < 2:
        out.append(f"n_points must be >= 2, got {c.n_points}")
    if int(c.n_test) != c.n_test or c.n_test < 0:
        out.append(f"n_test must be an integer >= 0, got {c.n_test}")
    if int(c.seed) != c.seed or c.seed < 0:
        out.append(f"seed must be an integer >= 0, got {c.seed}")
    if not c.lr > 0:
        out.append(f"lr must be > 0, got {c.lr}")
    if not c.sigma_f > 0:
        out.append(f"sigma_f must be > 0, got {c.sigma_f}")
    if not -1.0 <= c.teacher_overlap <= 1.0:
        out.append(f"teacher_overlap must lie in [-1, 1], got {c.teacher_overlap}")
    if not c.dt > 0:
        out.append(f"dt must be > 0, got {c.dt}")
    elif not c.alpha >= 10 * c.dt:
        out.append(f"alpha must be >= 10 dt = {10 * c.dt}, got {c.alpha}")
    return out


def alpha_grid(alpha: float, n_points: int, dt: float) -> Array:
    """``n_points`` log-spaced times from ``max(10 dt, alpha/1e4)`` to ``alpha``, on the Euler
    grid (multiples of ``dt``; duplicates after rounding are dropped)."""
    lo = max(10 * dt, alpha / 1e4)
    grid = np.geomspace(lo, alpha, n_points)
    # round away the binary noise of k * dt so the JSON shows 0.57, not 0.5700000000000001
    return np.round(np.unique(np.rint(grid / dt).astype(np.int64)) * dt, 12)


def rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent streams for the initial weights, the training samples and the test set,
    so that e.g. changing ``n_test`` does not change the trajectory."""
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
    return {k: getattr(op, k) for k in ("Q", "R", "T", "v", "vstar", "S", "P", "ff")}


def _curves(cfg: TheoryConfig) -> dict[str, Any]:
    """ODE and simulation of ``cfg`` from one initialisation: the record's numeric parts."""
    t0 = time.perf_counter()
    r_init, r_stream, r_test = rngs(cfg.seed)
    ts = init_teacher_student(cfg.N, cfg.K, cfg.M, cfg.teacher_overlap, r_init)
    op0 = order_params(ts)
    alphas = alpha_grid(cfg.alpha, cfg.n_points, cfg.dt)
    ode = integrate_ode(op0, cfg.rule, cfg.lr, alphas, cfg.dt, ts.b)
    t_ode = time.perf_counter() - t0
    x_test = r_test.standard_normal((cfg.n_test, cfg.N)) if cfg.n_test else None
    steps = np.rint(alphas * cfg.N).astype(np.int64)
    sim = simulate(ts, cfg.rule, cfg.lr, cfg.sigma_f, steps, r_stream, x_test)
    diverged = bool(sim.pop("diverged"))
    if cfg.n_test == 0:
        sim.pop("eps_g_test")
        sim.pop("eps_g_test_se")
    finished = not diverged and bool(np.isfinite(ode["eps_g"]).all())
    return {
        "status": "finished" if finished else "diverged",
        "alpha": alphas,
        "sim_steps": steps,
        "init": _op_dict(op0),
        "dfa_feedback": ts.b,
        "ode": ode,
        "sim": sim,
        "ode_seconds": t_ode,
    }


def run_theory(cfg: TheoryConfig) -> dict[str, Any]:
    """ODE and simulation of one rule from the same initial weights, as a JSON-able record.

    The ODE of ``afa`` and ``pepita`` is the same (the AFA limit ``sigma_F -> 0``), the
    simulation of ``pepita`` is the exact two-pass rule. ``sigma_f`` only enters the
    ``pepita`` simulation; ``teacher_overlap`` only ``f`` (so for BP and DFA only the
    diagnostic ``S``). Keys: ``experiment``, ``id``, ``config``, ``status``, ``alpha``
    (log-spaced times), ``sim_steps``, ``init`` (initial order parameters, shared by ODE and
    simulation), ``dfa_feedback``, ``ode`` and ``sim`` (``eps_g``, ``Q``, ``R``, ``v``, ``S``
    at each time; the simulation also ``eps_g_test`` on ``n_test`` held-out samples and its
    standard error), ``provenance``.
    """
    import torch

    from ..provenance import environment, now

    started, t0 = now(), time.perf_counter()
    curves = _curves(cfg)
    prov = environment(torch.device("cpu"))
    prov.update({"started": started, "finished": now(), "wall_seconds": time.perf_counter() - t0,
                 "ode_seconds": curves.pop("ode_seconds")})  # fmt: skip
    head = {"experiment": EXPERIMENT, "id": cfg.run_id(), "config": cfg.to_dict()}
    return _clean({**head, **curves, "provenance": prov})


# The grid of the chapter "Teacher-student theory", per profile: ``paper`` uses N = 500,
# K = M = 2, eta = 0.2, sigma_F = 0.05, alpha up to 300 and three seeds; ``smoke`` the same
# structure with N = 60 and alpha = 5 so the chapter runs in seconds.
_PROFILE_SETTINGS = {
    "paper": {"base": dict(N=500, K=2, M=2, lr=0.2, sigma_f=0.05, alpha=300.0, dt=0.01,
                           n_points=50, n_test=10_000),
              "seeds": (0, 1, 2), "scale_n": (250, 1000), "scale_seeds": (0, 1)},
    "smoke": {"base": dict(N=60, K=2, M=2, lr=0.2, sigma_f=0.05, alpha=5.0, dt=0.01,
                           n_points=15, n_test=1000),
              "seeds": (0,), "scale_n": (30, 120), "scale_seeds": (0,)},
}  # fmt: skip


def theory_grid(profile: str) -> list[TheoryConfig]:
    """The runs behind the figures of the chapter "Teacher-student theory", in this order:

    - BP, DFA, AFA and exact PEPITA at teacher overlap a = 0.6 (ODE against simulation);
    - AFA and PEPITA at a = 0 (F independent of the teacher);
    - AFA at a in {0, 0.6} for two more input sizes N;
    - exact PEPITA at a 4x larger and a 4x smaller sigma_F (a = 0.6, seed 0).
    """
    if profile not in _PROFILE_SETTINGS:
        raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(_PROFILE_SETTINGS)}")
    p = _PROFILE_SETTINGS[profile]
    base = TheoryConfig(**p["base"])
    main = [base.replace(rule=r, teacher_overlap=0.6, seed=s) for r in RULES for s in p["seeds"]]
    random_f = [
        base.replace(rule=r, teacher_overlap=0.0, seed=s)
        for r in ("afa", "pepita")
        for s in p["seeds"]
    ]
    scaling = [
        base.replace(rule="afa", teacher_overlap=a, seed=s, N=n)
        for a in (0.0, 0.6)
        for n in p["scale_n"]
        for s in p["scale_seeds"]
    ]
    sigma_f = [
        base.replace(rule="pepita", teacher_overlap=0.6, seed=0, sigma_f=sf)
        for sf in (4 * base.sigma_f, base.sigma_f / 4)
    ]
    return main + random_f + scaling + sigma_f
