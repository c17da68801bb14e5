"""The value a registered search chose for one cell, read from the search's stored runs.

A cell is a set of fixed settings (``{"dataset": "mnist", "rule": "drtp"}``); its runs in the
search differ in one knob (the learning rate, by default), and a named criterion of
:mod:`pepita_lib.protocol` scores each value from its runs' final validation accuracies. The
rate tables of ``experiments`` are copies of these choices, and the tests check each copy
against :func:`choose`, so a choice is made here and only copied there.

This module sits above ``experiments`` (it reads the registry), while ``protocol`` sits
below it (the fidelity grids are built from it), so the two cannot be one module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .experiments.registry import filter_configs, get_experiment, shown
from .protocol import scored
from .store import find_record


@dataclass(frozen=True)
class Ranking:
    """A cell's candidate values, best first, with their scores and runs."""

    knob: str
    rows: list[tuple[object, float, list[dict]]]  # (value, score, the value's runs)
    missing: int  # runs of the cell not stored yet

    @property
    def choice(self) -> object | None:
        """The best value, once every run of the cell is stored and one has finished."""
        if self.missing or not self.rows or self.rows[0][1] == -math.inf:
            return None
        return self.rows[0][0]


def cell_records(
    search: str, cell: dict, results_dir: str | Path, profile: str = "paper"
) -> tuple[list[dict], int]:
    """The stored records of ``search``'s runs that match ``cell``, and how many are missing."""
    configs = get_experiment(search).configs(profile)
    configs = filter_configs(configs, {k: shown(v) for k, v in cell.items()})
    if not configs:
        raise ValueError(f"no run of {search} ({profile}) matches the cell {cell}")
    found = [find_record(results_dir, search, cfg) for cfg in configs]
    return [rec for rec in found if rec is not None], sum(rec is None for rec in found)


def rank(
    search: str,
    cell: dict,
    criterion: str = "best_val",
    knob: str = "lr",
    results_dir: str | Path = "results",
    profile: str = "paper",
) -> Ranking:
    """Every stored value of ``knob`` in the cell, scored by ``criterion``, best first."""
    if knob in cell:
        raise ValueError(f"the cell fixes {knob}, the setting to choose")
    records, missing = cell_records(search, cell, results_dir, profile)
    rows = [(cand[knob], score, runs) for cand, score, runs in scored(records, [knob], criterion)]
    return Ranking(knob, rows, missing)


def choose(search: str, cell: dict, criterion: str = "best_val", **where: Any) -> object | None:
    """The value that ``search`` chose for ``cell`` under ``criterion`` (``where``: the knob,
    results folder and profile, as for :func:`rank`); None while the cell's search is
    incomplete or none of its runs has finished."""
    return rank(search, cell, criterion, **where).choice
