"""The run config the speed benchmarks train: ResNet-``depth`` with the paper's SGD recipe, no evaluation
until the last step (``eval_every`` beyond the run), a small fixed training sample for that evaluation."""

from __future__ import annotations

from typing import Any

from resnet_viz.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig


def sgd_resnet_config(
    depth: int, batch_size: int, steps: int, device: str, data: DataConfig | None = None, **train: Any
) -> RunConfig:
    """ResNet-``depth``, SGD lr 0.1 momentum 0.9 weight decay 1e-4; ``train``: further TrainConfig fields."""
    return RunConfig(
        model=ModelConfig(arch="resnet", depth=depth),
        optim=OptimConfig(name="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4),
        data=data if data is not None else DataConfig(),
        train=TrainConfig(
            batch_size=batch_size, steps=steps, eval_every=10**9, eval_train_samples=100, device=device, **train
        ),
    )
