"""Running an experiment's missing runs as Ray tasks (optional extra ``ray``).

Each missing unit (one config, or up to ``seed_batch`` seeds of one setting trained as a
stacked batch) becomes one task that loads its data, trains, and returns the run records;
the driver writes every record into the results store exactly as a local run would
(atomic write, content-addressed path). Workers therefore need the data but not the
results folder: the same code path serves one laptop (``ray.init()`` starts a local
instance) and a cluster (``address="auto"`` or ``ray://...``), as long as each node can
read the data (``PEPITA_DATA_DIR`` is forwarded to the workers, or let them download).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .runner import plan, seed_groups, train_task, write_unit


def run_experiment_ray(
    experiment: str,
    profile: str,
    results_dir: str | Path = "results",
    filters: dict[str, str] | None = None,
    device: str = "auto",
    *,
    address: str | None = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    data_root: str | Path | None = None,
    download: bool = False,
    progress: bool = True,
    seed_batch: int | None = None,
) -> Iterator[tuple[TrainConfig, str]]:
    """Like :func:`pepita_lib.runner.run_experiment`, with each missing run a Ray task.

    Yields (config, outcome) as runs finish, in completion order. ``address`` is passed to
    ``ray.init`` (None: join a running local instance or start one). A task that raises
    fails only its own run; the error is yielded as the outcome ``error: ...``.
    """
    try:
        import ray
    except ImportError as err:
        raise RuntimeError(
            "the ray executor needs Ray: pip install 'pepita_lib[ray]' (or pip install ray)"
        ) from err
    from tqdm import tqdm

    missing = []
    for cfg, rec in plan(experiment, profile, results_dir, filters):
        if rec is None:
            missing.append(cfg)
        else:
            yield cfg, "cached"
    if not missing:
        return
    # A task trains one unit: up to seed_batch seeds of one setting as a stacked batch.
    units = seed_groups(missing, seed_batch or (10 if gpus_per_run > 0 else 1))
    env = {k: v for k, v in os.environ.items() if k.startswith("PEPITA_")}
    if not ray.is_initialized():
        ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=False)
    task = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=0)(train_task)
    pending = {
        task.remote([cfg.to_dict() for cfg in unit], experiment, profile, device,
                    None if data_root is None else str(data_root), download): unit
        for unit in units
    }  # fmt: skip
    bar = tqdm(total=len(missing), desc=f"{experiment}/{profile} (ray)", disable=not progress)
    yield from _collect(ray, pending, results_dir, experiment, bar)
    bar.close()


def _collect(
    ray: Any, pending: dict, results_dir: str | Path, experiment: str, bar: Any
) -> Iterator[tuple[TrainConfig, str]]:
    """Write each task's records as it finishes; a failed task fails only its own runs."""
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        unit = pending.pop(done[0])
        try:
            result = ray.get(done[0])
        except Exception as err:  # a failed task must not stop the others
            for cfg in unit:
                yield cfg, f"error: {type(err).__name__}: {err}"
        else:
            yield from write_unit(results_dir, experiment, unit, result)
        bar.update(len(unit))
