"""Bands over seeds in the window's plots: which runs a panel draws as one band, how a band looks and is named.

With the window's *Seeds* choice (:data:`~resnet_viz.metrics.bands.BAND_MODES`) at "mean ± 1 std" or "min–max",
every seed group (:func:`~resnet_viz.metrics.bands.seed_groups`) of two or more visible, started runs is drawn
as one mean line in the colour of its first run with a translucent band between lo and hi; a run without
seed siblings is drawn as before. :class:`SeedGrouping` splits a panel's runs into those drawn alone (the
banded ones as hidden copies, so a panel's own code leaves them out) and the groups.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6 import QtGui

from resnet_viz.gui.runs import RunEntry, display_names
from resnet_viz.metrics.bands import BAND_MODE_TEXT, BAND_MODES, Band, seed_band, seed_key

#: The band's fill: the group's colour at this alpha (of 255), light enough for two overlapping bands to read.
FILL_ALPHA = 60
#: The band's edges (thin lines along lo and hi): the group's colour at this alpha.
EDGE_ALPHA = 0x70
#: Words for lo and hi in CSV column names, by mode.
LO_HI_WORDS = {"std": ("mean − 1 std", "mean + 1 std"), "minmax": ("min", "max")}

_SEED_WORDS = re.compile(r"[\s,;·(_-]*\bseed[\s=:#]*\d+\)?", re.IGNORECASE)


def check_mode(mode: str) -> str:
    """``mode`` when it is one of :data:`BAND_MODES`, else ValueError naming the allowed ones."""
    if mode not in BAND_MODES:
        raise ValueError(f"seed band mode {mode!r}: choose one of {', '.join(BAND_MODES)}")
    return mode


def fill_brush(color: str) -> QtGui.QBrush:
    """The band's brush: ``color`` (hex) at :data:`FILL_ALPHA`."""
    c = QtGui.QColor(color)
    c.setAlpha(FILL_ALPHA)
    return QtGui.QBrush(c)


def edge_color(color: str) -> QtGui.QColor:
    c = QtGui.QColor(color)
    c.setAlpha(EDGE_ALPHA)
    return c


def base_label(name: str) -> str:
    """A run's name without its seed ("resnet-20 seed 3" -> "resnet-20")."""
    return _SEED_WORDS.sub("", name).strip(" ·,;-_") or name


def group_label(base: str, n: int, mode: str) -> str:
    """The legend's name of a group: ``"resnet-20 (3 seeds, mean ± std)"``."""
    words = "mean ± std" if mode == "std" else BAND_MODE_TEXT[mode]
    return f"{base} ({n} seeds, {words})"


def display_band(band: Band, series: Sequence[tuple[np.ndarray, np.ndarray]], log_y: bool) -> np.ndarray:
    """``band.lo`` as drawn: on a log axis, where mean − std ≤ 0 the lowest run's value (a band edge at NaN
    would break the fill); unchanged elsewhere."""
    lo = band.lo
    if log_y and band.x.size and bool(np.any(lo <= 0)):
        lowest = seed_band(series, "minmax").lo
        lo = np.where(lo > 0, lo, lowest)
    return lo


def group_bases(runs: Sequence[RunEntry], groups: Sequence[Sequence[RunEntry]]) -> dict[int, str]:
    """The name of each group without its seeds, by its first run's id: the short name (``plain-56``) when that
    tells the groups and the other runs apart, else the full one."""
    members = {e.run_id for g in groups for e in g}
    shown = [g[0] for g in groups] + [e for e in runs if e.run_id not in members]
    names = display_names(shown)
    return {g[0].run_id: base_label(names[g[0].run_id]) for g in groups}


@dataclass(eq=False)
class SeedGroupEntry(RunEntry):
    """A seed group drawn as one curve: ``members`` (≥ 2 runs, list order); the store, colour and config are the
    first member's; ``version`` changes whenever a member's does (or the group's membership or mode)."""

    members: list[RunEntry] = field(default_factory=list)
    mode: str = "std"
    base: str = ""
    member_versions: tuple[int, ...] = ()


@dataclass
class SeedGrouping:
    """Splits a panel's runs by the window's seed mode; remembers each config's seed key and each group."""

    _keys: dict[int, tuple[object, str]] = field(default_factory=dict)  # run id -> (config, seed key)
    _groups: dict[tuple[int, ...], SeedGroupEntry] = field(default_factory=dict)
    _version: int = 0

    def groups(self, runs: Sequence[RunEntry], mode: str) -> list[list[RunEntry]]:
        """The seed groups of ≥ 2 visible started runs (none in mode "runs")."""
        if check_mode(mode) == "runs":
            return []
        shown = [e for e in runs if e.visible and e.store.started is not None]
        by_key: dict[str, list[RunEntry]] = {}
        for e in shown:
            cached = self._keys.get(e.run_id)
            if cached is None or cached[0] is not e.config:
                cached = (e.config, seed_key(e.config))
                self._keys[e.run_id] = cached
            by_key.setdefault(cached[1], []).append(e)
        return [g for g in by_key.values() if len(g) >= 2]

    def live(self) -> list[SeedGroupEntry]:
        """The group entries of the last :meth:`entries`."""
        return list(self._groups.values())

    def split(self, runs: Sequence[RunEntry], mode: str) -> tuple[list[RunEntry], list[list[RunEntry]]]:
        """(``runs`` with the members of every group replaced by hidden copies, the groups)."""
        groups = self.groups(runs, mode)
        if not groups:
            return list(runs), []
        banded = {e.run_id for g in groups for e in g}
        alone = [dataclasses.replace(e, visible=False) if e.run_id in banded else e for e in runs]
        return alone, groups

    def entries(self, runs: Sequence[RunEntry], mode: str) -> list[RunEntry]:
        """``runs`` with every group replaced by one :class:`SeedGroupEntry` where its first run was; the same
        entry object while the group's runs stay (its ``version`` moves on when theirs do)."""
        groups = self.groups(runs, mode)
        if not groups:
            self._groups.clear()
            return list(runs)
        first = {g[0].run_id: g for g in groups}
        bases = group_bases(runs, groups)
        members = {e.run_id for g in groups for e in g}
        out: list[RunEntry] = []
        live: dict[tuple[int, ...], SeedGroupEntry] = {}
        for e in runs:
            if e.run_id in first:
                entry = self._group_entry(first[e.run_id], mode, bases[e.run_id])
                live[tuple(m.run_id for m in entry.members)] = entry
                out.append(entry)
            elif e.run_id not in members:
                out.append(e)
        self._groups = live
        return out

    def _group_entry(self, members: list[RunEntry], mode: str, base: str) -> SeedGroupEntry:
        ids = tuple(m.run_id for m in members)
        versions = tuple(m.version for m in members)
        status = "running" if any(m.active for m in members) else "finished"
        lead = members[0]
        entry = self._groups.get(ids)
        fresh = entry is None or (entry.mode, entry.color, entry.base) != (mode, lead.color, base)
        if entry is None or fresh or entry.member_versions != versions or entry.status != status:
            self._version += 1
            entry = SeedGroupEntry(
                run_id=-lead.run_id,  # never a run's id (those are ≥ 1)
                config=lead.config,
                name=group_label(base, len(members), mode),
                store=lead.store,
                status=status,
                version=self._version,
                color=lead.color,
                members=list(members),
                mode=mode,
                base=base,
                member_versions=versions,
            )
        else:
            entry.members = list(members)  # the same runs; keep the entry (and the panel's drawing of it)
        return entry


__all__ = [
    "FILL_ALPHA",
    "SeedGroupEntry",
    "SeedGrouping",
    "base_label",
    "check_mode",
    "display_band",
    "fill_brush",
    "group_bases",
    "group_label",
]
