"""Running experiments into the results store: only what is missing, resumable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from tqdm import tqdm

from .config import TrainConfig, run_id
from .data import DataNotFoundError, Dataset
from .experiments import filter_configs, get_experiment
from .provenance import resolve_device
from .store import find_record, record_path
from .train import data_for, train

DEFAULT_RESULTS = Path("results")


def plan(
    experiment: str,
    profile: str,
    results_dir: str | Path = DEFAULT_RESULTS,
    filters: dict[str, str] | None = None,
) -> list[tuple[TrainConfig, dict | None]]:
    """Each config of the experiment with its stored record (None when missing)."""
    configs = filter_configs(get_experiment(experiment).configs(profile), filters or {})
    return [(cfg, find_record(results_dir, experiment, cfg)) for cfg in configs]


def status(
    experiment: str,
    profile: str,
    results_dir: str | Path = DEFAULT_RESULTS,
    filters: dict[str, str] | None = None,
) -> dict[str, int]:
    counts = {"finished": 0, "diverged": 0, "missing": 0}
    for _, rec in plan(experiment, profile, results_dir, filters):
        counts["missing" if rec is None else rec["status"]] += 1
    return counts


def _data_key(cfg: TrainConfig) -> tuple:
    return (cfg.dataset, cfg.normalize, cfg.val_size, cfg.train_subset, cfg.test_subset)


def run_experiment(
    experiment: str,
    profile: str,
    results_dir: str | Path = DEFAULT_RESULTS,
    filters: dict[str, str] | None = None,
    device: str | torch.device = "auto",
    *,
    progress: bool = True,
    data_root: str | Path | None = None,
    download: bool = False,
    skip_missing_data: bool = True,
    only: set[str] | None = None,
) -> Iterator[tuple[TrainConfig, str]]:
    """Train every missing run of ``experiment`` and write its record; yields (cfg, outcome).

    Outcomes: ``cached`` (already stored), ``finished``, ``diverged`` or ``no data: ...``
    (the dataset is not available here; the run stays missing). Configs are grouped by
    the data they need so each dataset is loaded once. ``only`` restricts the run to
    configs with these run ids.
    """
    dev = resolve_device(device)
    todo = plan(experiment, profile, results_dir, filters)
    if only is not None:
        todo = [(cfg, rec) for cfg, rec in todo if run_id(cfg) in only]
    missing = sorted((cfg for cfg, rec in todo if rec is None), key=lambda c: str(_data_key(c)))
    for cfg, rec in todo:
        if rec is not None:
            yield cfg, "cached"
    cache: dict[tuple, Dataset | str] = {}
    for cfg in tqdm(missing, desc=f"{experiment}/{profile}", unit="run", disable=not progress):
        key = _data_key(cfg)
        if key not in cache:
            cache.clear()  # one dataset resident at a time
            try:
                cache[key] = data_for(cfg, dev, data_root, download)
            except DataNotFoundError as err:
                if not skip_missing_data:
                    raise
                cache[key] = f"no data: {err}"
        data = cache[key]
        if isinstance(data, str):
            yield cfg, data
            continue
        rec = train(
            cfg,
            dev,
            data,
            experiment=experiment,
            profile=profile,
            out=record_path(results_dir, experiment, cfg),
            progress=progress,
        )
        yield cfg, rec["status"]
