"""OptimizerTable: the racers of an optimiser race, one compact row per optimiser.

A grid (wide rather than tall, it sits under the race plot): an on/off check box with the optimiser's
title, a colour swatch (click to choose), and one field per hyperparameter column. Cells an optimiser
does not take are disabled and blank; an empty enabled cell means the value in effect, torch.optim's
default (Momentum/Nesterov: momentum 0.9), shown as grey placeholder text. Invalid fields of ticked
rows get a red border and their tooltip says what is wrong; :meth:`OptimizerTable.error_text` gives
the first error, :meth:`OptimizerTable.specs` raises it as :class:`ConfigError`.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.config import ConfigError
from resnet_viz.gui.race.optimizer_texts import COLUMN_TIPS, COLUMN_TITLES, UPDATE_RULES
from resnet_viz.surfaces.race import (
    HYPERPARAMETERS,
    OPTIMIZER_TITLES,
    OPTIMIZERS,
    PRESET_HYPERPARAMETERS,
    OptimizerSpec,
    torch_default,
)

#: Path colours, distinct and saturated: they are drawn over a light contour map.
DEFAULT_COLOURS: dict[str, str] = {
    "sgd": "#d62728",
    "momentum": "#1f77b4",
    "nesterov": "#17becf",
    "adagrad": "#2ca02c",
    "rmsprop": "#ff7f0e",
    "adam": "#9467bd",
    "adamw": "#8c564b",
}

#: Hyperparameter columns, in core names (their headers: ``optimizer_texts.COLUMN_TITLES``).
COLUMNS: tuple[str, ...] = ("lr", "momentum", "beta1", "beta2", "alpha", "eps", "weight_decay")

FIELD_WIDTH = 70
SWATCH_SIZE = 18
TOOLTIP_WIDTH = 64
_INVALID_STYLE = "QLineEdit { border: 1px solid #b00020; border-radius: 2px; background: #fdecee; }"


def _wrap(text: str) -> str:
    """Wrap each paragraph of a plain-text tooltip (Qt does not wrap plain-text tooltips)."""
    return "\n".join(textwrap.fill(line, TOOLTIP_WIDTH) if line else "" for line in text.split("\n"))


def _takes(key: str, name: str) -> bool:
    return name in HYPERPARAMETERS[key]


class OptimizerTable(QtWidgets.QWidget):
    """The racers: one row per key of ``OPTIMIZERS``, all ticked by default.

    Widgets, for owners and tests: ``checks[key]`` (QCheckBox), ``swatches[key]`` (QToolButton),
    ``fields[key][name]`` (QLineEdit, one per name in ``COLUMNS``; disabled where the optimiser does not
    take it), ``headers[name]`` (QLabel).

    ``changed`` is emitted once per user action: a row toggled, a colour chosen, a field's editing
    finished with a new text; and once by each of :meth:`set_hyperparameters`, :meth:`set_state`,
    :meth:`set_enabled` and :meth:`set_colour` when they change something.
    """

    changed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._colours: dict[str, QtGui.QColor] = {k: QtGui.QColor(DEFAULT_COLOURS[k]) for k in OPTIMIZERS}
        self._base_tips: dict[tuple[str, str], str] = {}
        self._last_text: dict[tuple[str, str], str] = {}  # the text at the last emission, per field
        self._quiet = 0
        self.checks: dict[str, QtWidgets.QCheckBox] = {}
        self.swatches: dict[str, QtWidgets.QToolButton] = {}
        self.fields: dict[str, dict[str, QtWidgets.QLineEdit]] = {}
        self.headers: dict[str, QtWidgets.QLabel] = {}

        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        self._build_header(grid)
        # Fields as wide as the widest header but the last (that one may overhang), so the columns are
        # evenly spaced.
        width = max(FIELD_WIDTH, *(self.headers[n].sizeHint().width() for n in COLUMNS[:-1]))
        for r, key in enumerate(OPTIMIZERS, start=1):
            self._build_row(grid, r, key, width)
        stretch_col = len(COLUMNS) + 2
        grid.setColumnStretch(stretch_col, 1)  # keeps the grid packed to the left
        grid.setRowStretch(len(OPTIMIZERS) + 1, 1)  # and to the top
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Maximum)
        self._mark()

    def _build_header(self, grid: QtWidgets.QGridLayout) -> None:
        """Row 0: "optimiser" and the hyperparameters' titles, bold, with their explanations as tooltips."""
        head = QtWidgets.QLabel("optimiser")
        head.setToolTip(
            _wrap(
                "Tick the optimisers that race; hover a title for its update rule "
                "(g: the gradient at the current point)."
            )
        )
        grid.addWidget(head, 0, 0)
        for c, name in enumerate(COLUMNS):
            lab = QtWidgets.QLabel(COLUMN_TITLES[name])
            lab.setToolTip(_wrap(COLUMN_TIPS[name] + "\nEmpty: torch.optim's default, shown in grey."))
            lab.setContentsMargins(3, 0, 0, 0)  # over the text inside the fields
            self.headers[name] = lab
            grid.addWidget(lab, 0, c + 2)
        for lab in [head, *self.headers.values()]:
            font = lab.font()
            font.setBold(True)
            lab.setFont(font)

    def _build_row(self, grid: QtWidgets.QGridLayout, r: int, key: str, width: int) -> None:
        """Row ``r``: the optimiser ``key``'s check box, colour swatch and one field per column."""
        title = OPTIMIZER_TITLES[key]
        check = QtWidgets.QCheckBox(title)
        check.setChecked(True)
        check.setToolTip(_wrap(UPDATE_RULES[key]))
        check.toggled.connect(self._on_toggled)
        self.checks[key] = check
        grid.addWidget(check, r, 0)

        swatch = QtWidgets.QToolButton()
        swatch.setFixedSize(SWATCH_SIZE, SWATCH_SIZE)
        swatch.setAutoRaise(False)
        swatch.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        swatch.setToolTip(f"Colour of {title}'s path: click to choose.")
        swatch.clicked.connect(lambda _checked=False, k=key: self._choose_colour(k))
        self.swatches[key] = swatch
        grid.addWidget(swatch, r, 1, QtCore.Qt.AlignmentFlag.AlignCenter)
        self._paint_swatch(key)

        self.fields[key] = {}
        for c, name in enumerate(COLUMNS):
            edit = self._build_field(key, name, width)
            self.fields[key][name] = edit
            grid.addWidget(edit, r, c + 2)

    def _build_field(self, key: str, name: str, width: int) -> QtWidgets.QLineEdit:
        """The field of hyperparameter ``name`` of optimiser ``key``: its default as grey placeholder, or
        disabled and blank when the optimiser does not take it."""
        title = OPTIMIZER_TITLES[key]
        edit = QtWidgets.QLineEdit()
        edit.setFixedWidth(width)
        if _takes(key, name):
            default = torch_default(key, name)
            edit.setPlaceholderText(f"{default:g}")
            if name in PRESET_HYPERPARAMETERS.get(key, {}):
                note = f"empty: {default:g}, {title}'s preset"
            else:
                note = f"empty: torch.optim's default {default:g}"
            tip = _wrap(f"{title} {COLUMN_TITLES[name]}. {COLUMN_TIPS[name]}\n{note}")
            edit.textChanged.connect(self._on_text_changed)
            edit.editingFinished.connect(lambda k=key, n=name: self._on_editing_finished(k, n))
        else:
            edit.setEnabled(False)
            tip = f"{title} has no {COLUMN_TITLES[name]}"
        edit.setToolTip(tip)
        self._base_tips[(key, name)] = tip
        self._last_text[(key, name)] = ""
        return edit

    # ------------------------------------------------------------------------------------ reading

    def specs(self) -> list[OptimizerSpec]:
        """The ticked rows, in table order, with the fields that are set. Raises :class:`ConfigError`."""
        specs = []
        for key in OPTIMIZERS:
            if not self.checks[key].isChecked():
                continue
            spec = OptimizerSpec(key, hyper=self._row_values(key), label=key)
            spec.validate(f"optimizers.{key}")
            specs.append(spec)
        if not specs:
            raise ConfigError("optimizers", [], "tick at least one optimiser")
        return specs

    def error_text(self) -> str:
        """ "" when :meth:`specs` succeeds, else its error message."""
        try:
            self.specs()
        except ConfigError as exc:
            return str(exc)
        return ""

    def _row_values(self, key: str) -> dict[str, float | bool]:
        """The non-empty fields of a row as floats; raises ConfigError for text that is not a number."""
        values: dict[str, float | bool] = {}
        for name in COLUMNS:
            if _takes(key, name):
                value = self._field_value(key, name)
                if value is not None:
                    values[name] = value
        return values

    def _field_value(self, key: str, name: str) -> float | None:
        text = self.fields[key][name].text().strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"optimizers.{key}.{name}", text, "must be a number, e.g. 0.01 or 1e-3") from None

    def _field_error(self, key: str, name: str) -> str:
        """The error of one field on its own ("" if fine)."""
        try:
            value = self._field_value(key, name)
            if value is not None:
                OptimizerSpec(key, hyper={name: value}).validate(f"optimizers.{key}")
        except ConfigError as exc:
            return str(exc)
        return ""

    # ------------------------------------------------------------------------------------ colours

    def colour(self, key: str) -> QtGui.QColor:
        return QtGui.QColor(self._colours[key])

    def set_colour(self, key: str, colour: QtGui.QColor | str) -> None:
        """Set a row's colour (a QColor or a name such as ``"#1f77b4"``); invalid colours are ignored."""
        colour = QtGui.QColor(colour)
        if not colour.isValid() or colour.rgb() == self._colours[key].rgb():
            return
        self._colours[key] = colour
        self._paint_swatch(key)
        self._emit()

    def _paint_swatch(self, key: str) -> None:
        c = self._colours[key]
        self.swatches[key].setStyleSheet(
            f"QToolButton {{ background: {c.name()}; border: 1px solid {c.darker(150).name()};"
            " border-radius: 3px; }"
            f" QToolButton:hover {{ border: 1px solid #202020; }}"
        )

    def _choose_colour(self, key: str) -> None:
        colour = QtWidgets.QColorDialog.getColor(self._colours[key], self, f"Colour of {OPTIMIZER_TITLES[key]}")
        if colour.isValid():
            self.set_colour(key, colour)

    # ------------------------------------------------------------------------------------ rows

    def set_enabled(self, key: str, on: bool) -> None:
        self.checks[key].setChecked(bool(on))  # emits changed through toggled when it changes

    def is_enabled(self, key: str) -> bool:
        return self.checks[key].isChecked()

    def set_hyperparameters(self, values: dict[str, dict[str, float]]) -> None:
        """Set the named fields of each row in ``values`` and clear that row's other fields; other rows
        are untouched; names a row does not take are ignored. Emits ``changed`` once."""
        with self._batch():
            for key, hyper in values.items():
                if key not in self.fields:
                    continue
                for name in COLUMNS:
                    if not _takes(key, name):
                        continue
                    value = hyper.get(name)
                    self._set_text(key, name, "" if value is None else f"{value:g}")
        self._emit()

    # ------------------------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        """JSON-friendly: ``{key: {"enabled": bool, "colour": "#rrggbb", "fields": {name: text}}}``
        (the fields the optimiser takes, empty ones included)."""
        return {
            key: {
                "enabled": self.checks[key].isChecked(),
                "colour": self._colours[key].name(),
                "fields": {n: self.fields[key][n].text() for n in COLUMNS if _takes(key, n)},
            }
            for key in OPTIMIZERS
        }

    def set_state(self, state: Any) -> None:
        """Restore :meth:`state`'s output. Unknown keys, missing keys and values of the wrong type are
        ignored (a missing field keeps its text). Emits ``changed`` once."""
        if not isinstance(state, dict):
            return
        with self._batch():
            for key in OPTIMIZERS:
                row = state.get(key)
                if not isinstance(row, dict):
                    continue
                enabled = row.get("enabled")
                if isinstance(enabled, bool):
                    self.checks[key].setChecked(enabled)
                colour = row.get("colour")
                if isinstance(colour, str) and QtGui.QColor(colour).isValid():
                    self._colours[key] = QtGui.QColor(colour)
                    self._paint_swatch(key)
                fields = row.get("fields")
                if isinstance(fields, dict):
                    for name, text in fields.items():
                        if name not in COLUMNS or not _takes(key, name):
                            continue
                        if isinstance(text, str):
                            self._set_text(key, name, text)
                        elif isinstance(text, (int, float)) and not isinstance(text, bool) and math.isfinite(text):
                            self._set_text(key, name, f"{text:g}")
        self._emit()

    # ------------------------------------------------------------------------------------ internals

    def _set_text(self, key: str, name: str, text: str) -> None:
        self.fields[key][name].setText(text)
        self._last_text[(key, name)] = text

    class _Batch:
        def __init__(self, table: OptimizerTable) -> None:
            self.table = table

        def __enter__(self) -> None:
            self.table._quiet += 1

        def __exit__(self, *exc: object) -> None:
            self.table._quiet -= 1
            self.table._mark()

    def _batch(self) -> OptimizerTable._Batch:
        """Within it, changes neither emit nor re-mark; the caller emits once after."""
        return OptimizerTable._Batch(self)

    def _emit(self) -> None:
        if not self._quiet:
            self.changed.emit()

    def _on_toggled(self, _on: bool) -> None:
        if not self._quiet:
            self._mark()
        self._emit()

    def _on_text_changed(self, _text: str) -> None:
        if not self._quiet:
            self._mark()

    def _on_editing_finished(self, key: str, name: str) -> None:
        text = self.fields[key][name].text()
        if text != self._last_text[(key, name)]:
            self._last_text[(key, name)] = text
            self._emit()

    def _mark(self) -> None:
        """Red border and the error as tooltip on the invalid fields of ticked rows; the rest plain."""
        for key in OPTIMIZERS:
            on = self.checks[key].isChecked()
            for name in COLUMNS:
                if not _takes(key, name):
                    continue
                edit = self.fields[key][name]
                error = self._field_error(key, name) if on else ""
                style = _INVALID_STYLE if error else ""
                if edit.styleSheet() != style:
                    edit.setStyleSheet(style)
                base = self._base_tips[(key, name)]
                edit.setToolTip(_wrap(error) + "\n\n" + base if error else base)
