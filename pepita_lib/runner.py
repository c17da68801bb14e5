"""Running experiments into the results store: only what is missing, resumable."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
from tqdm import tqdm

from .config import TrainConfig, run_id
from .data import DataNotFoundError, Dataset
from .experiments import filter_configs, get_experiment
from .provenance import resolve_device
from .store import find_record, record_path, write_json_atomic
from .train import data_for, train

DEFAULT_RESULTS = Path("results")

# a worker process keeps the last dataset it loaded (one resident at a time)
_worker_data: dict[tuple, Dataset] = {}


def train_task(
    cfg_dict: dict,
    experiment: str,
    profile: str,
    device: str,
    data_root: str | None = None,
    download: bool = False,
    threads: int | None = None,
) -> dict | str:
    """Train one config in a worker (process pool or Ray task): its record, or ``"no data: ..."``.

    The caller writes the record, so workers need the data but never the results folder.
    """
    if threads:
        torch.set_num_threads(threads)
    cfg = TrainConfig.from_dict(cfg_dict)
    dev = resolve_device(device)
    key = (*_data_key(cfg), str(dev))
    if key not in _worker_data:
        _worker_data.clear()
        try:
            _worker_data[key] = data_for(cfg, dev, data_root, download)
        except DataNotFoundError as err:
            return f"no data: {err}"
    return train(
        cfg, dev, _worker_data[key], experiment=experiment, profile=profile, progress=False
    )


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
    jobs: int = 1,
) -> Iterator[tuple[TrainConfig, str]]:
    """Train every missing run of ``experiment`` and write its record; yields (cfg, outcome).

    Outcomes: ``cached`` (already stored), ``finished``, ``diverged`` or ``no data: ...``
    (the dataset is not available here; the run stays missing). Configs are grouped by
    the data they need so each dataset is loaded once. ``only`` restricts the run to
    configs with these run ids. ``jobs > 1`` trains that many runs at once in worker
    processes (on a CPU each gets cores // jobs threads; on a GPU they share the card,
    which pays off because one small-batch run leaves most of it idle).
    """
    dev = resolve_device(device)
    todo = plan(experiment, profile, results_dir, filters)
    if only is not None:
        todo = [(cfg, rec) for cfg, rec in todo if run_id(cfg) in only]
    missing = sorted((cfg for cfg, rec in todo if rec is None), key=lambda c: str(_data_key(c)))
    for cfg, rec in todo:
        if rec is not None:
            yield cfg, "cached"
    if jobs > 1 and missing:
        yield from _run_pool(
            missing,
            experiment,
            profile,
            results_dir,
            dev,
            jobs,
            data_root,
            download,
            skip_missing_data,
            progress,
        )
        return
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


def _run_pool(
    missing: list[TrainConfig],
    experiment: str,
    profile: str,
    results_dir: str | Path,
    dev: torch.device,
    jobs: int,
    data_root: str | Path | None,
    download: bool,
    skip_missing_data: bool,
    progress: bool,
) -> Iterator[tuple[TrainConfig, str]]:
    threads = max(1, (os.cpu_count() or 1) // jobs) if dev.type == "cpu" else None
    root = None if data_root is None else str(data_root)
    ctx = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        futures = {
            pool.submit(
                train_task, cfg.to_dict(), experiment, profile, str(dev), root, download, threads
            ): cfg
            for cfg in missing
        }
        bar = tqdm(
            total=len(futures),
            desc=f"{experiment}/{profile} x{jobs}",
            unit="run",
            disable=not progress,
        )
        for fut in as_completed(futures):
            cfg, result = futures[fut], fut.result()
            bar.update(1)
            if isinstance(result, str):
                if not skip_missing_data:
                    raise DataNotFoundError(result)
                yield cfg, result
                continue
            write_json_atomic(record_path(results_dir, experiment, cfg), result)
            yield cfg, result["status"]
        bar.close()
