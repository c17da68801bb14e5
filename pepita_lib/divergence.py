"""When a run has blown up, and when it has diverged: pure functions of its epoch history.

The training loss of a classifier that guesses uniformly is ln C (cross-entropy at chance
level over C classes). A loss a hundred times that, or a thousand times the run's own
first-epoch loss, is no longer a network learning slowly: its weights have exploded.

- A **blow-up** is the first epoch with such a loss. Feedback-alignment rules can blow up
  and recover once the learning rate decays (FA on CIFAR-10, Chapter "Baselines": loss 25
  in epoch 1, above 1,000 by epoch 60, 45% test accuracy after the decay), so a blow-up
  alone does not end a run; the record keeps it (``blowup``) and tables can flag it. The
  same function reads old records, which predate the key.
- A run has **diverged** when its loss or weights stop being finite, or when it stays
  blown up *and* at chance-level test accuracy (below 1.5 / C) for ``PATIENCE``
  consecutive epochs, or is in that state when its last epoch ends. Training stops there.
  Twenty epochs of patience leave every stored run that recovered (DRTP on CIFAR-10 spends
  up to 16 blown-up epochs at chance before it learns) with the status it has.
"""

from __future__ import annotations

import math

CHANCE_FACTOR = 100.0  # blown up: loss above 100 ln C ...
GROWTH_FACTOR = 1000.0  # ... or above 1000 x the first epoch's loss
CHANCE_ACCURACY = 1.5  # "at chance": test accuracy below 1.5 / C
PATIENCE = 20  # consecutive blown-up epochs at chance that end a run


def num_classes_of(dataset: str) -> int:
    """Classes of a dataset by name (10 unless it is CIFAR-100)."""
    from .data import DATASETS

    return DATASETS[dataset][2] if dataset in DATASETS else 10


def blowup_reason(loss: float | None, first_loss: float | None, num_classes: int) -> str | None:
    """Why an epoch's training loss counts as blown up, or None:
    loss > 100 ln C, or loss > 1000 * first-epoch loss (both finite)."""
    if loss is None or not math.isfinite(loss):
        return None
    chance = math.log(num_classes)
    if loss > CHANCE_FACTOR * chance:
        return f"training loss {loss:.4g} > {CHANCE_FACTOR:g} ln C = {CHANCE_FACTOR * chance:.4g}"
    if first_loss is not None and first_loss > 0 and loss > GROWTH_FACTOR * first_loss:
        return f"training loss {loss:.4g} > {GROWTH_FACTOR:g} x epoch 1's {first_loss:.4g}"
    return None


def blowup(history: list[dict], num_classes: int) -> dict | None:
    """The first blown-up epoch of a history as {epoch, loss, reason}, or None."""
    first = history[0].get("train_loss") if history else None
    for row in history:
        why = blowup_reason(row.get("train_loss"), first, num_classes)
        if why is not None:
            return {"epoch": row["epoch"], "loss": row["train_loss"], "reason": why}
    return None


def _at_chance(row: dict, num_classes: int) -> bool:
    acc = row.get("test_accuracy")
    return acc is not None and acc < CHANCE_ACCURACY / num_classes


def divergence(history: list[dict], num_classes: int, last_epoch: bool = False) -> str | None:
    """Why training should stop after the last row of ``history`` (None: go on): a
    non-finite epoch, or PATIENCE trailing epochs blown up at chance accuracy (any number of
    them when ``last_epoch``, since the run has no epochs left to recover in)."""
    if not history:
        return None
    if history[-1].get("test_accuracy") is None:
        return f"training loss or weights not finite in epoch {history[-1]['epoch']}"
    first = history[0].get("train_loss")
    streak = 0
    for row in reversed(history):
        exploded = blowup_reason(row["train_loss"], first, num_classes) is not None
        if not (exploded and _at_chance(row, num_classes)):
            break
        streak += 1
    if streak == 0 or (streak < PATIENCE and not last_epoch):
        return None
    since = history[-streak]
    reason = blowup_reason(history[-1]["train_loss"], first, num_classes)
    return (
        f"{reason}, test accuracy at chance level (< {CHANCE_ACCURACY / num_classes:.0%}) "
        f"for {streak} epoch(s) since epoch {since['epoch']}"
    )
