"""The training loop and the run record it produces.

Read top to bottom it is the textbook loop: build a run (:func:`pepita_lib.build.build_run`:
rule, net, state, optimiser, random streams), :func:`start` it (or resume it from its
checkpoint, :mod:`pepita_lib.checkpoint`), then for each epoch :func:`run_epoch` (one pass
over the shuffled training set) and :func:`log_epoch` (:func:`evaluate` each seed and
watch for divergence), and finally write one record per config.

One code path for CPU and CUDA: the data already lives on the device, batches are index
slices, dropout masks are drawn on the device, and no update needs autograd. The loss is
accumulated on the device and read once per epoch, so the loop never waits on a sync.

Seeds as one batch: :func:`train_seeds` trains S configs that differ only in their seed
and learning rate as one stacked net (weights (S, d_l, d_{l-1}), batched matmuls, one rate
per net) through the same rule code. Each seed keeps its own random streams (initial
weights and feedback, batch order, dropout masks), so its record equals the one
:func:`train` writes for it alone, up to float rounding. :func:`train` is the one-config
case of the same loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from . import checkpoint
from .build import Run, build_run, check_stack
from .build import initial_state as initial_state  # one seed's start, for analyses
from .config import TrainConfig, run_id
from .data import Dataset, batches, load_dataset, one_hot
from .divergence import blowup, divergence
from .nets import Net, dropout_masks
from .optim import SGD, lr_at
from .provenance import environment, now, resolve_device
from .store import write_record

Tensor = torch.Tensor


def data_for(
    cfg: TrainConfig,
    device: torch.device,
    data_root: str | Path | None = None,
    download: bool = False,
) -> Dataset:
    """The dataset a config asks for. Splits and subsets use a fixed seed (0), so every
    training seed of a grid sees the same data and differs only in init, order and dropout."""
    return load_dataset(
        cfg.dataset,
        device,
        normalize=cfg.normalize,
        val_size=cfg.val_size,
        train_subset=cfg.train_subset,
        test_subset=cfg.test_subset,
        seed=0,
        data_root=data_root,
        download=download,
    )


def _finite(weights: list[Tensor], loss: float) -> bool:
    return math.isfinite(loss) and all(bool(torch.isfinite(w).all()) for w in weights)


def _seed_batches(run: Run, n: int, dev: torch.device):
    """Index slices, (B,) for one seed or (S, B) with each seed's own order."""
    streams = [batches(n, run.cfgs[0].batch_size, g, dev) for g in run.order_gens]
    if not run.stacked:
        yield from streams[0]
        return
    for idx in zip(*streams):
        yield torch.stack(idx)


def _seed_masks(run: Run, batch: int) -> list[Tensor | None]:
    """This step's dropout masks, drawn per seed from its own generator."""
    per_seed = [dropout_masks(net, batch, g) for net, g in zip(run.seed_nets, run.drop_gens)]
    if not run.stacked:
        return per_seed[0]
    return [None if ms[0] is None else torch.stack(ms) for ms in zip(*per_seed)]


@dataclass
class Progress:
    """What the records of a run will hold, per seed, and the stretches of epochs trained
    by earlier calls (a resumed run)."""

    initial: list[dict]
    histories: list[list[dict]]
    statuses: list[str]
    reasons: list[str | None]
    start_epoch: int = 0
    earlier: list[dict] = field(default_factory=list)

    def saved(self, segment: dict) -> dict:
        """What a checkpoint keeps of it, with ``segment`` the stretch trained now."""
        return {
            "initial": self.initial,
            "histories": self.histories,
            "statuses": self.statuses,
            "reasons": self.reasons,
            "segments": [*self.earlier, segment],
        }


def train(
    cfg: TrainConfig,
    device: str | torch.device = "auto",
    data: Dataset | None = None,
    *,
    experiment: str | None = None,
    profile: str | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    data_root: str | Path | None = None,
    download: bool = False,
    on_epoch: Callable[[dict], None] | None = None,
    checkpoint_seconds: float | None = 300.0,
) -> dict:
    """Train one config and return its run record (also written to ``out`` if given).

    Random streams: see :mod:`pepita_lib.build`.
    """
    return train_seeds(
        [cfg],
        device,
        data,
        experiment=experiment,
        profile=profile,
        outs=None if out is None else [out],
        progress=progress,
        data_root=data_root,
        download=download,
        on_epoch=on_epoch,
        checkpoint_seconds=checkpoint_seconds,
    )[0]


def evaluate(run: Run, data: Dataset, s: int) -> dict:
    """Seed ``s``'s test (and validation) accuracy and the rule's alignment angles."""
    net, state, rule = run.seed_nets[s], run.seed_states[s], run.rule
    row = {"test_accuracy": rule.accuracy(net, state, data.x_test, data.y_test)}
    if data.x_val is not None:
        row["val_accuracy"] = rule.accuracy(net, state, data.x_val, data.y_val)
    row.update(rule.angles(net, state))
    return row


def start(run: Run, data: Dataset, ckpt_file: Path | None) -> Progress:
    """A fresh run's starting point (the rule's preparation, the accuracy before training),
    or the state a checkpoint saved for these runs."""
    saved = checkpoint.load(ckpt_file, run.run_ids) if ckpt_file else None
    if saved is not None:
        checkpoint.restore_run(ckpt_file, saved, run)
        reasons = saved.get("reasons") or [None for _ in run.seeds]  # absent in old files
        return Progress(
            saved["initial"], saved["histories"], saved["statuses"], reasons,
            saved["epoch"], saved["segments"],
        )  # fmt: skip
    with torch.no_grad():
        run.rule.before_training(run.net, run.state, _steps_per_epoch(run, data))
    initial = [evaluate(run, data, s) for s in run.seeds]
    return Progress(
        initial, [[] for _ in run.seeds], ["finished" for _ in run.seeds],
        [None for _ in run.seeds],
    )  # fmt: skip


def _steps_per_epoch(run: Run, data: Dataset) -> int:
    return math.ceil(data.x_train.shape[0] / run.cfgs[0].batch_size)


def run_epoch(run: Run, data: Dataset, targets: Tensor, epoch: int) -> tuple[list, list]:
    """One pass over the training set (0-based ``epoch``): each seed's mean training
    loss and learning rate."""
    dev, n = data.x_train.device, data.x_train.shape[0]
    rates = [lr_at(epoch, c.lr, c.lr_decay, c.decay_epochs) for c in run.cfgs]
    run.opt.lr = _stack_rates(rates, dev) if len(set(rates)) > 1 else rates[0]
    run.rule.begin_epoch(run.net, run.state, epoch, _steps_per_epoch(run, data))
    loss_sum = torch.zeros(len(run.cfgs) if run.stacked else (), device=dev)
    for idx in _seed_batches(run, n, dev):
        x, t = data.x_train[idx], targets[idx]
        masks = _seed_masks(run, x.shape[-2])
        loss_sum += run.rule.step(run.net, run.state, run.opt, x, t, masks) * x.shape[-2]
    return (loss_sum / n).reshape(-1).tolist(), rates


def log_epoch(
    run: Run, data: Dataset, prog: Progress, epoch: int, losses, rates, seconds: float,
    on_epoch: Callable[[dict], None] | None,
) -> None:  # fmt: skip
    """Append each live seed's row for ``epoch`` to its history; a seed that diverged is
    marked so (and, in a stack, its slice zeroed) and trains no further."""
    last = epoch + 1 == run.cfgs[0].epochs
    for s in run.seeds:
        if prog.statuses[s] != "finished":
            continue
        row = _epoch_row(epoch, losses[s], rates[s], seconds, run, data, s)
        prog.histories[s].append(row)
        prog.reasons[s] = divergence(prog.histories[s], data.num_classes, last_epoch=last)
        if prog.reasons[s] is not None:
            prog.statuses[s] = "diverged"
            if run.stacked:
                _zero_seed(run.net, run.opt, s)
        elif on_epoch is not None:
            on_epoch(row)


def train_seeds(
    cfgs: list[TrainConfig],
    device: str | torch.device = "auto",
    data: Dataset | None = None,
    *,
    experiment: str | None = None,
    profile: str | None = None,
    outs: list[str | Path] | None = None,
    progress: bool = True,
    data_root: str | Path | None = None,
    download: bool = False,
    on_epoch: Callable[[dict], None] | None = None,
    checkpoint_seconds: float | None = 300.0,
) -> list[dict]:
    """Train configs that differ only in seed and learning rate together; one record per
    config.

    With ``outs`` the run is resumable: at the end of an epoch, once ``checkpoint_seconds``
    have passed since the last save, the whole state goes to ``<outs[0]>.ckpt``; a later
    call for the same configs continues from it and deletes it when the records are
    written (None: never save, and ignore any checkpoint).

    With more than one config the rule must be ``batchable`` and the nets are stacked
    along a leading axis (one net per config). A net that diverges (see
    :mod:`pepita_lib.divergence`) is recorded as diverged with the reason, and its slice
    zeroed (so it stops producing inf/NaN work) while the others train on.

    Ctrl-C raises :class:`~pepita_lib.checkpoint.Interrupted`, whose message says which
    epochs the checkpoint keeps and which are lost.
    """
    if not cfgs:
        return []
    if len(cfgs) > 1:
        check_stack(cfgs)
    dev = resolve_device(device)
    started, t0 = now(), time.perf_counter()
    data = data if data is not None else data_for(cfgs[0], dev, data_root, download)
    if data.x_train.device.type != dev.type:
        raise ValueError(f"data lives on {data.x_train.device}, training asked for {dev}")
    run = build_run(cfgs, [data.input_dim, *cfgs[0].hidden, data.num_classes], dev)
    ckpt_file = None
    if outs is not None and checkpoint_seconds is not None:
        ckpt_file = checkpoint.checkpoint_path(outs[0])
    prog = start(run, data, ckpt_file)
    # plain str, not torch's TorchVersion: the checkpoint loads with weights_only=True
    env = {k: str(v) if isinstance(v, str) else v for k, v in environment(dev).items()}
    segment = {"started": started, "first_epoch": prog.start_epoch + 1, **env}
    clock = (t0, checkpoint_seconds)
    _epochs(run, data, prog, segment, ckpt_file, clock, progress, on_epoch)
    provenance = _provenance(env, prog, segment, data, t0)
    if run.stacked:
        provenance["stack"] = run.run_ids  # trained together: wall time is shared
    records = _records(run, prog, provenance, data.num_classes, experiment, profile)
    for rec, out in zip(records, outs or []):
        write_record(out, rec)
    if ckpt_file is not None:
        ckpt_file.unlink(missing_ok=True)  # the records now hold everything it did
    return records


def _epochs(
    run: Run, data: Dataset, prog: Progress, segment: dict, ckpt_file: Path | None,
    clock: tuple[float, float | None], show: bool, on_epoch: Callable[[dict], None] | None,
) -> None:  # fmt: skip
    """Train the remaining epochs, saving a checkpoint every ``clock[1]`` seconds."""
    cfg, (t0, every) = run.cfgs[0], clock
    desc = f"{cfg.rule}/{cfg.dataset}" + (f" x{len(run.cfgs)} seeds" if run.stacked else "")
    bar = tqdm(
        range(prog.start_epoch, cfg.epochs), desc=desc, disable=not show, unit="epoch",
        leave=False, initial=prog.start_epoch, total=cfg.epochs,
    )  # fmt: skip
    # one-hot targets once per run: per batch, one_hot checks the labels' range (a reduction
    # and a host sync) and scatters, small work that adds up over ~100k steps
    targets = one_hot(data.y_train, data.num_classes)
    kept = epoch = prog.start_epoch  # kept: epochs the checkpoint on disk holds
    last_save = time.perf_counter()
    try:
        with torch.no_grad():
            for epoch in bar:
                te = time.perf_counter()
                losses, rates = run_epoch(run, data, targets, epoch)
                seconds = time.perf_counter() - te
                log_epoch(run, data, prog, epoch, losses, rates, seconds, on_epoch)
                if all(st == "diverged" for st in prog.statuses):
                    break
                _show(bar, run, prog)
                last = epoch + 1 == cfg.epochs
                if ckpt_file is not None and time.perf_counter() - last_save >= every and not last:
                    done = dict(segment, finished=now(), last_epoch=epoch + 1)
                    done["wall_seconds"] = round(time.perf_counter() - t0, 3)
                    checkpoint.save_run(ckpt_file, run, epoch + 1, prog.saved(done))
                    kept, last_save = epoch + 1, time.perf_counter()
    except KeyboardInterrupt as exc:
        raise checkpoint.Interrupted(
            checkpoint.interrupted_message(ckpt_file, kept, epoch + 1, run.run_ids)
        ) from exc
    finally:
        bar.close()


def _show(bar: tqdm, run: Run, prog: Progress) -> None:
    """A single run's latest accuracy and loss on the progress bar."""
    if not run.stacked and prog.histories[0][-1]["test_accuracy"] is not None:
        acc, loss = prog.histories[0][-1]["test_accuracy"], prog.histories[0][-1]["train_loss"]
        bar.set_postfix(acc=f"{acc:.4f}", loss=f"{loss:.3g}")


def _provenance(env: dict, prog: Progress, segment: dict, data: Dataset, t0: float) -> dict:
    """Where and how the records were made; a resumed run lists each stretch of epochs."""
    provenance = dict(env)  # read once, at the start: the commit a run started from
    wall = round(time.perf_counter() - t0, 3)
    earlier = prog.earlier
    provenance.update(
        started=earlier[0]["started"] if earlier else segment["started"],
        finished=now(),
        wall_seconds=round(wall + sum(seg["wall_seconds"] for seg in earlier), 3),
        data_source=data.source,
        train_size=int(data.x_train.shape[0]),
        test_size=int(data.x_test.shape[0]),
    )
    if earlier:  # resumed: say where and how each stretch of epochs was trained
        last = max((h[-1]["epoch"] for h in prog.histories if h), default=prog.start_epoch)
        this = dict(segment, finished=provenance["finished"], last_epoch=last, wall_seconds=wall)
        provenance["segments"] = [*earlier, this]
    return provenance


def _records(
    run: Run, prog: Progress, provenance: dict, num_classes: int,
    experiment: str | None, profile: str | None,
) -> list[dict]:  # fmt: skip
    records = []
    for s, c in enumerate(run.cfgs):
        rec = _record(
            c, prog.statuses[s], prog.initial[s], prog.histories[s], provenance, num_classes
        )
        if prog.reasons[s] is not None:
            rec["final"]["diverged_reason"] = prog.reasons[s]
        rec.update(experiment=experiment, profile=profile)
        records.append(rec)
    return records


def _epoch_row(
    epoch: int, loss: float, lr: float, seconds: float, run: Run, data: Dataset, s: int
) -> dict:
    """One epoch's history row; test_accuracy None marks a diverged seed."""
    if not _finite(run.seed_nets[s].weights, loss):
        return {
            "epoch": epoch + 1,
            "train_loss": None,
            "lr": lr,
            "seconds": seconds,
            "test_accuracy": None,
        }
    row = {"epoch": epoch + 1, "train_loss": loss, "lr": lr, "seconds": seconds}
    row.update(evaluate(run, data, s))
    # Finite loss but overflowing metrics (huge weights): diverged as well.
    bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        row.update({k: None for k in bad})
        row["test_accuracy"] = None
    return row


def _stack_rates(rates: list[float], dev: torch.device) -> Tensor:
    """One learning rate per stacked net, shaped to broadcast over (S, d_out, d_in)."""
    return torch.tensor(rates, dtype=torch.float32, device=dev).reshape(-1, 1, 1)


def _zero_seed(net: Net, opt: SGD, s: int) -> None:
    """Silence a diverged seed of a stack: its slice stops carrying inf/NaN arithmetic."""
    for w, v in zip(net.weights, opt.velocity):
        w[s].zero_()
        v[s].zero_()


def _record(
    cfg: TrainConfig,
    status: str,
    initial: dict,
    history: list[dict],
    provenance: dict,
    num_classes: int,
) -> dict:
    finite_rows = [r for r in history if r["test_accuracy"] is not None]
    final = {
        "test_accuracy": finite_rows[-1]["test_accuracy"]
        if status == "finished" and finite_rows
        else (initial["test_accuracy"] if not history else None),
        "epochs_completed": len(finite_rows),
    }
    if status == "diverged":
        final["diverged_at_epoch"] = history[-1]["epoch"]
        final["last_finite_test_accuracy"] = (
            finite_rows[-1]["test_accuracy"] if finite_rows else initial["test_accuracy"]
        )
    elif finite_rows and "val_accuracy" in finite_rows[-1]:
        final["val_accuracy"] = finite_rows[-1]["val_accuracy"]
    rec = {
        "run_id": run_id(cfg),
        "experiment": None,
        "profile": None,
        "status": status,
        "config": cfg.to_dict(),
        "initial": initial,
        "history": history,
        "final": final,
        "provenance": dict(provenance),
    }
    blew = blowup(history, num_classes)
    if blew is not None:  # kept even when the run recovered, so tables can flag it
        rec["blowup"] = blew
    return rec
