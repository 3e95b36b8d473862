"""One 1D loss landscape (the interpolation from the initial to the final weights, or a 1D slice): the
loss (log scale) over the error (%) against α, with the initial (α = 0) and final (α = 1) weights marked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

from resnet_viz.gui.landscape.levels import log_loss, log_ticks
from resnet_viz.gui.plots.base import positive_or_nan, style_plot

if TYPE_CHECKING:
    from resnet_viz.landscape.result import LandscapeResult

LOSS_COLOUR = "#0072B2"
ERROR_COLOUR = "#D55E00"
#: Marked α: (value, name) on the interpolation; a random 1D slice marks only its centre.
INTERPOLATION_MARKS = ((0.0, "init"), (1.0, "final"))


def x_label(result: LandscapeResult) -> str:
    if result.spec.directions == "interpolate":
        return "α   (θ = θ₀ + α·(θ* − θ₀): 0 = initial, 1 = final weights)"
    return "α (direction 1)"


class InterpolationPlots:
    """The loss plot over the error plot (x linked) of one 1D result."""

    def __init__(self, loss_plot: pg.PlotItem, error_plot: pg.PlotItem) -> None:
        self.loss_plot, self.error_plot = loss_plot, error_plot
        style_plot(loss_plot, title="loss", x_label="", y_label="training loss", log_y=True)
        loss_plot.getAxis("left").enableAutoSIPrefix(False)
        style_plot(error_plot, title="error", x_label="α", y_label="training error", y_units="%")
        error_plot.getAxis("left").enableAutoSIPrefix(False)
        error_plot.setXLink(loss_plot)
        for plot in (loss_plot, error_plot):
            plot.getAxis("left").setWidth(62)
            plot.setMenuEnabled(False)
        loss_plot.getAxis("bottom").setStyle(showValues=False)  # the error plot below has the α ticks
        self.loss = loss_plot.plot(pen=pg.mkPen(LOSS_COLOUR, width=2.5), symbol="o", symbolSize=4)
        self.loss.setSymbolBrush(LOSS_COLOUR)
        self.loss.setSymbolPen(None)
        self.error = error_plot.plot(pen=pg.mkPen(ERROR_COLOUR, width=2.5), symbol="o", symbolSize=4)
        self.error.setSymbolBrush(ERROR_COLOUR)
        self.error.setSymbolPen(None)
        self.marks: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
        self.result: LandscapeResult | None = None

    def show(self, result: LandscapeResult, loss_range: tuple[float, float] | None = None) -> None:
        """Draw ``result`` (1D); ``loss_range`` (log₁₀ loss) fixes the loss axis (compare: one scale)."""
        self.result = result
        alpha = np.asarray(result.alpha, dtype=float)
        self.loss.setData(alpha, positive_or_nan(np.asarray(result.loss, dtype=float)))
        self.error.setData(alpha, 100.0 * np.asarray(result.error, dtype=float))
        self.loss_plot.setTitle(result.label, size="11pt")
        self.error_plot.setLabel("bottom", x_label(result))
        for plot, line in self.marks:
            plot.removeItem(line)
        self.marks = []
        marks = INTERPOLATION_MARKS if result.spec.directions == "interpolate" else ((0.0, "θ*"),)
        for value, name in marks:
            for plot, label in ((self.loss_plot, name), (self.error_plot, None)):
                line = pg.InfiniteLine(
                    pos=value,
                    angle=90,
                    pen=pg.mkPen(90, 90, 90, width=1.2, style=pg.QtCore.Qt.PenStyle.DashLine),
                    label=label,
                    labelOpts={"position": 0.92, "color": (40, 40, 40), "fill": (255, 255, 255, 200)},
                )
                plot.addItem(line, ignoreBounds=True)
                self.marks.append((plot, line))
        self.loss_plot.setXRange(float(alpha[0]), float(alpha[-1]), padding=0.02)
        lo, hi = loss_range if loss_range is not None else full_range([result.loss])
        self.loss_plot.setYRange(lo, hi, padding=0.04)
        self.loss_plot.getAxis("left").setTicks([log_ticks(lo, hi)])  # 2, 5, 10 (not 10¹ beside 5)
        self.error_plot.setYRange(0.0, 100.0, padding=0.03)
        self.error_plot.getAxis("left").setTicks([[(v, f"{v:g}") for v in (0.0, 20.0, 40.0, 60.0, 80.0, 100.0)]])


def full_range(losses: list[np.ndarray]) -> tuple[float, float]:
    """(lo, hi) of log₁₀ loss over every finite value of ``losses`` (a line is drawn whole, unlike the colours)."""
    z = np.concatenate([log_loss(np.asarray(v)).ravel() for v in losses])
    finite = z[np.isfinite(z)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo + 1e-9 else (lo - 0.5, lo + 0.5)
