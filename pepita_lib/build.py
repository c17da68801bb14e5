"""Building a run: everything a training step reads or changes, made from its configs.

A run is a learning rule, a net (or S nets stacked along a leading seed axis), the rule's
state (feedback matrices and the like), the optimiser, and each seed's random streams.
The trainer, the cost measurements and the speed benchmark build their runs here, so a
step measured in the chapter "What forward-only learning costs" is the step that trains.

Seeds: one CPU generator (``seed``) draws the weights and then the rule's feedback
matrices, so every rule with the same seed starts from the same W_l; a second one
(``seed + 1``) orders the batches; a third on the device (``seed + 2``) draws dropout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import TrainConfig, run_id
from .nets import Net, make_net, stack_nets
from .optim import SGD
from .rules import RULES, Rule, make_rule

Tensor = torch.Tensor


@dataclass
class Run:
    """A built run. With S > 1 configs ``net`` and ``state`` hold S stacked nets, and
    ``seed_nets``/``seed_states`` are views of one seed each (for evaluation and angles)."""

    cfgs: list[TrainConfig]
    rule: Rule
    net: Net
    state: dict[str, Tensor]
    opt: SGD
    seed_nets: list[Net]
    seed_states: list[dict[str, Tensor]]
    order_gens: list[torch.Generator]  # batch order, one per seed
    drop_gens: list[torch.Generator]  # dropout masks, one per seed, on the device

    @property
    def stacked(self) -> bool:
        return len(self.cfgs) > 1

    @property
    def seeds(self) -> range:
        return range(len(self.cfgs))

    @property
    def run_ids(self) -> list[str]:
        return [run_id(c) for c in self.cfgs]


def seed_group_key(cfg: TrainConfig) -> str | None:
    """Configs with the same key can train together as one stack: the same settings but
    the seed and the learning rate, and a rule whose update code handles stacked nets
    (None when it does not)."""
    if not getattr(RULES.get(cfg.rule), "batchable", False):
        return None
    return run_id(cfg.replace(seed=0, lr=1.0))


def check_stack(cfgs: list[TrainConfig]) -> None:
    """Configs trained as one stack must differ only in seed and learning rate."""
    keys = {seed_group_key(c) for c in cfgs}
    if None in keys:
        raise ValueError(f"rule {cfgs[0].rule!r} cannot train seeds as one batch")
    if len(keys) > 1:
        raise ValueError("configs trained as one stack must share every setting but seed and lr")
    if len({(c.seed, c.lr) for c in cfgs}) < len(cfgs):
        raise ValueError("configs trained as one stack must be distinct")


def initial_state(
    cfg: TrainConfig,
    sizes: list[int],
    rule: Rule | None = None,
    device: str | torch.device = "cpu",
) -> tuple[Net, dict[str, Tensor]]:
    """The net and the rule's state a run of ``cfg`` starts from (layer widths ``sizes``).

    One CPU generator seeded with ``cfg.seed`` draws the weights and then the rule's
    feedback matrices, so every rule with the same seed starts from the same W_l and
    every rule drawing F draws the same F.
    """
    rule = rule if rule is not None else make_rule(cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = make_net(sizes, cfg.activation, cfg.init, cfg.dropout, gen, device, cfg.act_norm)
    return net, rule.init_state(net, gen)


def _seed_net(
    cfg: TrainConfig, rule: Rule, sizes: list[int], dev: torch.device
) -> tuple[Net, dict[str, Tensor]]:
    """One seed's initial state; a net too large for the device is one clear line."""
    try:
        return initial_state(cfg, sizes, rule, dev)
    except (RuntimeError, MemoryError) as err:
        if "memory" not in str(err).lower() and not isinstance(err, MemoryError):
            raise
        raise ValueError(f"a net of layer sizes {sizes} does not fit in memory on {dev}") from None


def build_run(cfgs: list[TrainConfig], sizes: list[int], dev: torch.device) -> Run:
    """The run of ``cfgs`` (one config, or several that differ only in seed and learning
    rate) on nets of layer ``sizes`` [d_0, ..., d_L] on device ``dev``."""
    if len(cfgs) > 1:
        check_stack(cfgs)
    cfg = cfgs[0]
    rule = make_rule(cfg)
    seed_nets, seed_states = map(list, zip(*(_seed_net(c, rule, sizes, dev) for c in cfgs)))
    if len(cfgs) > 1:
        net = stack_nets(seed_nets)
        state = {k: torch.stack([st[k] for st in seed_states]) for k in seed_states[0]}
        seed_nets = [net.seed(s) for s in range(len(cfgs))]
        seed_states = [{k: v[s] for k, v in state.items()} for s in range(len(cfgs))]
    else:
        net, state = seed_nets[0], seed_states[0]
    return Run(
        cfgs=list(cfgs),
        rule=rule,
        net=net,
        state=state,
        opt=SGD(net.weights, cfg.lr, cfg.momentum, cfg.weight_decay),
        seed_nets=seed_nets,
        seed_states=seed_states,
        order_gens=[torch.Generator().manual_seed(c.seed + 1) for c in cfgs],
        drop_gens=[torch.Generator(device=dev).manual_seed(c.seed + 2) for c in cfgs],
    )
