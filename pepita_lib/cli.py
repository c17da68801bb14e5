"""The ``pepita`` command: train one model, run experiments, inspect results."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

from .activations import ACTIVATIONS
from .config import TrainConfig, run_id
from .cost import COST_RULES
from .data import DATASETS, check_name
from .experiments import EXPERIMENTS, PROFILES
from .protocol import CRITERIA, val_score
from .provenance import resolve_device
from .rules import RULES, check_rule

DEFAULTS = TrainConfig()


def _filters(items: list[str], flag: str = "--filter") -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"{flag} expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k] = v
    return out


# where the valid names of a field live (validated by check_name / check_rule / get_activation)
NAMED = {"dataset": DATASETS, "rule": RULES, "activation": ACTIVATIONS}


def _flagged_fields() -> list[dataclasses.Field]:
    """The TrainConfig fields with a flag of their own (a rule's options go through --set)."""
    return [f for f in dataclasses.fields(TrainConfig) if f.metadata.get("flag", True)]


def _train_flag(p: argparse.ArgumentParser, f: dataclasses.Field) -> None:
    """``--name-with-dashes`` for field ``f``, typed after its default and annotation."""
    default, meta = f.default, f.metadata
    choices = meta.get("choices") or ()
    help_ = meta["help"] + (f" (one of {', '.join(NAMED[f.name])})" if f.name in NAMED else "")
    kw: dict = {"dest": f.name, "help": help_, "default": default}
    if choices:
        kw["choices"] = list(choices)
    if isinstance(default, bool):
        kw["action"] = "store_true"
    elif isinstance(default, tuple):
        kw["type"] = float if "float" in str(f.type) else int
        if meta.get("repeat"):  # --hidden 64 --hidden 32
            kw.update(action="append", default=None)
        else:
            kw.update(nargs="*", default=list(default))
    else:
        kw["type"] = int if default is None else type(default)
    p.add_argument("--" + f.name.replace("_", "-"), **kw)


def _add_train_args(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (help and choices are its metadata), and --set."""
    for f in _flagged_fields():
        _train_flag(p, f)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a rule's own option (repeatable), e.g. --set ff_threshold=10; "
        "`pepita rules` lists each rule's options",
    )


def _rule_options(rule: str, items: list[str]) -> tuple[tuple[str, object], ...]:
    """--set KEY=VALUE items as ``cfg.extra``: typed by the rule's options, sorted by key
    (so the run id does not depend on the order of the flags)."""
    pairs = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        pairs[k.strip()] = v.strip()
    return RULES[rule].checked_options(tuple(sorted(pairs.items())))


def _config_from(args: argparse.Namespace) -> TrainConfig:
    check_name(args.dataset)
    check_rule(args.rule)
    values = {f.name: getattr(args, f.name) for f in _flagged_fields()}
    values["hidden"] = args.hidden or DEFAULTS.hidden
    return TrainConfig(**values, extra=_rule_options(args.rule, args.set))


def cmd_train(args: argparse.Namespace) -> int:
    from .activations import get_activation
    from .locks import file_lock, try_acquire
    from .store import check_writable
    from .train import train

    resolve_device(args.device)  # a bad device is one line, before anything runs
    cfg = _config_from(args)
    get_activation(cfg.activation)
    out = check_writable(args.out or f"run-{run_id(cfg)}.json", "--out")
    lock = file_lock(out)
    if not try_acquire([lock]):
        raise ValueError(f"another pepita train is writing {out} (lock {lock.lock_file}); "
                         "wait for it or choose another --out")  # fmt: skip
    with lock:
        rec = train(
            cfg,
            args.device,
            out=out,
            progress=not args.quiet,
            data_root=args.data_root,
            download=args.download,
            checkpoint_seconds=args.checkpoint_every,
        )
    fin = rec["final"]
    acc = fin["test_accuracy"]
    shown = f"{acc:.4f}" if acc is not None else "n/a"
    print(
        f"{rec['status']}: {cfg.rule} on {cfg.dataset}, test accuracy {shown} "
        f"after {fin['epochs_completed']} epochs, {rec['provenance']['wall_seconds']:.1f} s "
        f"on {rec['provenance']['device_name']} -> {out}"
    )
    return 0 if rec["status"] == "finished" else 3


def cmd_run(args: argparse.Namespace) -> int:
    from .experiments import filter_configs, get_experiment
    from .runner import run_experiment

    filters = _filters(args.filter)
    resolve_device(args.device)
    if not filter_configs(get_experiment(args.experiment).configs(args.profile), filters):
        raise ValueError(f"no run of {args.experiment} ({args.profile}) matches "
                         f"{' '.join('--filter ' + f for f in args.filter)}")  # fmt: skip
    if not args.results.exists():
        print(f"pepita: creating results folder {args.results}", file=sys.stderr)
    common = dict(
        progress=not args.quiet,
        data_root=args.data_root,
        download=args.download,
        seed_batch=args.seed_batch,
    )
    if args.executor == "ray":
        from .distributed import run_experiment_ray

        outcomes = run_experiment_ray(
            args.experiment,
            args.profile,
            args.results,
            filters,
            args.device,
            address=args.ray_address,
            cpus_per_run=args.cpus_per_run,
            gpus_per_run=args.gpus_per_run,
            **common,
        )
    else:
        outcomes = run_experiment(
            args.experiment,
            args.profile,
            args.results,
            filters,
            args.device,
            jobs=args.jobs,
            checkpoint_seconds=args.checkpoint_every,
            **common,
        )
    counts = _report_outcomes(outcomes, args.quiet)
    print(json.dumps(counts))
    return 3 if {"no data", "bad data", "bad checkpoint"} & set(counts) else 0


def _report_outcomes(outcomes, quiet: bool) -> dict[str, int]:
    """Count outcomes by kind; print each run that was not cached in one line, and the
    full text of a problem once (many runs share one missing or damaged data file)."""
    counts: dict[str, int] = {}
    said: set[str] = set()
    for cfg, outcome in outcomes:
        key, _, detail = outcome.partition(": ")
        counts[key] = counts.get(key, 0) + 1
        if outcome == "cached" or quiet:
            continue
        if detail and detail not in said:
            said.add(detail)
            print(f"pepita: {outcome}", file=sys.stderr)
        where = cfg.dataset if isinstance(cfg, TrainConfig) else "Gaussian inputs"  # theory
        print(f"{key}: {cfg.rule} {where} seed={cfg.seed} id={run_id(cfg)}", file=sys.stderr)
    return counts


def cmd_status(args: argparse.Namespace) -> int:
    from .runner import count_states, epoch_seconds, epochs_saved, plan, remaining_of
    from .store import iter_records

    if not args.results.is_dir():
        raise ValueError(f"results folder {args.results} does not exist")
    names = [args.experiment] if args.experiment else list(EXPERIMENTS)
    profiles = [args.profile] if args.profile else list(PROFILES)
    filters = _filters(args.filter)
    corrupt: list = []
    per_epoch = epoch_seconds(iter_records(args.results, corrupt=corrupt))
    _print_corrupt(corrupt)
    if args.by_dataset:
        return _status_by_dataset(names, profiles, args.results, per_epoch, filters)
    saved = epochs_saved(args.results)
    w = max(len("experiment"), *(len(n) for n in names))
    print(
        f"{'experiment':<{w}} {'profile':<7} {'finished':>8} {'diverged':>8} {'missing':>8}"
        f" {'est. hours':>10}"
    )
    total, total_unknown = 0.0, 0
    for name in names:
        for prof in profiles:
            planned = plan(name, prof, args.results, filters)  # one store lookup per config
            c = count_states(planned)
            secs, unknown = remaining_of(planned, per_epoch, saved)
            total, total_unknown = total + secs, total_unknown + unknown
            print(
                f"{name:<{w}} {prof:<7} {c['finished']:>8} {c['diverged']:>8} {c['missing']:>8}"
                f" {_hours(secs, unknown, c['missing']):>10}"
            )
    print(f"{HOURS_NOTE}\ntotal {_hours(total, total_unknown, 1)}")
    _print_in_progress(args.results)
    return 0


def _print_corrupt(corrupt: list) -> None:
    """Records that are not counted (their runs show as missing) and what `run` does."""
    for err in corrupt:
        print(f"corrupt: {err} (pepita run moves it aside and trains the run again)")


def _print_in_progress(results: Path) -> None:
    """Missing runs that `pepita run` will resume from a checkpoint instead of epoch 0."""
    from .checkpoint import in_progress

    for path, epoch, saved, _ in in_progress(results):
        done = f"resumes after epoch {epoch} (saved {saved})" if epoch >= 0 else "unreadable"
        print(f"in progress: {path} {done}")


def _status_by_dataset(
    names: list[str],
    profiles: list[str],
    results: Path,
    per_epoch: dict[tuple, float],
    filters: dict[str, str],
) -> int:
    from .runner import coverage

    w = max(len("experiment"), *(len(n) for n in names))
    print(
        f"{'experiment':<{w}} {'profile':<7} {'dataset':<13} {'finished':>8} {'diverged':>8}"
        f" {'missing':>8} {'est. hours':>10}"
    )
    for prof in profiles:
        for row in coverage(prof, results, names, per_epoch, filters):
            print(
                f"{row['experiment']:<{w}} {prof:<7} {row['dataset']:<13} {row['finished']:>8}"
                f" {row['diverged']:>8} {row['missing']:>8}"
                f" {_hours(row['seconds'], row['unknown'], row['missing']):>10}"
            )
    print(HOURS_NOTE)
    _print_in_progress(results)
    return 0


HOURS_NOTE = (
    "est. hours: wall time of the missing runs at the pace of the stored ones (same rule and "
    "setup, else any rule on the setup), less the epochs a checkpoint holds, one run at a "
    "time. '>=X (N?)': N missing runs have no stored run to set their pace, so X leaves them "
    "out and is a lower bound; '-': nothing missing."
)


def _hours(seconds: float, unknown: int, missing: int) -> str:
    if not missing:
        return "-"
    text = f"{seconds / 3600:.1f}"
    return f">={text} ({unknown}?)" if unknown else text


def cmd_choose(args: argparse.Namespace) -> int:
    from .choice import rank

    cell = _filters(args.cell, "--cell")
    ranking = rank(args.search, cell, args.criterion, args.knob, args.results, args.profile)
    where = " ".join(f"{k}={v}" for k, v in cell.items()) or "(every run)"
    print(f"{args.search} ({args.profile}), cell {where}, criterion {args.criterion}")
    print(f"{args.knob:>12}  {'score':>8}  final validation accuracy of each run")
    for value, score, runs in ranking.rows:
        print(f"{value!s:>12}  {_percent(score):>8}  {_runs_shown(runs)}")
    if ranking.missing:
        print(f"{ranking.missing} run(s) of the cell not stored yet: no choice")
    else:
        print(f"chosen: {args.knob}={ranking.choice}")
    return 0


def _percent(score: float) -> str:
    return f"{100 * score:.2f}%" if math.isfinite(score) else "diverged"


def _runs_shown(runs: list[dict]) -> str:
    return "  ".join(f"{r['config']['rule']} {_percent(val_score(r))}" for r in runs)


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import LOSSY_NOTE

    for name, (tv, shape, classes) in DATASETS.items():
        note = f"  ({LOSSY_NOTE[name]})" if name in LOSSY_NOTE else ""
        print(f"{name:<14} {classes:>3} classes, images {shape}, torchvision {tv}{note}")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    for name, cls in RULES.items():
        print(f"{name:<15} {cls.summary}")
        for o in cls.options:
            print(f"{'':<16}{f'--set {o.name}={o.default}':<32} {o.help}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = run_bench(shapes=args.shape, device=args.device, steps=args.steps)
    if args.out:
        from .provenance import environment, resolve_device
        from .store import write_json_atomic

        write_json_atomic(
            args.out, {**result, "provenance": environment(resolve_device(args.device))}
        )
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for k, v in result.items():
            print(k, v)
    for line in result.get("warnings", []):
        print(f"pepita bench: warning: {line}", file=sys.stderr)
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    from .cost import cost_path, cost_report
    from .store import write_json_atomic

    report = cost_report(
        args.device, depths=args.depths, rules=args.rules, datasets=args.dataset, progress=True
    )
    # the stored file is what the cost chapter shows: replaced only on --store
    out = cost_path(args.results, report["provenance"]["device"]) if args.store else args.out
    if out:
        write_json_atomic(out, report)
    for row in report["rows"]:
        print(
            f"{row['dataset']:<8} {row['rule']:<15} depth {row['depth']}: "
            f"{row['flops_per_step'] / 1e6:8.1f} MFLOP/step, "
            f"working memory {row['step_peak_bytes'] / 2**20:6.2f} MiB, "
            f"state {row['state_bytes'] / 2**20:6.2f} MiB, "
            f"{row['seconds_per_epoch']:7.2f} s/epoch"
        )
    print(f"-> {out}" if out else "not stored (--out FILE keeps it; --store replaces the book's)")
    return 0


def cmd_scorecard(args: argparse.Namespace) -> int:
    import pandas as pd

    from .scorecard import display_frame, json_rows, scorecard, verdict_counts

    if not args.results.is_dir():
        raise ValueError(f"results directory {args.results} does not exist")
    card = scorecard(args.results)
    if args.json:
        print(json.dumps(json_rows(card), indent=1, ensure_ascii=False))
        return 0
    with pd.option_context("display.max_colwidth", 60, "display.width", 250):
        print(display_frame(card).to_string(index=False))
    print(", ".join(f"{n} {v}" for v, n in verdict_counts(card).items()))
    return 0


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text}")
    return value


def _add_checkpoint_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint-every",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="save a resumable checkpoint at the first epoch end after this many seconds "
        "(default 300; 0: after every epoch)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pepita", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    _add_train_parser(sub)
    _add_run_parser(sub)
    _add_status_parsers(sub)
    _add_choose_parser(sub)
    sub.add_parser("datasets", help="list datasets").set_defaults(func=cmd_datasets)
    sub.add_parser("rules", help="list learning rules and their options").set_defaults(
        func=cmd_rules
    )

    from .theory.cli import add_theory_parser

    add_theory_parser(sub)
    _add_bench_parser(sub)
    _add_cost_parser(sub)
    return p


def _add_train_parser(sub: Any) -> None:
    t = sub.add_parser("train", help="train one model and write its run record")
    _add_train_args(t)
    t.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    t.add_argument("--out", help="record path (default run-<id>.json)")
    t.add_argument("--data-root", help="torchvision data root")
    t.add_argument("--download", action="store_true", help="allow downloading the dataset")
    t.add_argument("--quiet", action="store_true")
    _add_checkpoint_arg(t)
    t.set_defaults(func=cmd_train)


def _add_run_parser(sub: Any) -> None:
    r = sub.add_parser("run", help="train the missing runs of a registered experiment")
    r.add_argument("experiment", help=f"one of {', '.join(EXPERIMENTS)}")
    r.add_argument("--profile", default="paper", choices=PROFILES)
    r.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE")
    r.add_argument("--results", default="results", type=Path)
    r.add_argument("--device", default="auto")
    r.add_argument("--data-root")
    r.add_argument("--download", action="store_true")
    r.add_argument("--quiet", action="store_true")
    r.add_argument(
        "--executor",
        default="local",
        choices=["local", "ray"],
        help="local: one run after another here; ray: each run a Ray task",
    )
    r.add_argument(
        "--jobs", type=int, default=1, help="local executor: runs trained at once (processes)"
    )
    r.add_argument(
        "--seed-batch",
        type=int,
        default=None,
        help="configs differing only in seed and lr trained as one stacked net, at most this "
        "many (default: 1 on a CPU, 10 on a GPU; records are the same either way)",
    )
    r.add_argument("--ray-address", help="Ray cluster to join (default: local instance)")
    r.add_argument("--cpus-per-run", type=float, default=1.0, help="Ray CPUs per run")
    r.add_argument("--gpus-per-run", type=float, default=0.0, help="Ray GPUs per run")
    _add_checkpoint_arg(r)
    r.set_defaults(func=cmd_run)


def _add_status_parsers(sub: Any) -> None:
    """``status`` and ``scorecard``: what is stored, and how it compares."""
    s = sub.add_parser(
        "status",
        help="finished / diverged / missing runs per profile",
        description="Finished, diverged and missing runs per experiment and profile, with the "
        "hours the missing ones need. " + HOURS_NOTE,
    )
    s.add_argument("experiment", nargs="?", help="one experiment (default: all)")
    s.add_argument("--profile", choices=PROFILES, help="one profile (default: all)")
    s.add_argument(
        "--filter", action="append", default=[], metavar="KEY=VALUE", help="config field filter"
    )
    s.add_argument("--results", default="results", type=Path, help="the run records' folder")
    s.add_argument("--by-dataset", action="store_true", help="one line per experiment and dataset")
    s.set_defaults(func=cmd_status)

    sc = sub.add_parser(
        "scorecard", help="every published number beside our stored runs, with a verdict"
    )
    sc.add_argument("--json", action="store_true", help="a JSON list, one object per reference")
    sc.add_argument("--results", default="results", type=Path)
    sc.set_defaults(func=cmd_scorecard)


def _add_choose_parser(sub: Any) -> None:
    c = sub.add_parser(
        "choose",
        help="rank a search's values for one cell from its stored runs, and say which it chose",
    )
    c.add_argument("search", help="the registered search experiment, e.g. lr_search")
    c.add_argument(
        "--cell",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting the cell fixes (repeat), e.g. --cell rule=drtp --cell dataset=mnist",
    )
    c.add_argument("--criterion", default="best_val", choices=list(CRITERIA))
    c.add_argument("--knob", default="lr", help="the setting to choose (default lr)")
    c.add_argument("--profile", default="paper", choices=PROFILES)
    c.add_argument("--results", default="results", type=Path, help="the run records' folder")
    c.set_defaults(func=cmd_choose)


def _add_bench_parser(sub: Any) -> None:
    b = sub.add_parser("bench", help="time one epoch of PEPITA 1x1024 against matmul peak")
    b.add_argument(
        "--shape",
        action="append",
        choices=["mnist", "cifar10"],
        help="input shape to time; repeat for both (default: both)",
    )
    b.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    b.add_argument("--steps", type=int, default=200, help="timed steps per measurement")
    b.add_argument("--json", action="store_true", help="print the result as JSON")
    b.add_argument(
        "--out",
        type=Path,
        help="also write the result there (JSON, with provenance); nothing is written without it",
    )
    b.add_argument("--threads", type=int, help="CPU threads (default: torch's, all cores)")
    b.set_defaults(func=cmd_bench)


def _add_cost_parser(sub: Any) -> None:
    c = sub.add_parser(
        "cost", help="FLOPs, working memory and time per step for each rule and depth"
    )
    c.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    c.add_argument(
        "--depths",
        type=int,
        nargs="+",
        default=[1, 2, 3, 4, 5],
        help="numbers of hidden 1024-unit layers to measure",
    )
    c.add_argument(
        "--rules", nargs="+", default=list(COST_RULES), choices=list(RULES), help="rules to measure"
    )
    c.add_argument(
        "--dataset", nargs="+", default=["mnist"], choices=["mnist", "cifar10"], help="input shape"
    )
    c.add_argument(
        "--results", default="results", type=Path, help="the run records' folder (for --store)"
    )
    where = c.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help="write the report there (JSON)")
    where.add_argument(
        "--store",
        action="store_true",
        help="replace RESULTS/cost/<device kind>.json, the measurements the cost chapter shows "
        "(without --out or --store nothing is written)",
    )
    c.set_defaults(func=cmd_cost)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `pepita status | head`
        return 0
    except (ValueError, OSError) as err:  # DataNotFoundError is an OSError
        print(f"pepita: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        said = f": {err}" if str(err) else ""
        print(f"pepita: interrupted (stored records are intact){said}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
