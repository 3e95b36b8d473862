"""RaceFigure: the optimiser race as one pyqtgraph layout (so PNG/SVG export and GIF frames get all of it).

Left, large: the surface as filled contours or a heatmap (optionally log-scaled), the known minima
(★ global, ☆ local), the start (○), every racer's path with a dot per step, its current position, and
optional arrows at the current position. Right: f − f* against step (log) and the per-coordinate
squared-gradient accumulators of the adaptive optimisers (log). A caption row names the surface.

The surface axes have a locked 1:1 aspect, so a gradient arrow is at right angles to the contours.
The surface's picture is :mod:`~resnet_viz.gui.race.surface_image`; each racer's items are
:class:`~resnet_viz.gui.race.racer_items.RacerItems`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.plots.base import style_plot
from resnet_viz.gui.race.racer_items import ARROW_KINDS, RacerItems, race_key
from resnet_viz.gui.race.surface_image import (
    CONTOUR_BANDS,
    CONTOUR_MAP,
    SurfaceLevels,
    contour_lines,
    heatmap_colormap,
    surface_levels,
)
from resnet_viz.surfaces.functions import Surface
from resnet_viz.surfaces.race import OptimizerRace


class RaceFigure(QtWidgets.QWidget):
    """The race drawing. Call :meth:`set_surface` when the surface or view changes and :meth:`show_race`
    after steps; ``start_picked(x, y)`` is emitted on a left click on the surface."""

    start_picked = QtCore.Signal(float, float)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumSize(480, 320)
        layout = self.graphics.ci
        self.caption = layout.addLabel("", row=0, col=0, colspan=2, size="10pt")
        # the key is a row of its own, under the caption: inside a plot it would hide paths or curves
        self.key = layout.addLabel("", row=1, col=0, colspan=2, size="9pt")
        self._build_surface_plot(layout)
        self._build_step_plots(layout)
        layout.layout.setColumnSpacing(0, 28)  # room between the colour bar's label and the right plots' labels
        layout.layout.setColumnStretchFactor(0, 3)
        layout.layout.setColumnStretchFactor(1, 2)

        self.readout = QtWidgets.QLabel(" ")
        self.readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setToolTip("Value under the mouse pointer")
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        box.addWidget(self.graphics, 1)
        box.addWidget(self.readout)

        self.surface: Surface | None = None
        self.levels: SurfaceLevels | None = None
        self.arrows_on: dict[str, bool] = {k: False for k in ARROW_KINDS}
        self.arrow_scale = 1.0
        self._racers: list[RacerItems] = []
        self._scale_shows_data: bool | None = None
        self._race: OptimizerRace | None = None
        self._upto: int | None = None
        self._mode, self._log = "contours", False
        self._drawn_view: tuple[float, float, float, float] | None = None
        self._view_timer = QtCore.QTimer(self)
        self._view_timer.setSingleShot(True)
        self._view_timer.setInterval(120)
        self._view_timer.timeout.connect(self.redraw_surface)
        self.surface_plot.vb.sigRangeChanged.connect(self._view_changed)
        self._mouse = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30, slot=self._hover)
        self.graphics.scene().sigMouseClicked.connect(self._clicked)

    def _build_surface_plot(self, layout: pg.GraphicsLayout) -> None:
        """The surface plot (rows 2-3, left): the image and its colour bar, the contour lines, minima, start."""
        self.surface_plot: pg.PlotItem = layout.addPlot(row=2, col=0, rowspan=2)
        style_plot(self.surface_plot, title="surface", x_label="x", y_label="y")
        self.surface_plot.setDownsampling(auto=False)  # paths are not functions of x: no peak downsampling
        self.surface_plot.setClipToView(False)
        self.surface_plot.showGrid(x=False, y=False)
        self.surface_plot.setAspectLocked(True)
        self.surface_plot.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setZValue(-20)
        self.surface_plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=CONTOUR_MAP, width=12, interactive=False)
        self.colorbar.setImageItem(self.image, insert_in=self.surface_plot)
        self.isocurves: list[pg.IsocurveItem] = []
        self.minima = pg.ScatterPlotItem(symbol="star", size=16, pen=pg.mkPen("w", width=1), brush="k")
        self.local_minima = pg.ScatterPlotItem(symbol="star", size=15, pen=pg.mkPen("k", width=1.2), brush="w")
        self.start_mark = pg.ScatterPlotItem(symbol="o", size=15, pen=pg.mkPen("k", width=2), brush=None)
        for item, z in ((self.minima, 30), (self.local_minima, 30), (self.start_mark, 25)):
            item.setZValue(z)
            self.surface_plot.addItem(item)

    def _build_step_plots(self, layout: pg.GraphicsLayout) -> None:
        """The plots against step (right): f − f* (row 2) over the adaptive optimisers' accumulators (row 3)."""
        self.loss_plot: pg.PlotItem = layout.addPlot(row=2, col=1)
        style_plot(self.loss_plot, title="loss", x_label="step", y_label="f − f*", log_y=True)
        self.loss_plot.getAxis("left").enableAutoSIPrefix(False)
        self.scale_plot: pg.PlotItem = layout.addPlot(row=3, col=1)
        style_plot(
            self.scale_plot,
            title="adaptive scaling",
            x_label="step",
            y_label="accumulated g²  (x —, y - -)",
            log_y=True,
        )
        self.scale_plot.getAxis("left").enableAutoSIPrefix(False)
        for plot in (self.loss_plot, self.scale_plot):  # room for "10⁻¹⁵" ticks beside the label, aligned
            plot.getAxis("left").setWidth(64)
        self.scale_plot.setXLink(self.loss_plot)
        self.scale_note = pg.TextItem("", color=(110, 110, 110), anchor=(0.5, 0.5))
        self.scale_plot.addItem(self.scale_note, ignoreBounds=True)

    # --- surface ---------------------------------------------------------------------------------
    def set_surface(
        self,
        surface: Surface,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        *,
        mode: str = "contours",
        log: bool = False,
    ) -> None:
        """Show ``surface`` with the view set to the given ranges: ``mode`` "contours" (filled bands and
        lines) or "heatmap". The 1:1 aspect usually widens one range; the surface is sampled over the
        whole visible area, and again (debounced) whenever the view is panned, zoomed or resized."""
        self.surface = surface
        self._mode, self._log = mode, log
        self.surface_plot.setRange(xRange=x_range, yRange=y_range, padding=0)
        self.minima.setData(pos=np.array(surface.minima, dtype=float).reshape(-1, 2))
        self.local_minima.setData(pos=np.array(surface.local_minima, dtype=float).reshape(-1, 2))
        self.loss_plot.setLabel("left", "f − f*" if surface.min_value is not None else "f")
        self.loss_plot.setLogMode(y=surface.min_value is not None)
        self._drawn_view = None
        self.redraw_surface()

    def redraw_surface(self) -> None:
        """Sample the surface over the visible view now (skipped when that view is already drawn)."""
        if self.surface is None:
            return
        (x0, x1), (y0, y1) = self.surface_plot.vb.viewRange()
        view = (x0, x1, y0, y1)
        if self._drawn_view is not None and np.allclose(view, self._drawn_view, rtol=0, atol=1e-3 * (x1 - x0)):
            return
        self._drawn_view = view
        self._draw_grid((x0, x1), (y0, y1))

    def _view_changed(self) -> None:
        if self.surface is not None:
            self._view_timer.start()

    def _draw_grid(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        assert self.surface is not None
        self.levels = lv = surface_levels(self.surface, x_range, y_range, self._log)
        lo, hi = lv.colour_range()
        for iso in self.isocurves:
            iso.setParentItem(None)
            if iso.scene() is not None:
                iso.scene().removeItem(iso)
        self.isocurves = []
        if self._mode == "contours":
            cmap = CONTOUR_MAP
            lut = cmap.getLookupTable(nPts=CONTOUR_BANDS, alpha=False)
            self.isocurves = contour_lines(lv, lo, hi, self.image)
        else:
            cmap = heatmap_colormap()
            lut = cmap.getLookupTable(nPts=256, alpha=False)
        self.image.setImage(lv.values, levels=(lo, hi), lut=lut, autoLevels=False)
        dx = (x_range[1] - x_range[0]) / (len(lv.xs) - 1)
        dy = (y_range[1] - y_range[0]) / (len(lv.ys) - 1)
        self.image.setRect(
            QtCore.QRectF(
                x_range[0] - dx / 2, y_range[0] - dy / 2, x_range[1] - x_range[0] + dx, y_range[1] - y_range[0] + dy
            )
        )
        self.colorbar.setColorMap(cmap)
        self.colorbar.setLevels((lo, hi))
        self.colorbar.axis.setLabel("log₁₀(f − f_lo)" if self._log else "f")

    # --- race ------------------------------------------------------------------------------------
    def set_racers(self, race: OptimizerRace, colours: Sequence[QtGui.QColor]) -> None:
        """New racers (after a reset or a change of optimisers): items in the given colours."""
        for r in self._racers:
            r.remove()
        self._racers = [RacerItems(self.surface_plot, self.loss_plot, self.scale_plot, c) for c in colours]
        self.key.setText(race_key(race, colours))
        self._race = race
        self.start_mark.setData(pos=np.array([race.start]))
        self.show_race(race)

    def set_arrows(self, kinds: dict[str, bool], scale: float) -> None:
        self.arrows_on = {k: bool(kinds.get(k, False)) for k in ARROW_KINDS}
        self.arrow_scale = float(scale)
        if self._race is not None:
            self.show_race(self._race, self._upto)

    def export_item(self) -> pg.GraphicsItem:
        """What PNG/SVG export and GIF frames draw: the whole layout (caption, surface, colour bar, plots)."""
        return self.graphics.ci

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)

    def show_race(self, race: OptimizerRace, upto: int | None = None) -> None:
        """Draw every trajectory up to step ``upto`` (default: all steps taken)."""
        self._race, self._upto = race, upto
        min_value = self.surface.min_value if self.surface is not None else None
        span = self._view_span()
        any_adaptive = False
        for racer, traj in zip(self._racers, race.trajectories):
            n = traj.steps if upto is None else min(upto, traj.steps)
            any_adaptive |= racer.draw(traj, n, span, min_value)
            racer.draw_arrows(traj, n, self.arrows_on, self.arrow_scale)
        if any_adaptive != self._scale_shows_data:  # switching log mode re-processes every curve: only on change
            self._scale_shows_data = any_adaptive
            self.scale_note.setText("" if any_adaptive else "no adaptive optimiser in the race")
            self.scale_plot.setLogMode(y=any_adaptive)
            if any_adaptive:
                self.scale_plot.enableAutoRange()
            else:
                self.scale_plot.setRange(xRange=(0, 1), yRange=(0, 1))
                self.scale_note.setPos(0.5, 0.5)

    def _view_span(self) -> float:
        if self.levels is None:
            return 10.0
        return float(max(np.ptp(self.levels.xs), np.ptp(self.levels.ys), 1e-9))

    # --- mouse -----------------------------------------------------------------------------------
    def _clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or event.double():
            return
        vb = self.surface_plot.vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        self.start_picked.emit(float(p.x()), float(p.y()))

    def _hover(self, evt) -> None:
        pos = evt[0]
        if self.surface is not None and self.surface_plot.vb.sceneBoundingRect().contains(pos):
            p = self.surface_plot.vb.mapSceneToView(pos)
            try:
                f = self.surface.value(p.x(), p.y())
            except (RuntimeError, ValueError):
                f = float("nan")
            self.readout.setText(f"x = {p.x():.4g}, y = {p.y():.4g}, f = {f:.6g}   (click: start here)")
        elif self._race is not None and self.loss_plot.sceneBoundingRect().contains(pos):
            k = int(round(self.loss_plot.vb.mapSceneToView(pos).x()))
            parts = []
            for traj in self._race.trajectories:
                if 0 <= k <= traj.steps:
                    x, y = traj.positions.values[k]
                    parts.append(f"{traj.label} f={traj.losses.values[k]:.4g} at ({x:.3g}, {y:.3g})")
            self.readout.setText(f"step {max(k, 0)}: " + "; ".join(parts) if parts else " ")
