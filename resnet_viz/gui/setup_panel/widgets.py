"""The setup panel's widgets: choices speaking config values, number edits, and the depth and doubling spin boxes.

Each has ``value()`` / ``set_value()`` in config terms (a :class:`NumberEdit` raises :class:`ConfigError`
naming its field for text that is not a number), so the panel can read and show a config without
knowing which widget shows which field.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Signal

from resnet_viz.config import MAX_DEPTH, ConfigError, is_valid_depth, nearest_valid_depths

TOOLTIP_WIDTH = 64  # characters per tooltip line


def format_number(value: Any) -> str:
    """A number as text that parses back to the same value (``0.1``, ``1e-08``, ``0.9, 0.999``)."""
    if isinstance(value, (tuple, list)):
        return ", ".join(format_number(v) for v in value)
    if isinstance(value, (bool, int)):
        return str(value)
    return repr(float(value))


def wrap_tooltip(text: str) -> str:
    """Wrap each paragraph of a plain-text tooltip (plain-text tooltips are not wrapped by Qt)."""
    return "\n".join(textwrap.fill(line, TOOLTIP_WIDTH) if line else "" for line in text.split("\n"))


def with_reason(tip: str, reason: str) -> str:
    """A tooltip that says why its control is disabled (the normal meaning stays above)."""
    return f"{tip}\n— disabled: {reason}" if tip else f"Disabled: {reason}"


class Choice(QtWidgets.QComboBox):
    """A combo box of config values: ``value()`` / ``set_value()`` speak the config's strings (or None/bools)."""

    def __init__(self, items: Sequence[tuple[Any, str, str]], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(6)
        self._tips: dict[int, tuple[str, str]] = {}  # index -> (tooltip, wrapped tooltip)
        for value, text, tip in items:
            self.addItem(text, value)
            self._tips[self.count() - 1] = (tip, wrap_tooltip(tip))
            if tip:
                self.setItemData(self.count() - 1, wrap_tooltip(tip), QtCore.Qt.ItemDataRole.ToolTipRole)

    def values(self) -> list[Any]:
        return [self.itemData(i) for i in range(self.count())]

    def value(self) -> Any:
        return self.currentData()

    def set_value(self, value: Any) -> None:
        """Select the item whose value is ``value`` (``==`` with matching type, so ``None``, ``True`` and
        ``1`` differ); unknown values are ignored."""
        for i in range(self.count()):
            data = self.itemData(i)
            if type(data) is type(value) and data == value:
                self.setCurrentIndex(i)
                return

    def set_item_enabled(self, value: Any, enabled: bool, reason: str = "") -> None:
        """Enable or disable one item; a disabled item's tooltip ends with the reason."""
        model = self.model()
        for i in range(self.count()):
            data = self.itemData(i)
            if type(data) is type(value) and data == value:
                item = model.item(i) if isinstance(model, QtGui.QStandardItemModel) else None
                if item is not None:
                    item.setEnabled(enabled)
                tip, wrapped = self._tips.get(i, ("", ""))
                self.setItemData(
                    i, wrapped if enabled else with_reason(tip, reason), QtCore.Qt.ItemDataRole.ToolTipRole
                )

    def item_enabled(self, value: Any) -> bool:
        model = self.model()
        for i in range(self.count()):
            data = self.itemData(i)
            if type(data) is type(value) and data == value and isinstance(model, QtGui.QStandardItemModel):
                return model.item(i).isEnabled()
        return False

    def item_tooltip(self, value: Any) -> str:
        for i in range(self.count()):
            data = self.itemData(i)
            if type(data) is type(value) and data == value:
                return str(self.itemData(i, QtCore.Qt.ItemDataRole.ToolTipRole) or "")
        return ""


class Segmented(QtWidgets.QWidget):
    """A row of exclusive toggle buttons (a segmented control) with the same API as :class:`Choice`.

    ``buttons`` maps each value to its button; ``valueChanged(str)`` fires when the selection changes.
    """

    valueChanged = Signal(str)

    def __init__(self, items: Sequence[tuple[str, str, str]], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.group = QtWidgets.QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QtWidgets.QToolButton] = {}
        self._values: list[str] = []
        for i, (value, text, tip) in enumerate(items):
            button = QtWidgets.QToolButton(self)
            button.setText(text)
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.setToolTip(wrap_tooltip(tip))
            button.setProperty("baseToolTip", wrap_tooltip(tip))
            button.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
            self.group.addButton(button, i)
            layout.addWidget(button)
            self.buttons[value] = button
            self._values.append(value)
        self.buttons[self._values[0]].setChecked(True)
        self.group.idToggled.connect(self._toggled)

    def _toggled(self, index: int, checked: bool) -> None:
        if checked:
            self.valueChanged.emit(self._values[index])

    def values(self) -> list[str]:
        return list(self._values)

    def value(self) -> str:
        return self._values[max(self.group.checkedId(), 0)]

    def set_value(self, value: str) -> None:
        if value in self.buttons:
            self.buttons[value].setChecked(True)


class NumberEdit(QtWidgets.QLineEdit):
    """A line edit for one float; empty means the default shown as placeholder text.

    Any text can be typed (``1e-4`` included); :meth:`value` raises :class:`ConfigError` naming
    ``field`` when the text is not a number, so the panel can say which field is wrong.
    """

    def __init__(self, field_name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field_name
        self.setClearButtonEnabled(False)

    def value(self) -> float | None:
        """The number typed, or None when empty."""
        text = self.text().strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(self.field, text, "must be a number, e.g. 0.1 or 1e-4") from None
        if not math.isfinite(value):
            raise ConfigError(self.field, text, "must be a finite number")
        return value

    def set_value(self, value: float | None) -> None:
        self.setText("" if value is None else format_number(value))


class ListEdit(NumberEdit):
    """A line edit for comma-separated numbers (betas, milestones); empty means None."""

    def __init__(self, field_name: str, count: int | None = None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(field_name, parent)
        self.count = count

    def value(self) -> tuple[float, ...] | None:  # type: ignore[override]
        text = self.text().strip()
        if not text:
            return None
        parts = [p.strip() for p in text.replace(";", ",").split(",")]
        want = f"{self.count} comma-separated numbers" if self.count else "comma-separated numbers"
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            raise ConfigError(
                self.field, text, f"must be {want}, e.g. {self.placeholderText().split(': ')[-1]}"
            ) from None
        if self.count is not None and len(values) != self.count:
            raise ConfigError(self.field, text, f"must be {want}")
        return values

    def set_value(self, value: Sequence[float] | None) -> None:  # type: ignore[override]
        self.setText("" if value is None else format_number(tuple(value)))


class DepthSpinBox(QtWidgets.QSpinBox):
    """Depth (weight layers), 1 to :data:`~resnet_viz.config.MAX_DEPTH`. Arrows and the wheel step through
    the depths valid for the current arch/block (6n+2 basic/preact, 9n+2 bottleneck, any ≥ 1 for an MLP),
    found arithmetically; typed values are kept as typed, valid or not (the panel shows the error)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(1, MAX_DEPTH)
        self.arch = "resnet"
        self.block = "basic"

    def set_rule(self, arch: str, block: str) -> None:
        self.arch, self.block = arch, block

    def is_valid(self, depth: int) -> bool:
        return is_valid_depth(depth, self.arch, self.block)

    def nearest(self, depth: int) -> int:
        """The valid depth closest to ``depth`` (the lower one on a tie)."""
        if self.is_valid(depth):
            return depth
        near = nearest_valid_depths(depth, self.arch, self.block)
        return min(near, key=lambda d: (abs(d - depth), d))

    def neighbour(self, depth: int, up: bool) -> int | None:
        """The valid depth just above (``up``) or just below ``depth``; None at the end of the range."""
        target = depth + 1 if up else depth - 1
        near = [d for d in nearest_valid_depths(target, self.arch, self.block) if self.is_valid(d)]
        found = [d for d in near if d >= target] if up else [d for d in near if d <= target]
        if not found:
            return None
        return min(found) if up else max(found)

    def stepBy(self, steps: int) -> None:
        value = self.value()
        for _ in range(abs(steps)):
            step = self.neighbour(value, steps > 0)
            if step is None:
                break
            value = step
        self.setValue(value)
        self.selectAll()

    def stepEnabled(self) -> QtWidgets.QAbstractSpinBox.StepEnabledFlag:
        flags = QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepNone
        if self.neighbour(self.value(), False) is not None:
            flags |= QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        if self.neighbour(self.value(), True) is not None:
            flags |= QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        return flags


class DoublingSpinBox(QtWidgets.QSpinBox):
    """An integer spin box whose arrows double / halve the value. With a special value at the minimum
    (``special`` text, e.g. "default (16)"), stepping up from it goes to ``first`` and halving below the
    smallest regular value goes back to it."""

    def __init__(
        self, lo: int, hi: int, *, special: str = "", first: int | None = None, parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setRange(lo, hi)
        self.first = first
        if special:
            self.setSpecialValueText(special)

    def stepBy(self, steps: int) -> None:
        value = self.value()
        special = bool(self.specialValueText())
        for _ in range(abs(steps)):
            if steps > 0:
                value = (self.first or self.minimum() + 1) if special and value == self.minimum() else value * 2
            else:
                value = value // 2
                if value < self.minimum() + (1 if special else 0):
                    value = self.minimum()
        self.setValue(max(self.minimum(), min(self.maximum(), value)))
        self.selectAll()
