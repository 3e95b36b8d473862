"""The sharpness probe (``train.sharpness_every``): the top eigenvalue of the training loss's Hessian every
K steps, optionally its trace, on a fixed batch of training images (science.md §8, PyHessian).

The loss is the mean cross-entropy in eval mode (BatchNorm's running statistics, no augmentation, float32
without autocast) on the first :data:`SHARPNESS_SAMPLES` images of the run's fixed training sample, the
same batch at every probe. The model is put back in train mode afterwards; its gradients and buffers are
untouched (Hessian-vector products use ``torch.autograd.grad``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.data import DeviceDataset
from resnet_viz.metrics.records import SharpnessRecord
from resnet_viz.train.hessian import hutchinson_trace, top_hessian_eigenvalue

#: Training images of the probe's fixed batch (fewer when the training sample is smaller).
SHARPNESS_SAMPLES = 256
#: Power iterations at most, and the relative change that stops them (a probe, not a reference value).
SHARPNESS_ITERS = 20
SHARPNESS_TOL = 1e-3
#: Rademacher vectors of the trace estimate (``train.sharpness_trace``).
TRACE_SAMPLES = 20


class SharpnessProbe:
    """Measures :class:`SharpnessRecord` of a model on a fixed batch; ``due(step)`` says when.

    ``every``: K (steps 0, K, 2K, ...); ``trace``: also Hutchinson's trace; ``seed`` seeds the CPU
    generator of the random start vectors (one generator for the run, so runs repeat exactly)."""

    def __init__(self, data: DeviceDataset, every: int, trace: bool, seed: int) -> None:
        if every < 1:
            raise ValueError(f"every must be ≥ 1, not {every}")
        self.every = every
        self.trace = trace
        self.x, self.y = next(iter(data.eval_batches("train_sample", SHARPNESS_SAMPLES)))
        self.generator = torch.Generator().manual_seed(seed)

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def measure(self, model: nn.Module, step: int) -> SharpnessRecord:
        """The record of ``model`` after step ``step`` (eval mode during the measurement, train mode after)."""
        params: list[torch.Tensor] = [p for p in model.parameters() if p.requires_grad]
        x, y = self.x, self.y

        def loss() -> torch.Tensor:
            return F.cross_entropy(model(x).float(), y)

        was_training = model.training
        model.eval()
        try:
            top, iterations = top_hessian_eigenvalue(
                loss, params, iters=SHARPNESS_ITERS, tol=SHARPNESS_TOL, generator=self.generator
            )
            trace = (
                hutchinson_trace(loss, params, samples=TRACE_SAMPLES, generator=self.generator)
                if self.trace
                else math.nan
            )
        finally:
            model.train(was_training)
        return SharpnessRecord(
            step=step, top_eigenvalue=top, trace=trace, iterations=iterations, samples=int(y.shape[0])
        )


__all__ = ["SHARPNESS_ITERS", "SHARPNESS_SAMPLES", "SHARPNESS_TOL", "TRACE_SAMPLES", "SharpnessProbe"]
