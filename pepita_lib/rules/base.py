"""The interface every learning rule implements, and helpers they share.

A rule is built from a :class:`TrainConfig` (``RULES[name](cfg)``) and has these methods:

- ``init_state(net, gen)``: the rule's own fixed or slow state (feedback
  matrices), as a dict of tensors on the net's device;
- ``step(net, state, opt, x, t, masks)``: one training step on a batch (x, one-hot t)
  with this step's dropout masks; it applies its update through ``opt`` and returns the
  batch's training loss as a 0-d tensor (kept on the device: no sync per step);
- ``angles(net, state)``: alignment angles in degrees worth logging once per epoch;
- ``accuracy(net, state, x, y)``: how the rule's net is evaluated (argmax by default);
- ``before_training`` and ``begin_epoch``: hooks for slow state (weight mirroring).

A rule declares its own settings as ``options`` (:class:`Option`: name, type, default,
help), read from ``cfg.extra`` and set on the command line with ``--set name=value``;
building the rule validates them. ``needs_derivative = True`` declares that its updates
use sigma'(a): their hand-written derivatives ignore activation normalisation, so such a
rule refuses ``act_norm`` rather than silently learn with the wrong gradient.

``batchable = True`` declares that ``step`` also trains S stacked nets at once (weights
(S, d_l, d_{l-1}), batches (S, B, d_0), state stacked the same way): its tensor code uses
``.mT``, ``dim=-1`` and ``shape[-2]`` only, so seeds-as-a-batch runs the same functions.

The update maths lives in pure functions next to each rule (``*_updates``), with the
equation in the docstring; ``step`` only wires them to the optimiser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from ..config import TrainConfig
from ..nets import Net, accuracy
from ..optim import SGD

Tensor = torch.Tensor
Masks = list[Tensor | None]


class Rule(Protocol):
    name: str
    summary: str

    def init_state(self, net: Net, gen: torch.Generator) -> dict[str, Tensor]: ...

    def step(
        self, net: Net, state: dict[str, Tensor], opt: SGD, x: Tensor, t: Tensor, masks: Masks
    ) -> Tensor: ...

    def angles(self, net: Net, state: dict[str, Tensor]) -> dict[str, float]: ...

    def accuracy(self, net: Net, state: dict[str, Tensor], x: Tensor, y: Tensor) -> float: ...

    def before_training(self, net: Net, state: dict[str, Tensor], steps_per_epoch: int) -> None: ...

    def begin_epoch(
        self, net: Net, state: dict[str, Tensor], epoch: int, steps_per_epoch: int
    ) -> None: ...

    def checkpoint_extras(self, net: Net, state: dict[str, Tensor], opt: SGD) -> dict: ...

    def restore_extras(
        self, net: Net, state: dict[str, Tensor], opt: SGD, extras: dict
    ) -> None: ...


def cross_entropy(a_out: Tensor, t: Tensor) -> Tensor:
    """Mean cross-entropy of softmax(a_out) against one-hot targets t."""
    return -(torch.log_softmax(a_out, dim=-1) * t).sum(dim=-1).mean(dim=-1)


def angle_deg(a: Tensor, b: Tensor) -> float:
    """Angle in degrees between vec(a) and vec(b)."""
    a, b = a.reshape(-1).double(), b.reshape(-1).double()
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-300)
    return math.degrees(math.acos(float(cos.clamp(-1.0, 1.0))))


def product_transpose(weights: list[Tensor]) -> Tensor:
    """(W_L ... W_1)^T, shaped (d_0, d_L) like PEPITA's F."""
    p = weights[0].mT
    for w in weights[1:]:
        p = p @ w.mT
    return p


def hidden_derivative(net: Net, a: Tensor, mask: Tensor | None) -> Tensor:
    """d h_l / d a_l = sigma'(a_l) * m_l (dropout mask included)."""
    d = net.act.df(a)
    return d if mask is None else d * mask


@dataclass(frozen=True)
class Option:
    """A rule's own setting, kept in ``cfg.extra`` under ``name``."""

    name: str
    type: type  # bool, int, float or str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()

    def value(self, raw: Any) -> Any:
        """``raw`` (a config's value, or the text after ``--set name=``) as this option's
        type; a value it cannot take is a ValueError in one line."""
        if isinstance(raw, str) and self.type is not str:
            raw = _parse(raw, self.type, self.name)
        if self.type is float and isinstance(raw, int) and not isinstance(raw, bool):
            raw = float(raw)
        if not isinstance(raw, self.type) or (self.type is int and isinstance(raw, bool)):
            raise ValueError(f"{self.name} must be a {self.type.__name__}, got {raw!r}")
        if self.choices and raw not in self.choices:
            raise ValueError(f"{self.name} must be one of {self.choices}, got {raw!r}")
        return raw


def _parse(text: str, kind: type, name: str) -> Any:
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{name} must be true or false, got {text!r}")
        return text.lower() in ("true", "1")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a {kind.__name__}, got {text!r}") from None


class RuleBase:
    """Defaults for rules: configured by a TrainConfig, no options, no state, no angles."""

    name = "base"
    summary = ""
    batchable = False
    needs_derivative = False
    options: tuple[Option, ...] = ()

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.opts = self.read_options(cfg.extra)

    @classmethod
    def checked_options(cls, pairs: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
        """``pairs`` (``cfg.extra``, or the text of ``--set``) with each value as its
        option's type; an option the rule does not have, or a value it cannot take, is a
        ValueError in one line."""
        known = {o.name: o for o in cls.options}
        unknown = [k for k, _ in pairs if k not in known]
        if unknown:
            valid = ", ".join(known) or "none"
            raise ValueError(f"rule {cls.name!r} has no option {unknown[0]!r}; options: {valid}")
        return tuple((k, known[k].value(v)) for k, v in pairs)

    @classmethod
    def read_options(cls, pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
        """Every option of the rule: its default unless ``pairs`` (``cfg.extra``) sets it."""
        given = dict(cls.checked_options(pairs))
        return {o.name: given.get(o.name, o.default) for o in cls.options}

    def init_state(self, net: Net, gen: torch.Generator) -> dict[str, Tensor]:
        return {}

    def angles(self, net: Net, state: dict[str, Tensor]) -> dict[str, float]:
        return {}

    def before_training(self, net: Net, state: dict[str, Tensor], steps_per_epoch: int) -> None:
        """Called once before the first epoch (e.g. pre-mirroring); no-op by default."""

    def begin_epoch(
        self, net: Net, state: dict[str, Tensor], epoch: int, steps_per_epoch: int
    ) -> None:
        """Called at the start of every (0-based) epoch; no-op by default."""

    def checkpoint_extras(self, net: Net, state: dict[str, Tensor], opt: SGD) -> dict:
        """Bookkeeping beyond ``state`` and the rule's generators that a resumed run needs
        to continue exactly (see checkpoint.py); none by default."""
        return {}

    def restore_extras(self, net: Net, state: dict[str, Tensor], opt: SGD, extras: dict) -> None:
        """Inverse of ``checkpoint_extras``, called after weights and state are restored."""

    def accuracy(self, net: Net, state: dict[str, Tensor], x: Tensor, y: Tensor) -> float:
        """Test-time accuracy; by default the clean, dropout-free forward pass's argmax.
        Rules that predict otherwise (Forward-Forward: by goodness) override it."""
        return accuracy(net, x, y)
