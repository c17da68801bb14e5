"""Data loading: sources, splits, and the errors a user sees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pepita_lib.data import DataNotFoundError, batches, load_dataset


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(
        ValueError, match="unknown dataset 'mnits'.*mnist, fashion_mnist, cifar10, cifar100"
    ):
        load_dataset("mnits")


def test_missing_data_names_every_path_tried(tmp_path, monkeypatch):
    monkeypatch.setenv("PEPITA_DATA_DIR", str(tmp_path / "mirror"))
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("fashion_mnist", data_root=tmp_path / "tv", download=False)
    msg = str(err.value)
    assert str(tmp_path / "mirror" / "fashion_mnist.npz") in msg
    assert str(tmp_path / "tv") in msg
    assert "--download" in msg and "PEPITA_DATA_DIR" in msg


def test_npz_mirror_roundtrip(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (50, 32, 32, 3), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 50).astype(np.int64),
        "x_test": rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 20).astype(np.int64),
    }
    np.savez(tmp_path / "cifar10.npz", **arrays)
    monkeypatch.setenv("PEPITA_DATA_DIR", str(tmp_path))
    d = load_dataset("cifar10", val_size=10, train_subset=30, test_subset=5)
    assert (
        d.x_train.shape == (30, 3072)
        and d.x_val.shape == (10, 3072)
        and d.x_test.shape == (5, 3072)
    )
    assert d.x_train.dtype == torch.float32 and 0 <= d.x_train.min() and d.x_train.max() <= 1
    # channel-first flattening: the first 1024 values are the red channel of image 0
    full = load_dataset("cifar10")
    red = torch.from_numpy(arrays["x_train"][0, :, :, 0]).float().reshape(-1) / 255
    torch.testing.assert_close(full.x_train[0, :1024], red)
    # validation and training never share a sample, and the split is seeded
    again = load_dataset("cifar10", val_size=10, train_subset=30, test_subset=5)
    torch.testing.assert_close(d.x_val, again.x_val)
    rows = {tuple(r.tolist()) for r in d.x_train}
    assert not rows & {tuple(r.tolist()) for r in d.x_val}
    normed = load_dataset("cifar10", normalize=True)
    per_channel = normed.x_train.reshape(50, 3, -1)
    torch.testing.assert_close(per_channel.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5, rtol=0)


def test_bad_split_sizes(tmp_path, monkeypatch, mnist):
    with pytest.raises(ValueError, match="train_subset"):
        load_dataset("mnist", download=True, train_subset=10**7)


def test_real_mnist_matches_published_figures(mnist):
    assert mnist.x_train.shape == (60000, 784) and mnist.x_test.shape == (10000, 784)
    assert abs(float(mnist.x_train.mean()) - 0.1307) < 1e-3
    assert torch.bincount(mnist.y_test).tolist()[:3] == [980, 1135, 1032]


def test_batches_cover_every_index_once():
    idx = torch.cat(list(batches(103, 10, torch.Generator().manual_seed(0), torch.device("cpu"))))
    assert sorted(idx.tolist()) == list(range(103))


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    import urllib.error

    import pepita_lib.data as data_mod

    def offline(name, root, download):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.delenv("PEPITA_DATA_DIR", raising=False)
    monkeypatch.setattr(data_mod, "_from_torchvision", offline)
    with pytest.raises(
        DataNotFoundError, match="download failed.*Name or service not known"
    ) as err:
        load_dataset("cifar100", data_root=tmp_path, download=True)
    assert "--download" not in str(err.value), "the download was allowed: do not suggest it"
    assert "needs a network" in str(err.value)
