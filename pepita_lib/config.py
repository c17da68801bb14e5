"""Run configurations.

A :class:`TrainConfig` holds every setting that changes what a run computes. It is
frozen and hashable; :func:`run_id` is a hash of its content, so the results cache
is exact: two runs share an id if and only if they share every setting.

Only fields that differ from their defaults enter the hash. Adding a new field with
a default that reproduces the old behaviour therefore keeps every stored run valid;
the rule that follows is that a default, once published, never changes.

The device is deliberately *not* part of the config: a run is the same experiment
on CPU or CUDA, and the device it actually used is kept in the run's provenance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

WM_SCHEDULES = ("batch", "period", "epoch", "none")
WM_DRIVES = ("linear", "block")


INITS = ("he_uniform", "he_normal")
F_INITS = ("uniform", "normal", "factorised")
FEEDBACK_INITS = ("uniform", "normal")
ACT_NORMS = ("none", "batch", "sample")
LAST_ERRORS = ("clean", "modulated")


def setting(default: Any, help: str, choices: tuple[str, ...] = (), **cli: Any) -> Any:
    """A config field with its help text and its valid values (field metadata: neither
    ``dataclasses.asdict`` nor the run id sees it). ``cli`` holds hints for the command
    line (``repeat``: one flag per value)."""
    return field(default=default, metadata={"help": help, "choices": choices, **cli})


@dataclass(frozen=True)
class TrainConfig:
    # data
    dataset: str = setting("mnist", "the dataset")
    normalize: bool = setting(
        False, "per-channel mean/std normalisation of the inputs (the paper uses [0, 1])"
    )
    train_subset: int | None = setting(None, "a seeded subset of the training set")
    test_subset: int | None = setting(None, "the first N of a seeded permutation of the test set")
    val_size: int = setting(0, "a seeded validation split carved from train (0: none)")
    # network
    hidden: tuple[int, ...] = setting(
        (1024,), "hidden width; repeat for depth (default: one layer of 1024)", repeat=True
    )
    activation: str = setting("relu", "the hidden non-linearity")
    init: str = setting("he_uniform", "initialisation of the weights", INITS)
    dropout: float = setting(0.1, "dropout probability of hidden units")
    act_norm: str = setting(
        "none", "after hidden activations: none, batch (Frobenius) or sample (L2)", ACT_NORMS
    )
    # learning rule
    rule: str = setting("pepita", "the learning rule")
    f_init: str = setting(
        "uniform", "PEPITA's F: uniform (original), normal or factorised", F_INITS
    )
    f_scale: float = setting(0.05, 'the "0.05" of the original F initialisation')
    f_mean: float = setting(0.0, "mean of F's entries, in units of their standard deviation")
    last_error: str = setting(
        "clean", "PEPITA's last-layer error: clean (h_L - t) or modulated", LAST_ERRORS
    )
    feedback_init: str = setting("uniform", "B_l of FA, DFA and DRTP", FEEDBACK_INITS)
    feedback_scale: float = setting(1.0, "scale of the B_l of FA, DFA and DRTP")
    # weight mirroring of the factorised F = B_1 ... B_L (rule pepita_wm)
    wm_lr: float = setting(0.01, "mirror learning rate (the authors' default)")
    wm_layer_lr: tuple[float, ...] = setting((), "per-layer mirror rates overriding wm_lr")
    wm_decay: float = setting(1e-4, "lambda_wm, the mirror's weight decay")
    wm_noise: float = setting(0.1, "amplitude of the mirroring noise")
    wm_schedule: str = setting(
        "batch",
        "batch: mirror after every batch; period: after every batch of every wm-every-th "
        "epoch (the authors' trainer); epoch: a full mirroring pass at the start of every "
        "wm-every-th epoch; none",
        WM_SCHEDULES,
    )
    wm_every: int = setting(1, "mirror period in epochs (schedules epoch and period)")
    wm_pre_epochs: int = setting(0, "mirroring-only epochs before training")
    wm_drive: str = setting(
        "linear",
        "linear: sigma(W xi), linear output; block: the forward block (dropout, "
        "normalisation) with a softmax output, as the authors' trainer",
        WM_DRIVES,
    )
    wm_hold_gain: bool = setting(
        False, "after each mirror round hold ||W_1 F||_2 at its initial value (our remedy)"
    )
    # optimiser and schedule
    epochs: int = setting(100, "training epochs")
    batch_size: int = setting(64, "mini-batch size")
    lr: float = setting(0.01, "learning rate")
    momentum: float = setting(0.9, "SGD momentum")
    weight_decay: float = setting(0.0, "L2 weight decay")
    lr_decay: float = setting(0.1, "factor of the learning rate at each decay epoch")
    decay_epochs: tuple[int, ...] = setting((60, 90), "epochs at which the rate decays")
    seed: int = setting(0, "seed of the weights, feedback, batch order and dropout")
    # a rule's own options (see its ``options``), set on the command line with --set
    extra: tuple[tuple[str, Any], ...] = field(default_factory=tuple, metadata={"flag": None})

    def __post_init__(self) -> None:
        # Lists from JSON / CLI become tuples so configs stay hashable and hash alike.
        for name in ("hidden", "decay_epochs"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        object.__setattr__(self, "wm_layer_lr", tuple(float(v) for v in self.wm_layer_lr))
        object.__setattr__(self, "extra", tuple(tuple(kv) for kv in self.extra))
        problems = []
        if self.epochs < 0:
            problems.append(f"epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if any(h < 1 for h in self.hidden):
            problems.append(f"hidden widths must be >= 1, got {self.hidden}")
        for f in dataclasses.fields(self):
            valid = f.metadata.get("choices")
            if valid and getattr(self, f.name) not in valid:
                got = getattr(self, f.name)
                problems.append(f"{f.name} must be one of {', '.join(valid)}, got {got!r}")
        if self.wm_every < 1:
            problems.append(f"wm_every must be >= 1, got {self.wm_every}")
        if self.wm_layer_lr and len(self.wm_layer_lr) != len(self.hidden) + 1:
            problems.append(
                f"wm_layer_lr needs one rate per weight layer ({len(self.hidden) + 1}), "
                f"got {len(self.wm_layer_lr)}"
            )
        problems += value_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        d["decay_epochs"] = list(self.decay_epochs)
        d["wm_layer_lr"] = list(self.wm_layer_lr)
        d["extra"] = [list(kv) for kv in self.extra]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config fields: {', '.join(sorted(unknown))}")
        return cls(**d)

    def non_default(self) -> dict[str, Any]:
        """The settings that differ from the defaults (what the run id hashes)."""
        default = TrainConfig().to_dict()
        return {k: v for k, v in self.to_dict().items() if v != default[k]}


MAX_WIDTH = 65536  # a wider layer is a typo, not an experiment (the book's widest is 3072)
NON_NEGATIVE = ("momentum", "weight_decay", "f_scale", "feedback_scale", "wm_lr", "wm_decay",
                "wm_noise", "wm_pre_epochs", "val_size", "seed")  # fmt: skip


def value_problems(cfg: TrainConfig) -> list[str]:
    """Numbers no run can use, found before training starts rather than after it: any
    non-finite float (one would end in a NaN the record cannot hold), negative sizes and
    rates, a momentum of 1 or more, an absurdly wide layer."""
    problems = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        values = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            problems.append(f"{f.name} must be a finite number, got {value}")
        elif f.name in NON_NEGATIVE and value < 0:
            problems.append(f"{f.name} must be >= 0, got {value}")
    if math.isfinite(cfg.momentum) and cfg.momentum >= 1:
        problems.append(f"momentum must be in [0, 1), got {cfg.momentum}")
    if not cfg.lr_decay > 0:
        problems.append(f"lr_decay must be > 0, got {cfg.lr_decay}")
    if any(r < 0 for r in cfg.wm_layer_lr) or any(e < 0 for e in cfg.decay_epochs):
        problems.append("wm_layer_lr and decay_epochs must be >= 0")
    if any(h > MAX_WIDTH for h in cfg.hidden):
        problems.append(f"hidden widths must be <= {MAX_WIDTH}, got {cfg.hidden}")
    if cfg.wm_every < 1:
        problems.append(f"wm_every must be >= 1, got {cfg.wm_every}")
    for name in ("train_subset", "test_subset"):
        if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
            problems.append(f"{name} must be >= 1, got {getattr(cfg, name)}")
    return problems


def content_hash(settings: dict[str, Any]) -> str:
    """16 hex digits of sha256 over ``settings`` as compact JSON with sorted keys."""
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_id(config: Any) -> str:
    """Content hash of a config: 16 hex digits of sha256 over its non-default settings.

    A config of another kind of run (such as the teacher-student theory's) names its own
    records with its ``run_id()`` method; the store and the runner call this function alike.
    """
    if not isinstance(config, TrainConfig):
        return config.run_id()
    return content_hash(config.non_default())
