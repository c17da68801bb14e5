"""What is stored: runs per registered experiment, and every training run with how it was
made (the chapter "Reproducibility")."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import run_id
from ..experiments import EXPERIMENTS, get_experiment
from ..store import iter_records


def coverage_table(profile: str, results_dir: str | Path) -> pd.DataFrame:
    """One row per registered experiment: finished / diverged / missing runs of ``profile``."""
    from ..runner import status

    rows = [
        {"experiment": name, "what it is": exp.description, **status(name, profile, results_dir)}
        for name, exp in EXPERIMENTS.items()
    ]
    return pd.DataFrame(rows)


def _is_training(record: dict) -> bool:
    # theory records share the store but have no dataset: they are not training runs
    return "dataset" in (record.get("config") or {})


def registered_ids(profile: str) -> set[tuple[str, str]]:
    """(experiment, run id) of every config the registered grids hold under ``profile``."""
    return {
        (name, run_id(cfg)) for name in EXPERIMENTS for cfg in get_experiment(name).configs(profile)
    }


def _row(rec: dict, registered: set[tuple[str, str]]) -> dict:
    cfg, final, prov = rec["config"], rec["final"], rec["provenance"]
    acc = final.get("test_accuracy")
    return {
        "experiment": rec["experiment"],
        "run id": rec["run_id"],
        "rule": cfg["rule"],
        "dataset": cfg["dataset"],
        "hidden": "x".join(map(str, cfg["hidden"])),
        "lr": cfg["lr"],
        "seed": cfg["seed"],
        "epochs": final.get("epochs_completed"),
        "status": rec["status"],
        "in grid": "yes" if (rec["experiment"], rec["run_id"]) in registered else "superseded",
        "test acc (%)": None if acc is None else 100 * acc,
        "device": prov.get("device_name"),
        "torch": prov.get("torch_version"),
        "commit": (prov.get("git_commit") or "unknown")[:12],
        "wall (min)": (prov.get("wall_seconds") or 0) / 60,
    }


def runs_table(profile: str, results_dir: str | Path) -> pd.DataFrame:
    """Every stored training run of ``profile``, one row each, sorted; ``in grid`` says
    whether its experiment's grid still holds its config (else it is kept as evidence only)."""
    registered = registered_ids(profile)
    records = [
        rec
        for name in EXPERIMENTS
        if (Path(results_dir) / name).is_dir()
        for rec in iter_records(results_dir, name)
        if rec.get("profile") == profile and _is_training(rec)
    ]
    table = pd.DataFrame([_row(r, registered) for r in records])
    if table.empty:
        return table
    keys = ["experiment", "dataset", "rule", "hidden", "lr", "seed"]
    return table.sort_values(keys, ignore_index=True)


def compute_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs and compute hours per experiment and status."""
    per = runs.groupby(["experiment", "status"]).agg(
        runs=("run id", "count"), compute_hours=("wall (min)", lambda s: s.sum() / 60)
    )
    return per.reset_index()
