"""Seed bands in the sharpness panel (:class:`~resnet_viz.gui.plots.sharpness.SharpnessPlot`).

Per seed group: the top Hessian eigenvalue's mean over the group's runs at their common probe steps (solid,
dots) with a translucent band between lo and hi, and the trace's mean (dashed, no band: one band per panel
stays legible). The group's runs leave the panel while it is banded (their legend entries too) and come back
when the window draws each run again. A group is recomputed only when one of its runs got new probes, or its
colour, name or the mode changed.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from resnet_viz.gui.plots.bands import (
    LO_HI_WORDS,
    SeedGrouping,
    display_band,
    edge_color,
    fill_brush,
    group_bases,
    group_label,
)
from resnet_viz.gui.plots.base import brush, pen, positive_or_nan
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.bands import Band, seed_band


@dataclass(eq=False)
class SharpnessBand:
    """The items of one seed group in the sharpness panel and the bands they show."""

    top: pg.PlotDataItem
    lo: pg.PlotDataItem
    hi: pg.PlotDataItem
    trace: pg.PlotDataItem
    fill: pg.FillBetweenItem
    members: list[RunEntry]
    key: tuple[Any, ...] | None = None
    label: str = ""
    top_band: Band = field(default_factory=Band.empty)
    trace_band: Band = field(default_factory=Band.empty)

    def items(self) -> tuple[pg.GraphicsObject, ...]:
        return self.fill, self.lo, self.hi, self.trace, self.top


class SharpnessBands:
    """The seed groups of a sharpness panel (``panel``: its ``plot``, ``legend`` and ``band_mode`` are read)."""

    def __init__(self, panel: Any) -> None:
        self.panel = panel
        self.grouping = SeedGrouping()
        self.bands: dict[tuple[int, ...], SharpnessBand] = {}

    @property
    def shown(self) -> bool:
        """Whether a band has probes to show."""
        return any(b.top_band.x.size for b in self.bands.values())

    def refresh(self, runs: Sequence[RunEntry]) -> list[RunEntry]:
        """Update the groups' items; returns the runs the panel draws itself (a group's runs left out)."""
        mode = self.panel.band_mode
        groups = self.grouping.groups(runs, mode)
        wanted = {tuple(e.run_id for e in g): g for g in groups}
        for ids in [i for i in self.bands if i not in wanted]:
            band = self.bands.pop(ids)
            for item in band.items():
                self.panel.plot.removeItem(item)
            self.panel.legend.removeItem(band.top)
        bases = group_bases(runs, groups) if groups else {}
        for ids, group in wanted.items():
            label = group_label(bases[ids[0]], len(group), mode)
            key = (tuple(len(e.store.sharpness) for e in group), group[0].color, label)
            band = self.bands.get(ids) or self._create(ids, group, label)
            if band.key != key:
                band.key, band.members = key, group
                self._update(band, group, label, mode)
        banded = set().union(*wanted) if wanted else set()
        return [e for e in runs if e.run_id not in banded]

    def _create(self, ids: tuple[int, ...], group: list[RunEntry], label: str) -> SharpnessBand:
        plot = self.panel.plot
        top, trace = pg.PlotDataItem(name=html.escape(label)), pg.PlotDataItem()
        lo, hi = pg.PlotDataItem(), pg.PlotDataItem()
        for item in (lo, hi, trace, top):
            plot.addItem(item)
        fill = pg.FillBetweenItem(lo, hi)
        fill.setPen(None)
        plot.addItem(fill)
        fill.setZValue(-10)
        band = SharpnessBand(top=top, lo=lo, hi=hi, trace=trace, fill=fill, members=group, label=label)
        self.bands[ids] = band
        return band

    def _update(self, band: SharpnessBand, group: list[RunEntry], label: str, mode: str) -> None:
        color = group[0].color
        arrays = [e.store.sharpness_arrays() for e in group]
        tops = [(a["step"], a["top_eigenvalue"]) for a in arrays]
        traces = [(a["step"], a["trace"]) for a in arrays]
        band.top_band = b = seed_band(tops, mode)
        band.trace_band = t = seed_band(traces, mode)
        style = dict(pen=pen(color, 2.0), symbol="o", symbolSize=5, symbolPen=pen(color), symbolBrush=brush(color))
        band.top.setData(b.x, positive_or_nan(b.mean), **style)
        edge = pg.mkPen(edge_color(color), width=1)
        band.lo.setData(b.x, positive_or_nan(display_band(b, tops, True)), pen=edge)
        band.hi.setData(b.x, positive_or_nan(b.hi), pen=edge)
        band.fill.setBrush(fill_brush(color))
        band.trace.setData(t.x, positive_or_nan(t.mean), pen=pen(color, 1.5, QtCore.Qt.PenStyle.DashLine))
        band.trace.setVisible(bool(np.isfinite(t.mean).any()))
        if label != band.label:
            band.label = label
            text = self.panel.legend.getLabel(band.top)
            if text is not None:
                text.setText(html.escape(label))

    def export_csv(self, path: str | Path, runs: Sequence[RunEntry]) -> None:
        """One row per group (or run alone) and probe step: the top eigenvalue's and the trace's mean, lo, hi
        over the group's runs (a run alone: its values, lo = hi = mean)."""
        mode = self.panel.band_mode
        lo_words, hi_words = LO_HI_WORDS.get(mode, ("lo", "hi"))
        header = ["run", "seeds", "step"]
        for q in ("top_eigenvalue", "trace"):
            header += [f"{q} mean", f"{q} lo ({lo_words})", f"{q} hi ({hi_words})"]
        banded = {i for ids in self.bands for i in ids}
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for band in self.bands.values():
                self._write(writer, band.label, len(band.members), band.top_band, band.trace_band)
            for e in runs:
                if e.run_id in banded or not e.store.sharpness:
                    continue
                a = e.store.sharpness_arrays()
                top = seed_band([(a["step"], a["top_eigenvalue"])], "minmax")
                trace = seed_band([(a["step"], a["trace"])], "minmax")
                self._write(writer, e.name, 1, top, trace)

    @staticmethod
    def _write(writer: Any, name: str, n: int, top: Band, trace: Band) -> None:
        def cell(v: float) -> str:
            return repr(float(v)) if np.isfinite(v) else ""

        trace_at = {float(x): i for i, x in enumerate(trace.x)}
        for i, step in enumerate(top.x):
            j = trace_at.get(float(step))
            tr = [cell(a[j]) if j is not None else "" for a in (trace.mean, trace.lo, trace.hi)]
            writer.writerow([name, n, int(step), cell(top.mean[i]), cell(top.lo[i]), cell(top.hi[i]), *tr])
