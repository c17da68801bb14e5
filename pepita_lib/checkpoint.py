"""Resumable runs: the whole training state at an epoch boundary, written beside the record.

A paper-profile CIFAR-10 run at depth takes hours on a laptop CPU. Every few minutes the
trainer saves everything the next epoch depends on (weights, momentum, the rule's state
and random streams, the batch-order and dropout streams, the history so far) to
``<record>.ckpt``; ``pepita run`` started again on the same config picks the run up at the
saved epoch instead of epoch 0, and deletes the file once the record is written. Because
every random stream is restored, a resumed run on the same machine gives the record an
uninterrupted run would have given (tests/test_checkpoint.py checks this to the bit).

The file is written to a temporary name and renamed, so a crash or Ctrl-C while saving
leaves the previous checkpoint intact, never a truncated one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .build import Run

Tensor = torch.Tensor

FORMAT = 1
SUFFIX = ".ckpt"
# what a checkpoint must hold to resume a run (``reasons`` came later and is optional)
REQUIRED = (
    "run_ids", "epoch", "weights", "velocity", "state", "rule_generators", "rule_extras",
    "order_generators", "dropout_generators", "initial", "histories", "statuses", "segments",
)  # fmt: skip


class CheckpointError(ValueError):
    """A checkpoint that cannot resume its run; one line naming the file."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says which epochs are kept and which are lost."""


def _epochs(first: int, last: int) -> str:
    return f"epoch {first}" if first == last else f"epochs {first}-{last}"


def interrupted_message(ckpt: Path | None, kept: int, current: int, run_ids: list[str]) -> str:
    """What an interruption in epoch ``current`` keeps: the epochs saved in ``ckpt``."""
    runs, lost = ", ".join(run_ids), _epochs(kept + 1, current)
    if ckpt is None:
        return f"run {runs} interrupted in epoch {current}: nothing is saved, {lost} lost"
    if kept == 0:
        return (
            f"run {runs} interrupted in epoch {current} before its first checkpoint: "
            f"{lost} lost (--checkpoint-every sets how often it saves)"
        )
    return (
        f"run {runs} interrupted in epoch {current}: {_epochs(1, kept)} kept in {ckpt} "
        f"(the next run resumes there), {lost} lost"
    )


def checkpoint_path(record_path: str | Path) -> Path:
    """Where the checkpoint of the run recorded at ``record_path`` lives."""
    return Path(record_path).with_suffix(SUFFIX)


def generator_states(obj: object) -> dict[str, Tensor]:
    """The states of every torch.Generator held as an attribute of ``obj`` (a rule's own
    random streams: FF's wrong labels, weight mirroring's noise)."""
    return {k: v.get_state() for k, v in vars(obj).items() if isinstance(v, torch.Generator)}


def restore_generators(obj: object, states: dict[str, Tensor]) -> None:
    """Inverse of ``generator_states`` on an object whose generators already exist."""
    for name, st in states.items():
        gen = getattr(obj, name, None)
        if not isinstance(gen, torch.Generator):
            raise ValueError(f"checkpoint holds generator {name!r} that the rule does not have")
        gen.set_state(st)


def copy_into(targets: list[Tensor], sources: list[Tensor], what: str) -> None:
    """Copy saved tensors into live ones in place, so views of them (stacked seeds) stay
    valid; shapes must agree exactly."""
    if len(targets) != len(sources):
        raise ValueError(f"checkpoint {what}: {len(sources)} tensors, the run has {len(targets)}")
    for i, (t, s) in enumerate(zip(targets, sources)):
        if t.shape != s.shape:
            raise ValueError(
                f"checkpoint {what}[{i}] has shape {tuple(s.shape)}, the run has {tuple(t.shape)}"
            )
        t.copy_(s)


def save_run(path: str | Path, run: Run, epoch: int, progress: dict[str, Any]) -> None:
    """Save ``run`` after ``epoch`` epochs with what its records hold so far
    (``progress``: initial, histories, statuses, reasons, segments)."""
    training = {
        "run_ids": run.run_ids,
        "epoch": epoch,
        "weights": run.net.weights,
        "velocity": run.opt.velocity,
        "state": run.state,
        "rule_generators": generator_states(run.rule),
        "rule_extras": run.rule.checkpoint_extras(run.net, run.state, run.opt),
        "order_generators": [g.get_state() for g in run.order_gens],
        "dropout_generators": [g.get_state() for g in run.drop_gens],
    }
    save(path, {**training, **progress})


def restore_run(path: str | Path, saved: dict[str, Any], run: Run) -> None:
    """Put the training state of checkpoint ``saved`` (read from ``path``) back into a
    freshly built ``run``, in place; a checkpoint that does not fit the run is a
    :class:`CheckpointError`."""
    try:
        _restore(saved, run)
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(
            f"checkpoint {path} does not fit the run ({err}); move it away to train "
            "the run from scratch"
        ) from None


def _restore(saved: dict[str, Any], run: Run) -> None:
    with torch.no_grad():
        copy_into(run.net.weights, saved["weights"], "weights")
        copy_into(run.opt.velocity, saved["velocity"], "velocity")
        for k, v in saved["state"].items():
            if k in run.state and run.state[k].shape == v.shape:
                run.state[k].copy_(v)
            else:  # state the rule creates during training (PEPITA's carried W_1 F)
                run.state[k] = v.to(run.net.weights[0].device)
    restore_generators(run.rule, saved["rule_generators"])
    gens = [*run.order_gens, *run.drop_gens]
    for g, st in zip(gens, saved["order_generators"] + saved["dropout_generators"]):
        g.set_state(st)
    run.rule.restore_extras(run.net, run.state, run.opt, saved["rule_extras"])


def save(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        torch.save({"format": FORMAT, **payload}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: str | Path, run_ids: list[str]) -> dict[str, Any] | None:
    """The checkpoint at ``path`` for exactly these runs, or None when there is none.

    A file that cannot be read, lacks part of the state or belongs to other runs is a
    :class:`CheckpointError` naming the path: the caller should not silently retrain hours
    of work over it, nor resume the wrong run.
    """
    path = Path(path)
    if not path.exists():
        return None
    fix = "move it away to train the run from scratch"
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot read checkpoint {path} ({why}); {fix}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"checkpoint {path} has format {got}, expected {FORMAT}; {fix}")
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}; {fix}")
    if payload["run_ids"] != run_ids:
        raise CheckpointError(
            f"checkpoint {path} is for runs {payload['run_ids']}, not {run_ids}; {fix}"
        )
    return payload


def in_progress(results_dir: str | Path) -> list[tuple[Path, int, str, list[str]]]:
    """Checkpoints under ``results_dir``: (path, epochs done, time of the save, run ids; a
    stack of seeds shares one file), so ``pepita status`` can say which missing runs will
    resume rather than start over. An unreadable file has epoch -1. A checkpoint left
    beside its finished record (a kill between writing the record and deleting the file)
    is not in progress, and is left out."""
    found = []
    for path in sorted(Path(results_dir).glob(f"*/*{SUFFIX}")):
        try:  # mmap: the epoch count without reading the weights
            payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            segs = payload.get("segments") or [{}]
            saved = str(segs[-1].get("finished", "?"))
            entry = (path, int(payload["epoch"]), saved, list(payload["run_ids"]))
        except Exception:  # reported, not fatal: status must work with a damaged file
            entry = (path, -1, "unreadable", [])
        ids = entry[3] or [path.stem]
        if not all((path.parent / f"{rid}.json").is_file() for rid in ids):
            found.append(entry)
    return found
