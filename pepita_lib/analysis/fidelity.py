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
from ..store import find_record, records_to_frames


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


# fidelity cell -> the published number it answers (references.REFERENCES ids); Fashion-MNIST
# has no published value, its WM cell is compared with plain PEPITA instead
CELL_REFERENCE: dict[str, str] = {
    "DRTP (tanh), MNIST": "icml22_fc_drtp_mnist",
    "PEPITA + WD, MNIST": "iclr24_t2_wd_mnist",
    "FA, CIFAR-10": "icml22_fc_fa_cifar10",
    "PEPITA + Norm, CIFAR-10": "iclr24_t2_norm_cifar10",
    "PEPITA + WM (authors' schedule), MNIST": "iclr24_t2_wm_mnist",
    "PEPITA + WM (authors' schedule), CIFAR-10": "iclr24_t2_wm_cifar10",
}


def _where(name: str, results_dir: str | Path) -> str:
    """How far the protocol has got for one cell, in words."""
    table = protocol_table(name, results_dir)
    searched = table["search run"].ne("missing").sum()
    if searched < len(table):
        return f"short search {searched} of {len(table)} candidates run"
    kept = table[table["survived"]]
    if kept.empty:
        return "short search done; survivors not yet copied"
    full = [
        f"{c} {v:.2f}%" if pd.notna(v) else f"{c} (not run yet)"
        for c, v in zip(kept["candidate"], kept["validation % (100 epochs)"])
    ]
    return "survivors after 100 epochs on validation: " + "; ".join(full)


def cell_sentence(name: str, results_dir: str | Path) -> str:
    """One line on a cell: its chosen value and test accuracy over seeds beside the published
    number, or how far its protocol has got."""
    from ..references import BY_ID

    ref = BY_ID.get(CELL_REFERENCE.get(name, ""))
    published = f" (published {ref.published:.2f})" if ref else ""
    if name not in FIDELITY_CHOICE:
        return f"{name}: {_where(name, results_dir)}."
    acc = final_accuracies(name, results_dir)
    chosen = label(FIDELITY_CHOICE[name])
    val = val_percent(stage_records(name, "confirm", results_dir).get(chosen))
    if val is not None:
        chosen += f" ({val:.2f}% on the validation split after the full schedule)"
    if acc.empty:
        return f"{name}: chose {chosen}; its seed runs are not stored yet{published}."
    sd = f" ± {acc.std():.2f}" if len(acc) > 1 else ""
    seeds = f"{len(acc)} seed" + ("s" if len(acc) > 1 else "")
    return f"{name}: chose {chosen}; {acc.mean():.2f}{sd}% over {seeds}{published}."


# fidelity cell -> the runs it replaces: (experiment, filters, label). Their curves beside
# the chosen setting's show what changed.
BEFORE: dict[str, tuple[str, dict, str]] = {
    "DRTP (tanh), MNIST": (
        "baselines",
        {"rule": "drtp", "dataset": "mnist"},
        "ReLU, lr 1e-4 (main table)",
    ),
    "FA, CIFAR-10": ("baselines", {"rule": "fa", "dataset": "cifar10"}, "lr 0.01 (main table)"),
    "PEPITA + WD, MNIST": (
        "going_deeper",
        {"hidden": "1024", "dataset": "mnist", "rule": "pepita", "weight_decay": "0.0001"},
        "weight decay 1e-4 (going deeper)",
    ),
}


def _chosen_records(name: str, results_dir: str | Path) -> tuple[list[dict], str]:
    """The seed runs at the chosen value, else the full-schedule validation runs."""
    final = [r for r in stage_records(name, "final", results_dir).values() if r]
    if final:
        return final, f"{label(FIDELITY_CHOICE[name])} (chosen, test)"
    confirm = [r for r in stage_records(name, "confirm", results_dir).values() if r]
    return confirm, "survivors, 100 epochs (validation split)"


def before_after_history(name: str, results_dir: str | Path) -> pd.DataFrame:
    """Per-epoch history of the runs a cell replaces and of its new runs, with a
    ``Variant`` column (the new runs' candidate label is kept in ``candidate``)."""
    from ..report import load_runs

    experiment, filters, before_label = BEFORE[name]
    _, old, _ = load_runs(experiment, "paper", results_dir, filters)
    records, after_label = _chosen_records(name, results_dir)
    _, new = records_to_frames(records)
    knobs = FIDELITY_CELLS[name].knobs
    if not new.empty:
        new["candidate"] = new[list(knobs)].apply(lambda r: label(r.to_dict()), axis=1)
    frames = [
        f.assign(Variant=v) for f, v in ((old, before_label), (new, after_label)) if not f.empty
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def display_protocol(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`protocol_table` for reading: rounded percentages, blanks for runs that do not
    exist, yes/blank for the flags."""
    out = table.copy()
    for col in ("validation % (10 epochs)", "validation % (100 epochs)"):
        out[col] = [f"{v:.2f}" if pd.notna(v) else "" for v in out[col]]
    for col in ("survived", "chosen"):
        out[col] = ["yes" if v else "" for v in out[col]]
    return out
