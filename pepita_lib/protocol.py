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

A rate search that serves several rules at once scores a value by its rules' accuracies
instead: ``CRITERIA`` names each way of scoring (the best single run, the best of the worse
rule, the best mean over rules), and :mod:`pepita_lib.choice` applies one to a registered
search's stored runs.

The test set is never read by either stage. Which values survived and which was chosen are
kept as data beside the grids (``experiments``), and tests check that data against
:func:`survivors` and :func:`choose` over the stored records, so a choice is made here and
only copied there.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
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


def _hashable(candidate: dict) -> Candidate:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(candidate.items()))


def grouped(records: Iterable[dict], knobs: Sequence[str]) -> list[tuple[dict, list[dict]]]:
    """Each candidate with its runs (several where a cell compares rules at one value)."""
    groups: dict[Candidate, tuple[dict, list[dict]]] = {}
    for rec in records:
        candidate = candidate_of(rec, knobs)
        groups.setdefault(_hashable(candidate), (candidate, []))[1].append(rec)
    return list(groups.values())


# --- criteria: a candidate's runs -> one score, higher is better --------------------------


def single_run(runs: Sequence[dict]) -> float:
    """Final validation accuracy of a candidate's one run."""
    if len(runs) != 1:
        raise ValueError(
            f"best_val needs one run per candidate, got {len(runs)}: fix the cell further "
            "(e.g. rule=...) or use a criterion over rules"
        )
    return val_score(runs[0])


def per_rule(runs: Sequence[dict]) -> list[float]:
    """Final validation accuracy of each rule run at one candidate (one run per rule)."""
    rules = [r["config"]["rule"] for r in runs]
    if len(rules) < 2 or len(set(rules)) != len(rules):
        raise ValueError(f"a criterion over rules needs one run of each of 2+ rules, got {rules}")
    return [val_score(r) for r in runs]


def min_of_rules(runs: Sequence[dict]) -> float:
    """The lower of the rules' accuracies: a value is as good as the rule it serves worst."""
    return min(per_rule(runs))


def mean_of_rules(runs: Sequence[dict]) -> float:
    """The mean of the rules' accuracies (-inf when any rule diverged)."""
    scores = per_rule(runs)
    return math.fsum(scores) / len(scores)


CRITERIA: dict[str, Callable[[Sequence[dict]], float]] = {
    "best_val": single_run,
    "best_min_of_rules": min_of_rules,
    "best_mean_of_rules": mean_of_rules,
}


def criterion_named(name: str) -> Callable[[Sequence[dict]], float]:
    if name not in CRITERIA:
        raise ValueError(f"unknown criterion {name!r}; valid: {', '.join(CRITERIA)}")
    return CRITERIA[name]


def scored(
    records: Iterable[dict], knobs: Sequence[str], criterion: str = "best_val"
) -> list[tuple[dict, float, list[dict]]]:
    """(candidate, score under ``criterion``, its runs), best first. Ties are broken by the
    candidate's sorted values, larger first, so that a choice is deterministic."""
    score = criterion_named(criterion)
    rows = [(cand, score(runs), runs) for cand, runs in grouped(records, knobs)]
    return sorted(rows, key=lambda row: (-row[1], [-float(row[0][k]) for k in knobs]))


def ranked(
    records: Iterable[dict], knobs: Sequence[str], criterion: str = "best_val"
) -> list[tuple[dict, float]]:
    """(candidate, score under ``criterion``), best first (see :func:`scored`)."""
    return [(cand, score) for cand, score, _ in scored(records, knobs, criterion)]


def survivors(
    records: Iterable[dict], knobs: Sequence[str], keep: int = KEEP, criterion: str = "best_val"
) -> tuple[dict, ...]:
    """The ``keep`` best candidates of a short search (stage 1); diverged ones never survive."""
    return tuple(c for c, score in ranked(records, knobs, criterion)[:keep] if score > -math.inf)


def choose(
    records: Iterable[dict], knobs: Sequence[str], criterion: str = "best_val"
) -> dict | None:
    """The chosen candidate: by default the best final validation accuracy of the
    full-schedule runs (stage 2); None while no run has finished."""
    best = survivors(records, knobs, keep=1, criterion=criterion)
    return best[0] if best else None
