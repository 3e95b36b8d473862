"""One axis of a sweep in the New sweep dialog: a config field (by label and path) and the values it takes.

The values are typed as text (``20, 32, 44, 56``; a tuple field's values separated by ``;``) and read by
the sweeps core (:func:`~resnet_viz.sweeps.spec.parse_vary`), so a bad value shows the core's one-line
error under the row. Beside the text, the field's own setup widget (made from the field table by
:func:`~resnet_viz.gui.setup_panel.builder.make_control`: a combo of its choices, a spin box of valid
depths, a number edit) picks a value, and *Add* appends it.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from resnet_viz.config import ConfigError, FieldInfo, RunConfig, all_fields
from resnet_viz.gui.setup_panel.builder import Control, make_control
from resnet_viz.sweeps.spec import Axis, parse_vary
from resnet_viz.sweeps.values import format_value

#: Fields a sweep cannot vary (the seeds have their own line).
NOT_VARIED = ("train.seed",)
ERROR_STYLE = "color: #b3261e;"


def varied_fields() -> list[FieldInfo]:
    """The config fields an axis may vary, in the field table's order."""
    return [info for info in all_fields() if info.path not in NOT_VARIED]


def field_text(info: FieldInfo) -> str:
    """``depth (model.depth)``: the setup panel's label and the dotted path ``--vary`` takes."""
    label = info.spec.label or info.spec.text or info.name
    return f"{label} ({info.path})"


def is_tuple_field(info: FieldInfo) -> bool:
    return "tuple" in str(info.type)


def value_text(value: Any) -> str:
    """A value as the values line reads it back (floats in full, a tuple's items joined by commas)."""
    if isinstance(value, (tuple, list)):
        return ", ".join(value_text(v) for v in value)
    return repr(value) if isinstance(value, float) else format_value(value)


class AxisRow(QtWidgets.QWidget):
    """Field combo, values line, the field's widget with *Add*, a remove button, and the row's error.

    Signals: ``changed()`` on every edit; ``remove_requested(AxisRow)``."""

    changed = QtCore.Signal()
    remove_requested = QtCore.Signal(object)

    def __init__(self, base: RunConfig, path: str = "model.depth", values: str | None = None) -> None:
        super().__init__()
        self.base = base
        self.fields = {info.path: info for info in varied_fields()}
        self.control: Control | None = None
        self.field_box = QtWidgets.QComboBox()
        self.field_box.setToolTip("The config field this axis varies")
        for info in self.fields.values():
            self.field_box.addItem(field_text(info), info.path)
        self.values_edit = QtWidgets.QLineEdit()
        self.values_edit.setToolTip("The values, separated by commas (a list field's values by ';')")
        self.add_button = QtWidgets.QToolButton()
        self.add_button.setText("Add")
        self.add_button.setToolTip("Append the value shown beside to the values")
        self.remove_button = QtWidgets.QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip("Remove this axis")
        self.error = QtWidgets.QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        self._picker = QtWidgets.QHBoxLayout()
        self._picker.setContentsMargins(0, 0, 0, 0)
        self._layout()
        self.field_box.currentIndexChanged.connect(lambda _i: self._field_changed())
        self.values_edit.textChanged.connect(lambda _t: self.changed.emit())
        self.add_button.clicked.connect(self.add_value)
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self))
        self.set_field(path, values)

    def _layout(self) -> None:
        top = QtWidgets.QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.field_box, 3)
        top.addWidget(self.values_edit, 4)
        top.addLayout(self._picker, 2)
        top.addWidget(self.add_button)
        top.addWidget(self.remove_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.error)

    # --- the field ------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return str(self.field_box.currentData())

    @property
    def info(self) -> FieldInfo:
        return self.fields[self.path]

    def set_field(self, path: str, values: str | None = None) -> None:
        """Vary ``path``; ``values`` (None: the base config's value of the field)."""
        index = self.field_box.findData(path)
        self.field_box.blockSignals(True)
        self.field_box.setCurrentIndex(max(0, index))
        self.field_box.blockSignals(False)
        self._field_changed(values)

    def _field_changed(self, values: str | None = None) -> None:
        info = self.info
        if self.control is not None:
            self._picker.removeWidget(self.control.widget)
            self.control.widget.deleteLater()
        self.control = make_control(info)
        self.control.widget.setMinimumWidth(90)
        section, name = info.path.split(".", 1)
        current = getattr(getattr(self.base, section), name)
        self.control.write(current)
        self._picker.addWidget(self.control.widget)
        self.values_edit.setPlaceholderText("values; " + ("a; b" if is_tuple_field(info) else "a, b, c"))
        self.values_edit.setText(value_text(current) if values is None else values)
        self.field_box.setToolTip(self.control.tip)
        self.changed.emit()

    # --- the values -----------------------------------------------------------------------------
    def add_value(self) -> None:
        """Append the field widget's value to the values line (a value already there is not repeated)."""
        if self.control is None:
            return
        try:
            value = self.control.read()
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        text = value_text(value)
        sep = ";" if is_tuple_field(self.info) else ","
        items = [item.strip() for item in self.values_edit.text().split(sep) if item.strip()]
        if text not in items:
            items.append(text)
        self.values_edit.setText(f"{sep} ".join(items))

    def axis(self) -> Axis:
        """The axis typed (:class:`ConfigError`, the core's one line, for a bad value)."""
        return parse_vary(f"{self.path}={self.values_edit.text()}")

    def check(self) -> Axis | None:
        """The axis, or None with the core's error shown under the row."""
        try:
            axis = self.axis()
        except ConfigError as exc:
            self.show_error(str(exc))
            return None
        self.show_error("")
        return axis

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def set_editable(self, editable: bool) -> None:
        for widget in (self.field_box, self.values_edit, self.add_button, self.remove_button):
            widget.setEnabled(editable)
        if self.control is not None:
            self.control.widget.setEnabled(editable)
