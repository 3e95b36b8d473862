"""Seed bands in the depth panels (:class:`~resnet_viz.gui.plots.depth.DepthProfilePlot` and its kinds).

A seed group is drawn as one :class:`~resnet_viz.gui.plots.bands.SeedGroupEntry`: per layer, the mean over the
group's runs of each run's "now" profile (the mean of its last probed steps, as the panel draws a run) with a
translucent band between lo and hi (mean ∓ 1 std or min–max over the runs), and the mean of the panel's other
lines named in ``band_lines`` (activation std: at init, theory). The panel draws the group's series like a
run's (legend, CSV columns, redraw on change); this module adds the fill between the two band edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg

from resnet_viz.gui.plots.bands import (
    EDGE_ALPHA,
    LO_HI_WORDS,
    SeedGroupEntry,
    SeedGrouping,
    display_band,
    fill_brush,
)
from resnet_viz.gui.plots.base import pen
from resnet_viz.gui.plots.depth_profile import Series
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.bands import seed_band

#: Suffixes of a group's band edges (the panel's curves of the group; the fill lies between them).
BAND_EDGES = ("seeds lo", "seeds hi")


class DepthBands:
    """The seed groups of one depth panel (``panel``: a DepthProfilePlot; read for its mode and lines)."""

    def __init__(self, panel: Any) -> None:
        self.panel = panel
        self.grouping = SeedGrouping()
        self.fills: dict[int, pg.FillBetweenItem] = {}  # group entry's run id -> its fill

    def entries(self, runs: Sequence[RunEntry]) -> list[RunEntry]:
        """``runs`` with each seed group replaced by its group entry (none in mode "runs")."""
        return self.grouping.entries(runs, self.panel.band_mode)

    def group_series(self, entry: SeedGroupEntry) -> tuple[list[Series], np.ndarray]:
        """A group's curves (mean "now" first, then the band's edges and the means of ``band_lines``) and the
        steps its runs' "now" values come from."""
        p, n = self.panel, len(entry.members)
        per_run = [p.run_series(m) for m in entry.members]
        main = [(np.arange(1, s[0].y.size + 1), s[0].y) for s, _ in per_run]
        band = seed_band(main, entry.mode)
        steps = [st for _, st in per_run]
        same = all(np.array_equal(st, steps[0]) for st in steps[1:])
        first_when = per_run[0][0][0].when
        when = first_when if same else f"each seed's last {p.now_window} probed steps"
        lo_words, hi_words = LO_HI_WORDS[entry.mode]
        edge = dict(pen=pen(f"{entry.color}{EDGE_ALPHA:02x}", 1), symbol=None)
        series = [
            Series("", band.mean, f"mean over {n} seeds, {when}", per_run[0][0][0].style),
            Series(BAND_EDGES[0], display_band(band, main, True), f"lo = {lo_words} over {n} seeds", edge),
            Series(BAND_EDGES[1], band.hi, f"hi = {hi_words} over {n} seeds", edge),
        ]
        for suffix in getattr(p, "band_lines", ()):
            lines = [next((s for s in run if s.suffix == suffix), None) for run, _ in per_run]
            if any(s is None for s in lines):
                continue
            mean = seed_band([(np.arange(1, s.y.size + 1), s.y) for s in lines if s is not None], entry.mode).mean
            first = lines[0]
            assert first is not None
            series.append(Series(suffix, mean, f"mean over {n} seeds of {first.when}", first.style))
        return series, np.concatenate(steps) if steps else np.empty(0, np.int64)

    def sync_fills(self, drawn: dict[int, Any]) -> None:
        """A fill between the band edges of every drawn group (``drawn``: the panel's run id -> drawing);
        fills of groups no longer drawn are removed."""
        plot = self.panel.plot
        for run_id in [i for i in self.fills if i not in drawn]:
            plot.removeItem(self.fills.pop(run_id))
        for run_id, d in drawn.items():
            if run_id >= 0:
                continue
            curves = [d.items.get(BAND_EDGES[0]), d.items.get(BAND_EDGES[1])]
            fill = self.fills.get(run_id)
            if fill is not None and fill.curves != curves:
                plot.removeItem(self.fills.pop(run_id))
                fill = None
            if None in curves:
                continue
            if fill is None:
                fill = pg.FillBetweenItem(curves[0], curves[1])
                fill.setPen(None)
                plot.addItem(fill)
                fill.setZValue(-2)
                self.fills[run_id] = fill
            color = curves[0].opts["pen"].color().name()
            fill.setBrush(fill_brush(color))
