"""Peak decimation of a long, append-only series, cached per zoom level, and the curve item that draws it.

:class:`PeakBins` keeps the decimated prefix of a series at one bin size (``ds`` samples per bin, bins
aligned to sample 0): each bin becomes two points, its maximum at the x of its first sample and its
minimum at the x of its last (NaN when the bin holds one, so a break in the line stays a break), as
pyqtgraph's "peak" downsampling draws it (which puts both at one x; here the first and last x keep the
data's x extent exact). Extending it costs O(new samples). :class:`DecimatedCurve` hands pyqtgraph only
the bins of the zoom level that fits the view (1-2 bins per pixel) plus the raw samples of the last,
incomplete bin, clipped to the view and a view's width either side when the user zoomed in; the full
series stays its original dataset (CSV export, hover).
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from resnet_viz.gui.plots.stepped_bounds import SteppedBounds
from resnet_viz.metrics.store import GrowingArray

#: Peak-decimation bins per screen pixel, at least (1-2 with power-of-two levels; pyqtgraph's default is 5).
#: Each bin draws its min and max, so one bin per pixel column already shows the full envelope; fewer
#: vertices paint faster (a dense zigzag is what costs in software rasterisation).
BINS_PER_PIXEL = 1.0


def peak_decimate(x: np.ndarray, y: np.ndarray, ds: int) -> tuple[np.ndarray, np.ndarray]:
    """Complete bins of ``ds`` samples of ``x`` [N], ``y`` [N]: x [2B] (each bin's first and last x), y [2B]
    (each bin's max then min; NaN if the bin has a NaN), B = N // ds."""
    n = (len(x) // ds) * ds
    if n == 0:
        return np.empty(0), np.empty(0)
    bx = np.empty(2 * (n // ds))
    bx[0::2] = x[:n:ds]
    bx[1::2] = x[ds - 1 : n : ds]
    by = np.empty(2 * (n // ds))
    body = np.asarray(y[:n], dtype=np.float64).reshape(-1, ds)
    by[0::2] = body.max(axis=1)
    by[1::2] = body.min(axis=1)
    return bx, by


class PeakBins:
    """The complete peak bins of an append-only series at ``ds`` samples per bin (see :func:`peak_decimate`)."""

    def __init__(self, ds: int) -> None:
        self.ds = int(ds)
        self.x = GrowingArray()  # [2B]
        self.y = GrowingArray()  # [2B]

    @property
    def samples(self) -> int:
        """Samples covered by complete bins."""
        return len(self.x) // 2 * self.ds

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add the bins completed by the samples of ``x``, ``y`` (the whole series so far) not binned yet."""
        start = self.samples
        bx, by = peak_decimate(x[start:], y[start:], self.ds)
        self.x.extend(bx)
        self.y.extend(by)


def level_for(samples_in_view: float, pixels: float) -> int:
    """Samples per bin for a view showing ``samples_in_view`` samples on ``pixels`` pixels: the largest
    power of two that leaves at least :data:`BINS_PER_PIXEL` bins per pixel (1: no decimation)."""
    per_bin = samples_in_view / (max(pixels, 1.0) * BINS_PER_PIXEL)
    return 1 << int(math.floor(math.log2(per_bin))) if per_bin >= 2 else 1


class DecimatedCurve(SteppedBounds):
    """A PlotDataItem for a long append-only series (x increasing): draws the peak-decimated bins of the
    view's zoom level, cached per level; set the series with :meth:`set_series`, not ``setData``.

    pyqtgraph's own downsampling and clipping are off for this item (it does both, without per-sample work
    for the history on each new chunk); :meth:`getOriginalDataset` returns the full series.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.full_x: np.ndarray = np.empty(0)
        self.full_y: np.ndarray = np.empty(0)
        self.levels: dict[int, PeakBins] = {}
        self._window: tuple[int, int, int] | None = None  # (ds, first, stop) samples last drawn

    def fast_mode(self) -> None:
        """Turn off pyqtgraph's per-item downsampling, clipping and range limiting (PlotItem.addItem sets
        them from the plot; call after adding)."""
        self.setDownsampling(auto=False)
        self.setClipToView(False)
        self.setDynamicRangeLimit(None)

    def set_series(self, x: np.ndarray, y: np.ndarray, *, reset: bool = False, **kwargs) -> None:
        """The full series x [N], y [N] (float; the old one extended, or a new one with ``reset``);
        ``kwargs`` go to ``setData`` (e.g. ``name``)."""
        if reset:
            self.levels.clear()
        self.full_x, self.full_y = x, y
        self._show(self._view_window(), **kwargs)

    def getOriginalDataset(self):
        if len(self.full_x) == 0:
            return super().getOriginalDataset()
        return self.full_x, self.full_y

    def viewRangeChanged(self, vb=None, ranges=None, changed=None) -> None:
        super().viewRangeChanged(vb, ranges, changed)
        if changed is None or changed[0]:
            window = self._view_window()
            if not self._still_covers(window):
                self._show(window)

    def display_data(self, ds: int, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Bins of level ``ds`` covering samples [first, stop), then the raw samples after the last
        complete bin (all raw for ``ds`` 1)."""
        x, y = self.full_x, self.full_y
        if ds == 1:
            return x[first:stop], y[first:stop]
        bins = self.levels.get(ds)
        if bins is None:
            bins = self.levels[ds] = PeakBins(ds)
        bins.extend(x, y)
        b0, b1 = first // ds, min(stop, bins.samples) // ds
        tail = max(first, bins.samples)
        return (
            np.concatenate([bins.x.values[2 * b0 : 2 * b1], x[tail:stop]]),
            np.concatenate([bins.y.values[2 * b0 : 2 * b1], y[tail:stop]]),
        )

    def _view_window(self) -> tuple[int, int, int]:
        """(samples per bin, first sample, stop) for the view: every sample while x auto-ranges, else the
        view's x range and a view's width either side, aligned to whole bins."""
        x, n = self.full_x, len(self.full_x)
        vb = self.getViewBox()
        if vb is None or n < 2:
            return 1, 0, n
        left, right = self._view_x(vb)
        spacing = float(x[-1] - x[0]) / (n - 1) or 1.0
        ds = level_for(min((right - left) / spacing, n), vb.width())
        if vb.autoRangeEnabled()[0]:
            return ds, 0, n
        span = right - left
        first = bisect.bisect_left(x, left - span) // ds * ds
        stop = min(n, -(-bisect.bisect_right(x, right + span) // ds) * ds)
        return ds, first, stop

    def _still_covers(self, window: tuple[int, int, int]) -> bool:
        """Whether the window drawn last still serves the view (same level; while zoomed in, the samples in
        view are inside it: the margin lets a pan go on without new data for a view's width)."""
        old, n = self._window, len(self.full_x)
        vb = self.getViewBox()
        if old is None or old[0] != window[0] or vb is None:
            return False
        if window[1:] == (0, n):
            return old == window
        left, right = self._view_x(vb)
        x = self.full_x
        return (old[1] == 0 or x[old[1]] <= left) and (old[2] >= n or x[old[2] - 1] >= right)

    def _view_x(self, vb) -> tuple[float, float]:
        """The view's x range in data units (a log x axis, from the plot's menu, has log10 view coordinates)."""
        left, right = vb.viewRange()[0]
        return (10.0**left, 10.0**right) if self.opts["logMode"][0] else (left, right)

    def _show(self, window: tuple[int, int, int], **kwargs) -> None:
        self._window = window
        x, y = self.display_data(*window)
        self.setData(x, y, **kwargs)
