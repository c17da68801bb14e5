"""The results directory: one JSON record per run, written atomically.

Layout: ``results/<experiment>/<run id>.json``. A record is never half-written: it is
written to a temporary file in the same folder and renamed over the target, so a crash
or Ctrl-C leaves either the old record or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .config import TrainConfig, run_id


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
    with open(path) as f:
        return json.load(f)


def find_record(results_dir: str | Path, experiment: str, cfg: TrainConfig) -> dict | None:
    """The stored record of ``cfg``: from ``experiment``'s folder, or, since a run id is a
    hash of the whole config, from any other experiment that already ran the same config."""
    path = record_path(results_dir, experiment, cfg)
    if path.is_file():
        return read_record(path)
    for other in sorted(Path(results_dir).glob(f"*/{path.name}")):
        return read_record(other)
    return None


def iter_records(results_dir: str | Path, experiment: str | None = None) -> Iterable[dict]:
    root = Path(results_dir)
    folders = [root / experiment] if experiment else sorted(p for p in root.glob("*") if p.is_dir())
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            yield read_record(path)


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
        final = {f"final_{k}": v for k, v in rec["final"].items()}
        final.update({f"initial_{k}": v for k, v in (rec.get("initial") or {}).items()})
        prov = {
            "device_name": rec["provenance"].get("device_name"),
            "wall_seconds": rec["provenance"].get("wall_seconds"),
        }
        runs.append({**base, **final, **prov})
        for row in rec["history"]:
            hist.append({**base, **row})
    return pd.DataFrame(runs), pd.DataFrame(hist)
