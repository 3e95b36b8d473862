"""The first record of a run: its config, layers, versions and the statistics of step 0 (before any update)."""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import resnet_viz
from resnet_viz.metrics.records import LAYER_QUANTITIES, LayerInfoRecord, RunStarted
from resnet_viz.train.device import device_label
from resnet_viz.train.prepared import PreparedRun, resolved_info
from resnet_viz.train.probes import unstack_quantities


def package_versions() -> dict[str, str]:
    """Versions that decide a run's numbers (torchvision's from its metadata: importing it takes ~0.3 s)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        torchvision = version("torchvision")
    except PackageNotFoundError:
        torchvision = "not installed"
    return {
        "resnet_viz": resnet_viz.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


@contextlib.contextmanager
def frozen_batchnorm_statistics(model: nn.Module) -> Iterator[None]:
    """Train-mode forward passes inside leave BN running statistics untouched (momentum 0)."""
    saved: list[tuple[nn.modules.batchnorm._BatchNorm, float | None, torch.Tensor | None]] = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            saved.append((m, m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None))
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            if tracked is not None and m.num_batches_tracked is not None:
                m.num_batches_tracked.copy_(tracked)


def step0_statistics(run: PreparedRun, x: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-layer statistics [L] of a forward and backward pass on the batch (x, y), without an update
    and with BN statistics untouched; NaN everywhere when probes are off."""
    stats = np.full((len(LAYER_QUANTITIES), len(run.layers)), np.nan)
    if run.probes is not None:
        with frozen_batchnorm_statistics(run.model):
            run.probes.begin_step()
            loss = F.cross_entropy(run.model(x), y)
            run.probes.end_forward()
            loss.backward()  # type: ignore[no-untyped-call]
            stats = run.probes.collect(updated=False).double().cpu().numpy()
        run.model.zero_grad(set_to_none=True)
    return unstack_quantities(stats)


def started_record(run: PreparedRun, x: torch.Tensor, y: torch.Tensor) -> RunStarted:
    """The :class:`RunStarted` of ``run``, with step-0 statistics measured on its first batch (x, y)."""
    q = step0_statistics(run, x, y)
    li = run.layers
    return RunStarted(
        label=run.config.label(),
        config=run.config.to_dict(),
        resolved=resolved_info(run),
        device=device_label(run.device),
        versions=package_versions(),
        layers=LayerInfoRecord(
            names=[l.name for l in li],
            kinds=[l.kind for l in li],
            roles=[l.role for l in li],
            stages=np.array([l.stage for l in li], dtype=np.int64),
            blocks=np.array([l.block for l in li], dtype=np.int64),
            fan_in=np.array([l.fan_in for l in li], dtype=np.int64),
            params=np.array([l.params for l in li], dtype=np.int64),
        ),
        params=run.params,
        total_steps=run.total_steps,
        act_mean_init=q["act_mean"],
        act_std_init=q["act_std"],
        out_grad_norm_init=q["out_grad_norm"],
        grad_norm_init=q["grad_norm"],
        theory_act_std_init=run.theory,
    )
