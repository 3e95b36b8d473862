"""Per-layer profiles against depth: one curve per visible run, x = layer index 1..L (forward order).

``DepthProfilePlot`` draws one per-layer quantity of the store (``RunStore.layer(q)``, [K, L]) as
the mean over the last ``window`` recorded rows ("now"), on a log y axis, every visible run in its
colour. Four panels specialise it:

* :class:`GradNormDepthPlot` — ‖∂L/∂W‖₂ per layer: where gradients vanish in a deep plain net;
* :class:`~resnet_viz.gui.plots.act_std.ActStdDepthPlot` (its own module) — std of each layer's (pre-BN)
  output now, at initialisation, and as the initialisation theory predicts it, with the scatter of one network;
* :class:`OutGradDepthPlot` — ‖∂L/∂y‖ of each layer's output: the backward signal;
* :class:`UpdateRatioDepthPlot` — ‖ΔW‖ / ‖W‖ of the last optimiser updates.

A row counts as finite when it has no ±inf and its last layer (the head, which runs at every
step) is finite; other rows (a diverging run's last steps, a step without an update) are skipped,
so a diverged run shows its last finite rows. NaN elsewhere in a finite row marks a layer that did
not run (stochastic depth) and is left out of that layer's mean.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from resnet_viz.gui.plots.band_depth import DepthBands
from resnet_viz.gui.plots.bands import SeedGroupEntry
from resnet_viz.gui.plots.base import (
    PlotPanel,
    brush,
    cache_text,
    corner_legend,
    finite_or_nan,
    pen,
    positive_or_nan,
    style_plot,
)
from resnet_viz.gui.plots.depth_profile import (
    DEFAULT_WINDOW,
    MAX_WINDOW,
    Series,
    draws_markers,
    format_steps,
    recent_mean,
)
from resnet_viz.gui.plots.stepped_bounds import SteppedBounds
from resnet_viz.gui.runs import RunEntry, display_names
from resnet_viz.metrics.store import RunStore


class DepthCurve(SteppedBounds):
    """A curve of a depth panel: its y bounds auto-range in steps while a run grows (x is the fixed layer axis)."""

    step_x = False


@dataclass
class _Drawn:
    """What a panel drew for one run: the change key and its items, by series suffix."""

    key: tuple
    items: dict[str, DepthCurve] = field(default_factory=dict)
    series: list[Series] = field(default_factory=list)
    legend_label: str = ""


class DepthProfilePlot(PlotPanel):
    """Per-layer profile of one store quantity vs depth, every visible run overlaid.

    Subclasses set ``key``, ``title``, ``quantity`` (one of ``LAYER_QUANTITIES``) and ``y_label``;
    :meth:`extra_series` adds curves per run (e.g. the init and theory lines of activation std).
    """

    quantity: str = "grad_norm"
    y_label: str = "value"
    y_units: str | None = None
    #: Entries shown in the legend before the runs, explaining the line styles (label, item).
    style_key: tuple[tuple[str, dict[str, Any]], ...] = ()
    #: Suffixes of the curves (besides "now") a seed group draws as their mean over its runs.
    band_lines: tuple[str, ...] = ()
    #: A log y axis (values ≤ 0 are not drawn); False: linear, with the fixed range ``y_range`` when set.
    log_y: bool = True
    y_range: tuple[float, float] | None = None
    #: Draw a curve through its finite points only (layers without a value are skipped, not gaps).
    skip_nan: bool = False

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, window: int = DEFAULT_WINDOW) -> None:
        super().__init__(parent)
        self.plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        style_plot(
            self.plot,
            title=self.title,
            x_label="layer (forward order)",
            y_label=self.y_label,
            y_units=self.y_units,
            log_y=self.log_y,
        )
        self.plot.setDownsampling(auto=False)  # at most a few hundred points per curve
        self.plot.getViewBox().setDefaultPadding(0.03)
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # log axis: no "(x1e+27)" scaling
        if self.y_range is not None:
            self.plot.enableAutoRange(y=False)
            self.plot.setYRange(*self.y_range)
        # The legend sits in the plot's top-right corner on a translucent ground (drag it elsewhere);
        # a row under the plot would set the panel's minimum width and clip narrow docks.
        self.legend = corner_legend(self.plot, colCount=2 if self.style_key else 1)
        self._key_items = [(label, pg.PlotDataItem(**style)) for label, style in self.style_key]
        self.window_box = QtWidgets.QSpinBox()
        self.window_box.setRange(1, MAX_WINDOW)
        self.window_box.setValue(max(1, int(window)))
        self.window_box.setSuffix(" probed steps")
        self.window_box.setKeyboardTracking(False)
        self.window_box.valueChanged.connect(self._window_changed)
        self.add_tool(
            "Now = mean of last",
            self.window_box,
            "Each curve shows the mean over this many of the run's last recorded steps "
            "(1 = the latest step only); non-finite steps are skipped",
        )
        self._drawn: dict[int, _Drawn] = {}
        self.bands = DepthBands(self)  # seed groups drawn as mean + band (the window's Seeds choice)
        self._legend_rows: list[tuple[int, str]] = []
        self._runs: list[RunEntry] = []
        self._selected: RunEntry | None = None
        #: Number of per-run redraws so far (tests and benchmarks read it).
        self.redraws = 0
        self.connect_hover(self.plot, self.on_hover)

    # --- data ------------------------------------------------------------------------------
    @property
    def now_window(self) -> int:
        """Rows averaged for "now" (≥ 1)."""
        return int(self.window_box.value())

    def set_window(self, window: int) -> None:
        """Set the averaging window (redraws every run)."""
        self.window_box.setValue(max(1, int(window)))

    def now_profile(self, store: RunStore) -> tuple[np.ndarray, np.ndarray]:
        """``(mean of the last window usable rows [L] float64, steps of those rows)``."""
        values = store.layer(self.quantity)
        mean, rows = recent_mean(values, self.now_window)
        steps = store.layer_step[rows] if rows.size else np.empty(0, np.int64)
        return mean, steps

    def extra_series(self, entry: RunEntry, color: str) -> list[Series]:
        """Curves drawn for a run besides "now" (none by default)."""
        return []

    def run_series(self, entry: RunEntry) -> tuple[list[Series], np.ndarray]:
        """Every curve of a run, main first, and the steps its "now" values come from."""
        if isinstance(entry, SeedGroupEntry):
            return self.bands.group_series(entry)
        mean, steps = self.now_profile(entry.store)
        when = f"mean of {format_steps(steps)}" if steps.size > 1 else format_steps(steps)
        marked = draws_markers(entry.status)  # a marker per layer, except while the run trains
        style = dict(pen=pen(entry.color, 2), symbol="o" if marked else None, symbolSize=5)
        main = Series("", mean, when, dict(style, symbolPen=pen(entry.color), symbolBrush=brush(entry.color)))
        return [main, *self.extra_series(entry, entry.color)], steps

    def display_y(self, values: np.ndarray) -> np.ndarray:
        """float64 ``values`` as drawn: NaN where not finite (and, on a log axis, ≤ 0)."""
        return positive_or_nan(values) if self.log_y else finite_or_nan(values)

    def curve(self, run_id: int, suffix: str = "") -> pg.PlotDataItem | None:
        """The drawn curve of a run ("" = now; e.g. "at init", "theory"), or None if not drawn."""
        drawn = self._drawn.get(run_id)
        return drawn.items.get(suffix) if drawn is not None else None

    def legend_text(self) -> list[str]:
        """The legend's labels, in order (style key first)."""
        return [label.text for _, label in self.legend.items]

    # --- refresh ---------------------------------------------------------------------------
    def refresh(self, runs: Sequence[RunEntry], selected: RunEntry | None) -> None:
        """Redraw the runs whose version, visibility, colour or name changed; drop those gone."""
        self._runs, self._selected = list(runs), selected
        runs = self.bands.entries(runs)  # a seed group becomes one entry (its runs leave)
        self._names = display_names(runs)
        listed = {r.run_id for r in runs}
        gone = [i for i in self._drawn if i not in listed]
        for run_id in gone:
            self._remove(run_id)
        changed = bool(gone)
        growing = any(e.active for e in runs)  # y auto-ranges in steps while a run grows
        for old in self._drawn.values():
            for item in old.items.values():
                item.set_stepped(growing)
        for entry in runs:
            shown = entry.visible and entry.store.started is not None
            key = (entry.version, entry.color, self._names[entry.run_id], self.now_window, entry.status)
            drawn = self._drawn.get(entry.run_id)
            if not shown:
                if drawn is not None:
                    self._remove(entry.run_id)
                    changed = True
                continue
            if drawn is not None and drawn.key == key:
                continue
            self._draw(entry, key)
            changed = True
        if changed:
            self.bands.sync_fills(self._drawn)
            self._update_legend(runs)
            if self.isVisible():
                self.plot.vb.prepareForPaint()  # settle the auto-range now, not in a second paint

    def _draw(self, entry: RunEntry, key: tuple) -> None:
        """(Re)draw a run's curves; a curve whose values, name and colour are unchanged (e.g. the
        constant "at init" and "theory" lines while the run trains) is left alone."""
        drawn = self._drawn.setdefault(entry.run_id, _Drawn(key))
        # colour or name changed, markers on or off (the run started or stopped training), or new
        restyle = drawn.key[1:3] != key[1:3] or draws_markers(drawn.key[4]) != draws_markers(key[4]) or not drawn.items
        drawn.key = key
        series, _steps = self.run_series(entry)
        n = series[0].y.shape[0]
        x = np.arange(1, n + 1, dtype=np.float64)
        old = {s.suffix: s for s in drawn.series}
        for s in series:
            name = f"{entry.name}: {self.quantity} ({s.when})"  # the CSV column / legend name
            item = drawn.items.get(s.suffix)
            if item is None:
                item = DepthCurve()
                item.setZValue(1 if not s.suffix else 0)
                drawn.items[s.suffix] = item
                self.plot.addItem(item)
                item.setDynamicRangeLimit(None)  # log axis, finite values: no re-set of the data on a y change
                item.set_stepped(entry.active)
            elif (
                not restyle
                and s.suffix in old
                and item.name() == name
                and np.array_equal(s.y, old[s.suffix].y, equal_nan=True)
            ):
                continue
            y, xs = self.display_y(s.y), x
            if self.skip_nan:
                xs, y = x[np.isfinite(y)], y[np.isfinite(y)]
            if np.isnan(y).all():  # nothing measured yet: an empty curve (all-NaN symbols warn in pyqtgraph)
                item.setData([], [], name=name, **s.style)
            else:
                item.setData(xs, y, name=name, **s.style)
        drawn.series = series
        status = " — diverged" if entry.diverged else ""
        drawn.legend_label = f"{self._names.get(entry.run_id, entry.name)}{status}"  # steps: in the hover readout
        self.redraws += 1

    def _remove(self, run_id: int) -> None:
        drawn = self._drawn.pop(run_id)
        for item in drawn.items.values():
            self.plot.removeItem(item)

    def _update_legend(self, runs: Sequence[RunEntry]) -> None:
        rows = [(r.run_id, self._drawn[r.run_id].legend_label) for r in runs if r.run_id in self._drawn]
        if [i for i, _ in rows] != [i for i, _ in self._legend_rows]:
            self.legend.clear()
            if rows:
                for label, item in self._key_items:
                    self.legend.addItem(item, label)
            for run_id, label in rows:
                self.legend.addItem(self._drawn[run_id].items[""], label)
        elif rows != self._legend_rows:
            for (run_id, label), (_, old) in zip(rows, self._legend_rows):
                if label != old:
                    self.legend.getLabel(self._drawn[run_id].items[""]).setText(label)
            self.legend.updateSize()
        cache_text(self.legend)
        self._legend_rows = rows

    def _window_changed(self, _value: int) -> None:
        self.refresh(self._runs, self._selected)

    # --- hover -----------------------------------------------------------------------------
    def describe_point(self, pos: QtCore.QPointF) -> str:
        """Readout for the curve point nearest to ``pos`` (view coordinates: x layer, y log10 value)."""
        vb = self.plot.getViewBox()
        px, py = vb.viewPixelSize()
        if not (np.isfinite(px) and np.isfinite(py) and px > 0 and py > 0):
            px, py = 1.0, 1.0
        best: tuple[float, RunEntry, Series, int] | None = None
        entries = {r.run_id: r for r in [*self._runs, *self.bands.grouping.live()]}
        for run_id, drawn in self._drawn.items():
            entry = entries.get(run_id)
            if entry is None:
                continue
            for s in drawn.series:
                y = self.display_y(s.y)
                with np.errstate(invalid="ignore", divide="ignore"):
                    ly = np.log10(y) if self.log_y else y
                dx = (np.arange(1, y.size + 1) - pos.x()) / px
                dy = (ly - pos.y()) / py
                d = np.hypot(dx, dy)
                if not np.isfinite(d).any():
                    continue
                i = int(np.nanargmin(d))
                if best is None or d[i] < best[0]:
                    best = (float(d[i]), entry, s, i)
        if best is None or best[0] > 40:  # farther than 40 pixels from every point
            return ""
        _, entry, s, i = best
        started = entry.store.started
        if started is None:  # drawn runs have started; a store replaced since the last draw may not have
            return ""
        info = started.layers
        return f"{entry.name} — layer {i + 1} {info.names[i]} ({info.roles[i]}) · {s.when} · {s.y[i]:.2e}"

    def on_hover(self, pos: QtCore.QPointF) -> None:
        """Show :meth:`describe_point` in the readout line."""
        self.set_readout(self.describe_point(pos))

    # --- export ----------------------------------------------------------------------------
    def csv_item(self) -> pg.PlotItem:
        return self.plot

    def export_csv(self, path: str | Path) -> None:
        """Write every curve as two columns ``<curve name>_x`` (layer index), ``<curve name>_y``
        (real value, not log10; empty where a curve is shorter or has no value).

        The column layout is CSVExporter's "(x,y) per plot"; the values are written here because
        CSVExporter formats them in fixed point with 10 decimals, which turns ‖∂L/∂W‖ < 5e-11 (a
        vanished gradient) into 0.
        """
        header: list[str] = []
        columns: list[list[str]] = []
        for item in self.plot.listDataItems():
            x, y = item.getOriginalDataset()
            if x is None:
                continue
            header += [f"{item.name()}_x", f"{item.name()}_y"]
            columns.append([str(int(v)) for v in x])
            columns.append(["" if not np.isfinite(v) else f"{v:.7g}" for v in y])
        n = max((len(c) for c in columns), default=0)
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for r in range(n):
                writer.writerow([c[r] if r < len(c) else "" for c in columns])


class GradNormDepthPlot(DepthProfilePlot):
    """‖∂L/∂W‖₂ of every weight layer vs depth: vanishes towards the input of a deep plain net."""

    key = "grad_norm_depth"
    title = "Weight-gradient norm vs depth"
    quantity = "grad_norm"
    y_label = "‖∂L/∂W‖₂"


class OutGradDepthPlot(DepthProfilePlot):
    """‖∂L/∂y‖ of each layer's output vs depth: the backward signal reaching that layer."""

    key = "out_grad_depth"
    title = "Backward signal vs depth"
    quantity = "out_grad_norm"
    y_label = "‖∂L/∂y‖ (layer output)"


class UpdateRatioDepthPlot(DepthProfilePlot):
    """‖ΔW‖ / ‖W‖ of each layer's optimiser updates vs depth (how fast each layer moves)."""

    key = "update_ratio_depth"
    title = "Update/weight ratio"
    quantity = "update_ratio"
    y_label = "‖ΔW‖ / ‖W‖"
