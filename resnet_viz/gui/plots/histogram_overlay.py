"""Histograms of every visible run at one step, overlaid: one kind (weights, gradients, activations) of one
layer, each run at its latest recorded step at or before the chosen one, as a step-shaped outline with a
translucent fill in the run's colour. Heights are densities (count / (total × bin width), per unit of the
value or, with log |x|, per decade of the magnitude), so runs with other batch sizes or bin counts compare.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.plots.base import FittedLegend, PlotPanel, brush, cache_text, corner_legend, pen, style_plot
from resnet_viz.gui.plots.distributions import SeriesCache, histogram_message
from resnet_viz.gui.plots.distributions_controls import (
    HISTOGRAMS_OFF,
    NO_RUN,
    add_layer_picker,
    kind_box,
    kind_words,
    shown_entry,
)
from resnet_viz.gui.runs import RunEntry, display_names
from resnet_viz.metrics.distributions import HistogramSeries, density, histogram_at

#: Opacity (0-255) of a run's fill under its outline.
FILL_ALPHA = 0x38


class BarsLegend(FittedLegend):
    """A legend that counts the histogram bars it would hide (``bars``: (edges [B+1], heights [B]) pairs)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.bars: list[tuple[np.ndarray, np.ndarray]] = []

    def data_points_under(self, corner: tuple[int, int], margin: float = 8.0) -> int:
        vb = self.parentItem()
        if not isinstance(vb, pg.ViewBox):
            return 0
        w, h, view = vb.width(), vb.height(), vb.viewRect()
        if w <= 0 or h <= 0 or view.width() <= 0 or view.height() <= 0:
            return 0
        left = margin if corner[0] == 0 else w - margin - self.width()
        top = margin if corner[1] == 0 else h - margin - self.height()
        x0 = view.left() + left / w * view.width()
        x1 = view.left() + (left + self.width()) / w * view.width()
        y_low = view.bottom() - (top + self.height()) / h * view.height()  # the legend's lower edge, data units
        count = 0
        for edges, heights in self.bars:
            centres = (edges[:-1] + edges[1:]) / 2
            count += int(np.count_nonzero((centres >= x0) & (centres <= x1) & (heights >= y_low)))
        return count


@dataclass
class Drawn:
    """One run's histogram as drawn: the step it comes from, bin edges [B+1] and densities [B]."""

    run: str
    name: str  # the legend's label
    step: int
    edges: np.ndarray
    heights: np.ndarray
    item: pg.PlotDataItem


def density_heights(
    series: HistogramSeries, layer: int, step: int, log: bool
) -> tuple[int, np.ndarray, np.ndarray] | None:
    """``(recorded step, edges [B+1], density [B])`` of ``layer`` at the latest step ≤ ``step``: per unit of
    the value, or with ``log`` over log₁₀|x| per decade (B = the histogram's bins); None without one."""
    found = histogram_at(series, layer, step)
    if found is None:
        return None
    at, edges, counts = found
    if not log:
        widths = np.diff(edges)
        heights = np.divide(counts / counts.sum(), widths, out=np.zeros(widths.shape), where=widths > 0)
        return at, edges, heights
    one = HistogramSeries(series.kind, np.array([at]), edges[None, None], counts[None, None])
    _steps, log_edges, fractions = density(one, 0, n_bins=counts.size, log=True)
    return at, log_edges, fractions[0] / np.diff(log_edges)


class HistogramOverlayPlot(PlotPanel):
    """Every visible run's histogram of one kind and layer at one step, each in its run's colour."""

    key = "histogram_overlay"
    title = "Histograms at a step"

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._build_tools()
        self.plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        style_plot(self.plot, title=self.title, x_label="value", y_label="density")
        self.plot.setDownsampling(auto=False)
        self.plot.setClipToView(False)
        self.legend = corner_legend(self.plot, BarsLegend)
        self.empty = pg.TextItem("", color="#555555", anchor=(0.5, 0.5))
        self.empty.setParentItem(self.plot.vb)
        self.plot.vb.sigResized.connect(self._place_empty)
        self.plot.vb.sigResized.connect(lambda *_: self.place_legend())
        self.series_cache = SeriesCache()
        self.drawn: dict[int, Drawn] = {}
        self.all_steps = np.empty(0, np.int64)  # recorded steps of the visible runs, the slider's positions
        self.message = ""
        self._key: tuple[object, ...] | None = None
        self._runs: Sequence[RunEntry] = ()
        self._selected: RunEntry | None = None
        self._follow = True  # the slider stays on the latest step while runs record more
        self.connect_hover(self.plot, self.on_hover)

    def _build_tools(self) -> None:
        self.kind_box = kind_box()
        self.add_tool("Kind", self.kind_box, "Which histograms: the layer's weights, its weight gradients, its outputs")
        self.log_box = QtWidgets.QCheckBox("log |x|")
        self.log_box.setToolTip("Histograms over log₁₀ of the magnitude, density per decade (gradients span decades)")
        self.toolbar.insertWidget(self.toolbar.count() - 1, self.log_box)
        self.step_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.step_slider.setMinimumWidth(50)
        self.step_label = QtWidgets.QLabel("step –")
        self.add_tool(
            "Step", self.step_slider, "Each run is shown at its latest recorded histogram at or before this step"
        )
        self.toolbar.insertWidget(self.toolbar.count() - 1, self.step_label)
        self.layers = add_layer_picker(self)
        self.kind_box.currentIndexChanged.connect(self._control_changed)
        self.log_box.toggled.connect(self._control_changed)
        self.layers.layerChanged.connect(self._control_changed)
        self.step_slider.valueChanged.connect(self._step_moved)

    # --- state -----------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return str(self.kind_box.currentData())

    @property
    def step(self) -> int:
        """The chosen step (the slider's position among the recorded steps; 0 before any)."""
        if self.all_steps.size == 0:
            return 0
        return int(self.all_steps[min(self.step_slider.value(), self.all_steps.size - 1)])

    def set_step(self, step: int) -> None:
        """Choose the latest recorded step ≤ ``step`` (the first one when none is)."""
        i = int(np.searchsorted(self.all_steps, step, side="right")) - 1
        self.step_slider.setValue(max(0, i))

    def set_kind(self, kind: str) -> None:
        self.kind_box.setCurrentIndex(self.kind_box.findData(kind))

    def _control_changed(self, *_args: object) -> None:
        self.refresh(self._runs, self._selected)

    def _step_moved(self, value: int) -> None:
        self._follow = value >= self.step_slider.maximum()
        self.refresh(self._runs, self._selected)

    # --- refresh ---------------------------------------------------------------------------
    def refresh(self, runs: Sequence[RunEntry], selected: RunEntry | None) -> None:
        """Redraw when a visible run's histograms, colour or name, or the panel's choices changed."""
        self._runs, self._selected = runs, selected
        shown = [r for r in runs if r.visible and r.store.started is not None]
        reference = shown_entry(list(runs), selected)
        key: tuple[object, ...] = tuple(
            (r.run_id, id(r.store), len(r.store.histograms), r.color, r.name, r.status) for r in shown
        )
        key += (reference.run_id if reference is not None else None, self.kind, self.layers.layer())
        key += (self.step_slider.value(), self.log_box.isChecked())
        if key == self._key:
            return
        self.series_cache.keep({r.run_id for r in runs})
        started = reference.store.started if reference is not None else None
        self.layers.set_layers(started.layers if started is not None else None)
        series = {r.run_id: self.series_cache.get(r, self.kind) for r in shown}
        self._update_steps(list(series.values()))
        self._key = key[:-2] + (self.step_slider.value(), self.log_box.isChecked())
        self._draw(shown, series, reference)

    def _update_steps(self, series: list[HistogramSeries]) -> None:
        """The slider's positions: every recorded step of the shown runs; it stays on its step (or on the
        latest, while following) as steps are added."""
        steps = [s.steps for s in series]
        union = np.unique(np.concatenate(steps)) if steps else np.empty(0, np.int64)
        if np.array_equal(union, self.all_steps):
            return
        chosen = self.step
        self.all_steps = union.astype(np.int64)
        blocked = self.step_slider.blockSignals(True)
        self.step_slider.setRange(0, max(0, union.size - 1))
        self.step_slider.setEnabled(union.size > 1)
        if self._follow:
            self.step_slider.setValue(self.step_slider.maximum())
        else:
            self.set_step(chosen)
        self.step_slider.blockSignals(blocked)

    def _draw(self, shown: list[RunEntry], series: dict[int, HistogramSeries], reference: RunEntry | None) -> None:
        step, layer, log = self.step, self.layers.layer(), self.log_box.isChecked()
        self.step_label.setText(f"step {step:,}" if self.all_steps.size else "step –")
        names = display_names(shown)
        ref_names = reference.store.started.layers.names if reference and reference.store.started else []
        drawn: dict[int, Drawn] = {}
        for entry in shown:
            s = series[entry.run_id]
            found = density_heights(s, layer, step, log) if s.steps.size and layer < s.n_layers else None
            if found is None:
                continue
            at, edges, heights = found
            assert entry.store.started is not None
            own = entry.store.started.layers.names
            label = names[entry.run_id] if at == step else f"{names[entry.run_id]} (step {at:,})"  # title: the step
            if layer < len(own) and (layer >= len(ref_names) or own[layer] != ref_names[layer]):
                label += f" · {own[layer]}"
            old = self.drawn.pop(entry.run_id, None)
            item = old.item if old is not None else pg.PlotDataItem()
            if old is None:
                self.plot.addItem(item)
            item.setData(
                edges, heights, stepMode="center", fillLevel=0.0, pen=pen(entry.color, 1.5),
                brush=brush(f"{entry.color}{FILL_ALPHA:02x}"), name=label,
            )  # fmt: skip
            drawn[entry.run_id] = Drawn(entry.name, label, at, edges, heights, item)
        for old in self.drawn.values():
            self.plot.removeItem(old.item)
        self.drawn = drawn
        self._update_legend()
        self.plot.setLabel("bottom", kind_words(self.kind, log))
        self.plot.setLabel("left", "density / decade" if log else "density")
        layer_name = self.layers.layer_name()
        self.plot.setTitle(f"layer {layer_name} at step {step:,}" if drawn else None, size="9pt")
        cache_text(self.plot)
        self._show_message("" if drawn else self._why_empty(shown))
        if self.isVisible():
            self.plot.vb.prepareForPaint()
        self.place_legend()

    def _why_empty(self, shown: list[RunEntry]) -> str:
        if not shown:
            return NO_RUN
        if not any(r.store.histograms for r in shown):
            return HISTOGRAMS_OFF
        return histogram_message(shown[0], self.kind) if len(shown) == 1 else f"No {self.kind} histograms to show"

    def _update_legend(self) -> None:
        self.legend.clear()
        for d in self.drawn.values():
            self.legend.addItem(d.item, html.escape(d.name))
        self.legend.bars = [(d.edges, d.heights) for d in self.drawn.values()]
        self.legend.setVisible(bool(self.drawn))
        cache_text(self.legend)

    def place_legend(self) -> tuple[int, int]:
        """Anchor the legend in the corner of the plot where it hides the fewest bars; returns the corner."""
        return self.legend.move_to_clearest_corner(margin=6.0)

    def _show_message(self, text: str) -> None:
        self.message = text
        self.empty.setText(text)
        self.empty.setVisible(bool(text))
        if text:
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        else:
            self.plot.enableAutoRange()
        self._place_empty()

    def _place_empty(self, *_args: object) -> None:
        self.empty.setPos(self.plot.vb.boundingRect().center())

    # --- keys, hover and export ---------------------------------------------------------------
    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        """Up/Down step through depth (up: towards the input), Left/Right through the recorded steps."""
        key = QtCore.Qt.Key(event.key())
        layer_step = {QtCore.Qt.Key.Key_Up: -1, QtCore.Qt.Key.Key_Down: 1}.get(key)
        time_step = {QtCore.Qt.Key.Key_Left: -1, QtCore.Qt.Key.Key_Right: 1}.get(key)
        if layer_step is not None:
            self.layers.set_layer(self.layers.layer() + layer_step)
        elif time_step is not None:
            self.step_slider.setValue(self.step_slider.value() + time_step)
        else:
            super().keyPressEvent(event)

    def on_hover(self, pos: QtCore.QPointF) -> None:
        """Each run's density in the bin under the pointer's x."""
        parts = []
        for d in self.drawn.values():
            i = int(np.searchsorted(d.edges, pos.x(), side="right")) - 1
            if 0 <= i < d.heights.size:
                parts.append(f"{d.name}: {d.heights[i]:.3g}")
        self.set_readout("; ".join(parts))

    def export_csv(self, path: str | Path) -> None:
        """One row per bin of every drawn run: run, kind, layer, step, bin low and high
        (log₁₀|x| with log |x|), density."""
        if not self.drawn:
            raise ValueError("the histogram overlay shows no histogram")
        value = "log10_abs" if self.log_box.isChecked() else "value"
        layer = self.layers.layer_name().split(" ", 1)[-1]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["run", "kind", "layer", "step", f"{value}_low", f"{value}_high", "density"])
            for d in self.drawn.values():
                for lo, hi, h in zip(d.edges[:-1], d.edges[1:], d.heights):
                    writer.writerow([d.run, self.kind, layer, d.step, repr(float(lo)), repr(float(hi)), repr(float(h))])


__all__ = ["BarsLegend", "HistogramOverlayPlot", "density_heights"]
