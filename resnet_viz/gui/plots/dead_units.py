"""Dead units against depth: per layer, the fraction of the units of the ReLU after it that never fired on
a step's batch (``RunStore.layer("dead_fraction")``), averaged over the last probed steps, on a linear axis
from 0 to 1. A run whose units die at a high learning rate shows it here layer by layer. Layers followed by
no ReLU (the head, shortcut projections, tanh/sigmoid nets) have no value and are skipped.
"""

from __future__ import annotations

import numpy as np

from resnet_viz.gui.plots.depth import DepthProfilePlot
from resnet_viz.metrics.store import RunStore


def recent_rows_with_values(values: np.ndarray, window: int) -> np.ndarray:
    """Indices (ascending) of the last ``window`` rows of ``values`` [K, L] with a finite entry (the head
    has none here, so the depth panels' "head is finite" rule does not apply)."""
    window = max(1, int(window))
    start = max(0, values.shape[0] - 4 * window)
    ok = np.flatnonzero(np.isfinite(values[start:]).any(axis=1)) + start
    if ok.size < window and start > 0:  # sparse finite rows: look at all of them
        ok = np.flatnonzero(np.isfinite(values).any(axis=1))
    return ok[-window:].astype(np.int64)


class DeadUnitsDepthPlot(DepthProfilePlot):
    """Fraction of dead ReLU units (never active on the batch) of every layer vs depth, every visible run."""

    key = "dead_units"
    title = "Dead units vs depth"
    quantity = "dead_fraction"
    y_label = "dead units (fraction)"
    log_y = False
    y_range = (0.0, 1.0)
    skip_nan = True

    def now_profile(self, store: RunStore) -> tuple[np.ndarray, np.ndarray]:
        """``(mean over the last window rows with values [L] float64 (NaN: no ReLU after the layer), their steps)``."""
        values = store.layer(self.quantity)
        rows = recent_rows_with_values(values, self.now_window)
        n_layers = values.shape[1]
        if rows.size == 0:
            return np.full(n_layers, np.nan), np.empty(0, np.int64)
        sel = np.asarray(values[rows], dtype=np.float64)
        finite = np.isfinite(sel)
        count = finite.sum(axis=0)
        mean = np.full(n_layers, np.nan)
        np.divide(np.where(finite, sel, 0.0).sum(axis=0), count, out=mean, where=count > 0)
        return mean, store.layer_step[rows]


__all__ = ["DeadUnitsDepthPlot", "recent_rows_with_values"]
