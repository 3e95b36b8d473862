"""LandscapeFigure: one landscape, or two side by side on one colour scale, as one pyqtgraph layout (so
PNG/SVG export and the GIF's frames get all of it: caption, plots, colour bar).

2D results: a plot per result (:class:`~.plot2d.LandscapePlot`) and one colour bar of log-scaled loss for
all of them. 1D results: per result the loss over the error against α (:class:`~.plot1d.InterpolationPlots`),
the loss axes on one range.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from resnet_viz.gui.landscape.levels import band_colormap, log_ticks, shared_range
from resnet_viz.gui.landscape.plot1d import InterpolationPlots, full_range
from resnet_viz.gui.landscape.plot2d import LandscapePlot, path_points

if TYPE_CHECKING:
    from resnet_viz.landscape.result import LandscapeResult


def caption_text(results: Sequence[LandscapeResult]) -> str:
    """``<b>Loss landscape</b> · PCA of the training path · 21×21 on [−1, 1]² · 1000 training images`` (rich
    text; the runs' names are the plots' titles)."""
    if not results:
        return "No landscape yet: choose a network and a slice on the left and press Compute, or Open… a saved one"
    spec = results[0].spec
    kind = {"pca": "PCA of the training path", "random": "filter-normalised random directions"}.get(
        spec.directions, "interpolation from the initial to the final weights"
    )
    r = results[0]
    n, lo, hi = len(r.alpha), float(r.alpha[0]), float(r.alpha[-1])
    if r.beta is None:
        grid = f"{n} points on [{lo:g}, {hi:g}]"
    else:
        b0, b1 = float(r.beta[0]), float(r.beta[-1])
        square = abs(b0 - lo) < 1e-9 and abs(b1 - hi) < 1e-9
        span = f"[{lo:g}, {hi:g}]²" if square else f"[{lo:.3g}, {hi:.3g}] × [{b0:.3g}, {b1:.3g}]"
        grid = f"{n}×{len(r.beta)} on {span}"
    return (
        f"<b>Loss landscape</b> &nbsp;·&nbsp; {kind} &nbsp;·&nbsp; {grid} &nbsp;·&nbsp; {spec.samples} training images"
    )


class LandscapeFigure(QtWidgets.QWidget):
    """The drawing of one or two landscape results (:meth:`set_results`)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumSize(480, 320)
        self.readout = QtWidgets.QLabel(" ")
        self.readout.setToolTip("Value under the mouse pointer (nearest grid point)")
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        box.addWidget(self.graphics, 1)
        box.addWidget(self.readout)
        self.results: list[LandscapeResult] = []
        self.plots2d: list[LandscapePlot] = []
        self.plots1d: list[InterpolationPlots] = []
        self.colorbar: pg.ColorBarItem | None = None
        self.levels: tuple[float, float] = (0.0, 1.0)
        self._mouse = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30, slot=self._hover)
        self.set_results([])

    def export_item(self) -> pg.GraphicsItem:
        """What PNG/SVG export and GIF frames draw: the whole layout."""
        return self.graphics.ci

    def set_results(self, results: Sequence[LandscapeResult]) -> None:
        """Draw ``results`` (one, or two side by side; all 2D or all 1D) on one colour scale."""
        if len({r.beta is None for r in results}) > 1:
            raise ValueError("compare needs two 2D or two 1D results (one is 2D, the other 1D)")
        layout = self.graphics.ci
        layout.clear()
        self.results = list(results)
        self.plots2d, self.plots1d, self.colorbar = [], [], None
        self.levels = shared_range([np.asarray(r.loss) for r in results])
        cols = max(len(results), 1)
        layout.addLabel(caption_text(results), row=0, col=0, colspan=cols + 1, size="10pt")
        if not results:
            return
        if results[0].beta is not None:
            self._draw_2d(layout)
        else:
            self._draw_1d(layout)

    def _draw_2d(self, layout: pg.GraphicsLayout) -> None:
        for i, result in enumerate(self.results):
            lp = LandscapePlot(layout.addPlot(row=1, col=i))
            lp.show(result, self.levels)
            self.plots2d.append(lp)
        first = self.plots2d[0]
        for lp in self.plots2d[1:]:  # the same plane size side by side: one view for both
            same = all(np.allclose(getattr(lp.result, k), getattr(first.result, k)) for k in ("alpha", "beta"))
            if same:
                lp.plot.setXLink(first.plot)
                lp.plot.setYLink(first.plot)
        lo, hi = self.levels
        bar = pg.ColorBarItem(values=(lo, hi), colorMap=band_colormap(), width=14, interactive=False)
        bar.axis.setTicks([log_ticks(lo, hi)])
        bar.axis.enableAutoSIPrefix(False)  # the ticks name losses; no "(x0.001)" beside the label
        bar.axis.setWidth(58)  # room for "1000" or "0.005" beside the label, on every range
        bar.axis.setLabel("training loss (log scale)")
        layout.addItem(bar, row=1, col=len(self.results))
        for i in range(len(self.results)):
            layout.layout.setColumnStretchFactor(i, 1)
        self.colorbar = bar

    def _draw_1d(self, layout: pg.GraphicsLayout) -> None:
        loss_range = full_range([np.asarray(r.loss) for r in self.results])  # one loss axis for all
        for i, result in enumerate(self.results):
            ip = InterpolationPlots(layout.addPlot(row=1, col=i), layout.addPlot(row=2, col=i))
            ip.show(result, loss_range)
            self.plots1d.append(ip)
        layout.layout.setRowStretchFactor(1, 3)
        layout.layout.setRowStretchFactor(2, 2)

    def path_length(self) -> int:
        """Snapshots on the longest path drawn (0: no path)."""
        return max((len(path_points(p.result)[0]) for p in self.plots2d if p.result is not None), default=0)

    def show_path(self, upto: int | None = None) -> None:
        """Every 2D plot's path through snapshot ``upto`` (default: all; the titles name its step otherwise)."""
        for p in self.plots2d:
            p.show_path(upto)

    def _hover(self, evt: tuple) -> None:
        pos = evt[0]
        for p in self.plots2d:
            if p.result is not None and p.plot.vb.sceneBoundingRect().contains(pos):
                v = p.plot.vb.mapSceneToView(pos)
                self.readout.setText(point_text(p.result, v.x(), v.y()))
                return
        for ip in self.plots1d:
            if ip.result is not None and ip.loss_plot.vb.sceneBoundingRect().contains(pos):
                v = ip.loss_plot.vb.mapSceneToView(pos)
                self.readout.setText(point_text(ip.result, v.x(), None))
                return
        self.readout.setText(" ")


def point_text(result: LandscapeResult, x: float, y: float | None) -> str:
    """``plain-56: α = 0.3, β = −0.1: loss 0.412, error 12.3 %`` at the grid point nearest (x, y)."""
    i = int(np.argmin(np.abs(np.asarray(result.alpha) - x)))
    if result.beta is None or y is None:
        loss, err, where = result.loss[i], result.error[i], f"α = {result.alpha[i]:.3g}"
    else:
        j = int(np.argmin(np.abs(np.asarray(result.beta) - y)))
        loss, err = result.loss[j, i], result.error[j, i]
        where = f"α = {result.alpha[i]:.3g}, β = {result.beta[j]:.3g}"
    return f"{result.label}: {where}: loss {float(loss):.4g}, error {100 * float(err):.1f} %"
