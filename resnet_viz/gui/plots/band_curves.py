"""Seed bands in the training/test curves (:class:`~resnet_viz.gui.plots.curves.TrainTestPlot`).

Per seed group: the test metric's mean over the group's runs at their common evaluation steps (bold, dots
while few) with a translucent band between lo and hi (mean ∓ 1 std or min–max), and the thin training curve
as the mean of the runs' running means on their common steps. The thin curve has no band: mini-batch noise
makes a band on it as wide as the differences between seeds, and under the test band it would muddy both;
its mean alone shows where training goes.

A group is recomputed only when one of its runs' ``version`` (or the smoothing, colour, name or mode) changed;
the thin mean is extended over the new common steps only.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyqtgraph as pg

from resnet_viz.gui.plots.bands import (
    LO_HI_WORDS,
    SeedGrouping,
    display_band,
    edge_color,
    fill_brush,
    group_bases,
    group_label,
)
from resnet_viz.gui.plots.curve_items import BOLD_WIDTH, MAX_DOTS, SYMBOL_SIZE, THIN_WIDTH, eval_series, name_if_new
from resnet_viz.gui.plots.decimation import DecimatedCurve
from resnet_viz.gui.plots.running_mean import RunningMean, nearest_index
from resnet_viz.gui.plots.stepped_bounds import SteppedBounds
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.bands import Band, seed_band
from resnet_viz.metrics.store import GrowingArray, RunStore

#: Z values: the fill under every curve, the edges and the mean above the runs' curves.
FILL_Z, THIN_Z, EDGE_Z, TEST_Z = -10, 800, 1800, 2000


@dataclass(eq=False)
class CurveBand:
    """The items of one seed group in a curves panel and what they were drawn from."""

    thin: DecimatedCurve
    test: SteppedBounds
    lo: SteppedBounds
    hi: SteppedBounds
    fill: pg.FillBetweenItem
    label: str = ""
    key: tuple[Any, ...] | None = None
    means: dict[int, RunningMean] = field(default_factory=dict)  # run id -> running mean of its training metric
    stores: dict[int, RunStore] = field(default_factory=dict)  # run id -> the store its running mean reads
    thin_x: GrowingArray = field(default_factory=GrowingArray)
    thin_y: GrowingArray = field(default_factory=GrowingArray)
    band: Band = field(default_factory=Band.empty)

    def items(self) -> tuple[pg.GraphicsObject, ...]:
        return self.fill, self.thin, self.lo, self.hi, self.test

    def curves(self) -> list[pg.PlotDataItem]:
        """The curves CSV export writes: thin mean, test mean, lo, hi."""
        return [self.thin, self.test, self.lo, self.hi]


class CurveBands:
    """The seed bands of one curves panel (``panel``: a TrainTestPlot; read for its metric, smoothing and mode)."""

    def __init__(self, panel: Any) -> None:
        self.panel = panel
        self.grouping = SeedGrouping()
        self.bands: dict[tuple[int, ...], CurveBand] = {}
        self.changed = False  # a band's data changed in the last refresh

    def refresh(self, runs: Sequence[RunEntry]) -> list[RunEntry]:
        """Update the bands to ``runs``; returns the runs the panel draws itself (banded ones hidden)."""
        alone, groups = self.grouping.split(runs, self.panel.band_mode)
        bases = group_bases(runs, groups) if groups else {}
        wanted = {tuple(e.run_id for e in g): g for g in groups}
        for ids in [i for i in self.bands if i not in wanted]:
            for item in self.bands.pop(ids).items():
                self.panel.plot.removeItem(item)
        self.changed = False
        growing = any(e.active for e in runs)
        for ids, group in wanted.items():
            band = self.bands.get(ids) or self._create(ids)
            for item in (band.thin, band.test, band.lo, band.hi):
                item.set_stepped(growing)
            label = group_label(bases[ids[0]], len(group), self.panel.band_mode)
            key = (tuple(e.version for e in group), group[0].color, label, self.panel.smoothing)
            if key != band.key:
                self._update(band, group, label, restyle=band.key is None or band.key[1:3] != key[1:3])
                band.key = key
                self.changed = True
        if self.changed:
            self.panel._data_changed = True  # the panel settles its auto-range and dots
        return alone

    def legend_rows(self) -> list[tuple[pg.PlotDataItem, str]]:
        """(item, label) per group, for the legend."""
        return [(b.test, html.escape(b.label)) for b in self.bands.values()]

    def csv_curves(self) -> list[pg.PlotDataItem]:
        return [c for b in self.bands.values() for c in b.curves()]

    def hover_text(self, view_pos: Any) -> str:
        """Readout for the group whose test mean is nearest the pointer (view coordinates) at its x: the mean,
        lo and hi of the nearest evaluation and the thin mean at that step ("" when no group is under it)."""
        p, x, y = self.panel, view_pos.x(), view_pos.y()
        best: tuple[float, CurveBand, int] | None = None
        for band in self.bands.values():
            b = band.band
            if not b.x.size or not b.x[0] <= x <= b.x[-1]:
                continue
            j = nearest_index(b.x, x)
            d = abs(p._view_y(float(np.interp(x, b.x, b.mean))) - y)
            if best is None or (np.isfinite(d) and d < best[0]):
                best = (d if np.isfinite(d) else np.inf, band, j)
        if best is None:
            return ""
        _, band, j = best
        b, f = band.band, p.format_value
        text = f"{band.label} — step {int(b.x[j]):,}: test {f(b.mean[j])} (lo {f(b.lo[j])}, hi {f(b.hi[j])})"
        tx, ty = band.thin_x.values, band.thin_y.values
        if len(tx):
            text += f", training {f(float(ty[nearest_index(tx, b.x[j])]))} (mean over seeds)"
        return text

    # --- internals ---------------------------------------------------------------------------------
    def _create(self, ids: tuple[int, ...]) -> CurveBand:
        plot, cap = self.panel.plot, self.panel.autorange_max
        thin, test, lo, hi = DecimatedCurve(), SteppedBounds(), SteppedBounds(), SteppedBounds()
        for item, z in ((thin, THIN_Z), (test, TEST_Z), (lo, EDGE_Z), (hi, EDGE_Z)):
            item.y_cap = cap
            plot.addItem(item)
            item.setZValue(z)
        thin.fast_mode()
        for item in (test, lo, hi):  # few points: no clipping/downsampling (as the runs' test curves)
            item.setDownsampling(auto=False)
            item.setClipToView(False)
            item.setDynamicRangeLimit(None)
        fill = pg.FillBetweenItem(lo, hi)
        plot.addItem(fill)
        fill.setZValue(FILL_Z)
        band = CurveBand(thin=thin, test=test, lo=lo, hi=hi, fill=fill)
        self.bands[ids] = band
        return band

    def _update(self, band: CurveBand, group: list[RunEntry], label: str, restyle: bool) -> None:
        p = self.panel
        band.label = label
        if restyle:
            color = pg.mkColor(group[0].color)
            band.thin.setPen(pg.mkPen(color, width=THIN_WIDTH))
            band.test.setPen(pg.mkPen(color, width=BOLD_WIDTH))
            band.test.setSymbolSize(SYMBOL_SIZE)
            band.test.setSymbolPen(None)
            band.test.setSymbolBrush(color)
            for edge in (band.lo, band.hi):
                edge.setPen(pg.mkPen(edge_color(group[0].color), width=1))
            band.fill.setBrush(fill_brush(group[0].color))
            band.fill.setPen(None)
        base = label.rsplit(" (", 1)[0]
        self._update_thin(band, group, base)
        series = [eval_series(e.store.evals, p.eval_field, p.scale, p.log_y) for e in group]
        band.band = b = seed_band(series, p.band_mode)
        lo_words, hi_words = LO_HI_WORDS[p.band_mode]
        what = f"{base} ({len(group)} seeds) test {p.metric_name} {p.unit}"
        symbol = "o" if b.x.size <= MAX_DOTS else None
        if band.test.opts["symbol"] != symbol:
            band.test.setSymbol(symbol)
        band.test.setData(b.x, b.mean, **name_if_new(band.test, f"{what} mean"))
        band.lo.setData(b.x, display_band(b, series, p.log_y), **name_if_new(band.lo, f"{what} lo ({lo_words})"))
        band.hi.setData(b.x, b.hi, **name_if_new(band.hi, f"{what} hi ({hi_words})"))

    def _update_thin(self, band: CurveBand, group: list[RunEntry], base: str) -> None:
        """Extend each run's running mean, then the mean over runs on the new common steps (all again when
        the smoothing changed or the runs' steps disagree)."""
        p = self.panel
        reset = False
        for e in group:
            rm = band.means.get(e.run_id)
            if rm is None or band.stores.get(e.run_id) is not e.store:  # new, or its records were replaced
                rm = band.means[e.run_id] = RunningMean(p.smoothing, scale=p.scale, positive=p.log_y)
                band.stores[e.run_id] = e.store
                reset = True
            if rm.window != p.smoothing:
                rm.set_window(p.smoothing)
                reset = True
            n_old, n = len(rm), e.store.steps_done
            if n > n_old:
                loss = e.store.scalar("loss")[n_old:n]
                rm.extend(e.store.scalar(p.train_scalar)[n_old:n], np.isfinite(loss))
        steps = [e.store.scalar("step")[: len(band.means[e.run_id])] for e in group]
        done = 0 if reset else len(band.thin_x)
        m = min(len(s) for s in steps)
        if all(np.array_equal(s[done:m], steps[0][done:m]) for s in steps[1:]) and m >= done:
            new = [(s[done:m], band.means[e.run_id].values[done:m]) for s, e in zip(steps, group)]
            part = seed_band(new, "std") if m > done else None
            if reset:
                band.thin_x, band.thin_y = GrowingArray(), GrowingArray()
            if part is not None:
                band.thin_x.extend(part.x)
                band.thin_y.extend(part.mean)
            x, y = band.thin_x.values, band.thin_y.values
        else:  # steps that differ between the runs: the whole mean again
            full = seed_band([(s, band.means[e.run_id].values) for s, e in zip(steps, group)], "std")
            band.thin_x, band.thin_y = GrowingArray(), GrowingArray()
            band.thin_x.extend(full.x)
            band.thin_y.extend(full.mean)
            x, y, reset = full.x, full.mean, True
        words = "mini-batch" if p.smoothing == 1 else f"mean of {p.smoothing} steps"
        name = f"{base} ({len(group)} seeds) training {p.metric_name} {p.unit} (mean over seeds of the {words})"
        band.thin.set_series(x, y, reset=reset, **name_if_new(band.thin, name))
