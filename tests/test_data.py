"""Tests of resnet_viz.data: the embedded set, torchvision/ImageFolder loading, the device loader.

Nothing here downloads: the MNIST and CIFAR-10 tests write small files in torchvision's real
on-disk formats into tmp_path so torchvision's own reading code runs on them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import re
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnet_viz.config import DataConfig
from resnet_viz.data import (
    DataError,
    DatasetSplits,
    DeviceDataset,
    dataset_input_shape,
    default_data_root,
    embedded,
    load_dataset,
    shift_flip,
)
from resnet_viz.data.splits import channel_stats

# ------------------------------------------------------------------------------------- embedded


@pytest.fixture(scope="module")
def emb() -> DatasetSplits:
    t = time.perf_counter()
    splits = load_dataset(DataConfig())
    print(f"\nembedded set generated in {time.perf_counter() - t:.2f} s")
    return splits


def test_embedded_shapes_balance_and_stats(emb: DatasetSplits) -> None:
    assert emb.name == "embedded"
    assert emb.train_x.shape == (20_000, 3, 32, 32) and emb.train_x.dtype == torch.uint8
    assert emb.test_x.shape == (4_000, 3, 32, 32) and emb.test_x.dtype == torch.uint8
    assert emb.train_y.dtype == torch.int64 and emb.test_y.dtype == torch.int64
    assert emb.input_shape == (3, 32, 32) and emb.in_channels == 3 and emb.image_size == 32
    assert emb.num_classes == 10 and len(set(emb.classes)) == 10
    assert emb.classes[0] == "circle, horizontal stripes" and emb.classes[9] == "ring, vertical stripes"
    assert torch.bincount(emb.train_y, minlength=10).tolist() == [2000] * 10
    assert torch.bincount(emb.test_y, minlength=10).tolist() == [400] * 10
    assert not torch.equal(emb.train_y[:20], emb.train_y[:20].sort().values)  # shuffled order
    assert "synthetic" in emb.description and "20000/4000" in emb.description
    assert emb.hflip is True
    mean, std = channel_stats(emb.train_x)
    assert emb.mean == pytest.approx(mean) and emb.std == pytest.approx(std)
    assert all(0.3 < m < 0.6 for m in emb.mean) and all(0.15 < s < 0.35 for s in emb.std)
    assert dataset_input_shape("embedded") == (emb.input_shape, emb.num_classes)


def test_embedded_colour_and_brightness_do_not_give_the_class(emb: DatasetSplits) -> None:
    """The mean colour of an image says almost nothing about its class: the per-class averages of
    the per-image mean RGB lie within 2% of the full range of each other, and the nearest
    class-mean-colour classifier is near chance (10%)."""
    rgb = emb.train_x.float().mean(dim=(2, 3)) / 255  # [N, 3]
    centres = torch.stack([rgb[emb.train_y == c].mean(0) for c in range(10)])  # [10, 3]
    assert float((centres.max(0).values - centres.min(0).values).max()) < 0.02
    test_rgb = emb.test_x.float().mean(dim=(2, 3)) / 255
    pred = torch.cdist(test_rgb, centres).argmin(1)
    assert float((pred == emb.test_y).float().mean()) < 0.16


def test_embedded_is_cached_and_deterministic(emb: DatasetSplits) -> None:
    again = load_dataset(DataConfig())
    assert again.train_x is emb.train_x  # generated once per process
    a = embedded.generate(seed=3, n_train=300, n_test=100)
    b = embedded.generate(seed=3, n_train=300, n_test=100)
    c = embedded.generate(seed=4, n_train=300, n_test=100)
    for ta, tb in zip(a, b):
        assert torch.equal(ta, tb)
    assert not torch.equal(a[0], c[0])
    assert (a[0].float() - c[0].float()).abs().mean() > 20  # a different set, not a small perturbation
    assert torch.bincount(a[1], minlength=10).tolist() == [30] * 10


def test_embedded_train_and_test_are_disjoint_draws(emb: DatasetSplits) -> None:
    def digests(x: torch.Tensor) -> set[bytes]:
        return {hashlib.blake2b(img.numpy().tobytes(), digest_size=16).digest() for img in x}

    train, test = digests(emb.train_x), digests(emb.test_x)
    assert len(train) == 20_000 and len(test) == 4_000  # no duplicates inside a split either
    assert not train & test


def test_embedded_subset_and_progress() -> None:
    calls: list[tuple[str, float]] = []
    s = load_dataset(DataConfig(subset=1000), progress=lambda m, f: calls.append((m, f)))
    assert s.train_x.shape[0] == 1000 and s.test_x.shape[0] == 4000
    assert s.mean == pytest.approx(channel_stats(s.train_x)[0])
    assert "1000/4000" in s.description
    assert calls and all(0.0 <= f <= 1.0 for _, f in calls) and calls[-1][1] == 1.0
    with pytest.raises(DataError, match="subset of 20001"):
        load_dataset(DataConfig(subset=20_001))


# ------------------------------------------------------------------------------ torchvision sets


def _write_idx(path: Path, array: np.ndarray) -> None:
    """An idx-ubyte file as MNIST ships it (big-endian header: 0, 0, type 0x08, ndim; then dims)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _write_mnist(root: Path, folder: str, rng: np.random.Generator, n_train: int, n_test: int) -> dict[str, np.ndarray]:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, arr in arrays.items():
        _write_idx(raw / name, arr)
    return arrays


@pytest.mark.parametrize("dataset, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_like_round_trip(tmp_path: Path, dataset: str, folder: str) -> None:
    arrays = _write_mnist(tmp_path, folder, np.random.default_rng(0), 30, 20)
    s = load_dataset(DataConfig(dataset=dataset, root=str(tmp_path)))
    assert s.train_x.shape == (30, 1, 28, 28) and s.test_x.shape == (20, 1, 28, 28)
    assert s.train_x.dtype == torch.uint8 and s.train_y.dtype == torch.int64
    assert np.array_equal(s.train_x[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    assert np.array_equal(s.test_x[:, 0].numpy(), arrays["t10k-images-idx3-ubyte"])
    assert s.train_y.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    assert s.test_y.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert s.num_classes == 10 and s.input_shape == (1, 28, 28)
    assert s.hflip is (dataset == "fashion-mnist")  # digits are not mirror-symmetric
    assert s.mean[0] == pytest.approx(arrays["train-images-idx3-ubyte"].mean() / 255, abs=1e-9)
    assert dataset_input_shape(dataset) == ((1, 28, 28), 10)


CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _write_cifar10(
    root: Path, rng: np.random.Generator, per_batch: int, n_test: int
) -> tuple[np.ndarray, list[int], np.ndarray, list[int]]:
    """CIFAR-10's python pickles: rows of 3072 bytes = 1024 red, 1024 green, 1024 blue (row-major)."""
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    train_rows, train_labels = [], []
    for i in range(1, 6):
        rows = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        with open(base / f"data_batch_{i}", "wb") as f:
            pickle.dump(
                {
                    "batch_label": f"training batch {i} of 5",
                    "labels": labels,
                    "data": rows,
                    "filenames": [f"img{i}_{k}.png" for k in range(per_batch)],
                },
                f,
            )
        train_rows.append(rows)
        train_labels += labels
    test_rows = rng.integers(0, 256, (n_test, 3072), dtype=np.uint8)
    test_labels = rng.integers(0, 10, n_test).tolist()
    with open(base / "test_batch", "wb") as f:
        pickle.dump(
            {
                "batch_label": "testing batch 1 of 1",
                "labels": test_labels,
                "data": test_rows,
                "filenames": [f"test_{k}.png" for k in range(n_test)],
            },
            f,
        )
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"num_cases_per_batch": per_batch, "label_names": CIFAR_NAMES, "num_vis": 3072}, f)
    return np.concatenate(train_rows), train_labels, test_rows, test_labels


def _skip_cifar_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our files are not the real ones, so their md5 sums differ. CIFAR10 checks them through
    ``torchvision.datasets.cifar.check_integrity`` (in ``_check_integrity`` for the batches and
    in ``_load_meta`` for batches.meta): replace it by an existence check. Everything else runs."""
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))


def test_cifar10_round_trip_and_channel_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _skip_cifar_md5(monkeypatch)
    rng = np.random.default_rng(1)
    train_rows, train_labels, test_rows, test_labels = _write_cifar10(tmp_path, rng, 4, 6)
    # one hand-made image: pure red in the top-left pixel, green at (0, 1), blue at (1, 0)
    train_rows[0] = 0
    train_rows[0, 0] = 255  # red plane, pixel (0, 0)
    train_rows[0, 1024 + 1] = 255  # green plane, pixel (0, 1)
    train_rows[0, 2048 + 32] = 255  # blue plane, pixel (1, 0)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        entry = pickle.load(f)
    entry["data"][0] = train_rows[0]
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "wb") as f:
        pickle.dump(entry, f)

    s = load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path)))
    assert s.train_x.shape == (20, 3, 32, 32) and s.test_x.shape == (6, 3, 32, 32)
    assert torch.equal(s.train_x, torch.from_numpy(train_rows.reshape(20, 3, 32, 32)))
    assert torch.equal(s.test_x, torch.from_numpy(test_rows.reshape(6, 3, 32, 32)))
    assert s.train_y.tolist() == train_labels and s.test_y.tolist() == test_labels
    first = s.train_x[0]
    assert first[:, 0, 0].tolist() == [255, 0, 0]  # channel 0 is red
    assert first[:, 0, 1].tolist() == [0, 255, 0]
    assert first[:, 1, 0].tolist() == [0, 0, 255]
    assert int(first.sum()) == 3 * 255
    assert s.classes == CIFAR_NAMES and s.hflip is True
    assert s.description.startswith("CIFAR-10") and "20/6" in s.description
    expected_mean = train_rows.reshape(20, 3, 1024).astype(np.float64).mean(axis=(0, 2)) / 255
    assert np.allclose(s.mean, expected_mean, atol=1e-12)

    sub = load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path), subset=8))
    assert torch.equal(sub.train_x, s.train_x[:8])
    with pytest.raises(DataError, match="only 20"):
        load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path), subset=21))


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "mnist", "fashion-mnist"])
def test_missing_dataset_says_where_and_how(tmp_path: Path, dataset: str) -> None:
    where = tmp_path / "nowhere"
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset=dataset, root=str(where)))
    msg = str(info.value)
    assert str(where) in msg and "--download" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained traceback
    assert not where.exists()  # nothing created without --download


def test_failed_download_says_what_and_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    def offline(self: object) -> None:
        raise RuntimeError(
            "Error downloading train-images-idx3-ubyte.gz:\nTried https://example/, got:\n"
            "<urlopen error [Errno -3] Temporary failure in name resolution>"
        )

    monkeypatch.setattr(tvd.MNIST, "download", offline)
    where = tmp_path / "fresh"
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset="mnist", root=str(where), download=True))
    msg = str(info.value)
    assert msg.startswith("could not download MNIST") and str(where) in msg and "name resolution" in msg
    assert "\n" not in msg
    assert where.is_dir()  # the download target was created


def test_default_root_used_when_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_DATA", str(tmp_path / "cache"))
    assert default_data_root() == tmp_path / "cache"
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "cache"))):
        load_dataset(DataConfig(dataset="mnist"))
    monkeypatch.delenv("RESNET_VIZ_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_root() == tmp_path / "xdg" / "resnet-viz" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_data_root() == Path.home() / ".cache" / "resnet-viz" / "data"


def test_svhn_without_scipy_says_pip_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else real(name, *a))
    with pytest.raises(DataError, match="pip install scipy"):
        load_dataset(DataConfig(dataset="svhn", root=str(tmp_path)))


def test_input_shapes_without_loading() -> None:
    assert dataset_input_shape("cifar10") == ((3, 32, 32), 10)
    assert dataset_input_shape("cifar100") == ((3, 32, 32), 100)
    assert dataset_input_shape("svhn") == ((3, 32, 32), 10)
    assert dataset_input_shape("folder") is None


# ------------------------------------------------------------------------------------ ImageFolder


def _png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 24)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_folder_with_train_and_test(tmp_path: Path) -> None:
    colours = {"blue": (0, 0, 255), "red": (255, 0, 0)}
    for split, n in (("train", 3), ("test", 2)):
        for name, colour in colours.items():
            for k in range(n):
                _png(tmp_path / split / name / f"{k}.png", colour)
    (tmp_path / "train" / "red" / "notes.txt").write_text("not an image")
    s = load_dataset(DataConfig(dataset="folder", root=str(tmp_path)))
    assert s.classes == ["blue", "red"]
    assert s.train_x.shape == (6, 3, 32, 32) and s.test_x.shape == (4, 3, 32, 32)
    assert s.train_y.tolist() == [0, 0, 0, 1, 1, 1] and s.test_y.tolist() == [0, 0, 1, 1]
    assert s.train_x[0, :, 5, 7].tolist() == [0, 0, 255] and s.train_x[4, :, 31, 31].tolist() == [255, 0, 0]
    assert dataset_input_shape("folder") is None


def test_folder_split_90_10_is_deterministic(tmp_path: Path) -> None:
    for c, name in enumerate(("a", "b")):
        for k in range(20):
            _png(tmp_path / name / f"{k:02d}.png", (c * 200, k * 10, 50), size=(32, 32))
    s1 = load_dataset(DataConfig(dataset="folder", root=str(tmp_path)))
    s2 = load_dataset(DataConfig(dataset="folder", root=str(tmp_path)))
    assert s1.train_x.shape[0] == 36 and s1.test_x.shape[0] == 4
    assert torch.bincount(s1.test_y).tolist() == [2, 2]
    assert torch.equal(s1.train_x, s2.train_x) and torch.equal(s1.test_x, s2.test_x)
    train_keys = {tuple(x[:, 0, 0].tolist()) for x in s1.train_x}
    test_keys = {tuple(x[:, 0, 0].tolist()) for x in s1.test_x}
    assert len(train_keys) == 36 and not train_keys & test_keys


def test_folder_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(DataConfig(dataset="folder", root=str(tmp_path / "none")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="root/<class>"):
        load_dataset(DataConfig(dataset="folder", root=str(tmp_path / "empty")))


# --------------------------------------------------------------------------------- DeviceDataset


def _toy(
    n: int = 256, n_test: int = 70, c: int = 3, size: int = 12, hflip: bool = True, seed: int = 0
) -> DatasetSplits:
    """Random images; label i = index i, so a batch's labels say which images it holds."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, c, size, size), generator=g, dtype=torch.uint8)
    tx = torch.randint(0, 256, (n_test, c, size, size), generator=g, dtype=torch.uint8)
    mean, std = channel_stats(x)
    return DatasetSplits(
        "toy", x, torch.arange(n), tx, torch.arange(n_test), [str(i) for i in range(n)], mean, std, "toy", hflip
    )


def _normalised(s: DatasetSplits, x: torch.Tensor) -> torch.Tensor:
    c = s.in_channels
    mean = torch.tensor(s.mean, dtype=torch.float32).view(1, c, 1, 1)
    std = torch.tensor(s.std, dtype=torch.float32).view(1, c, 1, 1)
    return (x.float() / 255 - mean) / std


def test_batches_shape_dtype_epochs_and_reshuffle() -> None:
    s = _toy(n=250)
    d = DeviceDataset(s, torch.device("cpu"), 64, augment=True, normalize=True, seed=0)
    assert d.resident and d.n_train == 250 and d.n_test == 70 and d.steps_per_epoch == 3 and d.epoch == 0
    seen = []
    for step in range(3):
        x, y = d.next_batch()
        assert x.shape == (64, 3, 12, 12) and x.dtype == torch.float32 and y.dtype == torch.int64
        assert d.epoch == (1 if step == 2 else 0)
        seen.append(y)
    first = torch.cat(seen)
    assert first.unique().numel() == 192  # each image at most once per epoch; last 58 dropped
    second = torch.cat([d.next_batch()[1] for _ in range(3)])
    assert d.epoch == 2 and d.step == 6
    assert second.unique().numel() == 192 and not torch.equal(first, second)
    with pytest.raises(DataError, match="batch size 251"):
        DeviceDataset(s, torch.device("cpu"), 251, augment=False, normalize=True, seed=0)


def test_normalisation_over_an_epoch() -> None:
    s = _toy(n=256)
    d = DeviceDataset(s, "cpu", 64, augment=False, normalize=True, seed=1)
    xs = torch.cat([d.next_batch()[0] for _ in range(d.steps_per_epoch)])
    assert xs.shape[0] == 256
    assert torch.allclose(xs.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(xs.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-5)
    raw = DeviceDataset(s, "cpu", 64, augment=False, normalize=False, seed=1)
    x, y = raw.next_batch()
    assert torch.equal(x, s.train_x[y].float() / 255)


def _candidates(img: torch.Tensor, flips: bool) -> list[tuple[int, int, bool, torch.Tensor]]:
    """Every pad-4 crop (and its mirror image) of one normalised image [C, H, W], zero-filled."""
    h, w = img.shape[1:]
    padded = F.pad(img, (4, 4, 4, 4))
    out = []
    for dy in range(9):
        for dx in range(9):
            crop = padded[:, dy : dy + h, dx : dx + w]
            out.append((dy, dx, False, crop))
            if flips:
                out.append((dy, dx, True, crop.flip(-1)))
    return out


@pytest.mark.parametrize("hflip", [True, False])
def test_augmentation_is_a_zero_filled_shift_and_flip(hflip: bool) -> None:
    s = _toy(n=128, hflip=hflip)
    plain = DeviceDataset(s, "cpu", 32, augment=False, normalize=True, seed=5)
    aug = DeviceDataset(s, "cpu", 32, augment=True, normalize=True, seed=5)
    offsets, flipped = set(), 0
    for _ in range(4):
        xp, yp = plain.next_batch()
        xa, ya = aug.next_batch()
        assert torch.equal(yp, ya)  # augmentation does not change the order of images
        assert not torch.equal(xp, xa)
        for i in range(32):
            src = _normalised(s, s.train_x[ya[i]].unsqueeze(0))[0]
            assert torch.allclose(src, xp[i], atol=1e-6)
            ref = xp[i]  # the loader's own un-augmented float image, so equality is exact
            matches = [(dy, dx, f) for dy, dx, f, c in _candidates(ref, hflip) if torch.equal(c, xa[i])]
            assert len(matches) == 1, f"image {i} is not a unique shifted/flipped copy: {matches}"
            dy, dx, f = matches[0]
            offsets.add((dy, dx))
            flipped += f
    assert len(offsets) > 40  # offsets vary per sample over the full 9x9 range
    assert {dy for dy, _ in offsets} == set(range(9))
    if hflip:
        assert 30 < flipped < 98  # about half of 128
    else:
        assert flipped == 0


def test_shift_flip_by_hand() -> None:
    x = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    # dy=5, dx=3: output (i, j) = x[i + 1, j - 1]
    out, valid = shift_flip(x, torch.tensor([5]), torch.tensor([3]), None)
    expected = torch.tensor([[0, 4, 5, 6], [0, 8, 9, 10], [0, 12, 13, 14], [0, 0, 0, 0]], dtype=torch.float32)
    assert torch.equal(out.masked_fill(~valid, 0)[0, 0], expected)
    out, valid = shift_flip(x, torch.tensor([4]), torch.tensor([4]), torch.tensor([True]))
    assert torch.equal(out[0, 0], x[0, 0].flip(-1)) and bool(valid.all())


def test_same_seed_same_batches_other_seed_differs() -> None:
    s = _toy(n=256)
    runs = []
    for seed in (7, 7, 8):
        d = DeviceDataset(s, "cpu", 64, augment=True, normalize=True, seed=seed)
        runs.append([d.next_batch() for _ in range(6)])  # crosses an epoch boundary
    for (xa, ya), (xb, yb) in zip(runs[0], runs[1]):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(runs[0][0][1], runs[2][0][1])


def test_eval_batches_fixed_sample_and_no_augmentation() -> None:
    s = _toy(n=256, n_test=70)
    d = DeviceDataset(s, "cpu", 32, augment=True, normalize=True, seed=3, eval_train_samples=100)
    first = list(d.eval_batches("train_sample", batch_size=40))
    assert [b[0].shape[0] for b in first] == [40, 40, 20]
    ids = torch.cat([y for _, y in first])
    assert ids.unique().numel() == 100 and torch.equal(ids, d.sample_indices)
    for _ in range(20):
        d.next_batch()
    again = list(d.eval_batches("train_sample", batch_size=40))
    for (xa, ya), (xb, yb) in zip(first, again):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    xs = torch.cat([x for x, _ in first])
    assert torch.allclose(xs, _normalised(s, s.train_x[ids]), atol=1e-6)  # no augmentation
    other = DeviceDataset(s, "cpu", 32, augment=True, normalize=True, seed=4, eval_train_samples=100)
    assert not torch.equal(other.sample_indices, d.sample_indices)
    whole = DeviceDataset(s, "cpu", 32, augment=True, normalize=True, seed=3)  # default 10k > 256
    assert whole.sample_indices.tolist() == list(range(256))

    test = list(d.eval_batches("test", batch_size=32))
    assert [b[0].shape[0] for b in test] == [32, 32, 6]
    assert torch.cat([y for _, y in test]).tolist() == list(range(70))
    assert torch.allclose(torch.cat([x for x, _ in test]), _normalised(s, s.test_x), atol=1e-6)
    with pytest.raises(ValueError):
        next(d.eval_batches("validation"))


def test_single_channel_images() -> None:
    s = _toy(n=64, c=1, size=28, hflip=False)
    d = DeviceDataset(s, "cpu", 16, augment=True, normalize=True, seed=0)
    x, y = d.next_batch()
    assert x.shape == (16, 1, 28, 28)
