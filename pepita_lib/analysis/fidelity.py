"""The choosing protocol, cell by cell, as the chapter "Matching the papers" shows it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..experiments.fidelity import (
    FIDELITY_CELLS,
    FIDELITY_CHOICE,
    FIDELITY_SURVIVORS,
    STAGE_EXPERIMENT,
    stage_configs,
)
from ..protocol import val_score
from ..store import find_record


def label(candidate: dict) -> str:
    """A candidate as a short label: ``lr=0.01``, ``wm_every=1, wm_lr=0.1``."""
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(candidate.items())
    )


def stage_records(name: str, stage: str, results_dir: str | Path) -> dict[str, dict | None]:
    """Candidate label (or seed, for ``final``) -> stored record, None while missing."""
    knobs = FIDELITY_CELLS[name].knobs
    experiment = STAGE_EXPERIMENT[stage]
    out = {}
    for cfg in stage_configs(name, stage):
        key = (
            f"seed {cfg.seed}" if stage == "final" else label({k: cfg.to_dict()[k] for k in knobs})
        )
        out[key] = find_record(results_dir, experiment, cfg)
    return out


def val_percent(record: dict | None) -> float | None:
    """Final validation accuracy in percent; None when missing or diverged."""
    score = val_score(record) if record else float("-inf")
    return None if score == float("-inf") else 100 * score


def _status(record: dict | None) -> str:
    return record["status"] if record else "missing"


def protocol_table(name: str, results_dir: str | Path) -> pd.DataFrame:
    """One row per candidate: final validation accuracy (%) after the short search and, for
    the survivors, after the full schedule; which survived and which was chosen."""
    kept = {label(c) for c in FIDELITY_SURVIVORS.get(name, ())}
    chosen = label(FIDELITY_CHOICE[name]) if name in FIDELITY_CHOICE else None
    confirm = stage_records(name, "confirm", results_dir)
    rows = [
        {
            "candidate": cand,
            "search run": _status(rec),
            "validation % (10 epochs)": val_percent(rec),
            "survived": cand in kept,
            "full run": _status(confirm.get(cand)) if cand in kept else "",
            "validation % (100 epochs)": val_percent(confirm.get(cand)),
            "chosen": cand == chosen,
        }
        for cand, rec in stage_records(name, "search", results_dir).items()
    ]
    return pd.DataFrame(rows)


def final_accuracies(name: str, results_dir: str | Path) -> pd.Series:
    """Final test accuracy (%) of the finished seed runs at the chosen value, by seed."""
    recs = stage_records(name, "final", results_dir)
    return pd.Series(
        {
            k: 100 * r["final"]["test_accuracy"]
            for k, r in recs.items()
            if r and r["status"] == "finished"
        },
        dtype=float,
    )
