"""One training step: forward, loss, backward, optimiser and schedule step, with the probes when due."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from resnet_viz.metrics.records import HistogramRecord
from resnet_viz.train.prepared import PreparedRun


@dataclass(frozen=True)
class StepResult:
    """What one step leaves behind; tensors stay on the device."""

    lr: float  # learning rate the step used
    row: torch.Tensor  # float [2]: mini-batch loss, mini-batch error
    layer_row: torch.Tensor | None = None  # float32 [len(LAYER_QUANTITIES), L] when the step was probed
    histograms: list[HistogramRecord] = field(default_factory=list)  # when histograms were due


def train_step(run: PreparedRun, x: torch.Tensor, y: torch.Tensor, step: int) -> StepResult:
    """Take training step ``step`` (1-based) on the batch (x, y); probes every ``probe_every`` steps.

    The forward pass and the loss run under the run's precision (autocast for bf16/fp16); with
    ``train.channels_last`` the batch is converted to that memory format first.
    """
    cfg = run.config.train
    probes = run.probes if (step - 1) % cfg.probe_every == 0 else None
    hist = probes is not None and cfg.histogram_every > 0 and step % cfg.histogram_every == 0
    lr = float(run.scheduler.get_last_lr()[0])
    if cfg.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    if probes is not None:
        probes.begin_step(histograms=hist, bins=cfg.histogram_bins)
    with run.precision.autocast():
        logits = run.model(x)
        loss = F.cross_entropy(logits, y)
    if probes is not None:
        probes.end_forward()
    run.optimizer.zero_grad(set_to_none=True)
    run.precision.backward(loss)
    grad_scale = run.precision.unscale(run.optimizer)
    if probes is not None:
        probes.before_update(grad_scale)
    run.precision.step(run.optimizer)
    run.scheduler.step()
    with torch.no_grad():
        row = torch.stack((loss.detach().float(), (logits.argmax(1) != y).float().mean()))
    if probes is None:
        return StepResult(lr, row)
    return StepResult(lr, row, probes.collect(), probes.histograms(step) if hist else [])
