"""Controls made from the field table: one widget per field, read and shown in config terms.

:func:`make_control` picks the widget from the field's :class:`~resnet_viz.config.FieldSpec` and
annotation (choices: a combo box or a segmented row; booleans: a check box; numbers typed as text: a
:class:`NumberEdit`; integers: a spin box with the field's range and unit); the field's help and its
options' helps make the tooltip. :class:`Control` reads and writes the value and shows whether the
field applies (:class:`~resnet_viz.config.FieldState`), with the reason in the tooltip.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from PySide6 import QtCore, QtWidgets

from resnet_viz.config import FieldInfo, FieldSpec, FieldState, all_fields, option_state
from resnet_viz.gui.setup_panel.extras import PLACED_AFTER, PLACEHOLDERS, SPIN_TEXTS, UNSET_ITEMS, DeviceChoice
from resnet_viz.gui.setup_panel.widgets import (
    Choice,
    DepthSpinBox,
    DoublingSpinBox,
    ListEdit,
    NumberEdit,
    Segmented,
    format_number,
    with_reason,
    wrap_tooltip,
)

#: The largest value a QSpinBox holds.
SPIN_MAX = 2**31 - 1
DEVICE_FIELD = "train.device"


def field_kind(info: FieldInfo) -> tuple[Any, bool]:
    """The field's type without ``None``, and whether ``None`` (unset) is allowed."""
    args = typing.get_args(info.type) if isinstance(info.type, types.UnionType) else ()
    if type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return info.type, False


def field_tooltip(info: FieldInfo) -> str:
    """The field's help, its options' helps (a line each), and how the widget steps (unwrapped)."""
    s = info.spec
    lines = [s.help] + [o.help for o in s.options if o.help]
    if s.widget == "depth":
        lines.append("Arrows and the mouse wheel step through the valid depths.")
    elif s.widget == "doubling":
        lines.append("Arrows double / halve.")
    return "\n".join(lines)


def group_fields(group: str) -> list[FieldInfo]:
    """The fields of one group that the panel shows, in table order (but see ``PLACED_AFTER``)."""
    infos = [info for info in all_fields() if info.spec.panel and info.spec.group == group]
    for path, after in PLACED_AFTER.items():
        moved = [info for info in infos if info.path == path]
        if moved:
            infos.remove(moved[0])
            infos.insert(next(i for i, info in enumerate(infos) if info.path == after) + 1, moved[0])
    return infos


def group_box(title: str) -> tuple[QtWidgets.QGroupBox, QtWidgets.QFormLayout]:
    """A group box holding a compact form: labels right-aligned, fields growing."""
    box = QtWidgets.QGroupBox(title)
    form = QtWidgets.QFormLayout(box)
    form.setContentsMargins(6, 4, 6, 6)
    form.setHorizontalSpacing(8)
    form.setVerticalSpacing(4)
    form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
    form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.DontWrapRows)
    return box, form


def show_enabled(
    widget: QtWidgets.QWidget, tip: str, enabled: bool, reason: str = "", label: QtWidgets.QLabel | None = None
) -> None:
    """Enable a widget, or disable it with the reason appended to its tooltip (its label's too)."""
    widget.setEnabled(enabled)
    if not enabled and reason:
        tip = with_reason(tip, reason)
    widget.setToolTip(tip)
    if isinstance(widget, Segmented):  # its buttons show their own tooltips: add the reason there
        for button in widget.buttons.values():
            base = button.property("baseToolTip")
            button.setToolTip(base if enabled or not reason else with_reason(base, reason))
    if label is not None:
        label.setEnabled(enabled)
        label.setToolTip(tip)


def _spin_box(info: FieldInfo, optional: bool) -> QtWidgets.QSpinBox:
    """An integer field's spin box: the field's range (one below for an unset value), unit and texts."""
    s, text = info.spec, SPIN_TEXTS.get(info.path)
    lo = int(s.lo or 0) - (1 if optional else 0)
    hi = min(int(s.hi if s.hi is not None else SPIN_MAX), SPIN_MAX)
    box: QtWidgets.QSpinBox
    if s.widget == "doubling":
        box = DoublingSpinBox(lo, hi, special=text.special if text else "", first=text.first if text else None)
    else:
        box = QtWidgets.QSpinBox()
        box.setRange(lo, hi)
    if text is not None:
        box.setSpecialValueText(text.special)
        box.setSingleStep(text.single_step)
    if s.unit and s.unit != s.label:
        box.setSuffix(f" {s.unit}")
    return box


def _number_edit(info: FieldInfo, kind: Any) -> NumberEdit:
    """A number (or list of numbers) typed as text; an empty edit shows the default as placeholder."""
    if typing.get_origin(kind) is tuple:
        args = typing.get_args(kind)
        edit: NumberEdit = ListEdit(info.path, count=None if Ellipsis in args else len(args))
    else:
        edit = NumberEdit(info.path)
    if info.path in PLACEHOLDERS:
        edit.setPlaceholderText(PLACEHOLDERS[info.path])
    elif info.default is not None:
        edit.setPlaceholderText(f"default: {format_number(info.default)}")
    return edit


def _option_items(s: FieldSpec) -> list[tuple[Any, str, str]]:
    return [(o.value, o.label, o.help) for o in s.options]


def make_widget(info: FieldInfo) -> QtWidgets.QWidget:
    """The widget that shows a field, chosen from its spec and annotation."""
    s = info.spec
    kind, optional = field_kind(info)
    if s.widget == "segmented":
        return Segmented(UNSET_ITEMS.get(info.path, []) + _option_items(s))
    if s.options or info.path in UNSET_ITEMS:
        return Choice(UNSET_ITEMS.get(info.path, []) + _option_items(s))
    if info.path == DEVICE_FIELD:
        return DeviceChoice(s.help)
    if kind is bool:
        return QtWidgets.QCheckBox(s.text)
    if s.widget == "depth":
        return DepthSpinBox()
    if s.widget in ("folder", "file"):
        return QtWidgets.QLineEdit()
    if kind is int:
        return _spin_box(info, optional)
    return _number_edit(info, kind)


@dataclass
class Control:
    """One field's control: the ``widget`` that shows its value, its current ``tip`` (wrapped), its
    ``label`` (None for a check box, whose text is its label), and the ``form`` and ``field`` (the widget,
    or a row around it) of its row."""

    info: FieldInfo
    widget: QtWidgets.QWidget
    tip: str
    label: QtWidgets.QLabel | None = None
    form: QtWidgets.QFormLayout | None = None
    field: QtWidgets.QWidget | None = None

    @property
    def path(self) -> str:
        return self.info.path

    def read(self) -> Any:
        """The value shown, in config terms; :class:`ConfigError` for typed text that is not a number."""
        w = self.widget
        if isinstance(w, (Choice, Segmented)):
            return w.value()
        if isinstance(w, QtWidgets.QCheckBox):
            return w.isChecked()
        if isinstance(w, NumberEdit):
            value = w.value()
            return self.info.default if value is None else value
        if isinstance(w, QtWidgets.QSpinBox):
            return None if field_kind(self.info)[1] and w.value() == w.minimum() else w.value()
        if isinstance(w, QtWidgets.QLineEdit):
            return w.text().strip() or None
        raise TypeError(f"{self.path}: no reader for {type(w).__name__}")

    def write(self, value: Any) -> None:
        """Show ``value`` (values a spin box cannot hold are clamped)."""
        w = self.widget
        if isinstance(w, (Choice, Segmented, NumberEdit)):
            w.set_value(value)
        elif isinstance(w, QtWidgets.QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QtWidgets.QSpinBox):
            w.setValue(w.minimum() if value is None else int(value))
        elif isinstance(w, QtWidgets.QLineEdit):
            w.setText(value or "")

    def changed(self) -> Any:
        """The widget's signal that fires once per edit."""
        w = self.widget
        if isinstance(w, Segmented):
            return w.valueChanged
        if isinstance(w, QtWidgets.QComboBox):
            return w.currentIndexChanged
        if isinstance(w, QtWidgets.QLineEdit):
            return w.textChanged
        if isinstance(w, QtWidgets.QSpinBox):
            return w.valueChanged
        if isinstance(w, QtWidgets.QCheckBox):
            return w.toggled
        raise TypeError(f"{self.path}: no signal for {type(w).__name__}")

    def show_state(self, state: FieldState, shown: bool = True) -> None:
        """Show the row or hide it (``state.visible`` and ``shown``), enabled or disabled with the reason."""
        if self.form is not None and self.field is not None:
            self.form.setRowVisible(self.label if self.label is not None else self.field, state.visible and shown)
        show_enabled(self.widget, self.tip, state.enabled, state.reason, self.label)

    def show_options(self, run: Any) -> None:
        """Disable the options of a combo box that do not apply to ``run``, each with its reason."""
        if not isinstance(self.widget, Choice):
            return
        unavailable = []
        for option in self.info.spec.options:
            state = option_state(run, self.path, option.value)
            if not state.enabled or not self.widget.item_enabled(option.value):
                self.widget.set_item_enabled(option.value, state.enabled, state.reason)
            if not state.enabled:
                unavailable.append(f"{option.label} is unavailable: {state.reason}")
        if unavailable and self.widget.isEnabled():
            self.widget.setToolTip(self.widget.toolTip() + "\n" + "\n".join(unavailable))


def make_control(info: FieldInfo) -> Control:
    """A field's control (not yet in a form): its widget and tooltip."""
    widget = make_widget(info)
    tip = wrap_tooltip(field_tooltip(info))
    widget.setToolTip(tip)
    return Control(info, widget, tip)
