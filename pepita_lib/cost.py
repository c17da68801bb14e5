"""What a training step costs: FLOPs, working memory and time, per rule and depth.

Three measurements of one training step of a rule on a net of ``depth`` hidden layers of
1024 ReLU units (batch 64, the paper's setting):

- FLOPs, counted by :class:`torch.utils.flop_counter.FlopCounterMode` (matrix products;
  elementwise work is not counted);
- working memory: the peak of tensor storage allocated *during* the step and alive at the
  same time (activations a rule holds between its passes, autograd's saved tensors,
  temporaries), tracked op by op with a dispatch mode, so the same measurement runs on a
  CPU and a GPU; the rule's persistent state (weights, momentum, feedback matrices) is
  reported next to it;
- time per step, after warm-up, on the device at hand (and, from it, seconds per epoch).

The claim under test is the paper's: forward-only rules need no stored activations for a
backward pass, so they should need less memory than BP.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from .bench import time_steps
from .build import build_run
from .config import TrainConfig
from .data import one_hot
from .nets import dropout_masks
from .provenance import device_name, environment, now, resolve_device

Tensor = torch.Tensor

COST_RULES = ("bp", "pepita", "pepita_hebbian", "pepita_tl", "afa", "ff")
WIDTH, BATCH, CLASSES = 1024, 64, 10
INPUTS = {"mnist": (784, 60000), "cifar10": (3072, 50000)}


# The library fuses every update into the momentum buffer with in-place products, which
# FlopCounterMode does not count by default: same formulas as their out-of-place forms.
def _addmm_flops(self_shape, a_shape, b_shape, out_shape=None, **kwargs) -> int:
    (m, k), (_, n) = a_shape, b_shape
    return 2 * m * k * n


def _baddbmm_flops(self_shape, a_shape, b_shape, out_shape=None, **kwargs) -> int:
    (s, m, k), (_, _, n) = a_shape, b_shape
    return 2 * s * m * k * n


_INPLACE_FLOPS = {torch.ops.aten.addmm_: _addmm_flops, torch.ops.aten.baddbmm_: _baddbmm_flops}


def count_flops(fn: Callable[[], None]) -> int:
    """Matmul FLOPs executed by ``fn()`` (in-place products included)."""
    with FlopCounterMode(display=False, custom_mapping=_INPLACE_FLOPS) as counter:
        fn()
    return int(counter.get_total_flops())


class PeakTensorMemory(TorchDispatchMode):
    """Peak bytes of tensor storage created under this mode and alive at once.

    Every op's outputs are recorded by storage (weak references to the C++ storage, so
    tensors kept alive only by autograd still count); outputs that reuse an input's storage
    (in-place ops, views) are not new memory. Liveness is checked after every op.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {
            t.untyped_storage().data_ptr()
            for t in tree_leaves((args, kwargs))
            if isinstance(t, Tensor)
        }
        for t in tree_leaves(out):
            if not isinstance(t, Tensor):
                continue
            st = t.untyped_storage()
            ptr = st.data_ptr()
            if ptr and ptr not in inputs and ptr not in self.live:
                self.live[ptr] = (StorageWeakRef(st), st.nbytes())
        self.live = {k: v for k, v in self.live.items() if not v[0].expired()}
        self.peak = max(self.peak, sum(n for _, n in self.live.values()))
        return out


def cost_path(results_dir: str | Path, device: str) -> Path:
    """Where the cost measurements of one device kind (cpu, cuda) are stored."""
    return Path(results_dir) / "cost" / f"{str(device).split(':')[0]}.json"


def cost_config(rule: str, depth: int) -> TrainConfig:
    """The paper's step settings (batch 64, dropout 0.1; FF without dropout, its lr 1)."""
    extra = {"dropout": 0.0, "lr": 1.0, "batch_size": 100} if rule == "ff" else {"lr": 0.01}
    return TrainConfig(rule=rule, hidden=(WIDTH,) * depth, **extra)


def make_step(
    rule_name: str, depth: int, d0: int, device: torch.device, seeds: int = 1
) -> tuple[Callable[[], None], int, Callable[[], int]]:
    """A closure running one training step (cycling through four resident random batches,
    so every rule pays the same small slicing cost), the batch size, and a function giving
    the bytes of the persistent state (weights, momentum, rule state) at that moment."""
    cfg = cost_config(rule_name, depth)
    run = build_run([cfg.replace(seed=s) for s in range(seeds)], [d0, *cfg.hidden, CLASSES], device)
    net, state, rule, opt = run.net, run.state, run.rule, run.opt
    b = cfg.batch_size
    lead = (seeds,) if seeds > 1 else ()
    x_all = torch.rand(*lead, 4 * b, d0, device=device)
    y_all = torch.randint(0, CLASSES, (*lead, 4 * b), device=device)
    drop = run.drop_gens[0]  # one mask per step, shared by a stack's seeds
    counter = iter(range(10**9))

    @torch.no_grad()
    def step() -> None:
        i = next(counter) % 4
        x = x_all[..., i * b : (i + 1) * b, :]
        t = one_hot(y_all[..., i * b : (i + 1) * b], CLASSES)
        masks = dropout_masks(net, b, drop)
        if seeds > 1:
            masks = [None if m is None else m.expand(seeds, *m.shape) for m in masks]
        rule.step(net, state, opt, x, t, masks)

    def state_bytes() -> int:
        tensors = [*net.weights, *opt.velocity, *state.values()]
        return sum(t.numel() * t.element_size() for t in tensors)

    return step, b, state_bytes


def time_step(step: Callable[[], None], dev: torch.device, reps: int = 30) -> float:
    """Mean seconds per step over ``reps`` steps, after 5 warm-up steps."""
    for _ in range(5):
        step()
    return time_steps(step, reps, dev)


def measure(
    rule: str, depth: int, dataset: str = "mnist", device: str | torch.device = "cpu", reps=30
) -> dict:
    """FLOPs, working memory, state memory and time of one step of ``rule`` at ``depth``."""
    dev = resolve_device(device)
    d0, n_train = INPUTS[dataset]
    step, b, state_bytes = make_step(rule, depth, d0, dev)
    step()  # lazily created state (PEPITA's carried W_1 F) belongs to the state, not the step
    flops = count_flops(step)
    mem = PeakTensorMemory()
    with mem:
        step()
    seconds = time_step(step, dev, reps)
    return {
        "rule": rule,
        "depth": depth,
        "dataset": dataset,
        "batch_size": b,
        "flops_per_step": flops,
        "step_peak_bytes": int(mem.peak),
        "state_bytes": int(state_bytes()),
        "seconds_per_step": seconds,
        "seconds_per_epoch": seconds * math.ceil(n_train / b),
    }


def seed_batch_timing(
    dataset: str = "mnist", device: str | torch.device = "cpu", seeds=None, reps=30
) -> list[dict]:
    """Seconds per step (and per epoch) of PEPITA 1 x 1024 with S seeds stacked, and per
    seed; S = 1, 2, 4 on a CPU and up to 10 on a GPU unless ``seeds`` says otherwise."""
    dev = resolve_device(device)
    seeds = seeds or ((1, 2, 4, 10) if dev.type == "cuda" else (1, 2, 4))
    d0, n_train = INPUTS[dataset]
    rows = []
    for s in seeds:
        step, b, _ = make_step("pepita", 1, d0, dev, seeds=s)
        sec = time_step(step, dev, reps)
        rows.append(
            {
                "dataset": dataset,
                "seeds": s,
                "seconds_per_step": sec,
                "per_seed": sec / s,
                "seconds_per_epoch": sec * math.ceil(n_train / b),
            }
        )
    return rows


def cost_report(
    device: str | torch.device = "cpu",
    depths=(1, 2, 3, 4, 5),
    rules=COST_RULES,
    datasets=("mnist",),
    progress: bool = True,
) -> dict:
    """Every measurement of the cost chapter, with the provenance of the machine."""
    from tqdm import tqdm

    dev = resolve_device(device)
    started = now()
    cells = [(r, d, ds) for ds in datasets for r in rules for d in depths]
    rows = [measure(r, d, ds, dev) for r, d, ds in tqdm(cells, disable=not progress)]
    seed_rows = [row for ds in datasets for row in seed_batch_timing(ds, dev)]
    prov = environment(dev)
    prov.update(started=started, finished=now(), threads=torch.get_num_threads())
    return {
        "device": device_name(dev),
        "rows": rows,
        "seed_batch": seed_rows,
        "provenance": prov,
    }
