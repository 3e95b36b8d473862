"""Distributions over steps of one run's weights, gradients or activations, one layer at a time.

Two views of the histograms the engine records every ``train.histogram_every`` steps
(:mod:`resnet_viz.metrics.distributions`): percentile bands as TensorBoard's distributions (nested
translucent bands min–max, ±1.5σ, ±1σ, ±0.5σ of a normal's percentiles and the median line, in the run's
colour), or a density image (steps × values, each step's values re-binned onto common edges; the colour
is the fraction of that step's values in a bin), optionally over log₁₀|x| (gradients span decades).
The panel shows the selected run, else the first visible one; a layer picker moves through depth.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.plots.base import PlotPanel, cache_text, pen, style_plot
from resnet_viz.gui.plots.distributions_controls import (
    HISTOGRAMS_OFF,
    NO_RUN,
    add_layer_picker,
    kind_box,
    kind_words,
    shown_entry,
)
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.distributions import BASIS_POINTS, DENSITY_BINS, HistogramSeries, density, histogram_series
from resnet_viz.metrics.distributions import percentiles as series_percentiles

#: Nested bands as pairs of columns of :data:`BASIS_POINTS` (outermost first) and their opacity (0-255):
#: min–max, ±1.5σ, ±1σ, ±0.5σ; overlapping fills darken towards the median.
BANDS: tuple[tuple[int, int, int], ...] = ((0, 8, 40), (1, 7, 45), (2, 6, 55), (3, 5, 70))
MEDIAN = 4
MODES = (("bands", "bands"), ("density", "density"))


def histogram_message(entry: RunEntry, kind: str) -> str:
    """Why ``entry`` shows no ``kind`` histograms (it may have other kinds)."""
    train = entry.config.train
    if not entry.store.histograms and (train.histogram_every <= 0 or not train.probes):
        return HISTOGRAMS_OFF if train.probes else HISTOGRAMS_OFF + "\nThey need the per-layer probes on."
    when = "yet" if entry.active else "in this run"
    return f"No {kind} histograms {when} (recorded every {train.histogram_every:,} steps)"


class SeriesCache:
    """The last :class:`HistogramSeries` built per run and kind, rebuilt when the run has new histograms."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str], tuple[tuple[int, int], HistogramSeries]] = {}

    def get(self, entry: RunEntry, kind: str) -> HistogramSeries:
        key, stamp = (entry.run_id, kind), (id(entry.store), len(entry.store.histograms))
        hit = self._cache.get(key)
        if hit is None or hit[0] != stamp:
            hit = (stamp, histogram_series(entry.store.histograms, kind))
            self._cache[key] = hit
        return hit[1]

    def keep(self, run_ids: set[int]) -> None:
        """Forget the runs not in ``run_ids``."""
        for key in [k for k in self._cache if k[0] not in run_ids]:
            del self._cache[key]


def density_colormap(color: str) -> pg.ColorMap:
    """White (no values) through the run's colour to its dark shade (the densest bins)."""
    c = QtGui.QColor(color)
    dark = QtGui.QColor(int(c.red() * 0.3), int(c.green() * 0.3), int(c.blue() * 0.3))
    return pg.ColorMap([0.0, 0.55, 1.0], [QtGui.QColor("white"), c, dark])


class DistributionsPlot(PlotPanel):
    """One run's distribution of a kind (weights, gradients, activations) of one layer over steps."""

    key = "distributions"
    title = "Distributions over steps"

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, n_bins: int = DENSITY_BINS) -> None:
        super().__init__(parent)
        self.n_bins = int(n_bins)
        self._build_tools()
        self.plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        style_plot(self.plot, title=self.title, x_label="training step", y_label="value")
        self.plot.setDownsampling(auto=False)
        self.plot.setClipToView(False)
        # the bands' edges: curves with a transparent pen (a PlotDataItem without a pen has no path to fill)
        self.band_edges = [pg.PlotCurveItem(pen=pg.mkPen(0, 0, 0, 0)) for _ in range(2 * len(BANDS))]
        self.fills = [pg.FillBetweenItem(self.band_edges[2 * i], self.band_edges[2 * i + 1]) for i in range(len(BANDS))]
        self.median = pg.PlotDataItem()
        for item in [*self.band_edges, *self.fills, self.median]:
            self.plot.addItem(item)
        for fill in self.fills:
            fill.setPen(None)
        self.image = pg.ImageItem(axisOrder="col-major")  # [step column, value bin]
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(width=15, label="fraction of the step's values", rounding=1e-4)
        self.colorbar.setImageItem(self.image)
        self.colorbar.sigLevelsChangeFinished.connect(self._levels_dragged)
        self.empty = pg.TextItem("", color="#555555", anchor=(0.5, 0.5))
        self.empty.setParentItem(self.plot.vb)  # in the view box's pixels, not data coordinates
        self.plot.vb.sigResized.connect(self._place_empty)
        self.series_cache = SeriesCache()
        self.entry: RunEntry | None = None
        self.percentiles = np.empty((0, len(BASIS_POINTS)))  # [T, P] of the drawn steps (bands mode)
        self.steps = np.empty(0, np.int64)  # steps drawn
        self.value_edges = np.empty(0)  # density mode: [V+1]
        self.density = np.empty((0, 0))  # density mode: [T, V]
        self._key: tuple[object, ...] | None = None
        self._runs: Sequence[RunEntry] = ()
        self._selected: RunEntry | None = None
        self._user_levels: tuple[object, ...] | None = None  # the drawing whose levels the user dragged
        self.message = ""
        self._show_message(NO_RUN)
        self.connect_hover(self.plot, self.on_hover)

    def _build_tools(self) -> None:
        self.kind_box = kind_box()
        self.add_tool("Kind", self.kind_box, "Which histograms: the layer's weights, its weight gradients, its outputs")
        self.mode_box = QtWidgets.QComboBox()
        for mode, text in MODES:
            self.mode_box.addItem(text, mode)
        self.add_tool(
            "",
            self.mode_box,
            "Percentile bands as TensorBoard's distributions (min–max, ±1.5σ, ±1σ, ±0.5σ of a normal, median), "
            "or the density of the values at every step",
        )
        self.log_box = QtWidgets.QCheckBox("log |x|")
        self.log_box.setToolTip("Density over log₁₀ of the magnitude (gradients span decades); density view only")
        self.toolbar.insertWidget(self.toolbar.count() - 1, self.log_box)
        self.layers = add_layer_picker(self)
        for signal in (self.kind_box.currentIndexChanged, self.mode_box.currentIndexChanged, self.log_box.toggled):
            signal.connect(self._control_changed)
        self.layers.layerChanged.connect(self._control_changed)

    # --- state -----------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return str(self.kind_box.currentData())

    @property
    def mode(self) -> str:
        return str(self.mode_box.currentData())

    def set_view(self, kind: str | None = None, mode: str | None = None, log: bool | None = None) -> None:
        """Choose the kind ("weight", "gradient", "activation"), the mode ("bands", "density") and log |x|."""
        if kind is not None:
            self.kind_box.setCurrentIndex(self.kind_box.findData(kind))
        if mode is not None:
            self.mode_box.setCurrentIndex(self.mode_box.findData(mode))
        if log is not None:
            self.log_box.setChecked(log)

    def _control_changed(self, *_args: object) -> None:
        self.log_box.setEnabled(self.mode == "density")
        self.refresh(self._runs, self._selected)

    # --- refresh ---------------------------------------------------------------------------
    def refresh(self, runs: Sequence[RunEntry], selected: RunEntry | None) -> None:
        """Show the selected (else first visible) run; redraws only when its histograms, name or colour,
        or the panel's choices changed."""
        self._runs, self._selected = runs, selected
        entry = shown_entry(list(runs), selected)
        if entry is None:
            key: tuple[object, ...] = (None,)
        else:
            store = entry.store
            started = store.started is not None
            key = (entry.run_id, id(store), len(store.histograms), started, entry.color, entry.name, entry.status)
        key += (self.kind, self.layers.layer(), self.mode, self.log_box.isChecked())
        if key == self._key:
            return
        self._key = key
        self.series_cache.keep({r.run_id for r in runs})
        self.entry = entry
        self._draw(entry)

    def _draw(self, entry: RunEntry | None) -> None:
        if entry is None:
            self.layers.set_layers(None)
            self._show_message(NO_RUN)
            return
        started = entry.store.started
        self.layers.set_layers(started.layers if started is not None else None)
        series = self.series_cache.get(entry, self.kind)
        if started is None or series.steps.size == 0:
            self._show_message(histogram_message(entry, self.kind) if started is not None else "No data yet")
            return
        layer = min(self.layers.layer(), series.n_layers - 1)
        name = started.layers.names[layer] if layer < len(started.layers.names) else f"layer {layer + 1}"
        self.plot.setTitle(f"{entry.name} — layer {layer + 1} {name}", size="9pt")
        cache_text(self.plot)
        self._show_message("")
        if self.mode == "density":
            self._draw_density(entry, series, layer)
        else:
            self._draw_bands(entry, series, layer)
        if self.isVisible():
            self.plot.vb.prepareForPaint()  # settle the auto-range now, not in a second paint

    def _draw_bands(self, entry: RunEntry, series: HistogramSeries, layer: int) -> None:
        p = series_percentiles(series, layer)
        ok = np.isfinite(p).all(axis=1)
        self.steps, self.percentiles = series.steps[ok], p[ok]
        x = self.steps.astype(np.float64)
        color = QtGui.QColor(entry.color)
        for i, (lo, hi, alpha) in enumerate(BANDS):
            self.band_edges[2 * i].setData(x, self.percentiles[:, lo])
            self.band_edges[2 * i + 1].setData(x, self.percentiles[:, hi])
            fill_color = QtGui.QColor(color)
            fill_color.setAlpha(alpha)
            self.fills[i].setBrush(pg.mkBrush(fill_color))
        few = x.size < 2  # one step: no band to fill, a marker shows it
        self.median.setData(
            x, self.percentiles[:, MEDIAN], pen=pen(entry.color, 2), symbol="o" if few else None, symbolSize=5,
            symbolPen=pen(entry.color), symbolBrush=pg.mkBrush(entry.color),
        )  # fmt: skip
        self._show_items(bands=True)
        self.plot.setLabel("left", kind_words(self.kind))

    def _draw_density(self, entry: RunEntry, series: HistogramSeries, layer: int) -> None:
        log = self.log_box.isChecked()
        steps, edges, dens = density(series, layer, self.n_bins, log=log)
        self.steps, self.value_edges, self.density = steps, edges, dens
        t = steps.size
        spacing = float(steps[-1] - steps[0]) / (t - 1) if t > 1 else float(max(1, entry.config.train.histogram_every))
        x0 = float(steps[0]) - spacing / 2
        rect = QtCore.QRectF(x0, float(edges[0]), spacing * t, float(edges[-1] - edges[0]))
        self.image.setImage(dens, autoLevels=False, rect=rect)
        self.colorbar.setColorMap(density_colormap(entry.color))
        if self._user_levels != self._view_key():  # levels from the data unless the user set them here
            self._user_levels = None
            positive = dens[np.isfinite(dens) & (dens > 0)]
            top = float(np.percentile(positive, 99)) if positive.size else 1.0
            self.colorbar.setLevels((0.0, top))
        self._show_items(bands=False)
        self.plot.setLabel("left", kind_words(self.kind, log))

    def _view_key(self) -> tuple[object, ...]:
        """The run, kind, layer and log choice drawn: user-set colour levels stay while it does."""
        run_id = self.entry.run_id if self.entry is not None else None
        return (run_id, self.kind, self.layers.layer(), self.log_box.isChecked())

    def _levels_dragged(self, _bar: pg.ColorBarItem) -> None:
        self._user_levels = self._view_key()

    def _show_items(self, bands: bool) -> None:
        for item in [*self.band_edges, *self.fills, self.median]:
            item.setVisible(bands)
        self.image.setVisible(not bands)
        layout = self.graphics.ci
        if bands and self.colorbar in layout.items:
            layout.removeItem(self.colorbar)
        elif not bands and self.colorbar not in layout.items:
            layout.addItem(self.colorbar, row=0, col=1)
        self.plot.enableAutoRange()

    def _show_message(self, text: str) -> None:
        self.message = text
        self.empty.setText(text)
        self.empty.setVisible(bool(text))
        self._place_empty()
        if text:
            self.steps = np.empty(0, np.int64)
            self.percentiles = np.empty((0, len(BASIS_POINTS)))
            self.density = np.empty((0, 0))
            self._show_items(bands=True)
            for item in [*self.band_edges, self.median]:
                item.setData([], [])
            self.plot.setTitle(None)
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)  # no axes from stale data

    def _place_empty(self, *_args: object) -> None:
        self.empty.setPos(self.plot.vb.boundingRect().center())

    # --- keys and hover ----------------------------------------------------------------------
    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        """Arrow keys step through depth (up/left: towards the input) wherever the focus is in the panel."""
        step = {
            QtCore.Qt.Key.Key_Up: -1,
            QtCore.Qt.Key.Key_Left: -1,
            QtCore.Qt.Key.Key_Down: 1,
            QtCore.Qt.Key.Key_Right: 1,
        }.get(QtCore.Qt.Key(event.key()))
        if step is None:
            super().keyPressEvent(event)
            return
        self.layers.set_layer(self.layers.layer() + step)

    def describe_point(self, pos: QtCore.QPointF) -> str:
        """Readout at ``pos`` (view coordinates: step, value): the nearest drawn step's numbers."""
        if self.entry is None or self.steps.size == 0:
            return ""
        t = int(np.argmin(np.abs(self.steps - pos.x())))
        head = f"step {int(self.steps[t]):,}"
        if self.mode == "bands":
            p = self.percentiles[t]
            return f"{head} · min {p[0]:.3g} · ±1σ [{p[2]:.3g}, {p[6]:.3g}] · median {p[MEDIAN]:.3g} · max {p[-1]:.3g}"
        v = int(np.searchsorted(self.value_edges, pos.y(), side="right")) - 1
        if not 0 <= v < self.density.shape[1]:
            return head
        lo, hi = self.value_edges[v], self.value_edges[v + 1]
        where = f"log₁₀|x| in [{lo:.3g}, {hi:.3g})" if self.log_box.isChecked() else f"[{lo:.3g}, {hi:.3g})"
        return f"{head} · {where}: {self.density[t, v]:.2%} of the values"

    def on_hover(self, pos: QtCore.QPointF) -> None:
        self.set_readout(self.describe_point(pos))

    # --- export ----------------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> None:
        """What is shown, one row per step: bands — run, kind, layer, step and the values at every basis
        point (min … max); density — run, kind, layer, step, bin edges (log₁₀|x| with log) and fraction."""
        if self.entry is None or self.steps.size == 0:
            raise ValueError("the distributions panel shows no histograms")
        layer = self.layers.layer_name().split(" ", 1)[-1]
        head = [self.entry.name, self.kind, layer]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if self.mode == "bands":
                writer.writerow(["run", "kind", "layer", "step", *(f"p{bp / 100:g}" for bp in BASIS_POINTS)])
                for step, row in zip(self.steps, self.percentiles):
                    writer.writerow([*head, int(step), *(repr(float(v)) for v in row)])
                return
            value = "log10_abs" if self.log_box.isChecked() else "value"
            writer.writerow(["run", "kind", "layer", "step", f"{value}_low", f"{value}_high", "fraction"])
            for step, row in zip(self.steps, self.density):
                for lo, hi, f in zip(self.value_edges[:-1], self.value_edges[1:], row):
                    writer.writerow(
                        [*head, int(step), repr(float(lo)), repr(float(hi)), "" if np.isnan(f) else repr(float(f))]
                    )


__all__ = ["BANDS", "DistributionsPlot", "SeriesCache", "density_colormap", "histogram_message"]
