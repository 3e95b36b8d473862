"""The fixed training sample a landscape's loss is averaged over, prepared as the engine's evaluation sees it."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from resnet_viz.config import RunConfig
from resnet_viz.data import DeviceDataset, load_dataset


@dataclass(frozen=True)
class TrainingSample:
    """``x``: float32 [S, C, H, W] normalised images, ``y``: int64 [S] labels, both on one device;
    ``num_classes``: the data's class count (the network's outputs)."""

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c, h, w = self.x.shape[1:]
        return int(c), int(h), int(w)


def training_sample(config: RunConfig, samples: int, device: torch.device) -> TrainingSample:
    """``samples`` training images of ``config``'s data (all of them when there are fewer), un-augmented and
    normalised exactly as the engine evaluates its training sample (``DeviceDataset.eval_batches
    ("train_sample")`` with the run's seed: for ``samples`` = the run's ``eval_train_samples`` it is the very
    sample of the run's train loss). Raises ``DataError`` (one line) for data that is not there."""
    splits = load_dataset(config.data)
    data = DeviceDataset(
        splits,
        device,
        batch_size=1,
        augment=False,
        normalize=config.data.normalize,
        seed=config.train.seed,
        eval_train_samples=samples,
    )
    xs, ys = zip(*data.eval_batches("train_sample", batch_size=max(1, len(data.sample_indices))))
    return TrainingSample(x=torch.cat(xs), y=torch.cat(ys), num_classes=splits.num_classes)
