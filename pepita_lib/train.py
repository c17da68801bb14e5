"""The training loop and the run record it produces.

One code path for CPU and CUDA: the data already lives on the device, batches are index
slices, dropout masks are drawn on the device, and no update needs autograd. The loss is
accumulated on the device and read once per epoch, so the loop never waits on a sync.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from .config import TrainConfig, run_id
from .data import Dataset, batches, load_dataset, one_hot
from .nets import dropout_masks, make_net
from .optim import SGD, lr_at
from .provenance import environment, now, resolve_device
from .rules import make_rule
from .store import write_json_atomic

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


def _finite(net_weights: list[Tensor], loss: float) -> bool:
    return math.isfinite(loss) and all(bool(torch.isfinite(w).all()) for w in net_weights)


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
) -> dict:
    """Train one config and return its run record (also written to ``out`` if given).

    Seeds: one CPU generator (``seed``) draws the weights and then the rule's feedback
    matrices, so every rule with the same seed starts from the same W_l; a second one
    (``seed + 1``) orders the batches; a third on the device (``seed + 2``) draws dropout.
    """
    dev = resolve_device(device)
    started, t0 = now(), time.perf_counter()
    data = data if data is not None else data_for(cfg, dev, data_root, download)
    if data.x_train.device.type != dev.type:
        raise ValueError(f"data lives on {data.x_train.device}, training asked for {dev}")
    sizes = [data.input_dim, *cfg.hidden, data.num_classes]

    init_gen = torch.Generator().manual_seed(cfg.seed)
    net = make_net(sizes, cfg.activation, cfg.init, cfg.dropout, init_gen, dev, cfg.act_norm)
    rule = make_rule(cfg)
    state = rule.init_state(net, init_gen)
    n = data.x_train.shape[0]
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    with torch.no_grad():
        rule.before_training(net, state, steps_per_epoch)
    order_gen = torch.Generator().manual_seed(cfg.seed + 1)
    drop_gen = torch.Generator(device=dev).manual_seed(cfg.seed + 2)
    opt = SGD(net.weights, cfg.lr, cfg.momentum, cfg.weight_decay)

    def evaluate() -> dict:
        row = {"test_accuracy": rule.accuracy(net, state, data.x_test, data.y_test)}
        if data.x_val is not None:
            row["val_accuracy"] = rule.accuracy(net, state, data.x_val, data.y_val)
        row.update(rule.angles(net, state))
        return row

    initial = evaluate()
    history: list[dict] = []
    status = "finished"
    bar = tqdm(
        range(cfg.epochs),
        desc=f"{cfg.rule}/{cfg.dataset}",
        disable=not progress,
        unit="epoch",
        leave=False,
    )
    with torch.no_grad():
        for epoch in bar:
            te = time.perf_counter()
            opt.lr = lr_at(epoch, cfg.lr, cfg.lr_decay, cfg.decay_epochs)
            rule.begin_epoch(net, state, epoch, steps_per_epoch)
            loss_sum = torch.zeros((), device=dev)
            for idx in batches(n, cfg.batch_size, order_gen, dev):
                x = data.x_train[idx]
                t = one_hot(data.y_train[idx], data.num_classes)
                masks = dropout_masks(net, x.shape[0], drop_gen)
                loss_sum += rule.step(net, state, opt, x, t, masks) * x.shape[0]
            train_loss = float(loss_sum) / n
            seconds = time.perf_counter() - te
            if not _finite(net.weights, train_loss):
                status = "diverged"
                history.append(
                    {
                        "epoch": epoch + 1,
                        "train_loss": None,
                        "lr": opt.lr,
                        "seconds": seconds,
                        "test_accuracy": None,
                    }
                )
                break
            row = {"epoch": epoch + 1, "train_loss": train_loss, "lr": opt.lr, "seconds": seconds}
            row.update(evaluate())
            # Finite loss but overflowing metrics (huge weights): diverged as well.
            bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
            if bad:
                status = "diverged"
                row.update({k: None for k in bad})
                row["test_accuracy"] = None
                history.append(row)
                break
            history.append(row)
            bar.set_postfix(acc=f"{row['test_accuracy']:.4f}", loss=f"{train_loss:.3f}")
            if on_epoch is not None:
                on_epoch(row)
    bar.close()

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
    provenance = environment(dev)
    provenance.update(
        started=started,
        finished=now(),
        wall_seconds=round(time.perf_counter() - t0, 3),
        data_source=data.source,
        train_size=n,
        test_size=int(data.x_test.shape[0]),
    )
    record = {
        "run_id": run_id(cfg),
        "experiment": experiment,
        "profile": profile,
        "status": status,
        "config": cfg.to_dict(),
        "initial": initial,
        "history": history,
        "final": final,
        "provenance": provenance,
    }
    if out is not None:
        write_json_atomic(out, record)
    return record
