"""RaceFigure: the optimiser race as one pyqtgraph layout (so PNG/SVG export and GIF frames get all of it).

Left, large: the surface as filled contours or a heatmap (optionally log-scaled), the known minima
(★ global, ☆ local), the start (○), every racer's path with a dot per step, its current position, and
optional arrows at the current position. Right: f − f* against step (log) and the per-coordinate
squared-gradient accumulators of the adaptive optimisers (log). A caption row names the surface.

The surface axes have a locked 1:1 aspect, so a gradient arrow is at right angles to the contours.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.plots.base import style_plot
from resnet_viz.surfaces.functions import Surface
from resnet_viz.surfaces.race import OptimizerRace, Trajectory

GRID_POINTS = 280  # per axis; 78k evaluations of f, ~10 ms
CONTOUR_BANDS = 16
LOSS_FLOOR = 1e-16
PATH_DOTS_UP_TO = 400  # steps: a dot per step shows step lengths; beyond this the dots merge into the line
LOSS_DOTS_UP_TO = 40  # f − f* below this is drawn at it (log axis)
ARROW_KINDS = ("gradient", "velocity", "step")
ARROW_TIPS = {
    "gradient": "−lr·∇f at the current point: the step plain SGD would take there (dashed)",
    "velocity": "−lr·v: the momentum term (SGD/RMSProp momentum buffer, Adam's bias-corrected m̂) (dotted)",
    "step": "the step actually taken last, Δθ (solid)",
}
_ARROW_STYLE = {
    "gradient": QtCore.Qt.PenStyle.DashLine,
    "velocity": QtCore.Qt.PenStyle.DotLine,
    "step": QtCore.Qt.PenStyle.SolidLine,
}

#: Filled contours: slate blue (low) through pale grey to warm white (high), so coloured paths stand out.
CONTOUR_MAP = pg.ColorMap([0.0, 0.5, 1.0], [(128, 147, 174), (200, 208, 216), (253, 251, 244)])


def heatmap_colormap() -> pg.ColorMap:
    """Viridis blended 40% towards white: the heatmap keeps its order but the paths stay readable."""
    base = pg.colormap.get("viridis")
    pos = np.linspace(0.0, 1.0, 16)
    cols = base.map(pos, mode="float")[:, :3]
    light = 0.6 * cols + 0.4
    return pg.ColorMap(pos, (light * 255).astype(np.uint8))


@dataclass(frozen=True)
class SurfaceLevels:
    """The surface as drawn: ``values`` (nx, ny) after the optional log transform; NaN where f is not finite."""

    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    log: bool
    offset: float  # log: values = log10(f − offset)

    def transform(self, f: np.ndarray | float) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        if not self.log:
            return f
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log10(np.maximum(f - self.offset, 1e-300))


def surface_levels(
    surface: Surface, x_range: tuple[float, float], y_range: tuple[float, float], log: bool, n: int = GRID_POINTS
) -> SurfaceLevels:
    """Sample ``surface`` on an n×n grid; with ``log``, values are log10(f − f_lo + δ) where f_lo is the
    smaller of the grid's minimum and f* and δ is 10⁻⁸ of the grid's range (so the minimum is finite)."""
    xs, ys, z = surface.grid(n, n, x_range, y_range)
    z = z.astype(np.float64)
    z[~np.isfinite(z)] = np.nan
    offset = 0.0
    if log and np.isfinite(z).any():
        lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
        if surface.min_value is not None:
            lo = min(lo, surface.min_value)
        offset = lo - max((hi - lo) * 1e-8, 1e-12)
    levels = SurfaceLevels(xs, ys, z, log, offset)
    return SurfaceLevels(xs, ys, levels.transform(z), log, offset)


KEY_PER_LINE = 4


def race_key(race: OptimizerRace, colours: Sequence[QtGui.QColor]) -> str:
    """The figure's key as rich text: a coloured ━● and the racer's settings, four to a line."""
    items = [
        f'<span style="color:{QtGui.QColor(c).name()}">━━●</span>&nbsp;{html.escape(t.spec.describe())}'
        for t, c in zip(race.trajectories, colours)
    ]
    lines = ["&nbsp;&nbsp;&nbsp;&nbsp;".join(items[i : i + KEY_PER_LINE]) for i in range(0, len(items), KEY_PER_LINE)]
    return "<br>".join(lines)


class _Racer:
    """The items of one racer: path, dots, current point, arrows, divergence mark, loss and accumulator curves."""

    def __init__(self, fig: RaceFigure, colour: QtGui.QColor) -> None:
        self.colour = QtGui.QColor(colour)
        pen = pg.mkPen(self.colour, width=2)
        self.path = pg.PlotDataItem(
            pen=pen, connect="finite", symbol="o", symbolSize=4, symbolPen=None, symbolBrush=self.colour
        )
        self.head = pg.ScatterPlotItem(size=12, pen=pg.mkPen("w", width=1.5), brush=self.colour)
        self.head.setZValue(20)
        self.path.setZValue(10)
        self.cross = pg.ScatterPlotItem(size=14, symbol="x", pen=pg.mkPen(self.colour, width=1), brush=self.colour)
        self.cross.setZValue(21)
        self.arrows: dict[str, tuple[pg.PlotDataItem, pg.ArrowItem]] = {}
        for kind in ARROW_KINDS:
            line = pg.PlotDataItem(
                pen=pg.mkPen(self.colour, width=2 if kind == "step" else 1.5, style=_ARROW_STYLE[kind])
            )
            head = pg.ArrowItem(headLen=10, tipAngle=30, tailLen=None, pen=pg.mkPen(self.colour), brush=self.colour)
            line.setZValue(15)
            head.setZValue(15)
            self.arrows[kind] = (line, head)
        self.loss = pg.PlotDataItem(
            pen=pg.mkPen(self.colour, width=2),
            symbol="o",
            symbolSize=7,
            symbolPen="w",
            symbolBrush=self.colour,
            connect="finite",
        )
        self.acc_x = pg.PlotDataItem(pen=pg.mkPen(self.colour, width=2), connect="finite")
        self.acc_y = pg.PlotDataItem(
            pen=pg.mkPen(self.colour, width=2, style=QtCore.Qt.PenStyle.DashLine), connect="finite"
        )
        plot = fig.surface_plot
        for item in (self.path, self.head, self.cross):
            plot.addItem(item)
        for line, head in self.arrows.values():
            plot.addItem(line)
            plot.addItem(head)
        fig.loss_plot.addItem(self.loss)
        fig.scale_plot.addItem(self.acc_x)
        fig.scale_plot.addItem(self.acc_y)

    def remove(self, fig: RaceFigure) -> None:
        for item in (self.path, self.head, self.cross):
            fig.surface_plot.removeItem(item)
        for line, head in self.arrows.values():
            fig.surface_plot.removeItem(line)
            fig.surface_plot.removeItem(head)
        fig.loss_plot.removeItem(self.loss)
        fig.scale_plot.removeItem(self.acc_x)
        fig.scale_plot.removeItem(self.acc_y)


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
        self._racers: list[_Racer] = []
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
        log, mode = self._log, self._mode
        self.levels = lv = surface_levels(self.surface, x_range, y_range, log)
        finite = lv.values[np.isfinite(lv.values)]
        # colours span the minimum to the 99th percentile: a pole or a steep rim (log(x) at 0, the
        # corners of Beale) would otherwise flatten everything else into one colour
        lo, hi = (float(finite.min()), float(np.percentile(finite, 99))) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = float(finite.max()) if finite.size and finite.max() > lo else lo + 1.0
        for iso in self.isocurves:
            iso.setParentItem(None)
            if iso.scene() is not None:
                iso.scene().removeItem(iso)
        self.isocurves = []
        if mode == "contours":
            cmap = CONTOUR_MAP
            lut = cmap.getLookupTable(nPts=CONTOUR_BANDS, alpha=False)
            data = np.where(np.isfinite(lv.values), lv.values, hi + 1)
            for level in np.linspace(lo, hi, CONTOUR_BANDS + 1)[1:-1]:
                iso = pg.IsocurveItem(
                    data=data, level=float(level), pen=pg.mkPen(60, 60, 70, 110, width=1), axisOrder="col-major"
                )
                iso.setParentItem(self.image)
                self.isocurves.append(iso)
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
        self.colorbar.axis.setLabel("log₁₀(f − f_lo)" if log else "f")

    # --- race ------------------------------------------------------------------------------------
    def set_racers(self, race: OptimizerRace, colours: Sequence[QtGui.QColor]) -> None:
        """New racers (after a reset or a change of optimisers): items in the given colours."""
        for r in self._racers:
            r.remove(self)
        self._racers = [_Racer(self, c) for c in colours]
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
            pos = _display_positions(traj.positions.values[: n + 1], span)
            _set_symbol(racer.path, "o" if n <= PATH_DOTS_UP_TO else None)
            racer.path.setData(pos[:, 0], pos[:, 1])
            last = _last_finite(pos)
            racer.head.setData(pos=pos[last : last + 1] if last is not None else np.empty((0, 2)))
            diverged = traj.diverged_at is not None and traj.diverged_at <= n
            racer.cross.setData(pos=pos[last : last + 1] if diverged and last is not None else np.empty((0, 2)))
            self._draw_arrows(racer, traj, n, last)
            steps = np.arange(n + 1, dtype=np.float64)
            loss = traj.losses.values[: n + 1].astype(np.float64)
            if min_value is not None:
                loss = np.maximum(loss - min_value, LOSS_FLOOR)
            loss[~np.isfinite(loss)] = np.nan
            _set_symbol(racer.loss, "o" if n <= LOSS_DOTS_UP_TO else None)
            racer.loss.setData(steps, loss)
            acc = traj.accum.values[: n + 1]
            if np.isfinite(acc).any():
                any_adaptive = True
                racer.acc_x.setData(steps, _positive(acc[:, 0]))
                racer.acc_y.setData(steps, _positive(acc[:, 1]))
            else:
                racer.acc_x.setData([], [])
                racer.acc_y.setData([], [])
        if any_adaptive != self._scale_shows_data:  # switching log mode re-processes every curve: only on change
            self._scale_shows_data = any_adaptive
            self.scale_note.setText("" if any_adaptive else "no adaptive optimiser in the race")
            self.scale_plot.setLogMode(y=any_adaptive)
            if any_adaptive:
                self.scale_plot.enableAutoRange()
            else:
                self.scale_plot.setRange(xRange=(0, 1), yRange=(0, 1))
                self.scale_note.setPos(0.5, 0.5)

    def _draw_arrows(self, racer: _Racer, traj: Trajectory, n: int, last: int | None) -> None:
        for kind, (line, head) in racer.arrows.items():
            vec = None
            if self.arrows_on[kind] and last == n and traj.diverged_at is None:
                if kind == "gradient":
                    vec = -traj.lr * traj.grads.values[n]
                elif kind == "velocity":
                    v = traj.velocity.values[n]
                    vec = -traj.lr * v if np.isfinite(v).all() else None
                elif n > 0:
                    vec = traj.positions.values[n] - traj.positions.values[n - 1]
            if vec is None or not np.isfinite(vec).all() or float(np.hypot(*vec)) == 0.0:
                line.setData([], [])
                head.hide()
                continue
            p0 = traj.positions.values[n]
            p1 = p0 + self.arrow_scale * vec
            line.setData([p0[0], p1[0]], [p0[1], p1[1]])
            head.setStyle(angle=math.degrees(math.atan2(vec[1], -vec[0])))
            head.setPos(float(p1[0]), float(p1[1]))
            head.show()

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


def _set_symbol(item: pg.PlotDataItem, symbol: str | None) -> None:
    """Switch an item's per-point symbols on or off (a symbol of size 0 would still cost its scatter
    update: 7 × 5000 hidden points took 300 ms a frame)."""
    if item.opts["symbol"] != symbol:
        item.setSymbol(symbol)


def _display_positions(pos: np.ndarray, span: float) -> np.ndarray:
    """Positions for drawing: non-finite → NaN; huge finite values clipped to ±1000 view spans (Qt cannot
    draw lines to 1e200, and the line's direction is what matters there)."""
    out = np.array(pos, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    lim = 1000.0 * span
    np.clip(out, -lim, lim, out=out)
    return out


def _last_finite(pos: np.ndarray) -> int | None:
    ok = np.flatnonzero(np.isfinite(pos).all(axis=1))
    return int(ok[-1]) if ok.size else None


def _positive(values: np.ndarray) -> np.ndarray:
    out = np.array(values, dtype=np.float64)
    out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out
