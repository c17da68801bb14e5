"""The ``pepita theory`` subcommand: one teacher-student run (ODE + simulation) to JSON.

Its flags are generated from the fields of :class:`~pepita_lib.theory.runs.TheoryConfig`
(help text and choices are field metadata). Wired into :mod:`pepita_lib.cli` with
``add_theory_parser(sub)``. Example::

    pepita theory --rule pepita --N 500 --K 2 --M 2 --lr 0.2 --sigma-f 0.05 \\
        --teacher-overlap 0.6 --alpha 100 --seed 0 --out curves.json
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from .runs import EXPERIMENT, TheoryConfig, run_theory


def flag(f: dataclasses.Field) -> str:
    """The command-line flag of a config field: ``--sigma-f`` for ``sigma_f``."""
    return f.metadata.get("flag", "--" + f.name.replace("_", "-"))


def add_config_args(p: argparse.ArgumentParser) -> None:
    """One flag per :class:`TheoryConfig` field, with its default, type, help and choices."""
    for f in dataclasses.fields(TheoryConfig):
        extra = {"choices": f.metadata["choices"]} if "choices" in f.metadata else {}
        p.add_argument(flag(f), dest=f.name, type=type(f.default), default=f.default,
                       help=f.metadata["help"], **extra)  # fmt: skip


def config_from(args: argparse.Namespace) -> TheoryConfig:
    return TheoryConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TheoryConfig)})


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def cmd_theory(args: argparse.Namespace) -> int:
    """Validate, run, write the record atomically, print one summary line; exit code 0 when
    finished, 3 when the ODE or the simulation diverged (the record is still written)."""
    from ..store import record_path, write_json_atomic

    cfg = config_from(args)  # ValueError on bad input, before any work
    out = Path(args.out) if args.out else record_path(args.results, EXPERIMENT, cfg)
    rec = run_theory(cfg)
    write_json_atomic(out, rec)
    test = rec["sim"].get("eps_g_test", [None])[-1]
    print(
        f"{rec['status']}: {cfg.rule} N={cfg.N} K={cfg.K} M={cfg.M} "
        f"eta={cfg.lr:g} a={cfg.teacher_overlap:g} seed={cfg.seed}: "
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
            "SGD from the same initial weights; write eps_g(alpha) and order parameters. "
            "The runs of the chapter: pepita run theory --profile paper."
        ),
    )
    add_config_args(p)
    p.add_argument("--out", help="record path (default <results>/theory/<run id>.json)")
    p.add_argument("--results", default="results", type=Path, help="results directory")
    p.set_defaults(func=cmd_theory)
    return p
