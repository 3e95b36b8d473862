"""Real image datasets through ``torchvision.datasets``, converted to uint8 ``[N, C, H, W]`` tensors.

Supported: CIFAR-10, CIFAR-100, MNIST, Fashion-MNIST, SVHN (reading its ``.mat`` files needs scipy)
in torchvision's standard on-disk layout under the data root::

    root/cifar-10-batches-py/   data_batch_1..5, test_batch, batches.meta
    root/cifar-100-python/      train, test, meta
    root/MNIST/raw/             train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-...
    root/FashionMNIST/raw/      (same file names as MNIST)
    root/train_32x32.mat, root/test_32x32.mat   (SVHN)

The root is ``cfg.root`` or, if unset, :func:`default_data_root`. With ``cfg.download`` torchvision
fetches missing files into that root itself (printing its own progress bar); nothing is downloaded
otherwise. The pixels are taken from the datasets' arrays directly (no PIL round trip), so values
and labels are exactly those on disk; MNIST-like sets stay 1x28x28.

``dataset="folder"`` reads an ImageFolder tree (any image format Pillow reads), each image converted
to RGB and resized (squashed, bilinear with antialiasing) to 3x32x32:

* ``root/train/<class>/*`` and ``root/test/<class>/*``: the given split (test classes must also
  occur in train); or
* ``root/<class>/*`` (or ``root/train/<class>/*`` without ``root/test``): a deterministic 90/10
  split made per class: files sorted by path, shuffled with a fixed seed (0), the first
  ``round(n / 10)`` (at least 1 when the class has ≥ 2 images) go to the test split.

Class names are the folder names in sorted order. Horizontal flipping is assumed label-preserving
for folder sets (natural images); turn augmentation off for sets where it is not.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .splits import DataError, DatasetSplits, ProgressFn, default_data_root, finish_splits

FOLDER_IMAGE_SIZE = 32
FOLDER_SPLIT_SEED = 0
FOLDER_TEST_FRACTION = 0.1


@dataclass(frozen=True)
class _Spec:
    title: str
    torchvision_class: str
    layout: str  # where the files must be, relative to the root
    url: str
    size: str  # approximate download size, for the message
    hflip: bool
    description: str  # with {sizes} placeholder


_SPECS: dict[str, _Spec] = {
    "cifar10": _Spec(
        "CIFAR-10",
        "CIFAR10",
        "cifar-10-batches-py/ with data_batch_1..5, test_batch, batches.meta",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "~170 MB",
        True,
        "CIFAR-10 (natural images, 3x32x32, 10 classes, {sizes})",
    ),
    "cifar100": _Spec(
        "CIFAR-100",
        "CIFAR100",
        "cifar-100-python/ with train, test, meta",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "~170 MB",
        True,
        "CIFAR-100 (natural images, 3x32x32, 100 fine classes, {sizes})",
    ),
    "mnist": _Spec(
        "MNIST",
        "MNIST",
        "MNIST/raw/ with train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "~12 MB",
        False,
        "MNIST (handwritten digits, 1x28x28, 10 classes, {sizes})",
    ),
    "fashion-mnist": _Spec(
        "Fashion-MNIST",
        "FashionMNIST",
        "FashionMNIST/raw/ with train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "~30 MB",
        True,
        "Fashion-MNIST (clothing, 1x28x28, 10 classes, {sizes})",
    ),
    "svhn": _Spec(
        "SVHN",
        "SVHN",
        "train_32x32.mat and test_32x32.mat directly in it",
        "http://ufldl.stanford.edu/housenumbers/",
        "~180 MB",
        False,
        "SVHN (house-number digits, 3x32x32, 10 classes, {sizes})",
    ),
}

TORCHVISION_SETS: tuple[str, ...] = tuple(_SPECS)


def _report(progress: ProgressFn | None, message: str, fraction: float) -> None:
    if progress is not None:
        progress(message, fraction)


def _resolve_root(root: str | None) -> Path:
    return Path(root).expanduser() if root else default_data_root()


def _open_split(spec: _Spec, root: Path, train: bool, download: bool) -> object:
    """Construct the torchvision dataset object for one split, mapping failures to DataError."""
    import torchvision.datasets as tvd

    klass = getattr(tvd, spec.torchvision_class)
    kwargs: dict[str, object] = {"download": download}
    if spec.torchvision_class == "SVHN":
        kwargs["split"] = "train" if train else "test"
    else:
        kwargs["train"] = train
    try:
        return klass(str(root), **kwargs)
    except Exception as exc:  # noqa: BLE001 - torchvision raises RuntimeError/OSError/URLError with terse text
        detail = " ".join(str(exc).split())
        if download:
            raise DataError(
                f"could not download {spec.title} ({spec.size}) from {spec.url} into {root}: {detail}. "
                f"Check the internet connection, or fetch it by hand and place it in {root} as {spec.layout}."
            ) from None
        raise DataError(
            f"{spec.title} not found (or incomplete/corrupted) in {root}: expected {spec.layout}. "
            f"Run with --download to fetch it ({spec.size}) into {root}, or point --data-root at a "
            f"folder that holds it."
        ) from None


def _to_tensors(name: str, ds: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 [N, C, H, W] and labels int64 [N] from a torchvision dataset's arrays."""
    data = ds.data  # type: ignore[attr-defined]
    if name in ("cifar10", "cifar100"):  # numpy [N, H, W, C]
        x = torch.from_numpy(np.ascontiguousarray(np.asarray(data, dtype=np.uint8).transpose(0, 3, 1, 2)))
        y = torch.as_tensor(np.asarray(ds.targets, dtype=np.int64))  # type: ignore[attr-defined]
    elif name in ("mnist", "fashion-mnist"):  # torch uint8 [N, H, W]
        x = torch.as_tensor(data, dtype=torch.uint8).unsqueeze(1).contiguous()
        y = torch.as_tensor(ds.targets, dtype=torch.int64).clone()  # type: ignore[attr-defined]
    else:  # svhn: numpy [N, C, H, W]
        x = torch.from_numpy(np.ascontiguousarray(np.asarray(data, dtype=np.uint8)))
        y = torch.as_tensor(np.asarray(ds.labels, dtype=np.int64))  # type: ignore[attr-defined]
    return x, y


def load_torchvision(
    name: str, root: str | None, download: bool, subset: int | None, progress: ProgressFn | None = None
) -> DatasetSplits:
    """Load one of :data:`TORCHVISION_SETS` from ``root`` (default: the per-user cache)."""
    if name not in _SPECS:
        raise DataError(f"unknown torchvision dataset {name!r}; choose one of {', '.join(_SPECS)}")
    spec = _SPECS[name]
    path = _resolve_root(root)
    if name == "svhn" and importlib.util.find_spec("scipy") is None:
        raise DataError("SVHN is stored as MATLAB .mat files and reading them needs scipy: pip install scipy")
    if download:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create the data folder {path} for the download: {exc}") from None
    parts: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    classes: list[str] = []
    for i, split in enumerate(("train", "test")):
        _report(progress, f"loading {spec.title} {split} split from {path}", i / 2)
        ds = _open_split(spec, path, split == "train", download)
        parts[split] = _to_tensors(name, ds)
        classes = list(getattr(ds, "classes", [])) or [str(k) for k in range(10)]
    _report(progress, f"loaded {spec.title}", 1.0)
    return finish_splits(name, *parts["train"], *parts["test"], classes, spec.description, spec.hflip, subset)


# --------------------------------------------------------------------------------------- ImageFolder


def _list_images(
    directory: Path, class_to_idx: dict[str, int] | None = None, allow_empty: bool = False
) -> tuple[list[str], list[tuple[str, int]]]:
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    if class_to_idx is None:
        try:
            classes, class_to_idx = find_classes(str(directory))
        except FileNotFoundError:
            raise DataError(f"no class folders in {directory}") from None
    else:
        classes = list(class_to_idx)
    try:
        samples = make_dataset(str(directory), class_to_idx, extensions=IMG_EXTENSIONS, allow_empty=allow_empty)
    except FileNotFoundError as exc:
        raise DataError(f"{exc} (looked in {directory})") from None
    return classes, samples


def _read_images(paths: list[str], progress: ProgressFn | None, what: str, offset: float, scale: float) -> torch.Tensor:
    """RGB uint8 [N, 3, 32, 32] from image files (squashed to 32x32, bilinear, antialiased)."""
    from PIL import Image, UnidentifiedImageError

    out = np.empty((len(paths), FOLDER_IMAGE_SIZE, FOLDER_IMAGE_SIZE, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as img:
                rgb = img.convert("RGB").resize((FOLDER_IMAGE_SIZE, FOLDER_IMAGE_SIZE), Image.Resampling.BILINEAR)
        except (OSError, UnidentifiedImageError) as exc:
            raise DataError(f"cannot read image {p}: {exc}") from None
        out[i] = np.asarray(rgb, dtype=np.uint8)
        if progress is not None and (i % 256 == 0 or i == len(paths) - 1):
            progress(f"reading {what} images", offset + scale * (i + 1) / max(1, len(paths)))
    return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2)))


def _split_90_10(
    samples: list[tuple[str, int]], num_classes: int
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    gen = torch.Generator().manual_seed(FOLDER_SPLIT_SEED)
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for c in range(num_classes):
        mine = sorted(s for s in samples if s[1] == c)
        n_test = max(1, round(len(mine) * FOLDER_TEST_FRACTION)) if len(mine) >= 2 else 0
        order = torch.randperm(len(mine), generator=gen).tolist()
        test += [mine[k] for k in sorted(order[:n_test])]
        train += [mine[k] for k in sorted(order[n_test:])]
    return train, test


def load_folder(root: str | None, subset: int | None, progress: ProgressFn | None = None) -> DatasetSplits:
    """Load an ImageFolder tree (see the module docstring for the layouts) as 3x32x32 RGB."""
    layout = (
        "root/train/<class>/*.png and root/test/<class>/*.png, or root/<class>/*.png (split 90/10 deterministically)"
    )
    if not root:
        raise DataError(f"dataset 'folder' needs --data-root pointing at an ImageFolder tree: {layout}")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(f"image folder {path} does not exist; expected {layout}")
    train_dir, test_dir = path / "train", path / "test"
    try:
        if train_dir.is_dir() and test_dir.is_dir():
            classes, train = _list_images(train_dir)
            test_classes = sorted(e.name for e in test_dir.iterdir() if e.is_dir())
            extra = [c for c in test_classes if c not in classes]
            if extra:
                raise DataError(f"test classes {extra} in {test_dir} have no folder in {train_dir}")
            _, test = _list_images(test_dir, {c: i for i, c in enumerate(classes)}, allow_empty=True)
            how = "given train/test split"
        else:
            base = train_dir if train_dir.is_dir() else path
            classes, samples = _list_images(base)
            train, test = _split_90_10(samples, len(classes))
            how = "90/10 split"
    except DataError as exc:
        raise DataError(f"{exc}; expected {layout}") from None
    n = len(train) + len(test)
    train_x = _read_images([p for p, _ in train], progress, "training", 0.0, len(train) / n)
    test_x = _read_images([p for p, _ in test], progress, "test", len(train) / n, len(test) / n)
    train_y = torch.tensor([c for _, c in train], dtype=torch.int64)
    test_y = torch.tensor([c for _, c in test], dtype=torch.int64)
    shown = str(path).replace("{", "{{").replace("}", "}}")
    desc = f"image folder {shown} ({how}, resized to 3x32x32, {len(classes)} classes, {{sizes}})"
    return finish_splits("folder", train_x, train_y, test_x, test_y, classes, desc, True, subset)
