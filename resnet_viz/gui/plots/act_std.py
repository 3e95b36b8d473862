"""The "Activation std vs depth" panel: each layer's (pre-BN) output std now, at init, the theory for the
init with the band one network falls in, and on request the average over K fresh initialisations.

The theory (science.md §4) predicts the average over random initialisations; one network scatters
log-normally around it (§10), so a single run's "at init" line sits 20-35 % off the theory line without
anything being wrong. The panel shows how far by sampling: for every distinct network setup it measures
:data:`BAND_K` fresh initialisations at step 0 in the background (:class:`~resnet_viz.gui.init_ensembles.
InitEnsembleJobs`) and fills theory × [10th, 90th percentile of measured/theory] in the run's colour; the
*Average over K initialisations* button measures K more per visible run and draws their root-mean-square
std (the average the theory predicts) with its 10-90 % band (hatched).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.init_ensembles import InitEnsembleJobs, setup_key
from resnet_viz.gui.plots.base import pen
from resnet_viz.gui.plots.depth import DepthProfilePlot
from resnet_viz.gui.plots.depth_profile import DEFAULT_WINDOW, Series
from resnet_viz.gui.runs import RunEntry
from resnet_viz.train.init_ensemble import sampling_refusal

Qt_PenStyle = QtCore.Qt.PenStyle

#: Fresh initialisations sampled for the theory band of each setup, and their seed.
BAND_K = 16
BAND_SEED = 0
#: The button's K (default, range) and its sampling seed (other inits than the band's).
AVERAGE_K, AVERAGE_K_RANGE, AVERAGE_SEED = 20, (2, 500), 1

BAND_TEXT = f"band: where one network falls (10–90 % of {BAND_K} fresh initialisations, sampled)"
#: The band's legend entry (the full :data:`BAND_TEXT` is in the tooltip and the help).
BAND_LEGEND = f"band: one network (10–90 % of {BAND_K} fresh inits, sampled)"

HELP = (
    "Std of each weight layer's output (before its BN): now (solid), at step 0 (dotted), and as the "
    "initialisation theory predicts it from layer 1's measured std (dashed; science.md §4).\n\n"
    "The theory predicts the AVERAGE over random initialisations. One network scatters log-normally around "
    "it: for a 30-layer ReLU MLP of width 256 the last layer typically sits at 0.65–0.82× of the prediction "
    "(0.2–0.3 decades); for plain-20 without BN 0.28 decades at the last conv. Averaged over 20+ seeds, "
    "measured/theory is 0.97–1.07 per layer. So a 20–35 % gap between one run and the theory line is not "
    "an error: compare seeds, not runs.\n\n"
    f"Filled: {BAND_TEXT}, estimated by sampling once per network setup in the background.\n"
    "Average over K initialisations: measures K fresh initialisations of every visible run at step 0 (no "
    "training) and draws their rms std (dash-dot; the average the theory predicts) and where 10–90 % of "
    "them fall (hatched). Where one network scatters widely the rms converges slowly (the square of a "
    "log-normal is heavy-tailed): for plain-20 without BN, 20 inits often sit 20–45 % under the theory, "
    "100 come within ~10 %."
)

_BAND_EDGES = ("band low", "band high")
_AVERAGE_EDGES = ("average low", "average high")


def _key_style(style: Qt_PenStyle, width: float, symbol: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = dict(pen=pg.mkPen("#444", width=width, style=style))
    if symbol:
        out.update(symbol="o", symbolSize=5, symbolPen=pg.mkPen("#444"), symbolBrush=pg.mkBrush("#444"))
    return out


def _fill_key(pattern: QtCore.Qt.BrushStyle, alpha: int) -> pg.BarGraphItem:
    """A legend swatch: a filled square (pyqtgraph's ItemSample draws one for a bar graph)."""
    brush = pg.mkBrush(QtGui.QBrush(QtGui.QColor(68, 68, 68, alpha), pattern))
    return pg.BarGraphItem(x=[0.0], height=[1.0], width=1.0, brush=brush, pen=pg.mkPen(68, 68, 68, 120))


def _key_style_item(style: Qt_PenStyle, width: float) -> pg.PlotDataItem:
    return pg.PlotDataItem(**_key_style(style, width))


def _fill_brush(color: str, average: bool) -> QtGui.QBrush:
    c = QtGui.QColor(color)
    c.setAlpha(170 if average else 50)
    return QtGui.QBrush(c, QtCore.Qt.BrushStyle.BDiagPattern if average else QtCore.Qt.BrushStyle.SolidPattern)


def _edge(color: str, alpha: int) -> dict[str, Any]:
    return dict(pen=pen(f"{color}{alpha:02x}", 1), symbol=None)


class ActStdDepthPlot(DepthProfilePlot):
    """Std of each layer's (pre-BN) output: now (solid), at initialisation (dotted), the initialisation
    theory scaled to layer 0's measured std (dashed) with the sampled band of one network (filled), and the
    average over K fresh initialisations on request (dash-dot, hatched 10-90 %)."""

    key = "act_std_depth"
    title = "Activation std vs depth"
    quantity = "act_std"
    y_label = "std of output (pre-BN)"
    style_key = (
        ("now", _key_style(Qt_PenStyle.SolidLine, 2, symbol=True)),
        ("at init (step 0)", _key_style(Qt_PenStyle.DotLine, 1.5)),
        ("theory for the init", _key_style(Qt_PenStyle.DashLine, 1.5)),
    )
    band_lines = ("at init", "theory")

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        window: int = DEFAULT_WINDOW,
        jobs: InitEnsembleJobs | None = None,
    ) -> None:
        super().__init__(parent, window=window)
        self.jobs = jobs if jobs is not None else InitEnsembleJobs(self)
        self.jobs.finished.connect(self._job_finished)
        self.jobs.progressed.connect(self._job_progressed)
        self._base_keys = list(self._key_items)
        self._band_key_item = (BAND_LEGEND, _fill_key(QtCore.Qt.BrushStyle.SolidPattern, 60))
        self._average_key_items = (
            _key_style_item(Qt_PenStyle.DashDotLine, 2),
            _fill_key(QtCore.Qt.BrushStyle.BDiagPattern, 200),
        )
        self._fills: dict[int, dict[str, pg.FillBetweenItem]] = {}
        self._band_key_of: dict[int, tuple[object, str]] = {}  # run id -> (its config, the key of that config)
        self._average_keys: dict[int, str] = {}  # run id -> key of its average's job (the button)
        self._average_k = AVERAGE_K
        self._waiting: set[str] = set()  # average jobs the button waits for
        self._build_average_tools()
        self.graphics.setToolTip(HELP)

    # --- the button ---------------------------------------------------------------------------------
    def _build_average_tools(self) -> None:
        self.k_box = QtWidgets.QSpinBox()
        self.k_box.setRange(*AVERAGE_K_RANGE)
        self.k_box.setValue(AVERAGE_K)
        tip = "How many fresh initialisations the button samples per visible run (each is one forward pass)"
        self.add_tool("K", self.k_box, tip)
        self.average_button = QtWidgets.QPushButton("Average over K initialisations")
        self.average_button.clicked.connect(self._average_clicked)
        self.average_status = QtWidgets.QLabel("")
        stretch = self.toolbar.count() - 1
        self.toolbar.insertWidget(stretch, self.average_button)
        self.toolbar.insertWidget(stretch + 1, self.average_status)
        self._update_button()

    def sampleable_runs(self) -> tuple[list[RunEntry], list[str]]:
        """(visible started runs whose initialisation can be sampled, one reason per visible run that cannot)."""
        ok, reasons = [], []
        for entry in self._runs:
            if not entry.visible or entry.store.started is None:
                continue
            refusal = sampling_refusal(entry.config)
            if refusal is None:
                ok.append(entry)
            else:
                reasons.append(f"{entry.name}: {refusal}")
        return ok, reasons

    def _update_button(self) -> None:
        button = self.average_button
        if self._waiting:
            button.setText("Cancel averaging")
            button.setEnabled(True)
            button.setToolTip("Stop sampling (the averages measured so far stay drawn)")
            return
        button.setText("Average over K initialisations")
        ok, reasons = self.sampleable_runs()
        button.setEnabled(bool(ok))
        why = "\n".join(reasons)
        if not ok:
            button.setToolTip("Nothing to sample: " + (why or "no visible run has started"))
        else:
            tip = "Measure K fresh initialisations of every visible run at step 0 (no training) and draw their rms std and 10–90 % band"
            button.setToolTip(tip + (f"\nSkipped: {why}" if why else ""))

    def _average_clicked(self) -> None:
        if self._waiting:
            self.jobs.cancel(list(self._waiting))
            return
        ok, _ = self.sampleable_runs()
        self._average_k = int(self.k_box.value())
        self._average_keys = {}
        for entry in ok:
            key = self.jobs.request(entry.config, self._average_k, AVERAGE_SEED)
            self._average_keys[entry.run_id] = key
            if self.jobs.result(key) is None and self.jobs.error(key) is None:
                self._waiting.add(key)
        self._redraw_runs(set(self._drawn))
        self._show_progress()

    def _show_progress(self, done: int = 0) -> None:
        n = len(self._waiting)
        text = (
            f"sampling {self._average_k} inits of {n} network{'s' if n != 1 else ''}: {done}/{self._average_k}…"
            if n
            else ""
        )
        self.average_status.setText(text)
        self._update_button()

    # --- jobs ---------------------------------------------------------------------------------------
    def _job_progressed(self, key: str, done: int, _k: int) -> None:
        if key in self._waiting:
            self._show_progress(done)

    def _job_finished(self, key: str) -> None:
        self._waiting.discard(key)
        error = self.jobs.error(key)
        if error is not None:
            self.set_readout(f"Sampling initialisations failed: {error}")
        bands = ((rid, band_key) for rid, (_config, band_key) in self._band_key_of.items())
        runs = {rid for rid, k in (*bands, *self._average_keys.items()) if k == key}
        self._redraw_runs(runs)
        self._show_progress()

    def _redraw_runs(self, run_ids: set[int]) -> None:
        for run_id in run_ids:
            if run_id in self._drawn:
                self._drawn[run_id].key = ()  # drawn again by the next refresh
        self.refresh(self._runs, self._selected)

    def shutdown(self, timeout_s: float = 2.0) -> None:
        """Cancel sampling and wait for its thread at most ``timeout_s`` (the window closes)."""
        self.jobs.close(timeout_s)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """A panel closed on its own (not docked in the window) stops its sampling."""
        self.shutdown()
        super().closeEvent(event)

    # --- curves -------------------------------------------------------------------------------------
    def extra_series(self, entry: RunEntry, color: str) -> list[Series]:
        s = entry.store.started
        if s is None:
            return []
        init = np.asarray(s.act_std_init, dtype=np.float64)
        theory_rel = np.asarray(s.theory_act_std_init, dtype=np.float64)
        loaded = entry.config.init.from_file
        at_step0 = f"step 0, weights from {Path(loaded).name}" if loaded else "at init, step 0"
        series = [
            Series("at init", init, at_step0, dict(pen=pen(color, 1.5, Qt_PenStyle.DotLine), symbol=None)),
            Series(
                "theory",
                theory_rel * init[0],
                "theory for the init, scaled to layer 1 at step 0",
                dict(pen=pen(color, 1.5, Qt_PenStyle.DashLine), symbol=None),
            ),
        ]
        return series + self._band_series(entry, init[0], theory_rel) + self._average_series(entry)

    def _band_series(self, entry: RunEntry, layer0: float, theory_rel: np.ndarray) -> list[Series]:
        """The edges of the sampled band around the theory line (requested here; none until sampled)."""
        if sampling_refusal(entry.config) is not None or not np.isfinite(theory_rel).any():
            return []
        key = self._band_key(entry)
        ens = self.jobs.result(key)
        if ens is None:
            if not self.jobs.pending(key) and self.jobs.error(key) is None:
                self.jobs.request(entry.config, BAND_K, BAND_SEED)
            return []
        lo, hi = ens.theory_band(layer0)
        edge = _edge(entry.color, 0x70)
        return [
            Series(_BAND_EDGES[0], lo, f"band: one network, 10 % of {ens.k} fresh inits (sampled)", edge),
            Series(_BAND_EDGES[1], hi, f"band: one network, 90 % of {ens.k} fresh inits (sampled)", edge),
        ]

    def _band_key(self, entry: RunEntry) -> str:
        """The job key of a run's band (computed once per run and config: it is asked at every redraw)."""
        cached = self._band_key_of.get(entry.run_id)
        if cached is None or cached[0] is not entry.config:
            cached = (entry.config, setup_key(entry.config, BAND_K, BAND_SEED))
            self._band_key_of[entry.run_id] = cached
        return cached[1]

    def _average_series(self, entry: RunEntry) -> list[Series]:
        key = self._average_keys.get(entry.run_id)
        ens = self.jobs.result(key) if key is not None else None
        if ens is None:
            return []
        lo, hi = ens.act_std_band()
        k, edge = ens.k, _edge(entry.color, 0xA0)
        style = dict(pen=pen(entry.color, 2, Qt_PenStyle.DashDotLine), symbol=None)
        return [
            Series("average", ens.rms_act_std, f"rms of {k} fresh inits, step 0", style),
            Series(_AVERAGE_EDGES[0], lo, f"10 % of {k} fresh inits, step 0", edge),
            Series(_AVERAGE_EDGES[1], hi, f"90 % of {k} fresh inits, step 0", edge),
        ]

    def average_curve(self, run_id: int) -> pg.PlotDataItem | None:
        """The drawn average over K fresh inits of a run (None until the button's job finished)."""
        return self.curve(run_id, "average")

    def fill(self, run_id: int, name: str) -> pg.FillBetweenItem | None:
        """A run's fill: ``"band"`` (theory band) or ``"average"`` (10-90 % of the button's inits)."""
        return self._fills.get(run_id, {}).get(name)

    # --- drawing ------------------------------------------------------------------------------------
    def refresh(self, runs: Sequence[RunEntry], selected: RunEntry | None) -> None:
        super().refresh(runs, selected)
        if not self._waiting:
            self._update_button()

    def _draw(self, entry: RunEntry, key: tuple) -> None:
        super()._draw(entry, key)
        drawn = self._drawn[entry.run_id]
        wanted = {s.suffix for s in drawn.series}
        for suffix in [s for s in drawn.items if s not in wanted]:
            self.plot.removeItem(drawn.items.pop(suffix))
        fills = self._fills.setdefault(entry.run_id, {})
        for name, (lo, hi) in (("band", _BAND_EDGES), ("average", _AVERAGE_EDGES)):
            item = fills.get(name)
            curves = [drawn.items.get(lo), drawn.items.get(hi)]
            if item is not None and item.curves != curves:
                self.plot.removeItem(fills.pop(name))
                item = None
            if item is None and None not in curves:
                item = pg.FillBetweenItem(curves[0], curves[1], brush=_fill_brush(entry.color, name == "average"))
                item.setZValue(-1)
                self.plot.addItem(item)
                fills[name] = item
            elif item is not None:
                item.setBrush(_fill_brush(entry.color, name == "average"))

    def _remove(self, run_id: int) -> None:
        super()._remove(run_id)
        for item in self._fills.pop(run_id, {}).values():
            self.plot.removeItem(item)

    def _update_legend(self, runs: Sequence[RunEntry]) -> None:
        keys = list(self._base_keys)
        if any(f.get("band") is not None for f in self._fills.values()):
            keys.append(self._band_key_item)
        if any(f.get("average") is not None for f in self._fills.values()):
            line, hatch = self._average_key_items
            keys += [(f"rms of {self._average_k} fresh inits (step 0)", line), ("10–90 % of those inits", hatch)]
        if [label for label, _ in keys] != [label for label, _ in self._key_items]:
            self._key_items = keys
            self._legend_rows = []  # the legend is rebuilt
        super()._update_legend(runs)
