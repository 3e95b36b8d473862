"""What a depth panel draws for a run: the mean over the last usable recorded rows of a per-layer
quantity ("now"), the steps those rows come from, and one curve of it (:class:`Series`).

A row counts as usable when it has no ±inf and its last layer (the head, which runs at every step) is
finite; NaN elsewhere in a usable row marks a layer that did not run (stochastic depth) and is left
out of that layer's mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_viz.runs.status import RunStatus

DEFAULT_WINDOW = 10  # rows averaged for "now"
MAX_WINDOW = 100_000


def recent_rows(values: np.ndarray, window: int) -> np.ndarray:
    """Indices (ascending, int64) of the last ``window`` usable rows of ``values`` [K, L].

    A row is usable when it has no ±inf and its last entry (the head layer, which runs at every
    step) is finite. Scans back from the end in growing blocks, so a live run costs O(window),
    not O(K).
    """
    window = max(1, int(window))
    k = values.shape[0]
    found: list[np.ndarray] = []
    n_found = 0
    end, block = k, max(4 * window, 64)
    while end > 0 and n_found < window:
        start = max(0, end - block)
        chunk = values[start:end]
        ok = np.isfinite(chunk[:, -1]) & ~np.isinf(chunk).any(axis=1)
        idx = np.flatnonzero(ok)[-(window - n_found) :] + start
        found.insert(0, idx)
        n_found += idx.size
        end, block = start, block * 2
    return np.concatenate(found).astype(np.int64) if found else np.empty(0, np.int64)


def recent_mean(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the last ``window`` usable rows (see :func:`recent_rows`) of ``values`` [K, L].

    Returns ``(mean [L] float64, row indices used)``; a layer with no finite value in those rows
    (or no usable row at all) gets NaN.
    """
    rows = recent_rows(values, window)
    n_layers = values.shape[1]
    if rows.size == 0:
        return np.full(n_layers, np.nan), rows
    sel = np.asarray(values[rows], dtype=np.float64)
    finite = np.isfinite(sel)
    count = finite.sum(axis=0)
    total = np.where(finite, sel, 0.0).sum(axis=0)
    mean = np.full(n_layers, np.nan)
    np.divide(total, count, out=mean, where=count > 0)
    return mean, rows


def draws_markers(status: str) -> bool:
    """Whether a run's "now" curve carries a marker per layer: not while the run trains (preparing,
    running), where re-setting its 56-110 symbols on every redraw was ~40 % of a panel's refresh and
    painting them as much again; a paused or ended run has them."""
    return status.partition(" ")[0] not in _TRAINING  # cheaper than RunStatus.of: called per run per redraw


_TRAINING = (RunStatus.PREPARING.value, RunStatus.RUNNING.value)


def format_steps(steps: np.ndarray) -> str:
    """``[1200] -> 'step 1,200'``, ``[1191..1200] -> 'steps 1,191–1,200'``, ``[] -> 'no step'``."""
    if steps.size == 0:
        return "no step"
    if steps.size == 1 or steps[0] == steps[-1]:
        return f"step {int(steps[-1]):,}"
    return f"steps {int(steps[0]):,}–{int(steps[-1]):,}"


@dataclass
class Series:
    """One curve of a run. ``y`` [L] holds real (not log) values, NaN where there is none.

    ``suffix`` identifies the curve within its run ("" for the main "now" curve); ``when`` says
    what the values are (e.g. "mean of steps 1,191–1,200", "at init, step 0"): the hover readout
    shows it and the curve's name (the CSV column) ends with it.
    """

    suffix: str
    y: np.ndarray
    when: str
    style: dict[str, Any]
