"""One 2D loss landscape on a PlotItem: filled contours of log₁₀ loss (banded image) with iso-lines, the
centre θ* (★), and for a PCA slice the training path with a dot per snapshot and a few step labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from resnet_viz.gui.landscape.levels import band_colormap, band_edges, log_loss, refine
from resnet_viz.gui.plots.base import style_plot

if TYPE_CHECKING:
    from resnet_viz.landscape.result import LandscapeResult

PATH_COLOUR = "#C0392B"  # a strong red: stands out on the lightened viridis
STEP_LABELS = 5  # steps named beside the path (first and last included)


def axis_labels(result: LandscapeResult) -> tuple[str, str]:
    """The axes' names: ``α (PC1, 61.2 %)`` for a PCA slice, ``α (direction 1)`` for random directions,
    ``α (0 = initial, 1 = final weights)`` for the interpolation."""
    kind = result.spec.directions
    if kind == "interpolate":
        return "α (0 = initial, 1 = final weights)", "β"
    ev = result.explained_variance
    if kind == "pca" and ev is not None and len(ev) >= 2:
        return f"α (PC1, {100 * float(ev[0]):.1f} %)", f"β (PC2, {100 * float(ev[1]):.1f} %)"
    return "α (direction 1)", "β (direction 2)"


def path_points(result: LandscapeResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training path (alpha, beta, steps); empty arrays when the result has none."""
    if result.path_alpha is None or result.path_beta is None or len(result.path_alpha) == 0:
        empty = np.zeros(0)
        return empty, empty, empty.astype(np.int64)
    steps = result.path_steps if result.path_steps is not None else np.arange(len(result.path_alpha))
    return np.asarray(result.path_alpha, float), np.asarray(result.path_beta, float), np.asarray(steps)


def label_indices(a: np.ndarray, b: np.ndarray, count: int = STEP_LABELS, min_gap: float = 0.07) -> list[int]:
    """Indices of the snapshots named on the path: ``count`` spread evenly along its length (the first and
    the last included), leaving out one closer than ``min_gap`` of the path's extent to a named one (the
    path slows down near its end and the labels would pile up there)."""
    n = len(a)
    if n == 0:
        return []
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(a), np.diff(b)))])
    if arc[-1] <= 0:
        return [0]
    wanted = [int(np.argmin(np.abs(arc - t))) for t in np.linspace(0.0, arc[-1], min(count, n))]
    extent = max(float(np.ptp(a)), float(np.ptp(b)), 1e-12)
    chosen: list[int] = []
    for i in [0, n - 1] + wanted[1:-1]:
        if all(np.hypot(a[i] - a[j], b[i] - b[j]) >= min_gap * extent for j in chosen) and i not in chosen:
            chosen.append(i)
    return sorted(chosen)


def tick_step(span: float, target: int = 5) -> float:
    """A 1, 2 or 5 × 10ᵏ step giving about ``target`` ticks over ``span``."""
    raw = max(span, 1e-12) / target
    k = 10.0 ** np.floor(np.log10(raw))
    return float(min((m * k for m in (1, 2, 5, 10)), key=lambda s: abs(np.log(s / raw))))


class LandscapePlot:
    """The items of one landscape on ``plot``; :meth:`show` draws a result with a given colour range
    (log₁₀ loss), :meth:`show_path` the path up to a snapshot (the GIF's frames)."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        style_plot(plot, title="landscape", x_label="α", y_label="β")
        plot.showGrid(x=False, y=False)
        plot.setAspectLocked(True)
        plot.setMenuEnabled(False)
        plot.setClipToView(False)
        plot.setDownsampling(auto=False)
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setZValue(-20)
        plot.addItem(self.image)
        self.isocurves: list[pg.IsocurveItem] = []
        self.path = pg.PlotDataItem(pen=pg.mkPen(PATH_COLOUR, width=2.5))
        self.dots = pg.ScatterPlotItem(size=6, pen=pg.mkPen("w", width=1), brush=PATH_COLOUR)
        self.start = pg.ScatterPlotItem(symbol="o", size=13, pen=pg.mkPen(PATH_COLOUR, width=2.5), brush="w")
        self.centre = pg.ScatterPlotItem(symbol="star", size=18, pen=pg.mkPen("k", width=1), brush="w")
        for item, z in ((self.path, 10), (self.dots, 11), (self.start, 12), (self.centre, 13)):
            item.setZValue(z)
            plot.addItem(item)
        self.labels: list[tuple[int, pg.TextItem]] = []  # (snapshot index, its label)
        self.result: LandscapeResult | None = None
        self.levels: tuple[float, float] = (0.0, 1.0)

    def show(self, result: LandscapeResult, levels: tuple[float, float]) -> None:
        """Draw ``result`` (2D) with colours spanning ``levels`` (log₁₀ loss) and the whole path."""
        assert result.beta is not None, "a 2D result has beta"
        self.result, self.levels = result, levels
        lo, hi = levels
        xs, ys, z = refine(result.alpha, result.beta, log_loss(result.loss))
        values = z.T  # col-major: values[i_x, i_y]
        lut = band_colormap().getLookupTable(nPts=256, alpha=False)
        self.image.setImage(values, levels=(lo, hi), lut=lut, autoLevels=False)
        dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1)
        dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1)
        self.image.setRect(QtCore.QRectF(xs[0] - dx / 2, ys[0] - dy / 2, xs[-1] - xs[0] + dx, ys[-1] - ys[0] + dy))
        self._draw_isocurves(np.where(np.isfinite(values), values, hi + 1), lo, hi)
        x_label, y_label = axis_labels(result)
        self.plot.setLabel("bottom", x_label)
        self.plot.setLabel("left", y_label)
        self.centre.setData(pos=np.array([[0.0, 0.0]]))
        span_x, span_y = xs[-1] - xs[0], ys[-1] - ys[0]
        # 1:1 (distances true) unless one axis spans over 3x the other, as a PCA plane whose second
        # component explains little does: then each axis fills the plot and has its own ticks
        square = max(span_x, span_y) <= 3 * min(span_x, span_y)
        self.plot.setAspectLocked(square)
        self.plot.setRange(xRange=(xs[0], xs[-1]), yRange=(ys[0], ys[-1]), padding=0.02)
        common = tick_step(max(span_x, span_y), target=6)
        steps = (common, common) if square else (tick_step(span_x, target=6), tick_step(span_y, target=6))
        for name, step in zip(("bottom", "left"), steps, strict=True):
            axis = self.plot.getAxis(name)
            axis.setSIPrefixEnableRanges(())  # 0.005, not 5 and "(x0.001)" (enableAutoSIPrefix(False) still scales)
            axis.setTickSpacing(step, step / 5)
            axis.setStyle(maxTextLevel=0)  # numbers on the major ticks only
        decimals = max(0, -int(np.floor(np.log10(steps[1]))))
        longest = max(len(f"{v:.{decimals}f}") for v in (ys[0], ys[-1]))
        self.plot.getAxis("left").setWidth(30 + 7 * longest)  # the numbers and the label never overlap
        self.plot.getAxis("bottom").setStyle(hideOverlappingLabels=False)  # "-1.0" at the very left end too
        self._make_labels()
        self.show_path()

    def _draw_isocurves(self, data: np.ndarray, lo: float, hi: float) -> None:
        for iso in self.isocurves:
            iso.setParentItem(None)
            if iso.scene() is not None:
                iso.scene().removeItem(iso)
        self.isocurves = []
        for level in band_edges(lo, hi):
            pen = pg.mkPen(40, 40, 50, 120, width=1)
            iso = pg.IsocurveItem(data=data, level=float(level), pen=pen, axisOrder="col-major")
            iso.setParentItem(self.image)
            self.isocurves.append(iso)

    def _make_labels(self) -> None:
        """The step labels of the path (made once per result; :meth:`show_path` shows those reached)."""
        for _i, label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        if self.result is None:
            return
        a, b, steps = path_points(self.result)
        for i in label_indices(a, b):
            last = i == len(a) - 1
            name = f"step {int(steps[i])}" if i in (0, len(a) - 1) else f"{int(steps[i])}"
            text = pg.TextItem(name, color=PATH_COLOUR, fill=(255, 255, 255, 170))
            text.setAnchor((-0.12, -0.1) if last else (-0.12, 1.1))  # the last below the ★, the others above
            text.setPos(float(a[i]), float(b[i]))
            text.setZValue(14)
            self.plot.addItem(text, ignoreBounds=True)
            self.labels.append((i, text))

    def show_path(self, upto: int | None = None) -> None:
        """Draw the training path through snapshot index ``upto`` (default: all of it), with its step labels."""
        if self.result is None:
            return
        a, b, steps = path_points(self.result)
        n = len(a) if upto is None else max(0, min(upto + 1, len(a)))
        self.path.setData(a[:n], b[:n])
        self.dots.setData(a[:n], b[:n])
        if n:
            self.start.setData(a[:1], b[:1])
        else:
            self.start.clear()
        for i, label in self.labels:
            label.setVisible(i < n)
        title = self.result.label
        if upto is not None and n:
            title += f" &nbsp;·&nbsp; step {int(steps[n - 1])}"
        self.plot.setTitle(title, size="11pt")
