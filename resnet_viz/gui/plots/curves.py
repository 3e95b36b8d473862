"""Training/test curves in the style of He et al. 2016, Fig. 1: every run overlaid in its colour.

* thin line (pen width 1): the training metric per iteration, i.e. the mini-batch value of each step,
  shown as a trailing running mean over ``smoothing`` steps (1 = raw);
* bold line (pen width 3, dots): the test metric at the evaluation steps; the dots only while at most
  ``MAX_DOTS`` (150) of a run's evaluations lie in the x view, else the line alone.

:class:`ErrorPlot` shows error in percent, :class:`LossPlot` cross-entropy in nats on a log axis; both
are :class:`TrainTestPlot` configured by class attributes.

Drawing cost: items are created once per run and ``setData`` is called only for runs whose
``version`` (or the smoothing, visibility, colour or name) changed. The running mean is extended
incrementally from prefix sums over the new steps only (:class:`~resnet_viz.gui.plots.running_mean.RunningMean`),
the thin curve is drawn from peak bins cached per zoom level (:mod:`.decimation`): a chunk costs work in
its own steps and the screen's width, not the history. While a run grows, auto-range works in steps
(:mod:`.stepped_bounds`), so axes and grid are not re-rendered on every chunk.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from resnet_viz.gui.plots.band_curves import CurveBands
from resnet_viz.gui.plots.base import PlotPanel, cache_text, corner_legend, style_plot
from resnet_viz.gui.plots.curve_items import (
    BOLD_WIDTH,
    SYMBOL_SIZE,
    THIN_WIDTH,
    CurveCSVExporter,
    LegendSample,
    RunCurves,
    eval_series,
    name_if_new,
)
from resnet_viz.gui.plots.running_mean import (
    DEFAULT_SMOOTHING,
    MAX_SMOOTHING,
    RunningMean,
    last_finite,
    nearest_index,
)
from resnet_viz.gui.runs import RunEntry, display_names

KEY_COLOR = "#555555"  # the style key (thin/bold) in the legend


class TrainTestPlot(PlotPanel):
    """Thin running-mean training curve + bold test curve per run; subclasses pick the metric.

    Class attributes: ``train_scalar`` (RunStore scalar name), ``eval_field`` (EvalRecord attribute),
    ``scale`` (display units per stored unit), ``y_label``, ``log_y``, ``metric_name`` / ``unit`` (words for
    CSV column names), ``autorange_max`` (display units; auto-range ignores values above it, None: no cap).
    """

    train_scalar: str = "batch_error"
    eval_field: str = "test_error"
    scale: float = 100.0
    y_label: str = "error (%)"
    log_y: bool = False
    metric_name: str = "error"
    unit: str = "%"  # for CSV column names and the readout ("%": one decimal, else 4 significant digits)
    autorange_max: float | None = None

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot: pg.PlotItem = self.graphics.addPlot()
        style_plot(self.plot, title=self.title, x_label="iterations", y_label=self.y_label, log_y=self.log_y)
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # no "(x1e+27)" on a log axis
        self.legend = corner_legend(self.plot, offset=(-8, 8), sampleType=LegendSample, verSpacing=-7, horSpacing=5)
        self.legend.layout.setContentsMargins(3, 1, 6, 1)
        self._key_thin = pg.PlotDataItem(pen=pg.mkPen(KEY_COLOR, width=THIN_WIDTH))
        self._key_bold = pg.PlotDataItem(
            pen=pg.mkPen(KEY_COLOR, width=BOLD_WIDTH),
            symbol="o",
            symbolSize=SYMBOL_SIZE,
            symbolPen=None,
            symbolBrush=KEY_COLOR,
        )
        self._legend_signature: tuple | None = None

        self.smoothing_spin = QtWidgets.QSpinBox()
        self.smoothing_spin.setRange(1, MAX_SMOOTHING)
        self.smoothing_spin.setValue(DEFAULT_SMOOTHING)
        self.smoothing_spin.setSuffix(" steps")
        self.smoothing_spin.setKeyboardTracking(False)
        self.smoothing_spin.valueChanged.connect(self._smoothing_changed)
        self.add_tool(
            "smoothing",
            self.smoothing_spin,
            "Thin training curves: running mean over this many iterations (1 = raw mini-batch values)",
        )

        self._runs: dict[int, RunCurves] = {}
        self._last_runs: list[RunEntry] = []
        self._selected_id: int | None = None
        self._order: tuple[int, ...] = ()  # run ids in list order, as stacked
        self._data_changed = False  # setData was called in this refresh
        self.bands = CurveBands(self)  # seed groups drawn as mean + band (the window's Seeds choice)
        self.connect_hover(self.plot, self.on_hover)
        self.plot.sigXRangeChanged.connect(self._show_dots)

    # --- public ---------------------------------------------------------------------------------
    @property
    def smoothing(self) -> int:
        """Running-mean window of the thin curves, in steps."""
        return self.smoothing_spin.value()

    def set_smoothing(self, steps: int) -> None:
        """Set the running-mean window (steps, 1..1000); redraws the thin curves."""
        self.smoothing_spin.setValue(int(steps))

    def run_curves(self, run_id: int) -> RunCurves | None:
        """The items drawn for a run (None when the run is not shown in this panel)."""
        return self._runs.get(run_id)

    def csv_item(self) -> pg.PlotItem:
        return self.plot

    def export_csv(self, path: str | Path) -> None:
        """CSV of the visible runs' curves (pyqtgraph CSVExporter, one x/y column pair per curve).

        Columns are named ``"<run> training <metric> ... _x"`` / ``"_y"``; shorter columns are padded with
        empty cells; NaN (breaks, diverged steps) is written as ``nan``.
        """
        curves = [c for rc in self._runs.values() if rc.visible for c in (rc.train, rc.test)] + self.bands.csv_curves()
        CurveCSVExporter(self.plot, curves).export(str(path))

    def refresh(self, runs: Sequence[RunEntry], selected: RunEntry | None) -> None:
        """Update items to ``runs`` (all runs, list order); ``setData`` only for runs that changed."""
        self._last_runs = list(runs)
        runs = self.bands.refresh(runs)  # the runs of a seed band come back hidden
        seen: set[int] = set()
        growing = any(e.active for e in runs)  # auto-range in steps while a run grows
        for entry in runs:
            seen.add(entry.run_id)
            rc = self._runs.get(entry.run_id)
            if rc is None or rc.store is not entry.store:
                if rc is not None:
                    self._remove(entry.run_id)
                rc = self._create(entry)
            rc.set_stepped(growing)
            self._update_run(rc, entry)
        for run_id in [r for r in self._runs if r not in seen]:
            self._remove(run_id)
        selected_id = selected.run_id if selected is not None else None
        order = tuple(e.run_id for e in runs)
        if selected_id != self._selected_id or order != self._order:
            self._selected_id, self._order = selected_id, order
            self._restack(runs)
        self._update_legend(runs)
        if self._data_changed:
            self._data_changed = False
            self._place_marker_texts()
            if self.isVisible():
                # settle the auto-range now; left to the paint, the range change it makes schedules a second
                # full repaint in many frames (measured: 50 paints for 30 frames of growing runs, 30 with this)
                self.plot.vb.prepareForPaint()
            self._show_dots()

    # --- hover -----------------------------------------------------------------------------------
    def hover_text(self, view_pos: QtCore.QPointF) -> str:
        """Readout for the visible run whose curve (thin or bold) is nearest the pointer at its x.

        ``view_pos`` is in view coordinates (iterations; log10 of the value on a log y axis).
        """
        x, y = view_pos.x(), view_pos.y()
        best: tuple[float, RunCurves, int | None] | None = None
        for rc in self._runs.values():
            if not rc.visible:
                continue
            means = rc.mean.values
            steps = rc.store.scalar("step")[: len(means)]
            i: int | None = None
            dists = []
            if len(means) and steps[0] - 0.5 <= x <= steps[-1] + 0.5:
                i = nearest_index(steps, x)
                dists.append(self._view_y(means[i]))
            if len(rc.eval_x) and rc.eval_x[0] <= x <= rc.eval_x[-1]:
                dists.append(self._view_y(float(np.interp(x, rc.eval_x, rc.eval_y))))
            dists = [abs(v - y) for v in dists if math.isfinite(v)]
            if not dists and i is not None:
                dists = [math.inf]  # over the run's steps but no finite value (e.g. after divergence)
            if dists and (best is None or min(dists) < best[0]):
                best = (min(dists), rc, i)
        if best is None:
            return ""
        _, rc, i = best
        steps = rc.store.scalar("step")
        step = int(steps[i]) if i is not None else int(round(x))
        who = rc.name if (not rc.label or rc.label in rc.name) else f"{rc.name} ({rc.label})"
        mean_words = "mini-batch" if rc.mean.window == 1 else f"mean of {rc.mean.window}"
        train = rc.mean.values[i] if i is not None else math.nan
        text = f"{who} — step {step:,}: training {self.format_value(train)} ({mean_words})"
        if len(rc.eval_x):
            j = nearest_index(rc.eval_x, step)
            text += f", test {self.format_value(rc.eval_y[j])} (at step {int(rc.eval_x[j]):,})"
        return text

    def on_hover(self, view_pos: QtCore.QPointF) -> None:
        """Mouse-move handler: show :meth:`hover_text` in the readout line."""
        self.set_readout(self.hover_text(view_pos) or self.bands.hover_text(view_pos))

    def format_value(self, value: float) -> str:
        """A value in display units, for the readout."""
        if not math.isfinite(value):
            return "—"
        return f"{value:.1f}%" if self.unit == "%" else f"{value:.4g}"

    # --- internals -------------------------------------------------------------------------------
    def _view_y(self, value: float) -> float:
        """A value in view coordinates: log10 on a log axis (the plot's context menu can toggle it)."""
        if self.plot.getAxis("left").logMode:
            return math.log10(value) if value > 0 else math.nan
        return value

    def _create(self, entry: RunEntry) -> RunCurves:
        mean = RunningMean(self.smoothing, scale=self.scale, positive=self.log_y)
        rc = RunCurves.add_to(self.plot, entry.store, mean, self.autorange_max)
        try:
            rc.label = entry.config.label()
        except Exception:  # noqa: BLE001 — a readout nicety; an odd config must not break drawing
            rc.label = ""
        self._runs[entry.run_id] = rc
        self._restack(self._last_runs)
        return rc

    def _remove(self, run_id: int) -> None:
        rc = self._runs.pop(run_id)
        for item in rc.items():
            self.plot.removeItem(item)

    def _restack(self, runs: Sequence[RunEntry]) -> None:
        """Z order: test curves above training curves, runs in list order, the selected run on top."""
        for order, entry in enumerate(runs):
            rc = self._runs.get(entry.run_id)
            if rc is None:
                continue
            top = 500 if entry.run_id == self._selected_id else 0
            rc.train.setZValue(order + top)
            rc.test.setZValue(1000 + order + top)
            rc.marker.setZValue(3000 + order)
            rc.marker_text.setZValue(3000 + order)

    def _update_run(self, rc: RunCurves, entry: RunEntry) -> None:
        if entry.color != rc.color:
            rc.set_colour(entry.color)
        if entry.visible != rc.visible:
            rc.visible = entry.visible
            rc.train.setVisible(entry.visible)
            rc.test.setVisible(entry.visible)
            rc.marker.setVisible(entry.visible and rc.diverged)
            rc.marker_text.setVisible(entry.visible and rc.diverged)
        if not entry.visible:
            return  # data catches up when the run is shown again
        renamed = entry.name != rc.name
        if renamed or entry.version != rc.version or rc.mean.window != self.smoothing:
            rc.name = entry.name
            rc.version = entry.version
            self._update_data(rc, entry, renamed)

    def _update_data(self, rc: RunCurves, entry: RunEntry, renamed: bool) -> None:
        self._data_changed = True
        store = entry.store
        window_before = rc.mean.window
        rc.mean.set_window(self.smoothing)
        steps = store.scalar("step")
        n_old, n = len(rc.mean), store.steps_done
        if n > n_old:
            samples = store.scalar(self.train_scalar)[n_old:n]
            loss = store.scalar("loss")[n_old:n]
            rc.mean.extend(samples, np.isfinite(loss))  # a step with non-finite loss has no meaningful metric
        window = rc.mean.window
        words = "mini-batch" if window == 1 else f"mean of {window} steps"
        rc.train.set_series(
            steps[:n],
            rc.mean.values,
            reset=rc.mean.window != window_before,
            **name_if_new(rc.train, f"{entry.name} training {self.metric_name} {self.unit} ({words})"),
        )
        if len(store.evals) != rc.n_evals or renamed:
            rc.n_evals = len(store.evals)
            rc.eval_x, rc.eval_y = eval_series(store.evals, self.eval_field, self.scale, self.log_y)
            rc.test.setData(
                rc.eval_x, rc.eval_y, **name_if_new(rc.test, f"{entry.name} test {self.metric_name} {self.unit}")
            )
        self._update_marker(rc, entry, steps[:n])

    def _show_dots(self, *_: object) -> None:
        """Evaluation dots on each bold curve only when few are in view (:meth:`RunCurves.show_dots`)."""
        x_range, log_x = self.plot.vb.viewRange()[0], bool(self.plot.getAxis("bottom").logMode)
        for rc in self._runs.values():
            rc.show_dots(x_range, log_x)

    def _update_marker(self, rc: RunCurves, entry: RunEntry, steps: np.ndarray) -> None:
        """Place the "x" + "diverged" at the run's last step, at the height of its last finite value."""
        last = last_finite(rc.mean.values) if entry.diverged and len(steps) else None
        rc.diverged = last is not None
        if last is not None:
            x, y = float(steps[-1]), float(rc.mean.values[last])
            text = "diverged"
            if self.autorange_max is not None and y > self.autorange_max:  # off the auto-ranged scale
                text = f"diverged ({self.format_value(y)})"
                y = self.autorange_max
            rc.marker.setData([x], [y], name=f"{entry.name} diverged")
            rc.marker_text.setText(text)
            rc.marker_text.setPos(x, self._view_y(y))
        rc.marker.setVisible(rc.diverged and entry.visible)
        rc.marker_text.setVisible(rc.diverged and entry.visible)

    def _place_marker_texts(self) -> None:
        """Put each "diverged" label right of its marker, or left of it in the right half of the x range
        (a run usually diverges at its end, which is often the right edge of the plot)."""
        diverged = [rc for rc in self._runs.values() if rc.diverged]
        if not diverged:
            return
        x_max = max(
            (
                float(rc.train.getOriginalDataset()[0][-1])
                for rc in self._runs.values()
                if rc.visible and rc.train.getOriginalDataset()[0] is not None
            ),
            default=0.0,
        )
        for rc in diverged:
            left = rc.marker_text.pos().x() > 0.5 * x_max
            rc.marker_text.setAnchor((1.12, 1.0) if left else (-0.12, 1.0))

    def _update_legend(self, runs: Sequence[RunEntry]) -> None:
        """One entry per visible run (its bold-curve style) + the thin/bold key; rebuilt only on change."""
        names = display_names(runs)
        shown = [(e.run_id, names[e.run_id], e.color) for e in runs if e.visible and e.run_id in self._runs]
        signature = (tuple(shown), self.smoothing, tuple(self.bands.legend_rows()))
        if signature == self._legend_signature:
            return
        self._legend_signature = signature
        self.legend.clear()
        rows = [(self._runs[run_id].test, html.escape(name)) for run_id, name, _ in shown] + self.bands.legend_rows()
        for item, label in rows:
            self.legend.addItem(item, label)
        words = "per step" if self.smoothing == 1 else f"mean of {self.smoothing} steps"
        self.legend.addItem(self._key_thin, f'<span style="color:{KEY_COLOR}">thin: training ({words})</span>')
        self.legend.addItem(self._key_bold, f'<span style="color:{KEY_COLOR}">bold: test</span>')
        cache_text(self.legend)

    def _smoothing_changed(self, _value: int) -> None:
        if self._last_runs:
            self.refresh(self._last_runs, self._selected_entry())
        else:
            self._update_legend([])

    def _selected_entry(self) -> RunEntry | None:
        return next((e for e in self._last_runs if e.run_id == self._selected_id), None)


class ErrorPlot(TrainTestPlot):
    """Training error (thin, running mean of the mini-batch error) and test error (bold), in %."""

    key = "error"
    title = "Training and test error"
    train_scalar = "batch_error"
    eval_field = "test_error"
    scale = 100.0
    y_label = "error (%)"
    log_y = False
    metric_name = "error"
    unit = "%"


class LossPlot(TrainTestPlot):
    """Training loss (thin, running mean of the mini-batch loss) and test loss (bold), nats, log y."""

    key = "loss"
    title = "Loss"
    train_scalar = "loss"
    eval_field = "test_loss"
    scale = 1.0
    y_label = "cross-entropy loss (nats)"
    log_y = True
    metric_name = "loss"
    unit = "nats"
    autorange_max = 100.0  # nats; an exploding run shoots off the top instead of squashing the others


__all__ = ["ErrorPlot", "LossPlot", "TrainTestPlot"]
