"""The experiment registry: named grids of configs, with profiles.

An experiment maps a profile to the list of configs it needs:

- ``smoke``: tiny real-data subsets and 1-2 epochs, seconds on a CPU (CI and quick checks);
- ``paper``: the papers' schedule (full data, batch 64, 100 epochs, SGD with momentum 0.9,
  lr x0.1 at epochs 60 and 90, dropout 0.1, F scale 0.05).

A name is registered once: registering it again is an error, so two grids can never
silently replace each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import TrainConfig

PROFILES = ("smoke", "paper")

SEEDS = (0, 1, 2, 3, 4)


def schedule(profile: str) -> dict:
    """The training schedule of a profile (settings shared by every experiment)."""
    if profile == "paper":
        return {"epochs": 100, "decay_epochs": (60, 90)}
    if profile == "smoke":
        return {"epochs": 2, "decay_epochs": (1,), "train_subset": 2000, "test_subset": 1000}
    raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    grid: Callable[[str], list[TrainConfig]]
    # how one missing record is made when the runs are not training runs (the teacher-student
    # theory: config -> record); None: the runner trains them
    compute: Callable[[Any], dict] | None = None

    def configs(self, profile: str) -> list[TrainConfig]:
        schedule(profile)  # validates the profile name
        return self.grid(profile)


EXPERIMENTS: dict[str, Experiment] = {}


def register(name: str, description: str, compute: Callable[[Any], dict] | None = None) -> Callable:
    if name in EXPERIMENTS:
        raise ValueError(f"experiment {name!r} is registered already")

    def wrap(grid: Callable[[str], list[TrainConfig]]) -> Callable:
        EXPERIMENTS[name] = Experiment(name, description, grid, compute)
        return grid

    return wrap


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def search_schedule(profile: str, epochs: int) -> dict:
    """Settings of a learning-rate search: ``epochs`` epochs, no decay, a 10k validation split
    carved from the training set (``paper``); the smoke schedule with a 1k split otherwise."""
    if profile == "paper":
        return {"epochs": epochs, "decay_epochs": (), "val_size": 10000}
    return {**schedule(profile), "val_size": 1000}


def paper_seeds(profile: str, seeds: tuple[int, ...] = (0, 1, 2)) -> tuple[int, ...]:
    """The seeds a grid runs: all of them under ``paper``, seed 0 alone under ``smoke``."""
    return seeds if profile == "paper" else (0,)


def variant_grid(
    profile: str, variants: dict[str, dict], seeds: tuple[int, ...] = (0, 1, 2), **common
) -> list[TrainConfig]:
    """One config per (variant, seed): ``common`` settings overridden by each variant's."""
    sched = schedule(profile)
    return [
        TrainConfig(**{**common, **sched, **knobs}, seed=seed)
        for knobs in variants.values()
        for seed in paper_seeds(profile, seeds)
    ]


def filter_configs(configs: list[TrainConfig], filters: dict[str, str]) -> list[TrainConfig]:
    """Keep configs whose fields match every ``key=value`` (compared as strings)."""
    if not filters:
        return configs
    known = set(configs[0].to_dict() if configs else TrainConfig().to_dict())
    bad = set(filters) - known
    if bad:
        raise ValueError(
            f"unknown filter key(s) {', '.join(sorted(bad))}; valid: {', '.join(sorted(known))}"
        )
    return [c for c in configs if all(shown(c.to_dict()[k]) == v for k, v in filters.items())]


def shown(value: object) -> str:
    """A config value as a ``key=value`` filter writes it (sequences comma-separated)."""
    if isinstance(value, list | tuple):
        return ",".join(str(x) for x in value)
    return str(value)
