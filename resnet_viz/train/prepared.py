"""A run built from its config: data on the device, the initialised model, optimiser, schedule and probes.

:func:`prepare_run` builds a :class:`PreparedRun` from a resolved config and loaded data; the engine
checks the memory estimate and loads the data first (so that a run too big for the machine fails
before anything is allocated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from resnet_viz.config import DEFAULT_STEPS, ConfigError, RunConfig, TrainConfig
from resnet_viz.data import DatasetSplits, DeviceDataset
from resnet_viz.models import LayerInfo, build_model, init_weights, layer_table, theory_act_std
from resnet_viz.models.checkpoint import CheckpointError, load_checkpoint
from resnet_viz.train.optim import build_optimizer, build_scheduler, milestone_steps, resolved_hyperparameters
from resnet_viz.train.precision import Precision
from resnet_viz.train.probes import LayerProbes


@dataclass(frozen=True)
class PreparedRun:
    """Everything one training run works with, built once by :func:`prepare_run`."""

    config: RunConfig  # resolved
    device: torch.device
    splits: DatasetSplits  # host copy of the data
    data: DeviceDataset  # batches on the device
    model: nn.Module  # initialised (or loaded from init.from_file), on ``device``, in train mode
    optimizer: torch.optim.Optimizer
    scheduler: LRScheduler  # stepped once per training step
    layers: list[LayerInfo]  # weight layers in forward order
    theory: np.ndarray  # float64 [L]: predicted output std at init, relative to layer 0 (NaN: loaded weights)
    probes: LayerProbes | None  # None when probes are off
    params: int  # trainable parameters
    total_steps: int
    precision: Precision  # autocast and loss scaling of the steps (train.precision)


def use_deterministic_algorithms(train: TrainConfig) -> None:
    """Switch torch to deterministic kernels when ``train.deterministic`` (process-wide)."""
    if not train.deterministic:
        return
    torch.use_deterministic_algorithms(True, warn_only=True)
    # Deterministic mode also NaN-fills every new allocation (a debugging aid for reads of
    # uninitialised memory); it changes no result here and cost ~6% of a CPU step.
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    torch.backends.cudnn.benchmark = False


def count_total_steps(train: TrainConfig, steps_per_epoch: int) -> int:
    """Steps of the run: ``train.steps``, else ``train.epochs`` rounded up to whole steps, else the default."""
    if train.steps is not None:
        return train.steps
    if train.epochs is not None:
        return max(1, math.ceil(train.epochs * steps_per_epoch))
    return DEFAULT_STEPS


def load_weights(model: nn.Module, cfg: RunConfig) -> None:
    """Load the checkpoint ``cfg.init.from_file`` into ``model``; a file that cannot be read or does not
    fit is a :class:`ConfigError` naming ``init.from_file`` and the first tensor that does not fit."""
    path = str(cfg.init.from_file)
    try:
        load_checkpoint(path, model, cfg.model)
    except CheckpointError as exc:
        raise ConfigError("init.from_file", path, str(exc)) from None


def prepare_run(config: RunConfig, splits: DatasetSplits, device: torch.device) -> PreparedRun:
    """Build the run of ``config`` (resolved) on ``splits``; seeds torch from ``config.train.seed``."""
    cfg = config
    data = DeviceDataset(
        splits,
        device,
        cfg.train.batch_size,
        augment=cfg.data.augment,
        normalize=cfg.data.normalize,
        seed=cfg.train.seed,
        eval_train_samples=cfg.train.eval_train_samples,
    )
    total_steps = count_total_steps(cfg.train, data.steps_per_epoch)
    torch.manual_seed(cfg.train.seed)
    c, h, _w = splits.input_shape
    model = build_model(cfg.model, c, h, splits.num_classes)
    layers = layer_table(model, splits.input_shape)
    if cfg.init.from_file is None:
        init_weights(model, cfg.init, cfg.model)
        theory = np.asarray(theory_act_std(model, cfg.model, cfg.init, splits.input_shape), dtype=np.float64)
    else:  # trained weights: the theory of a fresh initialisation does not apply to them
        load_weights(model, cfg)
        theory = np.full(len(layers), np.nan)
    model = model.to(device)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = build_optimizer(model.parameters(), cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.optim, total_steps)
    probes = (
        LayerProbes(
            model,
            [li.name for li in layers],
            [li.norm_name for li in layers],
            device,
            relu_names=[li.relu_name for li in layers],
        )
        if cfg.train.probes
        else None
    )
    run = PreparedRun(
        config=cfg,
        device=device,
        splits=splits,
        data=data,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        layers=layers,
        theory=theory,
        probes=probes,
        params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_steps=total_steps,
        precision=Precision(cfg.train.precision, device),
    )
    torch.manual_seed(cfg.train.seed + 1)  # stochastic layers (dropout, stochastic depth) from here on
    return run


def resolved_info(run: PreparedRun) -> dict[str, Any]:
    """Derived values recorded in run.json next to the config."""
    cfg, data, splits = run.config, run.data, run.splits
    schedule: dict[str, Any] = {"name": cfg.optim.schedule, "warmup_steps": cfg.optim.warmup_steps}
    if cfg.optim.schedule == "step":
        schedule.update(milestone_steps=milestone_steps(cfg.optim, run.total_steps), gamma=cfg.optim.gamma)
    return {
        "label": cfg.label(),
        "total_steps": run.total_steps,
        "steps_per_epoch": data.steps_per_epoch,
        "epochs": run.total_steps / data.steps_per_epoch,
        "optimizer": {"class": type(run.optimizer).__name__, **resolved_hyperparameters(run.optimizer)},
        "schedule": schedule,
        "dataset": splits.description,
        "n_train": data.n_train,
        "n_test": data.n_test,
        "input_shape": list(splits.input_shape),
        "num_classes": splits.num_classes,
        "data_on_device": bool(data.resident),
        "params": run.params,
        "weight_layers": len(run.layers),
    }
