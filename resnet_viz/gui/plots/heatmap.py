"""Depth × iteration heatmap of one run's weight-gradient norms.

Rows are the weight layers in forward order (layer 1, the stem, at the top), columns the recorded
steps; colour is log₁₀ ‖∂L/∂W‖₂. The image is a float32 buffer [columns, L] that only grows: each
refresh converts just the rows recorded since the last one. Long runs are shown with at most
``max_columns`` columns: a column then holds ``bin`` consecutive recorded steps (a power of two,
doubled — and the buffer rebuilt once — whenever the cap would be exceeded) and shows the mean of
their log₁₀ values (the log of the geometric mean). CSV export writes the store at full resolution.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from resnet_viz.gui.plots.base import PlotPanel, cache_text, style_plot
from resnet_viz.gui.plots.stepped_bounds import GrowingImage, nice_ceil
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.records import LayerInfoRecord

DEFAULT_MAX_COLUMNS = 4096
#: Columns (most recent) whose 1st-99th percentiles may widen the colour levels.
LEVEL_WINDOW = 64
#: Levels are rounded outwards to this many decades, so small excursions don't move them.
LEVEL_ROUNDING = 0.25
_BLOCK_PEN = pg.mkPen(255, 255, 255, 100, width=1)
#: Block lines are hidden when blocks are closer than this (pixels); stage names need this much room.
MIN_BLOCK_PX = 12.0
MIN_TICK_PX = 14.0
_STAGE_PEN = pg.mkPen(255, 255, 255, 230, width=2)


def log10_or_nan(values: np.ndarray) -> np.ndarray:
    """float32 log₁₀ of ``values``; NaN where a value is not a positive finite number."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(np.asarray(values, dtype=np.float32))
    out[~np.isfinite(out)] = np.nan
    return out


def _nan_bin_mean(bins: np.ndarray) -> np.ndarray:
    """Mean over axis 1 of ``bins`` [n, width, L] ignoring NaN (NaN where a bin has none)."""
    finite = np.isfinite(bins)
    count = finite.sum(axis=1)
    total = np.where(finite, bins, np.float32(0)).sum(axis=1, dtype=np.float32)
    out = np.full(count.shape, np.nan, dtype=np.float32)
    np.divide(total, count, out=out, where=count > 0)
    return out


def bin_mean(rows: np.ndarray, width: int) -> np.ndarray:
    """Mean of each ``width`` consecutive rows of ``rows`` [n, L] (the last bin may be partial),
    ignoring NaN; NaN where a bin has no finite value. Returns float32 [ceil(n / width), L]."""
    rows = np.asarray(rows, dtype=np.float32)
    if width == 1:
        return rows
    n, n_layers = rows.shape
    n_full = n // width
    body = rows[: n_full * width].reshape(n_full, width, n_layers)
    out = np.empty((-(-n // width), n_layers), dtype=np.float32)
    out[:n_full] = body.mean(axis=1, dtype=np.float32)  # fast path; NaN wherever a bin holds one
    bad = np.flatnonzero(np.isnan(out[:n_full]).any(axis=1))
    if bad.size:
        out[bad] = _nan_bin_mean(body[bad])
    if n_full * width < n:
        out[n_full] = _nan_bin_mean(rows[n_full * width :][None])[0]
    return out


def stage_ticks(info: LayerInfoRecord) -> list[tuple[float, str]]:
    """``(layer index 1..L, label)`` at the first layer of every stage: "stem", "stage1", ..., "fc"."""
    ticks = []
    for i, stage in enumerate(info.stages):
        if i and stage == info.stages[i - 1]:
            continue
        role = info.roles[i]
        if role in ("branch", "shortcut", "gate"):
            label = f"stage{int(stage)}"
        elif role in ("stem", "input", "hidden"):
            label = role
        else:
            label = info.names[i].split(".")[0]
        ticks.append((float(i + 1), label))
    return ticks


def boundary_positions(info: LayerInfoRecord) -> tuple[np.ndarray, np.ndarray]:
    """y positions (between layers, e.g. 3.5) where ``blocks`` changes within a stage, and where
    ``stages`` changes."""
    stages, blocks = np.asarray(info.stages), np.asarray(info.blocks)
    stage_change = stages[1:] != stages[:-1]
    block_change = (blocks[1:] != blocks[:-1]) & ~stage_change
    y = np.arange(1, stages.size, dtype=np.float64) + 0.5
    return y[block_change], y[stage_change]


class GradHeatmapPlot(PlotPanel):
    """log₁₀ ‖∂L/∂W‖₂ of one run as an image: layers (y, forward order, layer 1 at the top) ×
    recorded steps (x), with a colour bar; block boundaries thin, stage boundaries thick.

    ``refresh(runs, selected)`` shows ``selected``, or the first visible run when it is None.
    """

    key = "grad_heatmap"
    title = "Weight-gradient norm per layer"
    quantity = "grad_norm"

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        max_columns: int = DEFAULT_MAX_COLUMNS,
        colormap: str = "viridis",
    ) -> None:
        super().__init__(parent)
        self.max_columns = int(max_columns)
        self.plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        style_plot(self.plot, title=self.title, x_label="training step", y_label="layer (input at top)")
        self.plot.showGrid(x=False, y=False)
        self.plot.setClipToView(False)
        self.plot.setDownsampling(auto=False)
        vb = self.plot.getViewBox()
        vb.invertY(True)
        vb.setDefaultPadding(0.0)
        self.plot.showAxis("right")  # layer numbers on the right, stage names on the left
        self.image = GrowingImage(axisOrder="col-major")  # data [column (x), layer (y)]
        self.plot.addItem(self.image)
        self.block_lines = pg.PlotCurveItem(pen=_BLOCK_PEN, connect="pairs")
        self.stage_lines = pg.PlotCurveItem(pen=_STAGE_PEN, connect="pairs")
        for item in (self.block_lines, self.stage_lines):
            item.setZValue(5)
            self.plot.addItem(item, ignoreBounds=True)
        self.hint = pg.TextItem("", color="#666666", anchor=(0.5, 0.5))
        self.plot.addItem(self.hint, ignoreBounds=True)
        self.colorbar = pg.ColorBarItem(
            values=(-4.0, 0.0),
            colorMap=pg.colormap.get(colormap),
            width=15,
            label="log₁₀ ‖∂L/∂W‖₂",
            interactive=True,
            rounding=0.05,
        )
        self.colorbar.setImageItem(self.image, insert_in=self.plot)  # right of the plot, same height
        self.colorbar.sigLevelsChangeFinished.connect(self._levels_dragged)
        self._ticks: list[tuple[float, str]] = []
        self._shown_ticks: list[tuple[float, str]] = []
        self._layers_per_block = 1.0
        self._title: str | None = None
        vb.sigRangeChanged.connect(self._fit_decorations)
        vb.sigResized.connect(self._fit_decorations)
        self._reset(None)
        self._show_hint("No run to show: start a run or make one visible")
        self.connect_hover(self.plot, self.on_hover)

    # --- state -----------------------------------------------------------------------------
    def _reset(self, entry: RunEntry | None) -> None:
        self.entry: RunEntry | None = entry
        self._store = entry.store if entry is not None else None
        self._version: int | None = None
        self._name = ""
        self._rows = 0  # store rows converted so far
        self.bin = 1  # recorded steps per image column
        self._buf = np.empty((0, 0), dtype=np.float32)  # [allocated columns, L]
        self._ncols = 0
        self._levels: tuple[float, float] | None = None
        self._user_levels = False
        self._extent = (0.0, 1.0)  # x range of the image (steps)
        self._spacing = 1.0  # steps between recorded rows

    @property
    def log_image(self) -> np.ndarray:
        """The displayed image as float32 [L, columns] of log₁₀ ‖∂L/∂W‖₂ (a view; NaN = no value)."""
        return self._buf[: self._ncols].T

    @property
    def levels(self) -> tuple[float, float] | None:
        """Colour levels (log₁₀ units) set from the data, or None before any finite value."""
        return self._levels

    def _pick(self, runs: Sequence[RunEntry], selected: RunEntry | None) -> RunEntry | None:
        if selected is not None:
            return selected
        return next((r for r in runs if r.visible), None)

    # --- refresh ---------------------------------------------------------------------------
    def refresh(self, runs: Sequence[RunEntry], selected: RunEntry | None) -> None:
        """Show the selected (else first visible) run; converts only rows recorded since last time."""
        entry = self._pick(runs, selected)
        if entry is None:
            if self.entry is not None or self._version is None:
                self._reset(None)
                self._version = -1
                self._show_hint("No run to show: start a run or make one visible")
            return
        if self.entry is None or entry.run_id != self.entry.run_id or entry.store is not self._store:
            self._reset(entry)
        elif entry.version == self._version and entry.name == self._name:
            return
        self.entry = entry
        self._version, self._name = entry.version, entry.name
        if entry.name != self._title:  # a title is re-laid out as HTML: set it when it changes only
            self._title = entry.name
            self.plot.setTitle(entry.name, size="9pt")
            cache_text(self.plot)
        store = entry.store
        if store.started is None or store.layer(self.quantity).shape[0] == 0:
            self._show_hint(
                "No per-layer data yet"
                if store.started is None or entry.active
                else "No per-layer data (probes were off)"
            )
            return
        if self._rows == 0:
            self._setup_layers(store.started.layers)
        new = self._update_buffer()
        if new is not None:
            self._update_levels()
        self._show_image()
        if self.isVisible():
            self.plot.vb.prepareForPaint()  # settle the auto-range now, not in a second paint

    def _setup_layers(self, info: LayerInfoRecord) -> None:
        self.hint.setText("")
        self.image.setVisible(True)
        self._ticks = stage_ticks(info)
        for name in ("bottom", "right"):
            self.plot.getAxis(name).setTicks(None)
        self._block_y, self._stage_y = boundary_positions(info)
        n_blocks = len(set(int(b) for b in info.blocks if b >= 0))
        self._layers_per_block = len(info.names) / max(1, n_blocks + 1)
        self.block_lines.setVisible(True)
        self.stage_lines.setVisible(True)
        self.plot.enableAutoRange()  # follow the growing run until the user zooms

    def _update_buffer(self) -> slice | None:
        """Convert the store rows recorded since the last call; returns the columns rewritten."""
        if self._store is None:
            return None
        values = self._store.layer(self.quantity)
        k, n_layers = values.shape
        if k < self._rows:  # cannot happen with a RunStore (it only grows); start again
            self._rows, self._ncols = 0, 0
        if k == self._rows:
            return None
        width = self.bin
        while -(-k // width) > self.max_columns:
            width *= 2
        if width != self.bin:  # crossed the cap: rebuild everything at the coarser bin
            self.bin, self._rows, self._ncols = width, 0, 0
        first = self._rows // self.bin  # the column holding the first new row (may be partial)
        cols = bin_mean(log10_or_nan(values[first * self.bin : k]), self.bin)
        ncols = first + cols.shape[0]
        if ncols > self._buf.shape[0] or self._buf.shape[1] != n_layers:
            size = min(self.max_columns, max(64, 2 * ncols))
            grown = np.full((size, n_layers), np.nan, dtype=np.float32)
            if self._buf.shape[1] == n_layers:
                grown[:first] = self._buf[:first]
            self._buf = grown
        self._buf[first:ncols] = cols
        self._rows, self._ncols = k, ncols
        return slice(first, ncols)

    def _update_levels(self) -> None:
        """Set levels to the 1st-99th percentile of the data; afterwards only widen them when the
        recent columns leave them (rounded outwards to LEVEL_ROUNDING decades)."""
        if self._user_levels:
            return
        data = (
            self._buf[: self._ncols]
            if self._levels is None
            else self._buf[max(0, self._ncols - LEVEL_WINDOW) : self._ncols]
        )
        if data.size > 65536:  # percentiles of a regular sample are as good, and 10x cheaper
            data = data.reshape(-1)[:: data.size // 65536]
        finite = data[np.isfinite(data)]
        if finite.size == 0:
            return
        lo, hi = (float(v) for v in np.percentile(finite, [1.0, 99.0]))
        if self._levels is not None:
            if lo >= self._levels[0] and hi <= self._levels[1]:
                return
            lo, hi = min(lo, self._levels[0]), max(hi, self._levels[1])
        lo = math.floor(lo / LEVEL_ROUNDING) * LEVEL_ROUNDING
        hi = math.ceil(hi / LEVEL_ROUNDING) * LEVEL_ROUNDING
        if hi <= lo:
            hi = lo + LEVEL_ROUNDING
        self._levels = (lo, hi)
        self.colorbar.setLevels((lo, hi))

    def _show_image(self) -> None:
        if self._store is None:
            return
        steps = self._store.layer_step
        k = steps.shape[0]
        spacing = float(steps[-1] - steps[0]) / (k - 1) if k > 1 else 1.0
        x0 = float(steps[0]) - spacing / 2
        width = self._ncols * self.bin * spacing
        n_layers = self._buf.shape[1]
        self._extent, self._spacing = (x0, x0 + width), spacing
        growing = self.entry is not None and self.entry.active
        shown_end = max(x0 + width, nice_ceil(x0 + width)) if growing else x0 + width  # steps, for auto-range
        self.image.columns_shown = self._ncols * (shown_end - x0) / width if width > 0 else None
        self.image.setImage(self._buf[: self._ncols], autoLevels=False, rect=QtCore.QRectF(x0, 0.5, width, n_layers))
        for item, ys in ((self.block_lines, self._block_y), (self.stage_lines, self._stage_y)):
            item.setData(np.tile([x0, x0 + width], ys.size), np.repeat(ys, 2), connect="pairs")
        self.plot.getViewBox().setLimits(xMin=x0, xMax=shown_end, yMin=0.5, yMax=n_layers + 0.5)
        self._fit_decorations()

    def _fit_decorations(self, *_args) -> None:
        """Stage names and block lines for the current zoom: drop a stage name closer than
        MIN_TICK_PX to the next one (keeping the later, e.g. "stage1" over a one-layer "stem"),
        hide block lines closer than MIN_BLOCK_PX."""
        if not self._ticks or not self.image.isVisible():
            return
        vb = self.plot.getViewBox()
        y0, y1 = vb.viewRange()[1]
        px_per_layer = vb.height() / max(abs(y1 - y0), 1e-9)
        kept: list[tuple[float, str]] = []
        for y, label in reversed(self._ticks):
            if not kept or (kept[-1][0] - y) * px_per_layer >= MIN_TICK_PX:
                kept.append((y, label))
        if kept != self._shown_ticks:
            self._shown_ticks = kept
            self.plot.getAxis("left").setTicks([kept[::-1], []])
        self.block_lines.setVisible(self._layers_per_block * px_per_layer >= MIN_BLOCK_PX)

    def _show_hint(self, text: str) -> None:
        if self.entry is None:
            self._title = None
            self.plot.setTitle(None)
        self.image.clear()
        self.image.setVisible(False)
        self.block_lines.setVisible(False)
        self.stage_lines.setVisible(False)
        for name in ("left", "bottom", "right"):
            self.plot.getAxis(name).setTicks([[], []])
        self._shown_ticks = []
        vb = self.plot.getViewBox()
        vb.setLimits(xMin=None, xMax=None, yMin=None, yMax=None)
        vb.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self.hint.setText(text)
        self.hint.setPos(0.5, 0.5)

    def _levels_dragged(self, _bar: pg.ColorBarItem) -> None:
        self._user_levels = True  # the user set the levels: stop adapting them (until the run changes)
        self._levels = tuple(self.colorbar.levels())

    # --- hover -----------------------------------------------------------------------------
    def describe_point(self, pos: QtCore.QPointF) -> str:
        """Readout for the cell under ``pos`` (view coordinates: x step, y layer index)."""
        store = self._store
        if self.entry is None or self._ncols == 0 or store is None or store.started is None:
            return ""
        n_layers = self._buf.shape[1]
        layer = int(round(pos.y()))
        col = int(math.floor((pos.x() - self._extent[0]) / (self.bin * self._spacing)))
        if not (1 <= layer <= n_layers and 0 <= col < self._ncols):
            return ""
        info = store.started.layers
        steps = store.layer_step
        rows = slice(col * self.bin, min((col + 1) * self.bin, steps.shape[0]))
        if self.bin == 1:
            value = float(store.layer(self.quantity)[col, layer - 1])
            when = f"step {int(steps[col]):,}"
        else:
            value = float(10.0 ** self._buf[col, layer - 1])
            n = rows.stop - rows.start
            when = f"steps {int(steps[rows.start]):,}–{int(steps[rows.stop - 1]):,} (geometric mean of {n})"
        return f"{info.names[layer - 1]} (layer {layer}) · {when} · ‖∂L/∂W‖ = {value:.2e}"

    def on_hover(self, pos: QtCore.QPointF) -> None:
        """Show :meth:`describe_point` in the readout line."""
        self.set_readout(self.describe_point(pos))

    # --- export ----------------------------------------------------------------------------
    def csv_item(self) -> None:
        return None

    def export_csv(self, path: str | Path) -> None:
        """Full-resolution CSV of the shown run: header ``step,<layer names>``, one row per recorded
        step, real ‖∂L/∂W‖₂ values (not log₁₀, not binned; "nan" where there is none)."""
        if self.entry is None or self._store is None or self._store.started is None:
            raise ValueError("no run is shown in the gradient heatmap")
        steps = self._store.layer_step
        values = self._store.layer(self.quantity)
        with open(path, "w", newline="") as fh:
            csv.writer(fh).writerow(["step", *self._store.started.layers.names])
            if steps.size:
                table = np.column_stack([steps.astype(np.float64), values.astype(np.float64)])
                np.savetxt(fh, table, delimiter=",", fmt=["%d"] + ["%.7g"] * values.shape[1])
