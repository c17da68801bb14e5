"""The results directory: one JSON record per run, written atomically.

Layout: ``results/<experiment>/<run id>.json``. A record is never half-written: it is
written to a temporary file in the same folder and renamed over the target, so a crash
or Ctrl-C leaves either the old record or the new one.

A record is checked whenever it is read (:func:`validate_record`): it parses, holds the
keys every record has, a known status, and a config whose run id is the file's name. A
file that fails is never taken for a stored run: lookups skip it and say so in one line,
and ``pepita run`` moves it aside (:func:`move_aside`) and trains the run again.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .config import TrainConfig, run_id
from .divergence import blowup, num_classes_of
from .theory.runs import EXPERIMENT as THEORY
from .theory.runs import TheoryConfig

REQUIRED_KEYS = ("run_id", "status", "config", "history", "final", "provenance")
THEORY_KEYS = ("id", "status", "config", "alpha", "init", "ode", "sim", "provenance")
STATUSES = ("finished", "diverged")
CORRUPT_SUFFIX = ".corrupt"


class RecordError(ValueError):
    """A stored record that cannot be used; the message is one line naming the file."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path, self.problem = Path(path), problem
        super().__init__(f"corrupt record {self.path}: {problem}")


def write_json_atomic(path: str | Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file 0600; a record is an ordinary shared file, so give it the
        # mode open() would (0666 less the umask) before it takes the record's name.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record_path(results_dir: str | Path, experiment: str, cfg: TrainConfig) -> Path:
    return Path(results_dir) / experiment / f"{run_id(cfg)}.json"


def read_record(path: str | Path) -> dict:
    """The JSON object in ``path``; an unreadable file is a :class:`RecordError`."""
    try:
        with open(path) as f:
            rec = json.load(f)
    except json.JSONDecodeError as err:
        what = "empty file" if not err.doc.strip() else f"not valid JSON ({err})"
        raise RecordError(path, what) from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecordError(path, f"cannot read it ({err})") from None
    if not isinstance(rec, dict):
        raise RecordError(path, f"holds a JSON {type(rec).__name__}, not an object")
    return rec


def validate_record(rec: dict, path: str | Path) -> dict:
    """``rec`` if it is a usable run record stored at ``path``, else a :class:`RecordError`:
    every required key, a known status, a config that builds and hashes to the file name."""
    if rec.get("experiment") == THEORY:
        return validate_theory_record(rec, path)
    missing = [k for k in REQUIRED_KEYS if k not in rec]
    if missing:
        raise RecordError(path, f"missing key(s) {', '.join(missing)}")
    if rec["status"] not in STATUSES:
        raise RecordError(path, f"unknown status {rec['status']!r} (expected finished or diverged)")
    for key, kind in (("config", dict), ("final", dict), ("history", list), ("provenance", dict)):
        if not isinstance(rec[key], kind):
            raise RecordError(path, f"{key!r} is {type(rec[key]).__name__}, not {kind.__name__}")
    try:
        rid = run_id(TrainConfig.from_dict(rec["config"]))
    except (TypeError, ValueError) as err:
        raise RecordError(path, f"config is not valid ({err})") from None
    stem = Path(path).stem
    if rid != stem or rec["run_id"] != stem:
        raise RecordError(
            path, f"config hashes to run id {rid} and record says {rec['run_id']}, not {stem}"
        )
    return rec


def validate_theory_record(rec: dict, path: str | Path) -> dict:
    """:func:`validate_record` for a teacher-student record (:mod:`pepita_lib.theory.runs`):
    its keys, a known status, and a :class:`TheoryConfig` whose run id is the file's name."""
    missing = [k for k in THEORY_KEYS if k not in rec]
    if missing:
        raise RecordError(path, f"missing key(s) {', '.join(missing)}")
    if rec["status"] not in STATUSES:
        raise RecordError(path, f"unknown status {rec['status']!r} (expected finished or diverged)")
    try:
        rid = TheoryConfig(**rec["config"]).run_id()
    except (TypeError, ValueError) as err:
        raise RecordError(path, f"config is not valid ({err})") from None
    stem = Path(path).stem
    if rid != stem or rec["id"] != stem:
        raise RecordError(path, f"config hashes to run id {rid} and record says {rec['id']}")
    return rec


def load_record(path: str | Path) -> dict:
    """The validated run record at ``path`` (a :class:`RecordError` when it is not one)."""
    return validate_record(read_record(path), path)


def _noted(err: RecordError, corrupt: list[RecordError] | None) -> None:
    """Collect a bad record for the caller, or, when it does not collect, say it once."""
    if corrupt is not None:
        if all(e.path != err.path for e in corrupt):
            corrupt.append(err)
    elif err.path not in _REPORTED:
        _REPORTED.add(err.path)
        print(f"pepita: skipping {err}", file=sys.stderr)


_REPORTED: set[Path] = set()


def find_record(
    results_dir: str | Path,
    experiment: str,
    cfg: TrainConfig,
    corrupt: list[RecordError] | None = None,
) -> dict | None:
    """The stored record of ``cfg``: from ``experiment``'s folder, or, since a run id is a
    hash of the whole config, from any other experiment that already ran the same config.

    A corrupt file is skipped (the run counts as missing unless another copy is valid) and
    appended to ``corrupt`` when given, else named in one line on stderr."""
    path = record_path(results_dir, experiment, cfg)
    others = sorted(p for p in Path(results_dir).glob(f"*/{path.name}") if p != path)
    for candidate in [path, *others]:
        if not candidate.is_file():
            continue
        try:
            return load_record(candidate)
        except RecordError as err:
            _noted(err, corrupt)
    return None


def move_aside(path: str | Path) -> Path:
    """Rename a corrupt record to ``<name>.corrupt`` (``.corrupt.1``, ... if taken), never
    deleting anything; returns the new path."""
    path = Path(path)
    target, n = path.with_name(path.name + CORRUPT_SUFFIX), 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{CORRUPT_SUFFIX}.{n}")
    path.rename(target)
    return target


def run_folders(results_dir: str | Path) -> list[Path]:
    """The folders of ``results_dir`` that hold run records (one per registered
    experiment; ``cost`` holds another kind of record)."""
    from .experiments import EXPERIMENTS

    return [p for p in sorted(Path(results_dir).glob("*")) if p.is_dir() and p.name in EXPERIMENTS]


def iter_records(
    results_dir: str | Path,
    experiment: str | None = None,
    corrupt: list[RecordError] | None = None,
) -> Iterable[dict]:
    """Every valid run record of ``experiment`` (default: of every experiment); corrupt
    files are skipped and reported as in :func:`find_record`."""
    root = Path(results_dir)
    for folder in [root / experiment] if experiment else run_folders(root):
        for path in sorted(folder.glob("*.json")):
            try:
                yield load_record(path)
            except RecordError as err:
                _noted(err, corrupt)


def check_writable(path: str | Path, what: str) -> Path:
    """``path`` if a file can be written there (its folder is created), else a ValueError
    naming it: checked before training, so a finished run is never lost to a bad path."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a directory, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"{what} {path} cannot be written: {err.strerror or err}") from None
    return path


def check_results_dir(results_dir: str | Path) -> Path:
    """A results folder that training can write into (created when missing)."""
    root = Path(results_dir)
    if root.exists() and not root.is_dir():
        raise ValueError(f"results folder {root} is a file, not a folder")
    check_writable(root / "probe", "results folder")
    return root


def write_record(path: str | Path, rec: dict) -> None:
    """Store ``rec`` at ``path``; when that fails (disk full, permissions), write it to a
    fallback file in the temporary folder instead and raise a one-line error saying where,
    so the finished training is not lost."""
    try:
        write_json_atomic(path, rec)
    except (OSError, ValueError) as err:
        fallback = Path(tempfile.gettempdir()) / f"pepita-unsaved-{rec.get('run_id', 'run')}.json"
        with open(fallback, "w") as f:
            json.dump(rec, f, indent=1)  # NaN allowed here: keeping the run beats refusing it
        raise OSError(f"cannot write record {path} ({err}); it was saved to {fallback}") from err


def _flat_config(rec: dict) -> dict:
    # records written before a field existed hold its default (see config.py)
    cfg = {**TrainConfig().to_dict(), **rec["config"]}
    cfg["hidden"] = "x".join(str(h) for h in cfg["hidden"])
    cfg["depth"] = len(rec["config"]["hidden"])
    cfg["decay_epochs"] = ",".join(str(e) for e in cfg["decay_epochs"])
    cfg["wm_layer_lr"] = ",".join(str(r) for r in cfg.get("wm_layer_lr", []))
    cfg["extra"] = json.dumps(cfg["extra"]) if cfg["extra"] else ""
    return cfg


def records_to_frames(records: Iterable[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tidy frames: one row per run (config + final metrics), one row per run and epoch."""
    runs, hist = [], []
    for rec in records:
        base = {
            "run_id": rec["run_id"],
            "experiment": rec.get("experiment"),
            "profile": rec.get("profile"),
            "status": rec["status"],
            **_flat_config(rec),
        }
        blew = blowup(rec["history"], num_classes_of(rec["config"].get("dataset", "mnist")))
        final = {f"final_{k}": v for k, v in rec["final"].items()}
        final.update({f"initial_{k}": v for k, v in (rec.get("initial") or {}).items()})
        prov = {
            "device_name": rec["provenance"].get("device_name"),
            "wall_seconds": rec["provenance"].get("wall_seconds"),
        }
        runs.append({**base, **final, **prov, "blowup_epoch": blew["epoch"] if blew else None})
        for row in rec["history"]:
            hist.append({**base, **row})
    return pd.DataFrame(runs), pd.DataFrame(hist)
