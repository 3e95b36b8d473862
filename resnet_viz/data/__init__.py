"""Datasets as in-memory uint8 tensors, and a device-resident batch source with on-device augmentation.

``load_dataset(cfg)`` returns a :class:`DatasetSplits` (CPU, uint8 ``[N, C, H, W]``) for the
embedded synthetic set, a torchvision set or an ImageFolder tree; ``DeviceDataset`` serves
normalised, augmented float batches from it on the training device. User-fixable problems raise
:class:`DataError` with a message saying what is missing, where it looked and how to get it.
"""

from __future__ import annotations

from ..config import DataConfig
from .device_loader import DeviceDataset, shift_flip
from .embedded import load_embedded
from .splits import DataError, DatasetSplits, ProgressFn, channel_stats, dataset_input_shape, default_data_root
from .torchvision_sets import TORCHVISION_SETS, load_folder, load_torchvision

__all__ = [
    "DataError",
    "DatasetSplits",
    "DeviceDataset",
    "ProgressFn",
    "channel_stats",
    "dataset_input_shape",
    "default_data_root",
    "load_dataset",
    "shift_flip",
]


def load_dataset(cfg: DataConfig, progress: ProgressFn | None = None) -> DatasetSplits:
    """Load (or generate) the dataset ``cfg`` names, apply ``cfg.subset``, compute mean/std.

    ``progress(message, fraction)`` is called along the way with ``fraction`` in [0, 1].
    Raises :class:`DataError` for anything the user can fix (missing files, subset too large).
    """
    if cfg.dataset == "embedded":
        return load_embedded(cfg.embedded_seed, cfg.subset, progress)
    if cfg.dataset == "folder":
        return load_folder(cfg.root, cfg.subset, progress)
    if cfg.dataset in TORCHVISION_SETS:
        return load_torchvision(cfg.dataset, cfg.root, cfg.download, cfg.subset, progress)
    raise DataError(f"unknown dataset {cfg.dataset!r}; choose one of embedded, folder, " + ", ".join(TORCHVISION_SETS))
