"""Exported figures put the legend in the corner where it hides the fewest data points."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_viz.gui.plots.base import PIXMAP_CACHE, FittedLegend
from resnet_viz.gui.plots.curves import ErrorPlot
from resnet_viz.gui.plots.depth import GradNormDepthPlot


@pytest.fixture
def plot(qtbot):
    """A real panel (log-scale y) with its legend, and curves of our own in its plot."""
    panel = GradNormDepthPlot()
    qtbot.addWidget(panel)
    panel.resize(800, 500)
    panel.show()
    qtbot.waitExposed(panel)
    return panel, panel.plot, panel.legend


@pytest.mark.parametrize(
    ("y_of_x", "edge", "expected"),
    [
        (lambda x: x**2, 400.0, (1, 1)),  # rises into the top-right, a line along the top: bottom-right
        (lambda x: 400 - x**2, 0.0, (1, 0)),  # falls from the top-left, a line along the bottom: top-right
        (lambda x: 20.0 * x, 400.0, (1, 1)),  # a diagonal and a line along the top: bottom-right
        (lambda x: 400 - 20.0 * x, 400.0, (0, 1)),  # the other diagonal and a line along the top: bottom-left
    ],
)
def test_legend_moves_to_the_corner_it_hides_least(qtbot, plot, y_of_x, edge, expected):
    widget, item, legend = plot
    x = np.arange(1, 21, dtype=float)
    curve = item.plot(x, 10.0 ** (y_of_x(x) / 100.0), pen="b")  # the y axis is logarithmic
    item.plot(x, np.full_like(x, 10.0 ** (edge / 100.0)), pen="r")  # covers a whole edge
    legend.addItem(curve, "a curve with a fairly long name")
    qtbot.wait(20)
    counts = {c: legend.data_points_under(c) for c in FittedLegend.CORNERS}
    corner = legend.move_to_clearest_corner()
    assert counts[corner] == min(counts.values())
    qtbot.wait(20)
    vb = item.vb
    pos = legend.pos()
    # the legend sits inside the plot, against the chosen corner
    assert (pos.x() < vb.width() / 2) == (corner[0] == 0) and (pos.y() < vb.height() / 2) == (corner[1] == 0)
    assert pos.x() >= 0 and pos.x() + legend.width() <= vb.width() + 1
    assert pos.y() >= 0 and pos.y() + legend.height() <= vb.height() + 1
    assert corner == expected, counts


def test_legend_text_paints_from_a_pixmap_and_follows_relabels(qtbot, recorded_runs):
    """Legend labels lie under the curves, so each new point would re-render their text: they paint from a
    pixmap cache, which a new label (here: another smoothing) renews."""
    panel = ErrorPlot()
    qtbot.addWidget(panel)
    panel.refresh(recorded_runs, None)
    texts = [label.item for _, label in panel.legend.items]
    assert texts and all(t.cacheMode() == PIXMAP_CACHE for t in texts)
    panel.set_smoothing(5)
    labels = [label.text for _, label in panel.legend.items]
    assert any("mean of 5 steps" in t for t in labels)
    assert all(label.item.cacheMode() == PIXMAP_CACHE for _, label in panel.legend.items)
    assert all(panel.plot.getAxis(n).cacheMode() == PIXMAP_CACHE for n in ("left", "bottom"))
