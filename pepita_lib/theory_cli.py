"""The ``pepita theory`` subcommand: one teacher-student run (ODE + simulation) to JSON.

Wired into :mod:`pepita_lib.cli` with ``add_theory_parser(sub)``. Example::

    pepita theory --rule pepita --N 500 --K 2 --M 2 --lr 0.2 --sigma-f 0.05 \\
        --teacher-overlap 0.6 --alpha 100 --seed 0 --out curves.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .theory import DEFAULT_TEST_SAMPLES, RULES, make_config, record_path, run_theory


def _config_from(args: argparse.Namespace) -> dict[str, Any]:
    return make_config(
        rule=args.rule,
        N=args.N,
        K=args.K,
        M=args.M,
        lr=args.lr,
        sigma_f=args.sigma_f,
        teacher_overlap=args.teacher_overlap,
        alpha=args.alpha,
        seed=args.seed,
        dt=args.dt,
        n_points=args.points,
        n_test=args.test_samples,
    )


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def cmd_theory(args: argparse.Namespace) -> int:
    """Validate, run, write the record atomically, print one summary line; exit code 0 when
    finished, 3 when the ODE or the simulation diverged (the record is still written)."""
    from .store import write_json_atomic

    cfg = _config_from(args)  # ValueError on bad input, before any work
    out = Path(args.out) if args.out else record_path(cfg, args.results)
    rec = run_theory(
        cfg["rule"], cfg["N"], cfg["K"], cfg["M"], cfg["lr"], cfg["sigma_f"],
        cfg["teacher_overlap"], cfg["alpha"], cfg["seed"], cfg["dt"], cfg["n_points"],
        cfg["n_test"],
    )  # fmt: skip
    write_json_atomic(out, rec)
    test = rec["sim"].get("eps_g_test", [None])[-1]
    print(
        f"{rec['status']}: {cfg['rule']} N={cfg['N']} K={cfg['K']} M={cfg['M']} "
        f"eta={cfg['lr']:g} a={cfg['teacher_overlap']:g} seed={cfg['seed']}: "
        f"eps_g at alpha={rec['alpha'][-1]:g} ODE {_fmt(rec['ode']['eps_g'][-1])}, "
        f"simulation {_fmt(rec['sim']['eps_g'][-1])} (test set {_fmt(test)}), "
        f"{rec['provenance']['wall_seconds']:.1f} s -> {out}"
    )
    return 0 if rec["status"] == "finished" else 3


def add_theory_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``theory`` to an ``argparse`` subparsers object; returns the new parser."""
    p = sub.add_parser(
        "theory",
        help="teacher-student ODE and online-SGD simulation of one rule (JSON curves)",
        description=(
            "Integrate the teacher-student ODEs of one learning rule and simulate online "
            "SGD from the same initial weights; write eps_g(alpha) and order parameters."
        ),
    )
    p.add_argument("--rule", default="pepita", choices=RULES, help="learning rule")
    p.add_argument("--N", type=int, default=500, help="input dimension")
    p.add_argument("--K", type=int, default=2, help="student hidden units")
    p.add_argument("--M", type=int, default=2, help="teacher hidden units")
    p.add_argument("--lr", type=float, default=0.2, help="learning rate eta")
    p.add_argument(
        "--sigma-f",
        type=float,
        default=0.05,
        help="PEPITA's F scale sigma_F (F = sigma_F f/sqrt N)",
    )
    p.add_argument(
        "--teacher-overlap",
        type=float,
        default=0.6,
        help="a in f = a (w*_1+..+w*_M)/sqrt(M) + sqrt(1-a^2) z, in [-1, 1]",
    )
    p.add_argument("--alpha", type=float, default=100.0, help="final time alpha = steps / N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dt", type=float, default=0.01, help="Euler step of the ODE")
    p.add_argument("--points", type=int, default=50, help="log-spaced times recorded")
    p.add_argument(
        "--test-samples",
        type=int,
        default=DEFAULT_TEST_SAMPLES,
        help="held-out Gaussian samples for the measured eps_g (0: none)",
    )
    p.add_argument("--out", help="record path (default <results>/theory/<config hash>.json)")
    p.add_argument("--results", default="results", type=Path, help="results directory")
    p.set_defaults(func=cmd_theory)
    return p
