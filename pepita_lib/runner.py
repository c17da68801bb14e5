"""Running experiments into the results store: only what is missing, resumable.

One bad file never blocks the rest of a grid: a corrupt record is moved aside and its run
trained again, and a damaged data file or checkpoint leaves only the runs that need it
missing, each reported in one line. Runs are locked one by one (:mod:`pepita_lib.locks`),
so several processes on one results folder share a grid instead of repeating it.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from .build import seed_group_key
from .checkpoint import CheckpointError, in_progress
from .config import TrainConfig, run_id
from .data import DataFileError, DataNotFoundError, Dataset
from .experiments import EXPERIMENTS, filter_configs, get_experiment
from .locks import holding, run_lock, try_acquire
from .provenance import resolve_device
from .store import (
    RecordError,
    check_results_dir,
    find_record,
    iter_records,
    move_aside,
    record_path,
    write_record,
)
from .train import data_for, train_seeds

DEFAULT_RESULTS = Path("results")

# a worker process keeps the last dataset it loaded (one resident at a time)
_worker_data: dict[tuple, Dataset] = {}


def train_task(
    cfg_dicts: list[dict],
    experiment: str,
    profile: str,
    device: str,
    data_root: str | None = None,
    download: bool = False,
    threads: int | None = None,
) -> list[dict] | str:
    """Train one unit (configs differing only in seed, trained as one batch) in a worker
    (process pool or Ray task): their records, or ``"no data: ..."``.

    The caller writes the records, so workers need the data but never the results folder.
    """
    if threads:
        torch.set_num_threads(threads)
    cfgs = [TrainConfig.from_dict(d) for d in cfg_dicts]
    dev = resolve_device(device)
    key = (*_data_key(cfgs[0]), str(dev))
    if key not in _worker_data:
        _worker_data.clear()
        try:
            _worker_data[key] = data_for(cfgs[0], dev, data_root, download)
        except (DataNotFoundError, DataFileError) as err:
            return _data_outcome(err)
    return train_seeds(
        cfgs, dev, _worker_data[key], experiment=experiment, profile=profile, progress=False
    )


def default_seed_batch(device: torch.device) -> int:
    """Seeds trained as one batch when the caller does not say: on a CPU one (measured in
    bench/RESULTS.md: a stack of S seeds costs S times one seed, the cores are already
    busy), on a GPU up to 10 (one small-batch run leaves most of the card idle)."""
    return 10 if device.type == "cuda" else 1


def seed_groups(configs: list[TrainConfig], seed_batch: int) -> list[list[TrainConfig]]:
    """Training units: up to ``seed_batch`` configs that differ only in seed and learning
    rate (and use a batchable rule) go together as one stack; every other config is a unit
    of its own. Units keep the configs' order of first appearance."""
    units: list[list[TrainConfig]] = []
    open_units: dict[str, list[TrainConfig]] = {}
    for cfg in configs:
        key = seed_group_key(cfg) if seed_batch > 1 else None
        unit = open_units.get(key) if key is not None else None
        if unit is None or len(unit) >= seed_batch:
            unit = [cfg]
            units.append(unit)
            if key is not None:
                open_units[key] = unit
        else:
            unit.append(cfg)
    return units


def plan(
    experiment: str,
    profile: str,
    results_dir: str | Path = DEFAULT_RESULTS,
    filters: dict[str, str] | None = None,
    corrupt: list[RecordError] | None = None,
) -> list[tuple[TrainConfig, dict | None]]:
    """Each config of the experiment with its stored record (None when missing; a corrupt
    record counts as missing and is appended to ``corrupt``, see :func:`find_record`)."""
    configs = filter_configs(get_experiment(experiment).configs(profile), filters or {})
    return [(cfg, find_record(results_dir, experiment, cfg, corrupt)) for cfg in configs]


def status(
    experiment: str,
    profile: str,
    results_dir: str | Path = DEFAULT_RESULTS,
    filters: dict[str, str] | None = None,
) -> dict[str, int]:
    return count_states(plan(experiment, profile, results_dir, filters))


def count_states(planned: list[tuple[TrainConfig, dict | None]]) -> dict[str, int]:
    """Finished / diverged / missing runs of a :func:`plan`."""
    counts = {"finished": 0, "diverged": 0, "missing": 0}
    for _, rec in planned:
        counts["missing" if rec is None else rec["status"]] += 1
    return counts


def _cost_key(cfg: TrainConfig) -> tuple:
    # what sets a run's time per epoch: the rule, the data shape and size, the net, the batch
    return (cfg.rule, *_data_key(cfg), tuple(cfg.hidden), cfg.batch_size)


def epoch_seconds(records: Iterable[dict]) -> dict[tuple, float]:
    """Median measured wall seconds per epoch of finished runs, per cost key and, for rules
    not yet measured on a setup, per setup over all rules (key with the rule as None)."""
    by_key: dict[tuple, list[float]] = {}
    for rec in records:
        if rec.get("status") != "finished" or "config" not in rec or "final" not in rec:
            continue
        epochs = rec["final"].get("epochs_completed") or 0
        wall = rec.get("provenance", {}).get("wall_seconds")
        if not epochs or not wall:
            continue
        key = _cost_key(TrainConfig.from_dict(rec["config"]))
        for k in (key, (None, *key[1:])):
            by_key.setdefault(k, []).append(wall / epochs)
    return {k: statistics.median(v) for k, v in by_key.items()}


def estimate_seconds(cfg: TrainConfig, per_epoch: dict[tuple, float]) -> float | None:
    """Wall seconds one run of ``cfg`` should take at the pace of the stored runs (same rule
    and setup, else any rule on the same setup); None when nothing comparable is stored."""
    if not isinstance(cfg, TrainConfig):
        return None  # not a training run (the theory's): no epochs to time it by
    key = _cost_key(cfg)
    rate = per_epoch.get(key, per_epoch.get((None, *key[1:])))
    return None if rate is None else rate * cfg.epochs


def remaining(
    experiment: str,
    profile: str,
    results_dir: str | Path = DEFAULT_RESULTS,
    filters: dict[str, str] | None = None,
    per_epoch: dict[tuple, float] | None = None,
) -> tuple[float, int]:
    """(estimated wall seconds of the missing runs that can be estimated, number that
    cannot), at the pace of the runs stored in ``results_dir``."""
    if per_epoch is None:
        per_epoch = epoch_seconds(iter_records(results_dir))
    planned = plan(experiment, profile, results_dir, filters)
    return remaining_of(planned, per_epoch, epochs_saved(results_dir))


def epochs_saved(results_dir: str | Path) -> dict[str, int]:
    """Run id -> epochs already done, for the runs that will resume from a checkpoint."""
    return {rid: epoch for _, epoch, _, ids in in_progress(results_dir) for rid in ids}


def remaining_of(
    planned: list[tuple[TrainConfig, dict | None]],
    per_epoch: dict[tuple, float],
    saved: dict[str, int] | None = None,
) -> tuple[float, int]:
    """:func:`remaining` for an already computed :func:`plan`; ``saved`` (from
    :func:`epochs_saved`) leaves out the epochs a checkpoint already holds."""
    seconds, unknown = 0.0, 0
    for cfg, rec in planned:
        if rec is None:
            est = estimate_seconds(cfg, per_epoch)
            if est is None:
                unknown += 1
            else:
                done = (saved or {}).get(run_id(cfg), 0)
                seconds += est * (cfg.epochs - done) / cfg.epochs
    return seconds, unknown


def coverage(
    profile: str,
    results_dir: str | Path = DEFAULT_RESULTS,
    experiments: Iterable[str] | None = None,
    per_epoch: dict[tuple, float] | None = None,
    filters: dict[str, str] | None = None,
) -> list[dict]:
    """One row per (experiment, dataset): finished / diverged / missing runs of ``profile``
    and the estimated wall seconds of the missing ones (``seconds``, plus ``unknown``: missing
    runs with no comparable stored run to time them by). Experiments default to all."""
    if per_epoch is None:
        per_epoch = epoch_seconds(iter_records(results_dir))
    saved = epochs_saved(results_dir)
    rows = []
    for name in EXPERIMENTS if experiments is None else experiments:
        by_dataset: dict[str, list[tuple[TrainConfig, dict | None]]] = {}
        for cfg, rec in plan(name, profile, results_dir, filters):
            dataset = cfg.dataset if isinstance(cfg, TrainConfig) else "-"
            by_dataset.setdefault(dataset, []).append((cfg, rec))
        for dataset, planned in by_dataset.items():
            seconds, unknown = remaining_of(planned, per_epoch, saved)
            rows.append({"experiment": name, "dataset": dataset, **count_states(planned),
                         "seconds": seconds, "unknown": unknown})  # fmt: skip
    return rows


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
    seed_batch: int | None = None,
    checkpoint_seconds: float | None = 300.0,
) -> Iterator[tuple[TrainConfig, str]]:
    """Train every missing run of ``experiment`` and write its record; yields (cfg, outcome).

    Outcomes: ``cached`` (already stored, or stored meanwhile by another process),
    ``finished``, ``diverged``, ``no data: ...`` / ``bad data: ...`` (the dataset is not
    available or its file is damaged; the run stays missing) and ``bad checkpoint: ...``
    (the run's checkpoint cannot resume it; the run stays missing, the grid goes on). A
    corrupt stored record first yields ``corrupt: ...`` (it is moved aside) and is then
    trained again. Configs are grouped by the data they need so each dataset is loaded
    once. ``only`` restricts the run to configs with these run ids. ``jobs > 1`` trains
    that many units at once in worker processes (on a CPU each gets cores // jobs threads;
    on a GPU they share the card, which pays off because one small-batch run leaves most
    of it idle). ``seed_batch``: how many seeds of one setting train as one stacked batch
    (default :func:`default_seed_batch`); records are the same either way, up to float
    rounding. ``checkpoint_seconds``: how often a run saves its state (None: never).
    """
    dev = resolve_device(device)
    check_results_dir(results_dir)
    corrupt: list[RecordError] = []
    todo = plan(experiment, profile, results_dir, filters, corrupt)
    if only is not None:
        todo = [(cfg, rec) for cfg, rec in todo if run_id(cfg) in only]
    yield from _move_corrupt(corrupt, [cfg for cfg, _ in todo])
    compute = get_experiment(experiment).compute
    if compute is not None:
        yield from compute_missing(todo, compute, results_dir, experiment, progress)
        return
    missing = sorted((cfg for cfg, rec in todo if rec is None), key=lambda c: str(_data_key(c)))
    for cfg, rec in todo:
        if rec is not None:
            yield cfg, "cached"
    units = seed_groups(missing, seed_batch or default_seed_batch(dev))
    opts = dict(data_root=data_root, download=download, skip_missing_data=skip_missing_data)
    if jobs > 1 and units:
        yield from _run_pool(units, experiment, profile, results_dir, dev, jobs, progress, **opts)
        return
    yield from _run_here(units, experiment, profile, results_dir, dev, checkpoint_seconds,
                         progress, **opts)  # fmt: skip


def _run_here(
    units: list[list[TrainConfig]], experiment: str, profile: str, results_dir: str | Path,
    dev: torch.device, checkpoint_seconds: float | None, progress: bool, **opts: Any,
) -> Iterator[tuple[TrainConfig, str]]:  # fmt: skip
    """Train the units one after another in this process, each dataset loaded once."""
    total = sum(len(u) for u in units)
    bar = tqdm(total=total, desc=f"{experiment}/{profile}", unit="run", disable=not progress)
    cache: dict[tuple, Dataset | str] = {}
    for unit, stored in claim_units(units, results_dir, experiment):
        for cfg in stored:
            yield cfg, "cached"
        if unit:
            yield from _train_unit(unit, experiment, profile, results_dir, dev, cache,
                                   checkpoint_seconds, progress, **opts)  # fmt: skip
        bar.update(len(unit) + len(stored))
    bar.close()


def _move_corrupt(
    corrupt: list[RecordError], configs: list[TrainConfig]
) -> Iterator[tuple[TrainConfig, str]]:
    """Move each corrupt record of these configs aside (never deleting it)."""
    by_id = {run_id(cfg): cfg for cfg in configs}
    for err in corrupt:
        if err.path.stem not in by_id:
            continue
        try:
            where = f"moved to {move_aside(err.path).name}, the run is trained again"
        except FileNotFoundError:  # another process moved it first
            where = "moved aside by another process"
        yield by_id[err.path.stem], f"corrupt: {err}; {where}"


def claim_units(
    units: list[list[TrainConfig]], results_dir: str | Path, experiment: str
) -> Iterator[tuple[list[TrainConfig], list[TrainConfig]]]:
    """For each unit, (configs to train now, configs stored meanwhile by someone else),
    with the unit's run locks held until the caller asks for the next one. Units another
    process holds come last, once it lets go of them."""
    waiting = []
    for unit in units:
        locks = [run_lock(results_dir, run_id(cfg)) for cfg in unit]
        if not try_acquire(locks):
            waiting.append((unit, locks))
            continue
        with holding(locks):
            yield _still_missing(unit, results_dir, experiment)
    for unit, locks in waiting:
        with holding(locks, wait=True):
            yield _still_missing(unit, results_dir, experiment)


def _still_missing(
    unit: list[TrainConfig], results_dir: str | Path, experiment: str
) -> tuple[list[TrainConfig], list[TrainConfig]]:
    stored = [cfg for cfg in unit if find_record(results_dir, experiment, cfg) is not None]
    return [cfg for cfg in unit if cfg not in stored], stored


def _data_outcome(err: Exception) -> str:
    return f"{'no data' if isinstance(err, DataNotFoundError) else 'bad data'}: {err}"


def _train_unit(
    unit: list[TrainConfig],
    experiment: str,
    profile: str,
    results_dir: str | Path,
    dev: torch.device,
    cache: dict[tuple, Dataset | str],
    checkpoint_seconds: float | None,
    progress: bool,
    data_root: str | Path | None,
    download: bool,
    skip_missing_data: bool,
) -> Iterator[tuple[TrainConfig, str]]:
    """Train one unit in this process (its data from ``cache``, loaded when new)."""
    key = _data_key(unit[0])
    if key not in cache:
        cache.clear()  # one dataset resident at a time
        try:
            cache[key] = data_for(unit[0], dev, data_root, download)
        except (DataNotFoundError, DataFileError) as err:
            if not skip_missing_data:
                raise
            cache[key] = _data_outcome(err)
    data = cache[key]
    if isinstance(data, str):
        for cfg in unit:
            yield cfg, data
        return
    try:
        records = train_seeds(
            unit,
            dev,
            data,
            experiment=experiment,
            profile=profile,
            outs=[record_path(results_dir, experiment, cfg) for cfg in unit],
            progress=progress,
            checkpoint_seconds=checkpoint_seconds,
        )
    except CheckpointError as err:  # this unit's file only: the grid goes on
        for cfg in unit:
            yield cfg, f"bad checkpoint: {err}"
        return
    for cfg, rec in zip(unit, records):
        yield cfg, rec["status"]


def _run_pool(
    units: list[list[TrainConfig]],
    experiment: str,
    profile: str,
    results_dir: str | Path,
    dev: torch.device,
    jobs: int,
    progress: bool,
    data_root: str | Path | None,
    download: bool,
    skip_missing_data: bool,
) -> Iterator[tuple[TrainConfig, str]]:
    """Units whose locks are free train in worker processes (locks held here until their
    records are written); units another process holds are trained here afterwards, if it
    has not stored them by then."""
    threads = max(1, (os.cpu_count() or 1) // jobs) if dev.type == "cpu" else None
    root = None if data_root is None else str(data_root)
    ctx = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    mine, theirs = [], []
    for unit in units:
        locks = [run_lock(results_dir, run_id(cfg)) for cfg in unit]
        (mine if try_acquire(locks) else theirs).append((unit, locks))
    with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        futures = {
            pool.submit(
                train_task,
                [cfg.to_dict() for cfg in unit],
                experiment,
                profile,
                str(dev),
                root,
                download,
                threads,
            ): (unit, locks)
            for unit, locks in mine
        }
        bar = tqdm(
            total=sum(len(u) for u, _ in mine),
            desc=f"{experiment}/{profile} x{jobs}",
            unit="run",
            disable=not progress,
        )
        for fut in as_completed(futures):
            (unit, locks), result = futures[fut], fut.result()
            bar.update(len(unit))
            with holding(locks):
                yield from write_unit(results_dir, experiment, unit, result, skip_missing_data)
        bar.close()
    cache: dict[tuple, Dataset | str] = {}
    opts = dict(data_root=data_root, download=download, skip_missing_data=skip_missing_data)
    for unit, locks in theirs:
        with holding(locks, wait=True):
            todo, stored = _still_missing(unit, results_dir, experiment)
            for cfg in stored:
                yield cfg, "cached"
            if todo:
                yield from _train_unit(todo, experiment, profile, results_dir, dev, cache,
                                       None, progress, **opts)  # fmt: skip


def write_unit(
    results_dir: str | Path,
    experiment: str,
    unit: list[TrainConfig],
    result: list[dict] | str,
    skip_missing_data: bool = True,
) -> Iterator[tuple[TrainConfig, str]]:
    """Store a worker's records (atomically, content-addressed); yields (cfg, outcome)."""
    if isinstance(result, str):
        if not skip_missing_data:
            raise (DataNotFoundError if result.startswith("no data") else DataFileError)(result)
        for cfg in unit:
            yield cfg, result
        return
    for cfg, rec in zip(unit, result):
        write_record(record_path(results_dir, experiment, cfg), rec)
        yield cfg, rec["status"]


def compute_missing(
    todo: list[tuple[Any, dict | None]],
    compute: Callable[[Any], dict],
    results_dir: str | Path,
    experiment: str,
    progress: bool = True,
) -> Iterator[tuple[Any, str]]:
    """Runs that are not trained (the teacher-student theory's): each missing record made by
    the experiment's own ``compute`` and written to the store; yields (cfg, outcome)."""
    missing = [cfg for cfg, rec in todo if rec is None]
    for cfg, rec in todo:
        if rec is not None:
            yield cfg, "cached"
    for cfg in tqdm(missing, desc=experiment, unit="run", disable=not progress):
        rec = compute(cfg)
        write_record(record_path(results_dir, experiment, cfg), rec)
        yield cfg, rec["status"]
