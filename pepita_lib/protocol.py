"""How a compared cell's hyperparameter is chosen: a two-stage successive halving that sees
the whole schedule.

A search of a few epochs favours values that learn fast early and then blow up or stall
(the book measures this for normalisation, weight mirroring and the time-local rule), so a
short search only prunes:

1. **Short search.** Every candidate value trains ``SEARCH_EPOCHS`` epochs without decay on
   a validation split carved from the training set (``val_size``); the ``KEEP`` best by
   final validation accuracy survive (a diverged run ranks last).
2. **Full-schedule confirmation.** The survivors train the paper's whole schedule (100
   epochs, rate decays at 60 and 90) on the same validation split; the value with the best
   *final* validation accuracy is the choice.

The test set is never read by either stage. Which values survived and which was chosen are
kept as data beside the grids (``experiments``), and tests check that data against
:func:`survivors` and :func:`choose` over the stored records, so a choice is made here and
only copied there.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .config import TrainConfig

SEARCH_EPOCHS = 10
KEEP = 2
VAL_SIZE = 10_000


Candidate = tuple[tuple[str, object], ...]  # the chosen settings, as sorted (field, value) pairs


@dataclass(frozen=True)
class Cell:
    """One compared cell: its fixed settings and the candidate settings to choose from
    (each candidate a dict of fields, e.g. ``{"lr": 0.01}``)."""

    name: str
    settings: dict
    candidates: tuple[dict, ...]

    def config(self, candidate: dict, **schedule) -> TrainConfig:
        return TrainConfig(**{**self.settings, **schedule, **candidate})

    @property
    def knobs(self) -> tuple[str, ...]:
        return tuple(sorted({k for c in self.candidates for k in c}))


def values(knob: str, *choices: object) -> tuple[dict, ...]:
    """Candidates that differ in one field: ``values("lr", 0.1, 0.01)``."""
    return tuple({knob: v} for v in choices)


def grid(**choices: Sequence[object]) -> tuple[dict, ...]:
    """Candidates over the product of several fields' values."""
    keys = sorted(choices)
    return tuple(dict(zip(keys, combo)) for combo in itertools.product(*(choices[k] for k in keys)))


def short_search(cell: Cell, search_schedule: dict) -> list[TrainConfig]:
    """Stage 1: every candidate, ``SEARCH_EPOCHS`` epochs, no decay, validation split."""
    return [cell.config(c, **search_schedule) for c in cell.candidates]


def confirmation(cell: Cell, kept: Sequence[dict], full_schedule: dict) -> list[TrainConfig]:
    """Stage 2: the surviving candidates with the full schedule, still on the validation split."""
    return [cell.config(c, **full_schedule) for c in kept]


def val_score(record: dict) -> float:
    """Final validation accuracy of a record; -inf when it diverged or has none, so that
    such a candidate ranks below every finished one."""
    value = record.get("final", {}).get("val_accuracy")
    if record.get("status") != "finished" or value is None or not math.isfinite(value):
        return -math.inf
    return float(value)


def candidate_of(record: dict, knobs: Sequence[str]) -> dict:
    return {k: record["config"][k] for k in knobs}


def ranked(records: Iterable[dict], knobs: Sequence[str]) -> list[tuple[dict, float]]:
    """(candidate, final validation accuracy), best first. Ties are broken by the candidate's
    sorted values, larger first, so that a choice is deterministic."""
    pairs = [(candidate_of(r, knobs), val_score(r)) for r in records]
    return sorted(pairs, key=lambda p: (-p[1], [-float(p[0][k]) for k in knobs]))


def survivors(records: Iterable[dict], knobs: Sequence[str], keep: int = KEEP) -> tuple[dict, ...]:
    """The ``keep`` best candidates of a short search (stage 1); diverged ones never survive."""
    return tuple(c for c, score in ranked(records, knobs)[:keep] if score > -math.inf)


def choose(records: Iterable[dict], knobs: Sequence[str]) -> dict | None:
    """The chosen candidate: best final validation accuracy of the full-schedule runs
    (stage 2); None while no run has finished."""
    best = survivors(records, knobs, keep=1)
    return best[0] if best else None
