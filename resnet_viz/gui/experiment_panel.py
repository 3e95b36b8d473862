"""ExperimentPanel: the loaded guided experiment (preset) beside the plots: what it shows and whether
its checks held so far.

The window calls :meth:`ExperimentPanel.set_preset` when it loads a preset and
:meth:`ExperimentPanel.update_checks` with the stores of the runs it created (by run name) whenever
those runs change; the checks are re-evaluated then (cheap: a few numbers per run).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.presets_dialog import note_style, size_summary
from resnet_viz.gui.race.optimizer_table import COLUMNS
from resnet_viz.metrics.store import RunStore
from resnet_viz.presets.measures import CheckResult
from resnet_viz.presets.preset import Preset, PresetRun, RaceSetup
from resnet_viz.presets.runner import evaluate_checks
from resnet_viz.surfaces.race import HYPERPARAMETERS, OPTIMIZERS, OptimizerSpec, parse_optimizers

#: held -> (symbol and word, colour)
VERDICTS = {True: ("✓ held", "#1b7f3b"), False: ("✗ did not hold", "#b3261e"), None: ("– waiting", "#777777")}


def verdict_text(result: CheckResult, finished: bool) -> str:
    """``✓ held`` / ``✗ did not hold`` / ``– waiting`` (``– not measured`` once its runs have ended)."""
    if result.held is None and finished:
        return "– not measured"
    return VERDICTS[result.held][0]


def race_state(setup: RaceSetup) -> dict[str, Any]:
    """A :meth:`RaceTab.set_state` dict for a preset's race: its surface, start, steps and racers
    (the named optimisers ticked with their hyperparameters, every other row unticked). Raises
    ConfigError for a bad ``optims`` string."""
    specs = parse_optimizers(setup.optims)
    by_key: dict[str, OptimizerSpec] = {}
    for spec in specs:
        by_key.setdefault(spec.key, spec)  # the table has one row per optimiser: the first one wins
    table = {}
    for key in OPTIMIZERS:
        row_spec = by_key.get(key)
        fields = {}
        for name in COLUMNS:
            if name in HYPERPARAMETERS[key]:
                value = None if row_spec is None else row_spec.hyper.get(name)
                fields[name] = "" if value is None or isinstance(value, bool) else f"{value:g}"
        table[key] = {"enabled": row_spec is not None, "fields": fields}
    state: dict[str, Any] = {"surface": setup.surface, "max_steps": int(setup.steps), "table": table}
    if setup.start is not None:
        state["start"] = [float(setup.start[0]), float(setup.start[1])]
    return state


class ExperimentPanel(QtWidgets.QWidget):
    """The experiment dock's contents; empty (a hint) until :meth:`set_preset`.

    Signals: ``race_requested(RaceSetup)`` (the "Open the 2D race" button), ``details_requested(str)``
    (the preset's name: show it in the gallery).
    """

    race_requested = QtCore.Signal(object)
    landscape_requested = QtCore.Signal()
    details_requested = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.preset: Preset | None = None
        self.preset_size = "quick"
        self.run_names: list[str] = []
        self.results: list[CheckResult] = []

        self._build_texts()
        self._build_table()
        buttons = self._build_buttons()

        inner = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(inner)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.size_note)
        layout.addWidget(self.body)
        layout.addWidget(self.checks_label)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.scroll_area = QtWidgets.QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(inner)
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        outer.addWidget(self.scroll_area, 1)
        self.set_preset(None)

    # --- building ---------------------------------------------------------------------------------
    def _build_texts(self) -> None:
        """The title, the size's note and the body (formula, what to look for): rich-text labels."""
        self.title = QtWidgets.QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.size_note = QtWidgets.QLabel()
        self.size_note.setWordWrap(True)
        self.size_note.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.body = QtWidgets.QLabel()
        self.body.setWordWrap(True)
        self.body.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        for label in (self.title, self.size_note, self.body):
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)

    def _build_table(self) -> None:
        """The checks: claim, measured, verdict; as tall as its rows (the dock scrolls, not the table)."""
        self.checks_label = QtWidgets.QLabel("<b>Checks</b>")
        self.table = QtWidgets.QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["claim", "measured", "verdict"])
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.table.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setSizeAdjustPolicy(QtWidgets.QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.Fixed)
        header.resizeSection(2, self.fontMetrics().horizontalAdvance("✗ did not ") + 16)  # wraps "hold"
        header.sectionResized.connect(lambda *_a: self.table.resizeRowsToContents())
        self.table.setToolTip(
            "What the preset expects, what the runs measured so far, and whether it held "
            "(re-evaluated as the runs record evaluations)"
        )

    def _build_buttons(self) -> QtWidgets.QHBoxLayout:
        """ "Open the 2D race" (when the preset has one) and "Explanation…"."""
        self.race_button = QtWidgets.QPushButton("Open the 2D race")
        self.race_button.setToolTip(
            "Set up the Optimiser race tab with this experiment's surface and optimisers, and switch to it"
        )
        self.race_button.clicked.connect(self._request_race)
        self.landscape_button = QtWidgets.QPushButton("Compute their landscapes")
        self.landscape_button.setToolTip(
            "In the Loss landscape tab: the landscape of each trained run with this experiment's settings, "
            "then both side by side on one colour scale"
        )
        self.landscape_button.clicked.connect(self.landscape_requested)
        self.details_button = QtWidgets.QPushButton("Explanation…")
        self.details_button.setToolTip(
            "The whole explanation, the published numbers and the runs, in the Guided experiments gallery"
        )
        self.details_button.clicked.connect(self._request_details)
        buttons = QtWidgets.QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.race_button)
        buttons.addWidget(self.landscape_button)
        buttons.addStretch(1)
        buttons.addWidget(self.details_button)
        return buttons

    def _request_race(self) -> None:
        if self.preset is not None and self.preset.race is not None:
            self.race_requested.emit(self.preset.race)

    def _request_details(self) -> None:
        if self.preset is not None:
            self.details_requested.emit(self.preset.name)

    # --- content ----------------------------------------------------------------------------------
    def set_preset(self, preset: Preset | None, size: str = "quick", runs: Sequence[PresetRun] | None = None) -> None:
        """Show ``preset`` at ``size`` (``runs``: the runs actually created, default the size's); None: the hint."""
        self.preset, self.preset_size = preset, size
        has = preset is not None
        for w in (self.size_note, self.checks_label, self.table, self.details_button):
            w.setVisible(has)
        self.race_button.setVisible(preset is not None and preset.race is not None)
        self.landscape_button.setVisible(preset is not None and preset.landscape is not None)
        if preset is None:
            self.run_names = []
            self.title.setText("<b>No experiment loaded.</b>")
            self.body.setText(
                "<p>Experiments ▸ Guided experiments… (Ctrl+E) sets up the runs and plots of a "
                "result from the ResNet papers and checks, as they train, whether it holds.</p>"
            )
            self.table.setRowCount(0)
            self.results = []
            return
        self.run_names = [r.name for r in (runs if runs is not None else preset.runs(size))]
        e = html.escape
        self.title.setText(f"<span style='font-size:large'><b>{e(preset.title)}</b></span>")
        spec = preset.sizes[size]
        head = size_summary(preset, size)
        self.size_note.setText(f"<b>{e(head[:1].upper() + head[1:])}</b><br>{e(spec.note)}")
        self.size_note.setStyleSheet(note_style("info" if size == "quick" else "warning"))
        parts = []
        if preset.formula:
            parts.append(f"<p style='font-family:monospace; background:#f3f5f8'>{e(preset.formula)}</p>")
        if preset.look_for:
            parts.append(
                "<b>What to look for</b><ul style='margin-left:-20px'>"
                + "".join(f"<li>{e(item)}</li>" for item in preset.look_for)
                + "</ul>"
            )
        self.body.setText("".join(parts))
        checks = preset.checks_for(size)
        self.checks_label.setVisible(bool(checks))
        self.table.setVisible(bool(checks))
        self.update_checks({})

    def update_checks(self, stores: Mapping[str, RunStore], finished: bool = False) -> list[CheckResult]:
        """Re-evaluate the checks on ``stores`` (run name -> store) and fill the table.

        ``finished``: every run of the experiment has ended (a missing value then reads "not measured").
        """
        if self.preset is None:
            return []
        self.results = evaluate_checks(self.preset, dict(stores), self.preset_size)
        self.table.setRowCount(len(self.results))
        for row, result in enumerate(self.results):
            verdict = verdict_text(result, finished)
            colour = VERDICTS[result.held][1]
            for col, text in enumerate((result.check.claim, result.describe(), verdict)):
                item = self.table.item(row, col)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
                    self.table.setItem(row, col, item)
                item.setText(text)
                item.setToolTip(text)
                if col == 2:
                    item.setForeground(QtGui.QColor(colour))
                    font = item.font()
                    font.setBold(result.held is not None)
                    item.setFont(font)
        self.table.resizeRowsToContents()
        return self.results

    def verdicts(self) -> list[str]:
        """The verdict column's texts, top to bottom."""
        return [item.text() for r in range(self.table.rowCount()) if (item := self.table.item(r, 2)) is not None]
