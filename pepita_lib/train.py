"""The training loop and the run record it produces.

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
from pathlib import Path

import torch
from tqdm import tqdm

from . import checkpoint
from .config import TrainConfig, run_id
from .data import Dataset, batches, load_dataset, one_hot
from .divergence import blowup, divergence
from .nets import Net, dropout_masks, make_net, stack_nets
from .optim import SGD, lr_at
from .provenance import environment, now, resolve_device
from .rules import RULES, Rule, make_rule
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


def seed_group_key(cfg: TrainConfig) -> str | None:
    """Configs with the same key can train together as one stack: the same settings but
    the seed and the learning rate, and a rule whose update code handles stacked nets
    (None when it does not)."""
    if not getattr(RULES.get(cfg.rule), "batchable", False):
        return None
    return run_id(cfg.replace(seed=0, lr=1.0))


def _finite(weights: list[Tensor], loss: float) -> bool:
    return math.isfinite(loss) and all(bool(torch.isfinite(w).all()) for w in weights)


def _seed_batches(
    n: int, batch_size: int, gens: list[torch.Generator], dev: torch.device, stacked: bool
):
    """Index slices, (B,) for one seed or (S, B) with each seed's own order."""
    streams = [batches(n, batch_size, g, dev) for g in gens]
    if not stacked:
        yield from streams[0]
        return
    for idx in zip(*streams):
        yield torch.stack(idx)


def _seed_masks(
    nets: list[Net], batch: int, gens: list[torch.Generator], stacked: bool
) -> list[Tensor | None]:
    """This step's dropout masks, drawn per seed from its own generator."""
    per_seed = [dropout_masks(net, batch, g) for net, g in zip(nets, gens)]
    if not stacked:
        return per_seed[0]
    return [None if ms[0] is None else torch.stack(ms) for ms in zip(*per_seed)]


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

    Seeds: one CPU generator (``seed``) draws the weights and then the rule's feedback
    matrices, so every rule with the same seed starts from the same W_l; a second one
    (``seed + 1``) orders the batches; a third on the device (``seed + 2``) draws dropout.
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
    cfg, stacked = cfgs[0], len(cfgs) > 1
    if stacked:
        keys = {seed_group_key(c) for c in cfgs}
        if None in keys:
            raise ValueError(f"rule {cfg.rule!r} cannot train seeds as one batch")
        if len(keys) > 1:
            raise ValueError(
                "configs trained as one stack must share every setting but seed and lr"
            )
        if len({(c.seed, c.lr) for c in cfgs}) < len(cfgs):
            raise ValueError("configs trained as one stack must be distinct")
    dev = resolve_device(device)
    started, t0 = now(), time.perf_counter()
    data = data if data is not None else data_for(cfg, dev, data_root, download)
    if data.x_train.device.type != dev.type:
        raise ValueError(f"data lives on {data.x_train.device}, training asked for {dev}")
    sizes = [data.input_dim, *cfg.hidden, data.num_classes]

    rule = make_rule(cfg)
    seed_nets, seed_states = [], []
    for c in cfgs:
        try:
            net, state = initial_state(c, sizes, rule, dev)
            seed_nets.append(net)
            seed_states.append(state)
        except (RuntimeError, MemoryError) as err:
            if "memory" not in str(err).lower() and not isinstance(err, MemoryError):
                raise
            raise ValueError(f"a net of layer sizes {sizes} does not fit in memory on {dev}") from (
                None
            )
    if stacked:
        net = stack_nets(seed_nets)
        state = {k: torch.stack([st[k] for st in seed_states]) for k in seed_states[0]}
        # evaluation and angles look at one seed at a time, through views of the stack
        seed_nets = [net.seed(s) for s in range(len(cfgs))]
        seed_states = [{k: v[s] for k, v in state.items()} for s in range(len(cfgs))]
    else:
        net, state = seed_nets[0], seed_states[0]
    n = data.x_train.shape[0]
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    run_ids = [run_id(c) for c in cfgs]
    ckpt_file = None
    if outs is not None and checkpoint_seconds is not None:
        ckpt_file = checkpoint.checkpoint_path(outs[0])
    saved = checkpoint.load(ckpt_file, run_ids) if ckpt_file else None
    if saved is None:
        with torch.no_grad():
            rule.before_training(net, state, steps_per_epoch)
    order_gens = [torch.Generator().manual_seed(c.seed + 1) for c in cfgs]
    drop_gens = [torch.Generator(device=dev).manual_seed(c.seed + 2) for c in cfgs]
    opt = SGD(net.weights, cfg.lr, cfg.momentum, cfg.weight_decay)

    def evaluate(s: int) -> dict:
        sn, st = seed_nets[s], seed_states[s]
        row = {"test_accuracy": rule.accuracy(sn, st, data.x_test, data.y_test)}
        if data.x_val is not None:
            row["val_accuracy"] = rule.accuracy(sn, st, data.x_val, data.y_val)
        row.update(rule.angles(sn, st))
        return row

    seeds = range(len(cfgs))
    # one-hot targets once per run: per batch, one_hot checks the labels' range (a reduction
    # and a host sync) and scatters, small work that adds up over ~100k steps
    targets = one_hot(data.y_train, data.num_classes)
    # plain str, not torch's TorchVersion: the checkpoint loads with weights_only=True
    env = {k: str(v) if isinstance(v, str) else v for k, v in environment(dev).items()}
    segment = {"started": started, "first_epoch": 1, **env}
    if saved is None:
        initial = [evaluate(s) for s in seeds]
        histories: list[list[dict]] = [[] for _ in seeds]
        statuses = ["finished" for _ in seeds]
        reasons: list[str | None] = [None for _ in seeds]
        start_epoch, earlier = 0, []
    else:
        try:
            _restore(saved, net, state, opt, rule, order_gens, drop_gens)
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            raise checkpoint.CheckpointError(
                f"checkpoint {ckpt_file} does not fit the run ({err}); move it away to train "
                "the run from scratch"
            ) from None
        initial, histories, statuses = saved["initial"], saved["histories"], saved["statuses"]
        reasons = saved.get("reasons") or [None for _ in seeds]  # absent before divergence reasons
        start_epoch, earlier = saved["epoch"], saved["segments"]
        segment["first_epoch"] = start_epoch + 1
    last_save = time.perf_counter()

    def save_checkpoint(next_epoch: int) -> None:
        done = dict(segment, finished=now(), last_epoch=next_epoch)
        done["wall_seconds"] = round(time.perf_counter() - t0, 3)
        checkpoint.save(
            ckpt_file,
            {
                "run_ids": run_ids,
                "epoch": next_epoch,
                "weights": net.weights,
                "velocity": opt.velocity,
                "state": state,
                "rule_generators": checkpoint.generator_states(rule),
                "rule_extras": rule.checkpoint_extras(net, state, opt),
                "order_generators": [g.get_state() for g in order_gens],
                "dropout_generators": [g.get_state() for g in drop_gens],
                "initial": initial,
                "histories": histories,
                "statuses": statuses,
                "reasons": reasons,
                "segments": [*earlier, done],
            },
        )

    desc = f"{cfg.rule}/{cfg.dataset}" + (f" x{len(cfgs)} seeds" if stacked else "")
    bar = tqdm(
        range(start_epoch, cfg.epochs),
        desc=desc,
        disable=not progress,
        unit="epoch",
        leave=False,
        initial=start_epoch,
        total=cfg.epochs,
    )
    num_classes = data.num_classes
    kept = start_epoch  # epochs the checkpoint on disk holds (what Ctrl-C keeps)
    epoch = start_epoch
    try:
        with torch.no_grad():
            for epoch in bar:
                te = time.perf_counter()
                rates = [lr_at(epoch, c.lr, c.lr_decay, c.decay_epochs) for c in cfgs]
                opt.lr = _stack_rates(rates, dev) if len(set(rates)) > 1 else rates[0]
                rule.begin_epoch(net, state, epoch, steps_per_epoch)
                loss_sum = torch.zeros(len(cfgs) if stacked else (), device=dev)
                for idx in _seed_batches(n, cfg.batch_size, order_gens, dev, stacked):
                    x, t = data.x_train[idx], targets[idx]
                    masks = _seed_masks(seed_nets, x.shape[-2], drop_gens, stacked)
                    loss_sum += rule.step(net, state, opt, x, t, masks) * x.shape[-2]
                losses = (loss_sum / n).reshape(-1).tolist()
                seconds = time.perf_counter() - te
                last = epoch + 1 == cfg.epochs
                for s in seeds:
                    if statuses[s] != "finished":
                        continue
                    row = _epoch_row(epoch, losses[s], rates[s], seconds, seed_nets[s], evaluate, s)
                    histories[s].append(row)
                    reasons[s] = divergence(histories[s], num_classes, last_epoch=last)
                    if reasons[s] is not None:
                        statuses[s] = "diverged"
                        if stacked:
                            _zero_seed(net, opt, s)
                    elif on_epoch is not None:
                        on_epoch(row)
                if all(st == "diverged" for st in statuses):
                    break
                if not stacked and histories[0][-1]["test_accuracy"] is not None:
                    acc, loss = histories[0][-1]["test_accuracy"], histories[0][-1]["train_loss"]
                    bar.set_postfix(acc=f"{acc:.4f}", loss=f"{loss:.3g}")
                since = time.perf_counter() - last_save
                if ckpt_file is not None and since >= checkpoint_seconds and not last:
                    save_checkpoint(epoch + 1)
                    kept, last_save = epoch + 1, time.perf_counter()
    except KeyboardInterrupt as exc:
        raise checkpoint.Interrupted(
            checkpoint.interrupted_message(ckpt_file, kept, epoch + 1, run_ids)
        ) from exc
    finally:
        bar.close()

    provenance = dict(env)  # read once, at the start: the commit a run started from
    wall = round(time.perf_counter() - t0, 3)
    provenance.update(
        started=earlier[0]["started"] if earlier else started,
        finished=now(),
        wall_seconds=round(wall + sum(seg["wall_seconds"] for seg in earlier), 3),
        data_source=data.source,
        train_size=n,
        test_size=int(data.x_test.shape[0]),
    )
    if earlier:  # resumed: say where and how each stretch of epochs was trained
        last = max((h[-1]["epoch"] for h in histories if h), default=start_epoch)
        this = dict(segment, finished=provenance["finished"], last_epoch=last, wall_seconds=wall)
        provenance["segments"] = [*earlier, this]
    if stacked:
        provenance["stack"] = [run_id(c) for c in cfgs]  # trained together: wall time is shared
    records = []
    for s, c in enumerate(cfgs):
        rec = _record(c, statuses[s], initial[s], histories[s], provenance, num_classes)
        if reasons[s] is not None:
            rec["final"]["diverged_reason"] = reasons[s]
        rec.update(experiment=experiment, profile=profile)
        records.append(rec)
        if outs is not None:
            write_record(outs[s], rec)
    if ckpt_file is not None:
        ckpt_file.unlink(missing_ok=True)  # the records now hold everything it did
    return records


def _restore(
    saved: dict,
    net: Net,
    state: dict[str, Tensor],
    opt: SGD,
    rule: Rule,
    order_gens: list[torch.Generator],
    drop_gens: list[torch.Generator],
) -> None:
    """Put a checkpoint's training state back into a freshly built run, in place."""
    with torch.no_grad():
        checkpoint.copy_into(net.weights, saved["weights"], "weights")
        checkpoint.copy_into(opt.velocity, saved["velocity"], "velocity")
        for k, v in saved["state"].items():
            if k in state and state[k].shape == v.shape:
                state[k].copy_(v)
            else:  # state the rule creates during training (PEPITA's carried W_1 F)
                state[k] = v.to(net.weights[0].device)
    checkpoint.restore_generators(rule, saved["rule_generators"])
    for g, st in zip(
        [*order_gens, *drop_gens], saved["order_generators"] + saved["dropout_generators"]
    ):
        g.set_state(st)
    rule.restore_extras(net, state, opt, saved["rule_extras"])


def _epoch_row(
    epoch: int, loss: float, lr: float, seconds: float, net: Net, evaluate, s: int
) -> dict:
    """One epoch's history row; test_accuracy None marks a diverged seed."""
    if not _finite(net.weights, loss):
        return {
            "epoch": epoch + 1,
            "train_loss": None,
            "lr": lr,
            "seconds": seconds,
            "test_accuracy": None,
        }
    row = {"epoch": epoch + 1, "train_loss": loss, "lr": lr, "seconds": seconds}
    row.update(evaluate(s))
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
