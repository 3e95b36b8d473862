"""The pyqtgraph items of the training/test curves: a run's items (:class:`RunCurves`: a decimated thin
curve, the bold test curve and the divergence mark, whose auto-range ignores values over a cap), the
legend's sample and a CSV exporter limited to chosen curves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import CSVExporter
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
from PySide6 import QtCore, QtGui

from resnet_viz.gui.plots.base import finite_or_nan, positive_or_nan
from resnet_viz.gui.plots.decimation import DecimatedCurve
from resnet_viz.gui.plots.running_mean import RunningMean
from resnet_viz.gui.plots.stepped_bounds import SteppedBounds
from resnet_viz.metrics.records import EvalRecord
from resnet_viz.metrics.store import RunStore

THIN_WIDTH = 1
BOLD_WIDTH = 3
SYMBOL_SIZE = 6
#: A bold test curve carries its evaluation dots only while at most this many of its points lie in the
#: x view; more dots merge into the line anyway (the usual rule of plotting tools), and each is set and
#: painted on every redraw (a 100k-step run evaluated every 100 steps: 1,000 dots per run).
MAX_DOTS = 150


class LegendSample(pg.ItemSample):
    """Legend sample: the item's line with its symbol centred on it, drawn from the item's style even
    before it has data; a click does not toggle the item (the run list owns visibility)."""

    def paint(self, p: QtGui.QPainter, *args) -> None:
        opts = self.item.opts
        if opts.get("pen") is not None:
            p.setPen(pg.mkPen(opts["pen"]))
            p.drawLine(QtCore.QPointF(1, 10), QtCore.QPointF(19, 10))
        if opts.get("symbol") is not None:
            p.translate(10, 10)
            drawSymbol(
                p, opts["symbol"], opts["symbolSize"], pg.mkPen(opts["symbolPen"]), pg.mkBrush(opts["symbolBrush"])
            )

    def mouseClickEvent(self, event) -> None:
        event.accept()


class CurveCSVExporter(CSVExporter):
    """CSVExporter restricted to the given curves (visible runs' data; no markers)."""

    def __init__(self, item: pg.PlotItem, curves: Sequence[pg.PlotDataItem]) -> None:
        super().__init__(item)
        self._curves = list(curves)

    def _exportPlotDataItem(self, plotDataItem) -> None:
        if any(plotDataItem is c for c in self._curves):
            super()._exportPlotDataItem(plotDataItem)


@dataclass(eq=False)
class RunCurves:
    """The items of one run in a :class:`TrainTestPlot` and what they were last drawn from."""

    train: DecimatedCurve  # thin: running mean of the per-step training metric
    test: SteppedBounds  # bold: test metric at evaluation steps
    marker: SteppedBounds  # "x" where a diverged run stopped (at most ``autorange_max`` high)
    marker_text: pg.TextItem  # "diverged"
    mean: RunningMean
    store: RunStore
    name: str = ""
    color: str = ""
    visible: bool | None = None
    version: int | None = None
    n_evals: int = -1
    diverged: bool = False
    eval_x: np.ndarray = field(default_factory=lambda: np.empty(0))
    eval_y: np.ndarray = field(default_factory=lambda: np.empty(0))
    label: str = ""  # config label for the readout

    def items(self) -> tuple[pg.GraphicsObject, ...]:
        return self.train, self.test, self.marker, self.marker_text

    @classmethod
    def add_to(cls, plot: pg.PlotItem, store: RunStore, mean: RunningMean, y_cap: float | None) -> RunCurves:
        """New, empty items for a run in ``plot`` (marker hidden); auto-range ignores values over ``y_cap``."""
        train, test = DecimatedCurve(), SteppedBounds()
        marker = SteppedBounds(pen=None, symbol="x", symbolSize=11)
        for item in (train, test, marker):
            item.y_cap = y_cap
        text = pg.TextItem("diverged", anchor=(-0.12, 1.0), fill=pg.mkBrush(255, 255, 255, 225))
        font = QtGui.QFont(text.textItem.font())
        font.setPointSize(8)
        text.setFont(font)
        for item in (train, test, marker):
            plot.addItem(item)
        train.fast_mode()  # decimates and clips itself
        for item in (test, marker):
            # few points: no clipping/downsampling, so a view change does not rebuild their symbols (~0.6 ms
            # per curve); no range limiting (log axes, finite values), which re-sets the data on a y change
            item.setDownsampling(auto=False)
            item.setClipToView(False)
            item.setDynamicRangeLimit(None)
        plot.addItem(text, ignoreBounds=True)
        marker.setVisible(False)
        text.setVisible(False)
        return cls(train=train, test=test, marker=marker, marker_text=text, mean=mean, store=store)

    def set_stepped(self, stepped: bool) -> None:
        """Auto-range in steps (the run grows) or to the exact data."""
        for item in (self.train, self.test, self.marker):
            item.set_stepped(stepped)

    def set_colour(self, color: str) -> None:
        """Draw the run in ``color`` (hex): thin training line, bold test line with dots (when few, see
        :meth:`show_dots`), the divergence mark."""
        self.color = color
        qcolor = pg.mkColor(color)
        self.train.setPen(pg.mkPen(qcolor, width=THIN_WIDTH))
        self.test.setPen(pg.mkPen(qcolor, width=BOLD_WIDTH))
        self.test.setSymbolSize(SYMBOL_SIZE)
        self.test.setSymbolPen(None)
        self.test.setSymbolBrush(qcolor)
        self.marker.setSymbolPen(pg.mkPen(qcolor, width=2))
        self.marker.setSymbolBrush(qcolor)
        self.marker_text.setColor(qcolor)

    def show_dots(self, x_range: Sequence[float], log_x: bool) -> None:
        """Dots on the bold curve while at most :data:`MAX_DOTS` of its points lie in ``x_range`` (view
        coordinates: log10 of the step on a log x axis), else the line alone; the style changes only on a switch."""
        lo, hi = (10.0 ** x_range[0], 10.0 ** x_range[1]) if log_x else (x_range[0], x_range[1])
        shown = int(np.searchsorted(self.eval_x, hi, "right") - np.searchsorted(self.eval_x, lo, "left"))
        symbol = "o" if shown <= MAX_DOTS else None
        if self.test.opts["symbol"] != symbol:
            self.test.setSymbol(symbol)


def eval_series(evals: Sequence[EvalRecord], field: str, scale: float, log_y: bool) -> tuple[np.ndarray, np.ndarray]:
    """Evaluation steps [E] (float64) and the ``field`` of each × ``scale`` [E] (NaN where not drawable:
    not finite, or ≤ 0 on a log axis)."""
    x = np.array([e.step for e in evals], dtype=np.float64)
    y = np.array([getattr(e, field) for e in evals], dtype=np.float64) * scale
    return x, (positive_or_nan(y) if log_y else finite_or_nan(y))


def name_if_new(item: pg.PlotDataItem, name: str) -> dict[str, str]:
    """``{"name": name}`` when it differs from the item's (a name in setData forces a style update)."""
    return {} if item.name() == name else {"name": name}
