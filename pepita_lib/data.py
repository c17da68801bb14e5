"""Datasets as flat float32 tensors in [0, 1], resident on the training device.

Sources, tried in order:

1. an ``.npz`` mirror ``$PEPITA_DATA_DIR/<name>.npz`` (keys ``x_train``, ``y_train``,
   ``x_test``, ``y_test``, uint8 images in HWC order), as shipped in ``shared/data``;
2. torchvision's own files under a data root (``$PEPITA_DATA_ROOT``, default
   ``~/.cache/pepita/data``), downloaded there only when the caller allows it.

Every copy is checked as it loads (:func:`check_arrays`): keys, dtype, shape, label
range and counts, so a damaged or wrong file is one line naming it and what is wrong, never
a traceback in the middle of training nor a run trained on the wrong numbers.

Batches are index slices of these tensors (see :func:`batches`): no DataLoader, no
worker processes, no host-device copies inside the training loop.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

Tensor = torch.Tensor

# name -> (torchvision class name, image shape (C, H, W), number of classes)
DATASETS: dict[str, tuple[str, tuple[int, int, int], int]] = {
    "mnist": ("MNIST", (1, 28, 28), 10),
    "fashion_mnist": ("FashionMNIST", (1, 28, 28), 10),
    "cifar10": ("CIFAR10", (3, 32, 32), 10),
    "cifar100": ("CIFAR100", (3, 32, 32), 100),
}

# Datasets whose only local copy is known to be lossy; the book flags their numbers.
LOSSY_NOTE = {
    "cifar10": "the CIFAR-10 copy in shared/data was re-encoded as JPEG (q75, 4:2:0); "
    "numbers from it are not directly comparable with published CIFAR-10 results",
}


class DataNotFoundError(FileNotFoundError):
    """No copy of a dataset was found; the message lists every path tried."""


class DataFileError(ValueError):
    """A copy of a dataset that is damaged or holds the wrong data; one line naming it."""


NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass
class Dataset:
    """Train / (validation) / test split of one dataset, flattened, on one device."""

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    x_val: Tensor | None
    y_val: Tensor | None
    image_shape: tuple[int, int, int]
    num_classes: int
    source: str

    @property
    def input_dim(self) -> int:
        return int(self.x_train.shape[1])


def check_name(name: str) -> None:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def default_data_root() -> Path:
    return Path(os.environ.get("PEPITA_DATA_ROOT", Path.home() / ".cache" / "pepita" / "data"))


def _npz_candidates(name: str) -> list[Path]:
    env = os.environ.get("PEPITA_DATA_DIR")
    return [Path(env) / f"{name}.npz"] if env else []


def _from_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as d:
            if not hasattr(d, "files"):
                raise DataFileError(f"data file {path}: holds one array, not an .npz archive")
            missing = [k for k in NPZ_KEYS if k not in d.files]
            if missing:
                raise DataFileError(f"data file {path}: missing {', '.join(missing)}")
            return d["x_train"], d["y_train"], d["x_test"], d["y_test"]
    except DataFileError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        if isinstance(err, EOFError) or path.stat().st_size == 0:
            why = "empty file"
        raise DataFileError(f"data file {path}: not a readable .npz archive ({why})") from None


def check_arrays(
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], name: str, where: str
) -> None:
    """Raise a :class:`DataFileError` naming ``where`` unless ``arrays`` (x_train, y_train,
    x_test, y_test) are uint8 images of ``name``'s shape, each with one integer label in
    [0, C)."""
    _, shape, classes = DATASETS[name]
    size = int(np.prod(shape))
    for split, x, y in (("train", arrays[0], arrays[1]), ("test", arrays[2], arrays[3])):
        if x.dtype != np.uint8:
            raise DataFileError(f"{where}: x_{split} has dtype {x.dtype}, expected uint8 (0-255)")
        if x.ndim < 2 or x.shape[0] == 0 or int(np.prod(x.shape[1:])) != size:
            raise DataFileError(f"{where}: x_{split} has shape {x.shape}, expected (N, {shape})")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataFileError(f"{where}: y_{split} is {y.dtype} of shape {y.shape}, "
                                "expected one integer label per image")  # fmt: skip
        if y.shape[0] != x.shape[0]:
            raise DataFileError(
                f"{where}: {y.shape[0]} labels y_{split} for {x.shape[0]} images x_{split}"
            )
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= classes:
            raise DataFileError(
                f"{where}: y_{split} has labels in [{lo}, {hi}], expected [0, {classes - 1}]"
            )


def _from_torchvision(
    name: str, root: Path, download: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    import torchvision.datasets as tvd

    cls = getattr(tvd, DATASETS[name][0])
    out = []
    for train in (True, False):
        ds = cls(root=str(root), train=train, download=download)
        x = ds.data.numpy() if isinstance(ds.data, torch.Tensor) else np.asarray(ds.data)
        y = np.asarray(ds.targets, dtype=np.int64)
        out += [x, y]
    return out[0], out[1], out[2], out[3]


def load_arrays(
    name: str, data_root: str | Path | None = None, download: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], str]:
    """Raw uint8 images and int64 labels of ``name`` and a description of the source."""
    check_name(name)
    tried: list[str] = []
    for path in _npz_candidates(name):
        if path.is_file():
            arrays = _from_npz(path)
            check_arrays(arrays, name, f"data file {path}")
            return arrays, f"npz:{path}"
        tried.append(f"{path} (npz mirror: not found)")
    if "PEPITA_DATA_DIR" not in os.environ:
        tried.append("$PEPITA_DATA_DIR/<name>.npz (PEPITA_DATA_DIR is not set)")
    root = Path(data_root) if data_root is not None else default_data_root()
    try:
        arrays = _from_torchvision(name, root, download)
        check_arrays(arrays, name, f"torchvision copy in {root}")
        return arrays, f"torchvision:{root}"
    # torchvision: RuntimeError "Dataset not found"; a failed download: URLError (an OSError)
    except (RuntimeError, OSError) as err:
        why = "not found" if not download else f"download failed: {err}"
        tried.append(f"{root} (torchvision {DATASETS[name][0]}: {why})")
    # a download that was allowed and failed: suggesting it again would not help
    fetch = (
        f"or put torchvision's {DATASETS[name][0]} files under {root} (the download needs a "
        f"network)"
        if download
        else f"or allow a download (--download on the command line, download=True in Python) "
        f"into {root}"
    )
    raise DataNotFoundError(
        f"dataset {name!r} not found. Tried: " + "; ".join(tried) + ". Fix: set PEPITA_DATA_DIR "
        f"to a folder holding {name}.npz, {fetch}."
    )


def _flatten(x: np.ndarray, shape: tuple[int, int, int]) -> Tensor:
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.ndim == 4:  # N, H, W, C -> N, C, H, W (torchvision's channel-first convention)
        t = t.permute(0, 3, 1, 2)
    n = t.shape[0]
    if tuple(t.shape[1:]) != shape and t.reshape(n, -1).shape[1] != int(np.prod(shape)):
        raise ValueError(f"images of shape {tuple(t.shape[1:])} do not match {shape}")
    return t.reshape(n, -1).float().div_(255.0)


def _split_train(
    x: Tensor, y: Tensor, val_size: int, train_subset: int | None, gen: torch.Generator
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """(x_train, y_train, x_val, y_val): ``val_size`` samples of a seeded permutation for
    validation, then the first ``train_subset`` of the rest for training."""
    n = x.shape[0]
    if not (val_size or train_subset is not None):
        return x, y, None, None
    if not 0 <= val_size < n:
        raise ValueError(f"val_size must be in [0, {n}), got {val_size}")
    perm = torch.randperm(n, generator=gen)
    x_val, y_val = (x[perm[:val_size]], y[perm[:val_size]]) if val_size else (None, None)
    rest = perm[val_size:]
    if train_subset is not None:
        if not 0 < train_subset <= rest.numel():
            raise ValueError(f"train_subset must be in [1, {rest.numel()}], got {train_subset}")
        rest = rest[:train_subset]
    return x[rest], y[rest], x_val, y_val


def _standardiser(x_train: Tensor, c: int) -> Callable[[Tensor], Tensor]:
    """Per-channel (x - mean) / std with statistics of ``x_train`` (``c`` channels)."""
    per_channel = x_train.reshape(x_train.shape[0], c, -1)
    mean = per_channel.mean(dim=(0, 2))
    std = per_channel.std(dim=(0, 2))

    def norm(x: Tensor) -> Tensor:
        return ((x.reshape(x.shape[0], c, -1) - mean[:, None]) / std[:, None]).reshape(
            x.shape[0], -1
        )

    return norm


def load_dataset(
    name: str,
    device: str | torch.device = "cpu",
    *,
    normalize: bool = False,
    val_size: int = 0,
    train_subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
    data_root: str | Path | None = None,
    download: bool = False,
) -> Dataset:
    """Load ``name`` as flat float32 tensors on ``device``.

    ``val_size`` samples are carved from the training set by a permutation seeded with
    ``seed`` (never from the test set); ``train_subset`` then keeps the first N of the
    remaining (already shuffled) training samples; ``test_subset`` the first N of a seeded
    permutation of the test set (the CIFAR-10 mirror's test set is class-major, so a plain
    head would hold one class). ``normalize`` standardises each channel with statistics of
    the training split actually used.
    """
    check_name(name)
    _, shape, num_classes = DATASETS[name]
    (xtr, ytr, xte, yte), source = load_arrays(name, data_root, download)
    x_train, x_test = _flatten(xtr, shape), _flatten(xte, shape)
    y_train, y_test = (
        torch.from_numpy(np.asarray(ytr, np.int64)),
        torch.from_numpy(np.asarray(yte, np.int64)),
    )
    gen = torch.Generator().manual_seed(seed)  # the train split first, then the test subset
    x_train, y_train, x_val, y_val = _split_train(x_train, y_train, val_size, train_subset, gen)
    if test_subset is not None:
        if not 0 < test_subset <= x_test.shape[0]:
            raise ValueError(f"test_subset must be in [1, {x_test.shape[0]}], got {test_subset}")
        keep = torch.randperm(x_test.shape[0], generator=gen)[:test_subset]
        x_test, y_test = x_test[keep], y_test[keep]
    if normalize:
        norm = _standardiser(x_train, shape[0])
        x_train, x_test = norm(x_train), norm(x_test)
        if x_val is not None:
            x_val = norm(x_val)
    dev = torch.device(device)
    move = (lambda t: t.to(dev)) if dev.type != "cpu" else (lambda t: t.contiguous())
    return Dataset(
        name=name,
        x_train=move(x_train),
        y_train=move(y_train),
        x_test=move(x_test),
        y_test=move(y_test),
        x_val=None if x_val is None else move(x_val),
        y_val=None if y_val is None else move(y_val),
        image_shape=shape,
        num_classes=num_classes,
        source=source,
    )


def one_hot(y: Tensor, num_classes: int) -> Tensor:
    return torch.nn.functional.one_hot(y, num_classes).to(torch.float32)


def batches(
    n: int, batch_size: int, generator: torch.Generator, device: torch.device
) -> Iterator[Tensor]:
    """Shuffled index slices covering 0..n-1 once (the last batch may be smaller)."""
    perm = torch.randperm(n, generator=generator).to(device)
    for start in range(0, n, batch_size):
        yield perm[start : start + batch_size]
