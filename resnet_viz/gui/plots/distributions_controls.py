"""Controls shared by the histogram panels: the kind picker and the layer picker that moves through depth.

:class:`LayerPicker` is a slider over the layers of a run (forward order) with stage ticks beneath it
("stem", "stage1", …, as the gradient heatmap labels them) and the chosen layer's index and name beside
it; the arrow keys (and Page Up / Page Down, Home, End) step it while it has the focus.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Signal

from resnet_viz.gui.plots.heatmap import stage_ticks
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.records import LayerInfoRecord

#: The kinds of histogram a panel offers: (record kind, picker text, axis wording: short, axes are small).
KINDS: tuple[tuple[str, str, str], ...] = (
    ("weight", "weights", "weight W"),
    ("gradient", "gradients", "∂L/∂W"),
    ("activation", "activations", "layer output"),
)
DEFAULT_KIND = "gradient"
#: What a histogram panel says while the run it shows has no histograms at all.
HISTOGRAMS_OFF = (
    "Histograms are off for this run: set “histograms” every K steps in the setup panel\n"
    "(Training; command line: --histogram-every K) and train a run."
)
NO_RUN = "No run to show: start a run or make one visible"


def kind_words(kind: str, log: bool = False) -> str:
    """The axis label of a histogram kind's values: "∂L/∂W", or with ``log`` "log₁₀|∂L/∂W|"."""
    words = next((words for k, _text, words in KINDS if k == kind), kind)
    return f"log₁₀|{words.removeprefix('weight ')}|" if log else words


def kind_box(default: str = DEFAULT_KIND) -> QtWidgets.QComboBox:
    """A combo box of :data:`KINDS` (item data: the record kind), set to ``default``."""
    box = QtWidgets.QComboBox()
    for kind, text, _words in KINDS:
        box.addItem(text, kind)
    box.setCurrentIndex(max(0, box.findData(default)))
    box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(4)  # narrow docks: "activations" may be clipped rather than widen the panel
    return box


def shown_entry(runs: list[RunEntry] | tuple[RunEntry, ...], selected: RunEntry | None) -> RunEntry | None:
    """The run a one-run panel shows: the selected one, else the first visible one."""
    if selected is not None:
        return selected
    return next((r for r in runs if r.visible), None)


class _StageTicks(QtWidgets.QWidget):
    """A row under a slider with a tick and a name at the first layer of every stage (names that would
    overlap the previous one are left out)."""

    def __init__(self, slider: QtWidgets.QSlider) -> None:
        super().__init__()
        self.slider = slider
        self.ticks: list[tuple[int, str]] = []  # (slider value = 0-based layer, stage name)
        font = self.font()
        font.setPointSize(max(7, font.pointSize() - 2))
        self.setFont(font)
        self.setFixedHeight(QtGui.QFontMetrics(font).height() + 3)

    def tick_x(self, value: int) -> float:
        """x (in this widget) of the centre of the slider's handle at ``value``."""
        option = QtWidgets.QStyleOptionSlider()
        self.slider.initStyleOption(option)
        style = self.slider.style()
        cc = QtWidgets.QStyle.ComplexControl.CC_Slider
        groove = style.subControlRect(cc, option, QtWidgets.QStyle.SubControl.SC_SliderGroove, self.slider)
        handle = style.subControlRect(cc, option, QtWidgets.QStyle.SubControl.SC_SliderHandle, self.slider)
        span = max(1, groove.width() - handle.width())
        pos = QtWidgets.QStyle.sliderPositionFromValue(self.slider.minimum(), self.slider.maximum(), value, span)
        offset = (
            self.slider.mapTo(self.window(), QtCore.QPoint(0, 0)).x()
            - self.mapTo(self.window(), QtCore.QPoint(0, 0)).x()
        )
        return float(offset + groove.x() + handle.width() / 2 + pos)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        if not self.ticks:
            return
        painter = QtGui.QPainter(self)
        painter.setPen(QtGui.QColor("#555555"))
        metrics = QtGui.QFontMetrics(self.font())
        last_right = -1e9
        for value, name in self.ticks:
            x = self.tick_x(value)
            painter.drawLine(QtCore.QPointF(x, 0), QtCore.QPointF(x, 3))
            width = metrics.horizontalAdvance(name)
            left = min(max(0.0, x - width / 2), self.width() - width)
            if left > last_right + 4:
                painter.drawText(QtCore.QPointF(left, 2 + metrics.ascent()), name)
                last_right = left + width
        painter.end()


class _NameLabel(QtWidgets.QLabel):
    """The chosen layer's name: as wide as the run's longest name when there is room (the slider keeps its
    length while stepping), narrower (clipped) in a narrow dock."""

    widest = 0

    def sizeHint(self) -> QtCore.QSize:
        hint = super().sizeHint()
        return QtCore.QSize(max(hint.width(), self.widest), hint.height())

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(40, super().minimumSizeHint().height())


class LayerPicker(QtWidgets.QWidget):
    """The layer shown (0-based, forward order): a slider with stage ticks and the layer's index and name."""

    layerChanged = Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.slider.setPageStep(4)
        self.slider.setToolTip("Layer shown, in forward order (arrow keys step through depth)")
        self.stages = _StageTicks(self.slider)
        self.name = _NameLabel("–")
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setVerticalSpacing(0)
        text = QtWidgets.QLabel("Layer")
        text.setToolTip(self.slider.toolTip())
        layout.addWidget(text, 0, 0)
        layout.addWidget(self.slider, 0, 1)
        layout.addWidget(self.name, 0, 2)
        layout.addWidget(self.stages, 1, 1)
        layout.setColumnStretch(1, 1)
        self.info: LayerInfoRecord | None = None
        self.set_layers(None)
        self.slider.valueChanged.connect(self._changed)

    def set_layers(self, info: LayerInfoRecord | None) -> None:
        """Offer the layers of ``info`` (None: none); the chosen index stays when it still exists."""
        if info is not None and self.info is not None and info.names == self.info.names:
            self.info = info
            return
        self.info = info
        n = len(info.names) if info is not None else 0
        blocked = self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.stages.ticks = [(int(y) - 1, name) for y, name in stage_ticks(info)] if info is not None else []
        self.slider.setEnabled(n > 0)
        metrics = QtGui.QFontMetrics(self.name.font())
        names = info.names if info is not None else []
        self.name.widest = max((metrics.horizontalAdvance(f"{n}/{n} {name}") for name in names), default=0)
        self.name.updateGeometry()
        self.slider.blockSignals(blocked)
        self._show_name()
        self.stages.update()

    def layer(self) -> int:
        return int(self.slider.value())

    def set_layer(self, layer: int) -> None:
        """Choose layer ``layer`` (0-based; clamped to the layers offered)."""
        self.slider.setValue(int(layer))

    def layer_name(self) -> str:
        """``"3/15 stage1.block0.conv2"`` (1-based index / count and name), ``"–"`` without layers."""
        if self.info is None or not self.info.names:
            return "–"
        i = self.layer()
        return f"{i + 1}/{len(self.info.names)} {self.info.names[i]}"

    def _show_name(self) -> None:
        self.name.setText(self.layer_name())
        if self.info is not None and self.info.names:
            i = self.layer()
            self.name.setToolTip(f"layer {i + 1}: {self.info.names[i]} ({self.info.roles[i]})")

    def _changed(self, value: int) -> None:
        self._show_name()
        self.layerChanged.emit(int(value))


def add_layer_picker(panel: QtWidgets.QWidget) -> LayerPicker:
    """A :class:`LayerPicker` in a row of its own under ``panel``'s toolbar (the panel's layout is a
    QVBoxLayout: toolbar, then plot, as ``PlotPanel`` builds it)."""
    picker = LayerPicker()
    row = QtWidgets.QHBoxLayout()
    row.setContentsMargins(4, 0, 4, 0)
    row.addWidget(picker)
    layout = panel.layout()
    assert isinstance(layout, QtWidgets.QVBoxLayout)
    layout.insertLayout(1, row)
    return picker


__all__ = [
    "DEFAULT_KIND",
    "HISTOGRAMS_OFF",
    "KINDS",
    "NO_RUN",
    "LayerPicker",
    "add_layer_picker",
    "kind_box",
    "kind_words",
    "shown_entry",
]
