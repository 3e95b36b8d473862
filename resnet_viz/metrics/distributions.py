"""Distributions over time from a run's histograms: percentile bands (TensorBoard's distributions), a
density image (steps x values) and the histogram of one layer at one step.

The engine records a :class:`~resnet_viz.metrics.records.HistogramRecord` per kind ("activation",
"gradient", "weight") at every histogram step: for every layer the edges (float64 [B+1], linspace of the
tensor's min and max) and the counts (int64 [B]); a layer without data has NaN edges and zero counts.
Values inside a bin are taken as spread uniformly over it, so the cumulative count is linear in a bin:
percentiles interpolate it, and re-binning onto other edges splits a bin's count by overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from resnet_viz.metrics.records import HistogramRecord

#: TensorBoard's distribution percentiles in basis points: min, -2σ… +2σ of a normal, max.
BASIS_POINTS: tuple[int, ...] = (0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000)
#: Bins of the common value axis of :func:`density`.
DENSITY_BINS = 100
#: Span of a log₁₀|x| value axis at most (decades below the largest |x|): a bin that straddles 0 holds
#: magnitudes down to 0, whose logarithms have no floor; magnitudes below the axis are left out.
LOG_DECADES = 6.0
#: A log₁₀|x| axis reaches this many decades below the narrowest bin (magnitudes smaller than a bin are not
#: resolved; spread uniformly in a bin that straddles 0, 2 decades below its width leave out ~2 % of its count).
LOG_BELOW_BIN = 2.0


@dataclass(frozen=True)
class HistogramSeries:
    """The histograms of one kind of a run, by step: T steps, L layers, B bins."""

    kind: str
    steps: np.ndarray  # int64 [T], increasing
    edges: np.ndarray  # float64 [T, L, B+1]; NaN rows: the layer had no data at that step
    counts: np.ndarray  # int64 [T, L, B]

    @property
    def n_layers(self) -> int:
        return int(self.edges.shape[1])


def histogram_series(histograms: Sequence[HistogramRecord], kind: str) -> HistogramSeries:
    """The records of ``kind`` stacked by increasing step (a later record of a step replaces an earlier
    one); T = 0 (edges [0, 0, 1], counts [0, 0, 0]) when there is none."""
    by_step = {int(h.step): h for h in histograms if h.kind == kind}
    if not by_step:
        return HistogramSeries(kind, np.empty(0, np.int64), np.empty((0, 0, 1)), np.empty((0, 0, 0), np.int64))
    records = [by_step[s] for s in sorted(by_step)]
    shapes = {h.counts.shape for h in records}
    if len(shapes) > 1:
        raise ValueError(f"histograms of kind {kind!r} have different shapes {sorted(shapes)}; expected one [L, B]")
    return HistogramSeries(
        kind,
        np.array(sorted(by_step), dtype=np.int64),
        np.stack([np.asarray(h.edges, dtype=np.float64) for h in records]),
        np.stack([np.asarray(h.counts, dtype=np.int64) for h in records]),
    )


def _layer(series: HistogramSeries, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(edges [T, B+1], counts [T, B]) of one layer (0-based); ValueError for a layer out of range."""
    if series.steps.size and not 0 <= layer < series.n_layers:
        raise ValueError(f"layer {layer} is out of range: the histograms have layers 0..{series.n_layers - 1}")
    if not series.steps.size:
        return np.empty((0, 1)), np.empty((0, 0), np.int64)
    return series.edges[:, layer], series.counts[:, layer]


def _has_data(edges: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """bool [T]: the row has finite edges and a positive total count."""
    ok: np.ndarray = np.isfinite(edges).all(axis=1) & (counts.sum(axis=1) > 0)
    return ok


def percentiles(series: HistogramSeries, layer: int, basis_points: Sequence[int] = BASIS_POINTS) -> np.ndarray:
    """Values at ``basis_points`` (1/100 of a percent: 0 = min, 5000 = median, 10000 = max) of layer
    ``layer``'s histogram at every step: float64 [T, P], NaN at steps without data.

    The cumulative count is interpolated linearly inside the bin where it reaches the target, so
    basis point 0 is the left edge of the first non-empty bin and 10000 the right edge of the last.
    """
    edges, counts = _layer(series, layer)
    fractions = np.asarray(basis_points, dtype=np.float64) / 10_000.0
    if np.any((fractions < 0) | (fractions > 1)):
        raise ValueError(f"basis_points {list(basis_points)} must lie in 0..10000")
    out = np.full((edges.shape[0], fractions.size), np.nan)
    ok = _has_data(edges, counts)
    if not ok.any():
        return out
    e, c = edges[ok], counts[ok].astype(np.float64)
    cum = np.cumsum(c, axis=1)
    rows = np.arange(e.shape[0])
    for p, fraction in enumerate(fractions):
        target = fraction * cum[:, -1]
        # the first non-empty bin whose cumulative count reaches the target (bins before it hold less)
        j = np.argmax((cum >= target[:, None]) & (c > 0), axis=1)
        before = cum[rows, j] - c[rows, j]
        inside = np.clip((target - before) / c[rows, j], 0.0, 1.0)
        out[ok, p] = e[rows, j] + inside * (e[rows, j + 1] - e[rows, j])
    return out


def _cdf(edges: np.ndarray, counts: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Count of values ≤ ``x`` [V] for one histogram (linear inside a bin, 0 left of it, total right)."""
    cum = np.concatenate([[0.0], np.cumsum(counts, dtype=np.float64)])
    return np.asarray(np.interp(x, edges, cum), dtype=np.float64)


def _abs_log_cdf(edges: np.ndarray, counts: np.ndarray, log_x: np.ndarray) -> np.ndarray:
    """Count of values with log₁₀|value| ≤ ``log_x`` [V]: F(y) - F(-y) at y = 10^log_x."""
    y = np.power(10.0, log_x)
    below: np.ndarray = _cdf(edges, counts, y) - _cdf(edges, counts, -y)
    return below


def _value_edges(edges: np.ndarray, n_bins: int, log: bool) -> np.ndarray:
    """Common edges [n_bins+1] spanning every step's histogram (``edges`` [T', B+1], rows with data)."""
    if log:
        magnitude = np.abs(edges)
        hi = float(np.log10(magnitude.max())) if magnitude.max() > 0 else 0.0
        positive = magnitude[magnitude > 0]
        lo = float(np.log10(positive.min())) if positive.size else hi - 1.0
        widths = np.diff(edges, axis=1)
        if (widths > 0).any():
            lo = min(lo, float(np.log10(widths[widths > 0].min())) - LOG_BELOW_BIN)
        lo = max(lo, hi - LOG_DECADES)
    else:
        lo, hi = float(edges[:, 0].min()), float(edges[:, -1].max())
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n_bins + 1)


def density(
    series: HistogramSeries, layer: int, n_bins: int = DENSITY_BINS, log: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layer ``layer``'s histograms re-binned onto common value edges, one row per step.

    Returns ``(steps int64 [T], value_edges float64 [V+1], density float64 [T, V])`` with V = ``n_bins``:
    the edges span every step's histogram (with ``log``: log₁₀|value|, from the largest magnitude down to
    :data:`LOG_BELOW_BIN` decades below the narrowest bin, at most :data:`LOG_DECADES`); a row holds the
    fraction of that step's values in each bin, NaN at steps without data. A row sums to 1, with ``log`` to
    1 less the share of smaller magnitudes (exact zeros, e.g. the gradients of dead units, have no log).
    """
    if n_bins < 1:
        raise ValueError(f"n_bins {n_bins} must be at least 1")
    edges, counts = _layer(series, layer)
    ok = _has_data(edges, counts)
    out = np.full((edges.shape[0], n_bins), np.nan)
    if not ok.any():
        return series.steps.copy(), np.linspace(0.0, 1.0, n_bins + 1), out
    value_edges = _value_edges(edges[ok], n_bins, log)
    for t in np.flatnonzero(ok):
        if log:
            cdf = _abs_log_cdf(edges[t], counts[t], value_edges)
        else:
            cdf = _cdf(edges[t], counts[t], value_edges)
        total = float(counts[t].sum())
        out[t] = np.diff(cdf) / total
    return series.steps.copy(), value_edges, out


def histogram_at(series: HistogramSeries, layer: int, step: int) -> tuple[int, np.ndarray, np.ndarray] | None:
    """``(recorded step, edges float64 [B+1], counts int64 [B])`` of layer ``layer`` at the latest
    recorded step ≤ ``step``; None when there is none or the layer had no data at it."""
    edges, counts = _layer(series, layer)
    t = int(np.searchsorted(series.steps, step, side="right")) - 1
    if t < 0 or not _has_data(edges[t : t + 1], counts[t : t + 1])[0]:
        return None
    return int(series.steps[t]), edges[t].copy(), counts[t].copy()


__all__ = [
    "BASIS_POINTS",
    "DENSITY_BINS",
    "LOG_BELOW_BIN",
    "LOG_DECADES",
    "HistogramSeries",
    "density",
    "histogram_at",
    "histogram_series",
    "percentiles",
]
