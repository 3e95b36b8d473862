"""Training steps taken but not yet reported: their numbers stay on the device until one transfer.

The engine appends every step (and the probe rows of probed steps) to :class:`PendingSteps` and
calls :meth:`PendingSteps.take` once per report, which copies them all to the host at once and
returns a :class:`~resnet_viz.metrics.records.TrainChunk`, cut at the first non-finite loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from resnet_viz.metrics.records import LAYER_QUANTITIES, LayerStats, TrainChunk
from resnet_viz.train.probes import unstack_quantities


@dataclass(frozen=True)
class TakenSteps:
    """What :meth:`PendingSteps.take` hands over."""

    chunk: TrainChunk  # the steps up to the first non-finite loss (all of them when finite)
    diverged_at: int | None  # step whose loss was NaN or inf, else None


class PendingSteps:
    """Per-step results since the last report, in step order; probe rows only for probed steps."""

    def __init__(self) -> None:
        self._rows: list[torch.Tensor] = []  # device float [2]: loss, batch error
        self._steps: list[int] = []
        self._lrs: list[float] = []
        self._times: list[float] = []  # host wall time of the step, s
        self._layer_rows: list[torch.Tensor] = []  # device float32 [len(LAYER_QUANTITIES), L]
        self._layer_steps: list[int] = []

    def __len__(self) -> int:
        return len(self._steps)

    def append(self, step: int, row: torch.Tensor, lr: float, time_s: float, layer_row: torch.Tensor | None) -> None:
        """Keep step ``step``: ``row`` [2] (loss, batch error) and, if probed, its ``layer_row`` [Q, L]."""
        self._rows.append(row)
        self._steps.append(step)
        self._lrs.append(lr)
        self._times.append(time_s)
        if layer_row is not None:
            self._layer_rows.append(layer_row)
            self._layer_steps.append(step)

    def add_wait(self, seconds: float) -> None:
        """Spread ``seconds`` (the wait for the device to finish the pending steps) evenly over their times."""
        if self._times and seconds > 0.0:
            share = seconds / len(self._times)
            self._times = [t + share for t in self._times]

    def take(self) -> TakenSteps | None:
        """Everything pending as one chunk (one device-to-host copy), leaving the buffer empty; None if empty."""
        if not self._rows:
            return None
        k = len(self._rows)
        parts = [torch.stack(self._rows).flatten()]
        if self._layer_rows:
            parts.append(torch.stack(self._layer_rows).flatten())
        host = torch.cat(parts).double().cpu().numpy()
        rows = host[: 2 * k].reshape(k, 2)
        steps = np.asarray(self._steps, dtype=np.int64)
        layer_steps = np.asarray(self._layer_steps, dtype=np.int64)
        layer_block = (
            host[2 * k :].reshape(len(self._layer_steps), len(LAYER_QUANTITIES), -1) if self._layer_rows else None
        )
        lrs = np.asarray(self._lrs, dtype=np.float64)
        times = np.asarray(self._times, dtype=np.float64)
        for pending in (self._rows, self._steps, self._lrs, self._times, self._layer_rows, self._layer_steps):
            pending.clear()

        diverged_at = None
        bad = np.flatnonzero(~np.isfinite(rows[:, 0]))
        if bad.size:
            cut = int(bad[0]) + 1
            diverged_at = int(steps[cut - 1])
            rows, steps, lrs, times = rows[:cut], steps[:cut], lrs[:cut], times[:cut]
            if layer_block is not None:
                keep = layer_steps <= diverged_at
                layer_block, layer_steps = layer_block[keep], layer_steps[keep]
        layers = None
        if layer_block is not None and layer_block.shape[0]:
            layers = LayerStats(**unstack_quantities(layer_block.astype(np.float32)))
        chunk = TrainChunk(
            step=steps,
            loss=rows[:, 0],
            batch_error=rows[:, 1],
            lr=lrs,
            step_time_s=times,
            layers=layers,
            layer_step=layer_steps if layers is not None else None,
        )
        return TakenSteps(chunk, diverged_at)
