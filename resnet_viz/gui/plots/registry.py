"""The registry of the window's plot panels: every place that needs "all the plots" (the docks, the figures
of a preset, export all, snapshots) asks here.

The order and the keys are the core's :data:`resnet_viz.presets.preset.PLOTS` (presets name plots by key
without importing Qt); this module maps each key to its :class:`PlotPanel` class. Adding a plot is: a
class with a new ``key`` here and the key in ``PLOTS``.
"""

from __future__ import annotations

from resnet_viz.gui.plots.act_std import ActStdDepthPlot
from resnet_viz.gui.plots.base import PlotPanel
from resnet_viz.gui.plots.curves import ErrorPlot, LossPlot
from resnet_viz.gui.plots.dead_units import DeadUnitsDepthPlot
from resnet_viz.gui.plots.depth import GradNormDepthPlot, OutGradDepthPlot, UpdateRatioDepthPlot
from resnet_viz.gui.plots.distributions import DistributionsPlot
from resnet_viz.gui.plots.heatmap import GradHeatmapPlot
from resnet_viz.gui.plots.histogram_overlay import HistogramOverlayPlot
from resnet_viz.gui.plots.sharpness import SharpnessPlot
from resnet_viz.presets.preset import PLOTS

_CLASSES: tuple[type[PlotPanel], ...] = (
    ErrorPlot,
    LossPlot,
    GradHeatmapPlot,
    GradNormDepthPlot,
    ActStdDepthPlot,
    OutGradDepthPlot,
    UpdateRatioDepthPlot,
    DeadUnitsDepthPlot,
    SharpnessPlot,
    DistributionsPlot,
    HistogramOverlayPlot,
)
_BY_KEY = {cls.key: cls for cls in _CLASSES}
if set(_BY_KEY) != set(PLOTS):  # a key without a class (or a class without a key) is a programming error
    raise ImportError(f"plot panels {sorted(_BY_KEY)} do not match the plot keys {sorted(PLOTS)}")

#: Panel classes by key, in the order of :data:`PLOTS` (the order of the docks and of export all).
PANEL_TYPES: dict[str, type[PlotPanel]] = {key: _BY_KEY[key] for key in PLOTS}


def create_panels() -> list[PlotPanel]:
    """One new panel of every kind, in :data:`PANEL_TYPES` order."""
    return [cls() for cls in PANEL_TYPES.values()]


__all__ = ["PANEL_TYPES", "create_panels"]
