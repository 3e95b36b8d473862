"""The Sharpness panel: per-run curves of the top Hessian eigenvalue (log y), the trace dashed, the empty state."""

from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore

from resnet_viz.config import RunConfig
from resnet_viz.gui.plots.registry import PANEL_TYPES
from resnet_viz.gui.plots.sharpness import EMPTY_TEXT, SharpnessPlot
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.records import SharpnessRecord


def entry(run_id: int, color: str, values: list[tuple[int, float, float]]) -> RunEntry:
    e = RunEntry(run_id=run_id, config=RunConfig(), name=f"run{run_id}", color=color)
    for step, top, trace in values:
        e.store.add(SharpnessRecord(step=step, top_eigenvalue=top, trace=trace, iterations=20, samples=256))
    return e


def test_the_panel_is_registered_and_says_how_to_turn_the_probe_on(qtbot):
    assert PANEL_TYPES["sharpness"] is SharpnessPlot
    panel = SharpnessPlot()
    qtbot.addWidget(panel)
    panel.refresh([entry(1, "#0072B2", [])], None)
    assert panel.empty.isVisible() and "--sharpness-every" in EMPTY_TEXT and "setup panel" in EMPTY_TEXT
    assert panel.plot.getAxis("left").logMode


def test_curves_per_run_in_their_colour_with_the_trace_dashed_when_recorded(qtbot):
    panel = SharpnessPlot()
    qtbot.addWidget(panel)
    a = entry(1, "#0072B2", [(0, 10.0, math.nan), (50, 40.0, math.nan), (100, -1.0, math.nan)])
    b = entry(2, "#D55E00", [(0, 5.0, 80.0), (50, 7.0, 120.0)])
    panel.refresh([a, b], None)
    assert not panel.empty.isVisible()
    top_a, trace_a = panel._curves[1]
    x, y = top_a.getData()
    np.testing.assert_array_equal(x, [0, 50, 100])
    np.testing.assert_allclose(y[:2], np.log10([10.0, 40.0]))  # log axis: pyqtgraph keeps log10 values
    assert np.isnan(y[2])  # a non-positive value cannot sit on a log axis: a gap
    assert top_a.opts["pen"].color().name() == "#0072b2"
    assert not trace_a.isVisible()  # no trace recorded
    top_b, trace_b = panel._curves[2]
    assert trace_b.isVisible() and trace_b.opts["pen"].style() == QtCore.Qt.PenStyle.DashLine
    np.testing.assert_allclose(trace_b.getData()[1], np.log10([80.0, 120.0]))
    assert trace_b.opts["pen"].color().name() == "#d55e00"


def test_new_records_redraw_and_a_removed_run_goes(qtbot):
    panel = SharpnessPlot()
    qtbot.addWidget(panel)
    a = entry(1, "#0072B2", [(0, 10.0, math.nan)])
    panel.refresh([a], None)
    a.store.add(SharpnessRecord(step=10, top_eigenvalue=20.0, trace=math.nan, iterations=5, samples=64))
    panel.refresh([a], None)
    np.testing.assert_array_equal(panel._curves[1][0].getData()[0], [0, 10])
    a.visible = False
    panel.refresh([a], None)
    assert not panel._curves[1][0].isVisible() and panel.empty.isVisible()
    panel.refresh([], None)
    assert panel._curves == {}


def test_csv_export_has_one_row_per_probe(qtbot, tmp_path):
    panel = SharpnessPlot()
    qtbot.addWidget(panel)
    panel.refresh([entry(1, "#0072B2", [(0, 10.0, math.nan), (50, 40.0, 90.5)])], None)
    path = tmp_path / "s.csv"
    panel.export_csv(path)
    lines = path.read_text().splitlines()
    assert lines == [
        "run,step,top_eigenvalue,trace,iterations,samples",
        "run1,0,10.0,,20,256",
        "run1,50,40.0,90.5,20,256",
    ]
