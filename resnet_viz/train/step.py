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
    """Take training step ``step`` (1-based) on the batch (x, y), with the probes when due.

    With probes on, the layer statistics are taken every ``probe_every`` steps (steps 1, 1 + k, ...)
    and the histograms at every multiple of ``histogram_every``, probed or not (a histogram step off
    the probe grid arms only the histograms and adds no layer row).
    The forward pass and the loss run under the run's precision (autocast for bf16/fp16); with
    ``train.channels_last`` the batch is converted to that memory format first.
    """
    cfg = run.config.train
    probes = run.probes
    probed = probes is not None and (step - 1) % cfg.probe_every == 0
    hist = probes is not None and cfg.histogram_every > 0 and step % cfg.histogram_every == 0
    armed = probes if probed or hist else None
    lr = float(run.scheduler.get_last_lr()[0])
    if cfg.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    if armed is not None:
        armed.begin_step(histograms=hist, bins=cfg.histogram_bins, stats=probed)
    with run.precision.autocast():
        logits = run.model(x)
        loss = F.cross_entropy(logits, y)
    if armed is not None:
        armed.end_forward()
    run.optimizer.zero_grad(set_to_none=True)
    run.precision.backward(loss)
    grad_scale = run.precision.unscale(run.optimizer)
    if armed is not None and probed:
        armed.before_update(grad_scale)
    run.precision.step(run.optimizer)
    run.scheduler.step()
    with torch.no_grad():
        row = torch.stack((loss.detach().float(), (logits.argmax(1) != y).float().mean()))
    if armed is None:
        return StepResult(lr, row)
    return StepResult(lr, row, armed.collect() if probed else None, armed.histograms(step) if hist else [])
