"""PlotPanel: the common frame of every plot in the window.

A panel holds one ``pg.GraphicsLayoutWidget`` (so a heatmap can sit next to its colour bar) and a
one-line hover readout under it (not part of exported images). Subclasses create their items once
in ``__init__`` and update them in :meth:`refresh`, which the window calls at display rate
(≤ 30 Hz) with every run; a panel must return quickly when nothing it shows has changed
(compare ``RunEntry.version`` / ``visible`` / ``color`` with what it drew last).

Export goes through pyqtgraph's exporters: :meth:`export_item` is what PNG/SVG export draws (the
whole layout, colour bars included); :meth:`csv_item` is the PlotItem whose curves
``CSVExporter`` writes, or ``None`` when the panel writes its own CSV in :meth:`export_csv`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import CSVExporter
from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.runs import RunEntry

#: Paper-style plots: white background, black axes, no antialiasing (4-5x cheaper for wide pens).
pg.setConfigOptions(background="w", foreground="k", antialias=False)

AXIS_FONT_PT = 10
#: Cache mode of items that change rarely but lie under the curves (axes with their grid, legend text):
#: painted into a pixmap once, copied on every repaint of the plot, re-rendered when they change.
PIXMAP_CACHE = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache


def cache_text(item: QtWidgets.QGraphicsItem) -> None:
    """Paint every text item under ``item`` (legend labels, titles) from a pixmap cache: software text
    rendering costs more than the curves beneath it, and a text item's cache is renewed when its text changes."""
    for child in item.childItems():
        if isinstance(child, QtWidgets.QGraphicsTextItem):
            if child.cacheMode() != PIXMAP_CACHE:
                child.setCacheMode(PIXMAP_CACHE)
        else:
            cache_text(child)


class LogAxisItem(pg.AxisItem):
    """A log axis that labels decades and their 2x and 5x only: pyqtgraph labels every minor tick
    (0.06, 0.07, 0.08, 0.09 ...) once they fit on average, and near the top of a decade they overlap."""

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        strings = super().logTickStrings(values, scale, spacing)
        keep = []
        for v, text in zip(values, strings):
            mantissa = 10.0 ** (v - np.floor(v + 1e-9))
            keep.append(text if any(abs(mantissa - m) < 1e-6 * m for m in (1.0, 2.0, 5.0)) else "")
        return keep if any(keep) else strings


class FittedLegend(pg.LegendItem):
    """LegendItem whose frame fits its layout (the stock one ignores margins and spacing, and on
    some platforms' font metrics grows a frame far larger than its entries)."""

    def updateSize(self) -> None:
        if self.size is not None:
            return
        self.layout.invalidate()
        hint = self.layout.effectiveSizeHint(QtCore.Qt.SizeHint.PreferredSize)
        self.setGeometry(0, 0, hint.width(), hint.height())

    #: Corners in order of preference on a tie: top-right (where the window puts it), top-left,
    #: bottom-right, bottom-left; (x, y) with 0 = left/top and 1 = right/bottom.
    CORNERS = ((1, 0), (0, 0), (1, 1), (0, 1))

    def data_points_under(self, corner: tuple[int, int], margin: float = 8.0) -> int:
        """How many points of the curves in the parent ViewBox the legend would cover at ``corner``
        (curves are sampled 8 times per segment, so a line crossing the box counts too)."""
        vb = self.parentItem()
        if not isinstance(vb, pg.ViewBox):
            return 0
        w, h = vb.width(), vb.height()
        lw, lh = self.width(), self.height()
        vr = vb.viewRect()
        if w <= 0 or h <= 0 or vr.width() <= 0 or vr.height() <= 0:
            return 0
        x0 = margin if corner[0] == 0 else w - margin - lw
        y0 = margin if corner[1] == 0 else h - margin - lh
        count = 0
        for item in vb.addedItems:
            if not isinstance(item, pg.PlotDataItem) or not item.isVisible():
                continue
            x, y = item.getData()
            if x is None or len(x) == 0:
                continue
            x, y = np.asarray(x, float), np.asarray(y, float)
            if 1 < len(x) <= 5000:  # sample the segments between the points
                t = np.linspace(0.0, 1.0, 8, endpoint=False)
                x = np.concatenate([(x[:-1, None] + (x[1:] - x[:-1])[:, None] * t).ravel(), x[-1:]])
                y = np.concatenate([(y[:-1, None] + (y[1:] - y[:-1])[:, None] * t).ravel(), y[-1:]])
            px = (x - vr.left()) / vr.width() * w
            py = (vr.bottom() - y) / vr.height() * h
            inside = (px >= x0) & (px <= x0 + lw) & (py >= y0) & (py <= y0 + lh)
            count += int(np.count_nonzero(inside))
        return count

    def move_to_clearest_corner(self, margin: float = 8.0) -> tuple[int, int]:
        """Anchor the legend in the corner of the plot where it hides the fewest data points (for
        exported figures; in the window the user drags it). Returns the corner chosen."""
        corner = min(self.CORNERS, key=lambda c: self.data_points_under(c, margin))
        offset = (margin if corner[0] == 0 else -margin, margin if corner[1] == 0 else -margin)
        self.anchor(itemPos=corner, parentPos=corner, offset=offset)
        return corner


def corner_legend(plot: pg.PlotItem, legend_type: type[FittedLegend] = FittedLegend, **options: object) -> FittedLegend:
    """The plots' legend: in the plot's top-right corner over the data, on a translucent white ground
    with a grey frame, 8 pt text (``options`` add to or override these ``LegendItem`` arguments)."""
    style: dict[str, object] = {
        "offset": (-6, 6),
        "brush": pg.mkBrush(255, 255, 255, 210),
        "pen": pg.mkPen(190, 190, 190),
        "labelTextSize": "8pt",
        "verSpacing": -8,
        "horSpacing": 4,
    }
    legend = legend_type(**{**style, **options})
    legend.setParentItem(plot.vb)
    legend.setZValue(10_000)
    return legend


def style_plot(
    plot: pg.PlotItem,
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_units: str | None = None,
    y_units: str | None = None,
    log_x: bool = False,
    log_y: bool = False,
) -> pg.PlotItem:
    """Labels, grid, log axes, and fast drawing settings (clip to view, peak downsampling) on a PlotItem.

    ``title`` is not drawn: the dock's title bar names the plot on screen, and exported figures go
    under a caption. Downsampling is set on the PlotItem (``addItem`` overwrites per-curve settings).
    """
    if log_y:
        plot.setAxisItems({"left": LogAxisItem("left")})
    plot.setLabel("bottom", x_label, units=x_units)
    plot.setLabel("left", y_label, units=y_units)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setLogMode(x=log_x, y=log_y)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    for name in ("left", "bottom", "right", "top"):
        # with the grid on, an axis spans the plot: every new curve point would replay its ticks, labels and
        # grid lines (~1 ms each); from a pixmap they are a copy until the range changes (which updates it)
        plot.getAxis(name).setCacheMode(PIXMAP_CACHE)
    for name in ("bottom", "left"):
        axis = plot.getAxis(name)
        # two tick levels: the third level's grid lines cost ~5 ms a frame (measured, 800x500) and
        # draw a dense mesh; major + minor lines remain
        axis.setStyle(maxTickLevel=1)
        font = axis.label.font()
        font.setPointSize(AXIS_FONT_PT)
        axis.label.setFont(font)
    return plot


@functools.lru_cache(maxsize=256)
def pen(color: str, width: float = 1.0, style: QtCore.Qt.PenStyle = QtCore.Qt.PenStyle.SolidLine) -> QtGui.QPen:
    """One shared pen per style: pyqtgraph's symbol atlas keys symbols by pen object, so a new pen every
    frame would render the run's symbols again (and grow the atlas) on every redraw."""
    return pg.mkPen(color, width=width, style=style)


@functools.lru_cache(maxsize=256)
def brush(color: str) -> QtGui.QBrush:
    """One shared brush per colour (see :func:`pen`)."""
    return pg.mkBrush(color)


def finite_or_nan(values: np.ndarray) -> np.ndarray:
    """A float64 copy with ±inf (and, for log axes, values ≤ 0) replaced by NaN, so curves break there."""
    out = np.array(values, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


def positive_or_nan(values: np.ndarray) -> np.ndarray:
    """For log axes: NaN where a value is not a positive finite number."""
    out = finite_or_nan(values)
    out[out <= 0] = np.nan
    return out


class PlotPanel(QtWidgets.QWidget):
    """Base of every plot panel. Subclasses set ``key`` and ``title`` and implement :meth:`refresh`."""

    key: str = "plot"  # stable identifier: dock object name, export file stem
    title: str = "Plot"
    #: Runs that differ only in seed: "runs" (each drawn), "std", "minmax" (a band; panels that draw bands read it).
    band_mode: str = "runs"

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumSize(240, 180)
        self.readout = QtWidgets.QLabel(" ")
        self.readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setToolTip("Value under the mouse pointer")
        font = self.readout.font()
        font.setPointSize(max(8, font.pointSize() - 1))
        self.readout.setFont(font)
        self.toolbar = QtWidgets.QHBoxLayout()  # optional panel controls (e.g. smoothing), above the plot
        self.toolbar.setContentsMargins(4, 0, 4, 0)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(1)
        layout.addLayout(self.toolbar)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.readout)
        self.setObjectName(self.key)

    def add_tool(self, label: str, widget: QtWidgets.QWidget, tooltip: str) -> None:
        """Add a small labelled control (e.g. a smoothing spin box) to the row above the plot."""
        if self.toolbar.count():
            self.toolbar.takeAt(self.toolbar.count() - 1)  # the trailing stretch
        text = QtWidgets.QLabel(label)
        text.setToolTip(tooltip)
        widget.setToolTip(tooltip)
        self.toolbar.addWidget(text)
        self.toolbar.addWidget(widget)
        self.toolbar.addStretch(1)

    def set_band_mode(self, mode: str) -> None:
        """How to draw runs that differ only in seed (:data:`resnet_viz.metrics.bands.BAND_MODES`); the next
        refresh draws it."""
        self.band_mode = mode

    # --- to implement ------------------------------------------------------------------------
    def refresh(self, runs: Sequence[RunEntry], selected: RunEntry | None) -> None:
        """Bring the items up to date with ``runs`` (every run, visible or not, in list order) and the
        selected run; cheap when nothing changed."""
        raise NotImplementedError

    def shutdown(self, timeout_s: float = 2.0) -> None:
        """Stop any background work of the panel (the window closes), waiting for it at most ``timeout_s``
        (0: only ask it to stop); nothing by default."""

    # --- export --------------------------------------------------------------------------------
    def export_item(self) -> pg.GraphicsItem:
        """The item PNG and SVG export draw: the whole layout (plots, legends, colour bars)."""
        return self.graphics.ci

    def csv_item(self) -> pg.PlotItem | None:
        """The PlotItem whose curves CSVExporter writes; None when :meth:`export_csv` is overridden."""
        return None

    def export_csv(self, path: str | Path) -> None:
        """Write the panel's data as CSV (pyqtgraph's CSVExporter on :meth:`csv_item` by default)."""
        item = self.csv_item()
        if item is None:
            raise NotImplementedError(f"{type(self).__name__} has no CSV export")
        exporter = CSVExporter(item)
        exporter.export(str(path))

    # --- hover ----------------------------------------------------------------------------------
    def connect_hover(self, plot: pg.PlotItem, handler) -> None:
        """Call ``handler(view_pos: QPointF)`` (view coordinates; log axes give log10 values) as the
        mouse moves over ``plot``, rate-limited to 30 Hz."""

        def moved(evt) -> None:
            pos = evt[0]
            if plot.sceneBoundingRect().contains(pos):
                handler(plot.vb.mapSceneToView(pos))

        self._hover_proxies = getattr(self, "_hover_proxies", [])
        self._hover_proxies.append(pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30, slot=moved))

    def set_readout(self, text: str) -> None:
        self.readout.setText(text or " ")
