"""Sharpness over training: the top eigenvalue of the training loss's Hessian against steps, one curve per
run in its colour on a log axis (science.md §8, PyHessian), and the Hessian's trace (Hutchinson) as a
dashed curve of the same colour when the run recorded it. Data: ``RunStore.sharpness`` (the engine's
sharpness probe, ``train.sharpness_every``). Curves are redrawn only for runs whose record count, colour,
visibility or name changed.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from resnet_viz.export.snapshots_io import SHARPNESS_COLUMNS
from resnet_viz.gui.plots.band_sharpness import SharpnessBands
from resnet_viz.gui.plots.base import PlotPanel, brush, pen, positive_or_nan, style_plot
from resnet_viz.gui.runs import RunEntry, display_names

#: What the panel says while no shown run has sharpness records.
EMPTY_TEXT = (
    "No sharpness recorded.\nTurn the probe on with “sharpness” (every K steps) in the setup panel\n"
    "(command line: --sharpness-every K, --sharpness-trace for the trace)."
)


class SharpnessPlot(PlotPanel):
    """Top Hessian eigenvalue (solid, dots) and trace (dashed) vs step, per run."""

    key = "sharpness"
    title = "Sharpness"

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot: pg.PlotItem = self.graphics.addPlot()
        style_plot(self.plot, title=self.title, x_label="iterations", y_label="Hessian eigenvalue / trace", log_y=True)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.empty = pg.TextItem(EMPTY_TEXT, color="#555555", anchor=(0.5, 0.5))
        self.empty.setParentItem(self.plot.vb)  # in the view box's pixels, not in data coordinates
        self.plot.vb.sigResized.connect(self._place_empty)
        self._curves: dict[int, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self._drawn: dict[int, tuple[object, ...]] = {}
        self.connect_hover(self.plot, self._hover)
        self._runs: Sequence[RunEntry] = ()
        self.bands = SharpnessBands(self)  # seed groups drawn as mean + band (the window's Seeds choice)

    def _place_empty(self, *_args: object) -> None:
        rect = self.plot.vb.boundingRect()
        self.empty.setPos(rect.center())

    def refresh(self, runs: Sequence[RunEntry], selected: RunEntry | None) -> None:
        self._runs = runs
        runs = self.bands.refresh(runs)  # the runs of a seed band leave (and come back without it)
        names = display_names(runs)
        ids = {e.run_id for e in runs}
        for run_id in [i for i in self._curves if i not in ids]:
            for item in self._curves.pop(run_id):
                self.plot.removeItem(item)
                self.legend.removeItem(item)
            self._drawn.pop(run_id, None)
        shown = False
        for e in runs:
            records = e.store.sharpness
            shown = shown or (e.visible and bool(records))
            state = (len(records), e.color, e.visible, names[e.run_id])
            if self._drawn.get(e.run_id) == state:
                continue
            self._drawn[e.run_id] = state
            self._draw(e, names[e.run_id])
        self.empty.setVisible(not (shown or self.bands.shown))
        self._place_empty()

    def _draw(self, e: RunEntry, name: str) -> None:
        if e.run_id not in self._curves:
            top = pg.PlotDataItem(name=html.escape(name))
            trace = pg.PlotDataItem()
            self.plot.addItem(top)
            self.plot.addItem(trace)
            self._curves[e.run_id] = (top, trace)
        top, trace = self._curves[e.run_id]
        arrays = e.store.sharpness_arrays()
        steps = arrays["step"].astype(np.float64)
        top.setData(
            steps,
            positive_or_nan(arrays["top_eigenvalue"]),
            pen=pen(e.color, 2.0),
            symbol="o",
            symbolSize=5,
            symbolPen=pen(e.color),
            symbolBrush=brush(e.color),
        )
        trace.setData(steps, positive_or_nan(arrays["trace"]), pen=pen(e.color, 1.5, QtCore.Qt.PenStyle.DashLine))
        label = self.legend.getLabel(top)
        if label is not None:
            label.setText(html.escape(name))
        top.setVisible(e.visible)
        trace.setVisible(e.visible and bool(np.isfinite(arrays["trace"]).any()))

    def _hover(self, pos: QtCore.QPointF) -> None:
        """The readout: each shown run's probe nearest the pointer's step."""
        parts = []
        for e in self._runs:
            arrays = e.store.sharpness_arrays()
            if not e.visible or not arrays["step"].size:
                continue
            i = int(np.argmin(np.abs(arrays["step"] - pos.x())))
            text = f"{e.name.split(' · ')[0]}: step {arrays['step'][i]} λmax {arrays['top_eigenvalue'][i]:.4g}"
            if np.isfinite(arrays["trace"][i]):
                text += f", trace {arrays['trace'][i]:.4g}"
            parts.append(text)
        self.set_readout("; ".join(parts))

    def export_csv(self, path: str | Path) -> None:
        """One row per probe: run, step, top_eigenvalue, trace (empty when off), iterations, samples (a header
        alone when no run recorded sharpness); with seed bands, a group's mean, lo and hi per step instead."""
        if self.bands.bands:
            return self.bands.export_csv(path, self._runs)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["run", *SHARPNESS_COLUMNS])
            for e in self._runs:
                for r in e.store.sharpness:
                    trace = "" if math.isnan(r.trace) else repr(r.trace)
                    writer.writerow([e.name, r.step, repr(r.top_eigenvalue), trace, r.iterations, r.samples])


__all__ = ["EMPTY_TEXT", "SharpnessPlot"]
