"""The in-memory form of every dataset: uint8 image tensors plus labels, classes and statistics.

Every loader (embedded, torchvision, ImageFolder) returns a :class:`DatasetSplits`; problems a user
can fix (a missing folder, a subset that is too large) raise :class:`DataError` with a message that
says what is missing, where it looked and how to get it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

#: ``progress(message, fraction)`` with ``fraction`` in [0, 1]; the GUI shows it, the CLI may print it.
ProgressFn = Callable[[str, float], None]

#: ((C, H, W), number of classes) of the sets whose shape is known without loading them.
KNOWN_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "embedded": ((3, 32, 32), 10),
    "cifar10": ((3, 32, 32), 10),
    "cifar100": ((3, 32, 32), 100),
    "mnist": ((1, 28, 28), 10),
    "fashion-mnist": ((1, 28, 28), 10),
    "svhn": ((3, 32, 32), 10),
}


class DataError(Exception):
    """A dataset cannot be loaded for a reason the user can fix; the message says how."""


@dataclass
class DatasetSplits:
    """A whole dataset in memory, on the CPU.

    ``train_x``/``test_x`` are uint8 ``[N, C, H, W]`` (pixel values 0..255), ``train_y``/``test_y``
    int64 ``[N]`` class indices into ``classes``. ``mean``/``std`` are per-channel statistics of
    ``train_x / 255`` (so in [0, 1] units), computed on the training split actually used (after
    ``subset``). ``hflip`` says whether a horizontal flip keeps the label (False for digits).
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    description: str
    hflip: bool

    @property
    def in_channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def image_size(self) -> int:
        """Height of the (square) images in pixels."""
        return int(self.train_x.shape[2])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)


def default_data_root() -> Path:
    """Per-user dataset cache: ``$RESNET_VIZ_DATA``, else ``$XDG_CACHE_HOME/resnet-viz/data``,
    else ``~/.cache/resnet-viz/data``. Not created here."""
    explicit = os.environ.get("RESNET_VIZ_DATA")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "resnet-viz" / "data"


def dataset_input_shape(name: str) -> tuple[tuple[int, int, int], int] | None:
    """((C, H, W), num_classes) of a named dataset without loading it; None for ``"folder"``
    (its class count is only known from the tree) and for unknown names."""
    return KNOWN_SHAPES.get(name)


def channel_stats(x: torch.Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std of uint8 ``x [N, C, H, W] / 255``, in float64,
    in chunks so that large sets need little extra memory."""
    if x.ndim != 4 or x.shape[0] == 0:
        raise DataError(f"cannot compute channel statistics of an empty image tensor of shape {tuple(x.shape)}")
    c = x.shape[1]
    s1 = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    for start in range(0, x.shape[0], chunk):
        part = x[start : start + chunk].to(torch.float64).div_(255.0)
        s1 += part.sum(dim=(0, 2, 3))
        s2 += part.square_().sum(dim=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = s1 / count
    var = (s2 / count - mean.square()).clamp_min(0.0)
    std = var.sqrt().clamp_min(1e-6)  # a constant channel must not divide by zero
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def finish_splits(
    name: str,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    classes: list[str],
    description: str,
    hflip: bool,
    subset: int | None,
) -> DatasetSplits:
    """Check shapes and dtypes, apply ``subset`` (first N training images), compute mean/std.

    ``description`` is a format string whose ``{sizes}`` becomes the final ``"N_train/N_test"``.
    """
    for label, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        if x.dtype != torch.uint8 or x.ndim != 4:
            raise DataError(f"{name} {label} images must be uint8 [N, C, H, W], got {x.dtype} {tuple(x.shape)}")
        if y.dtype != torch.int64 or y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise DataError(
                f"{name} {label} labels must be int64 [N] matching the images, got "
                f"{y.dtype} {tuple(y.shape)} for {x.shape[0]} images"
            )
    if train_x.shape[0] == 0:
        raise DataError(f"the {name} training split is empty")
    if subset is not None:
        if subset > train_x.shape[0]:
            raise DataError(
                f"subset of {subset} training images asked for, but {name} has only "
                f"{train_x.shape[0]}; choose --subset ≤ {train_x.shape[0]}"
            )
        train_x = train_x[:subset].contiguous()
        train_y = train_y[:subset].contiguous()
    mean, std = channel_stats(train_x)
    sizes = f"{train_x.shape[0]}/{test_x.shape[0]}"
    return DatasetSplits(
        name=name,
        train_x=train_x,
        train_y=train_y,
        test_x=test_x.contiguous(),
        test_y=test_y.contiguous(),
        classes=list(classes),
        mean=mean,
        std=std,
        description=description.format(sizes=sizes),
        hflip=hflip,
    )
