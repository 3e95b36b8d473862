"""RaceControls: the left column of the optimiser race tab, its widgets and how they read and restore.

Groups, top to bottom: the surface (and its condition number, angle or formula), the view (drawing mode,
log colours, the x and y ranges), the start, the arrows at the current points, the playback (play, step,
reset, speed, stop at), the export menu and the status line. The column holds no race: the tab
(:class:`~resnet_viz.gui.race.race_tab.RaceTab`) connects the widgets' signals to what they do.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.race.race_export import EXPORT_KINDS
from resnet_viz.gui.race.racer_items import ARROW_KINDS, ARROW_TIPS
from resnet_viz.surfaces.formula import FORMULA_CONSTANTS, FORMULA_FUNCTIONS
from resnet_viz.surfaces.functions import SURFACE_TITLES, SURFACES, SurfaceConfig

SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)  # steps per second
ARROW_SCALES = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0)
SURFACE_TIPS = {
    "quadratic": "½(u² + κv²) in axes rotated by the angle: the condition number κ sets how elongated the "
    "bowl is; SGD zig-zags across it, momentum builds speed along it.",
    "rosenbrock": "(1 − x)² + 100(y − x²)²: a curved, flat-bottomed valley; the minimum at (1, 1).",
    "beale": "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²: steep walls, flat plateaus; "
    "minimum at (3, 0.5).",
    "himmelblau": "(x² + y − 11)² + (x + y² − 7)²: four minima; the default start sits by the local "
    "maximum, so small differences send racers to different minima.",
    "saddle": "x² + y⁴/4 − y²/2: a saddle at the origin between minima at (0, ±1); escaping it takes a push along y.",
    "two_minima": "(x² − 1)² + 0.3x + y²/2: a local minimum on the right, the global one on the left; "
    "momentum can carry over the ridge.",
    "plateau": "1 − exp(−(x² + y²)): nearly flat away from the well; plain SGD creeps, adaptive steps do not.",
    "formula": "Your own f(x, y).",
}


def spin(lo: float, hi: float, value: float, decimals: int = 3, step: float = 0.1) -> QtWidgets.QDoubleSpinBox:
    """A spin box over [lo, hi] that reports a value when editing ends (not on every key)."""
    box = QtWidgets.QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    box.setKeyboardTracking(False)
    return box


def _button(text: str, tip: str, key: QtCore.Qt.Key | None = None) -> QtWidgets.QPushButton:
    button = QtWidgets.QPushButton(text)
    button.setToolTip(tip)
    if key is not None:
        button.setShortcut(QtGui.QKeySequence(key))
    return button


class RaceControls(QtWidgets.QScrollArea):
    """The race tab's left column. ``export_requested(kind)`` (png, svg, pdf, csv, gif, mp4) and ``copy_requested``
    come from the export menu; every other widget is connected by the tab."""

    export_requested = QtCore.Signal(str)
    copy_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        panel = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(panel)
        col.setContentsMargins(6, 6, 6, 6)
        for group in (
            self._build_surface(),
            self._build_view(),
            self._build_start(),
            self._build_arrows(),
            self._build_playback(),
        ):
            col.addWidget(group)
        col.addWidget(self._build_export())
        self.status = QtWidgets.QLabel(" ")
        self.status.setWordWrap(True)
        col.addWidget(self.status)
        col.addStretch(1)
        self.setWidget(panel)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setFixedWidth(panel.sizeHint().width() + 18)

    # --- building ---------------------------------------------------------------------------------
    def _build_surface(self) -> QtWidgets.QGroupBox:
        self.surface_box = QtWidgets.QComboBox()
        for key in SURFACES:
            self.surface_box.addItem(SURFACE_TITLES[key], key)
            self.surface_box.setItemData(
                self.surface_box.count() - 1, SURFACE_TIPS[key], QtCore.Qt.ItemDataRole.ToolTipRole
            )
        self.surface_box.setCurrentIndex(SURFACES.index("rosenbrock"))
        self.surface_box.setToolTip(
            "The function the optimisers minimise. Choosing one also sets the racers' "
            "learning rates to the ones suggested for it (edit them freely)."
        )
        self.condition = spin(1.0, 1e6, 50.0, decimals=1, step=1.0)
        self.condition.setStepType(QtWidgets.QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.condition.setToolTip("Condition number κ: the ratio of the bowl's largest to smallest curvature")
        self.angle = spin(-90.0, 90.0, 0.0, decimals=1, step=5.0)
        self.angle.setSuffix("°")
        self.angle.setToolTip(
            "Rotation of the bowl's axes: at 0° the axes are x and y, which per-coordinate "
            "methods (AdaGrad, RMSProp, Adam) handle best; at 45° they cannot"
        )
        self.formula = QtWidgets.QLineEdit(SurfaceConfig.formula)
        self.formula.setPlaceholderText("e.g. (1-x)^2 + 100*(y-x^2)^2")
        self.formula.setToolTip(
            "f(x, y) with numbers, x, y, "
            + ", ".join(FORMULA_CONSTANTS)
            + ", + − * / ^ (or **), parentheses and the functions "
            + ", ".join(FORMULA_FUNCTIONS)
            + ". Press Enter to use it."
        )
        self.formula_error = QtWidgets.QLabel()
        self.formula_error.setWordWrap(True)
        self.formula_error.setStyleSheet("color: #b00020;")
        self.formula_error.hide()

        group = QtWidgets.QGroupBox("Surface")
        form = QtWidgets.QFormLayout(group)
        form.addRow(self.surface_box)
        self._condition_row = QtWidgets.QLabel("condition κ")
        form.addRow(self._condition_row, self.condition)
        self._angle_row = QtWidgets.QLabel("angle")
        form.addRow(self._angle_row, self.angle)
        form.addRow(self.formula)
        form.addRow(self.formula_error)
        return group

    def _build_view(self) -> QtWidgets.QGroupBox:
        self.view_box = QtWidgets.QComboBox()
        self.view_box.addItem("Filled contours", "contours")
        self.view_box.addItem("Heatmap", "heatmap")
        self.view_box.setToolTip("How the surface is drawn")
        self.log_box = QtWidgets.QCheckBox("Log colour scale")
        self.log_box.setToolTip("Colour by log₁₀(f − f_lo): shows the floor of deep valleys (Rosenbrock, Beale)")
        self.x_min, self.x_max = spin(-1e6, 1e6, -2.0), spin(-1e6, 1e6, 2.0)
        self.y_min, self.y_max = spin(-1e6, 1e6, -1.0), spin(-1e6, 1e6, 3.0)
        for box in self.range_boxes:
            box.setToolTip("The part of the plane shown")
        self.fit_button = _button("Default view", "Back to the surface's own view (widened to show the start)")

        group = QtWidgets.QGroupBox("View")
        grid = QtWidgets.QGridLayout(group)
        grid.addWidget(self.view_box, 0, 0, 1, 3)
        grid.addWidget(self.log_box, 1, 0, 1, 3)
        grid.addWidget(QtWidgets.QLabel("x"), 2, 0)
        grid.addWidget(self.x_min, 2, 1)
        grid.addWidget(self.x_max, 2, 2)
        grid.addWidget(QtWidgets.QLabel("y"), 3, 0)
        grid.addWidget(self.y_min, 3, 1)
        grid.addWidget(self.y_max, 3, 2)
        grid.addWidget(self.fit_button, 4, 1, 1, 2)
        return group

    def _build_start(self) -> QtWidgets.QGroupBox:
        self.start_x, self.start_y = spin(-1e6, 1e6, -1.5, decimals=4), spin(-1e6, 1e6, 2.0, decimals=4)
        for box in (self.start_x, self.start_y):
            box.setToolTip("Where every optimiser starts (or click on the surface)")
        self.start_button = _button("Default start", "The surface's own starting point")

        group = QtWidgets.QGroupBox("Start (or click the surface)")
        grid = QtWidgets.QGridLayout(group)
        grid.addWidget(QtWidgets.QLabel("x"), 0, 0)
        grid.addWidget(self.start_x, 0, 1)
        grid.addWidget(QtWidgets.QLabel("y"), 0, 2)
        grid.addWidget(self.start_y, 0, 3)
        grid.addWidget(self.start_button, 1, 1, 1, 3)
        return group

    def _build_arrows(self) -> QtWidgets.QGroupBox:
        self.arrow_boxes: dict[str, QtWidgets.QCheckBox] = {}
        for kind in ARROW_KINDS:
            box = QtWidgets.QCheckBox(kind)
            box.setToolTip(ARROW_TIPS[kind])
            self.arrow_boxes[kind] = box
        self.arrow_scale = QtWidgets.QComboBox()
        for v in ARROW_SCALES:
            self.arrow_scale.addItem(f"×{v:g}", v)
        self.arrow_scale.setCurrentIndex(ARROW_SCALES.index(1.0))
        self.arrow_scale.setToolTip("Arrows are drawn in the units of the plane (×1: true length), times this")

        group = QtWidgets.QGroupBox("Arrows at the current points")
        grid = QtWidgets.QGridLayout(group)
        for i, box in enumerate(self.arrow_boxes.values()):
            grid.addWidget(box, 0, i)
        grid.addWidget(QtWidgets.QLabel("length"), 1, 0)
        grid.addWidget(self.arrow_scale, 1, 1, 1, 2)
        return group

    def _build_playback(self) -> QtWidgets.QGroupBox:
        self.play_button = _button("▶ Play", "Run the race (Space)", QtCore.Qt.Key.Key_Space)
        self.step_button = _button("Step", "One step of every optimiser (→)", QtCore.Qt.Key.Key_Right)
        self.reset_button = _button(
            "Reset", "Back to the start, optimiser states cleared (Home)", QtCore.Qt.Key.Key_Home
        )
        self.speed = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.speed.setRange(0, len(SPEEDS) - 1)
        self.speed.setValue(SPEEDS.index(50))
        self.speed.setToolTip("Steps per second while playing")
        self.speed_label = QtWidgets.QLabel()
        self.speed.valueChanged.connect(self._speed_changed)
        self._speed_changed()
        self.max_steps = QtWidgets.QSpinBox()
        self.max_steps.setRange(1, 100_000)
        self.max_steps.setValue(1000)
        self.max_steps.setToolTip("Playing stops after this many steps")

        group = QtWidgets.QGroupBox("Race")
        grid = QtWidgets.QGridLayout(group)
        grid.addWidget(self.play_button, 0, 0)
        grid.addWidget(self.step_button, 0, 1)
        grid.addWidget(self.reset_button, 0, 2)
        grid.addWidget(QtWidgets.QLabel("speed"), 1, 0)
        grid.addWidget(self.speed, 1, 1)
        grid.addWidget(self.speed_label, 1, 2)
        grid.addWidget(QtWidgets.QLabel("stop at"), 2, 0)
        grid.addWidget(self.max_steps, 2, 1, 1, 2)
        return group

    def _build_export(self) -> QtWidgets.QToolButton:
        self.export_button = QtWidgets.QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QtWidgets.QMenu(self.export_button)
        for kind, (text, _filter) in EXPORT_KINDS.items():
            menu.addAction(text, partial(self.export_requested.emit, kind))
        menu.addSeparator()
        menu.addAction("Copy image", self.copy_requested.emit)
        self.export_button.setMenu(menu)
        self.export_button.setToolTip(
            "Save the figure (PNG, SVG, PDF), the trajectories (CSV) or the race as a GIF or MP4 video"
        )
        return self.export_button

    # --- reading ----------------------------------------------------------------------------------
    @property
    def range_boxes(self) -> tuple[QtWidgets.QDoubleSpinBox, ...]:
        """x min, x max, y min, y max."""
        return self.x_min, self.x_max, self.y_min, self.y_max

    def surface_config(self) -> SurfaceConfig:
        return SurfaceConfig(
            name=self.surface_box.currentData(),
            condition=self.condition.value(),
            angle=self.angle.value(),
            formula=self.formula.text(),
        )

    def view_ranges(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x0, x1), (y0, y1)) as set; an empty or reversed range becomes one unit wide."""
        x0, x1, y0, y1 = (box.value() for box in self.range_boxes)
        if x1 <= x0:
            x1 = x0 + 1.0
        if y1 <= y0:
            y1 = y0 + 1.0
        return (x0, x1), (y0, y1)

    def start(self) -> tuple[float, float]:
        return self.start_x.value(), self.start_y.value()

    def arrows(self) -> dict[str, bool]:
        """Arrow kind -> shown."""
        return {k: b.isChecked() for k, b in self.arrow_boxes.items()}

    def speed_steps_per_s(self) -> int:
        return SPEEDS[self.speed.value()]

    def _speed_changed(self) -> None:
        self.speed_label.setText(f"{self.speed_steps_per_s()}/s")

    # --- showing ----------------------------------------------------------------------------------
    def show_surface_fields(self, name: str) -> None:
        """Show the fields the surface ``name`` takes: κ and the angle (quadratic), the formula (formula)."""
        for widget in (self._condition_row, self.condition, self._angle_row, self.angle):
            widget.setVisible(name == "quadratic")
        self.formula.setVisible(name == "formula")

    def show_formula_error(self, text: str | None, shown: bool = True) -> None:
        """Mark the formula field red with ``text`` under it (``shown``: the error line is visible); None clears."""
        if text is None:
            self.formula_error.hide()
            self.formula.setStyleSheet("")
            return
        self.formula_error.setText(text)
        self.formula_error.setVisible(shown)
        self.formula.setStyleSheet("border: 1px solid #d93025;")

    def set_range(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        """Set the view's ranges without emitting the boxes' signals."""
        for box, v in zip(self.range_boxes, (*x_range, *y_range)):
            box.blockSignals(True)
            box.setValue(v)
            box.blockSignals(False)

    def set_start(self, x: float, y: float) -> None:
        self.start_x.setValue(x)
        self.start_y.setValue(y)

    # --- settings ---------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The column's setup as JSON-friendly data (the tab adds the racers' table)."""
        return {
            "surface": self.surface_box.currentData(),
            "condition": self.condition.value(),
            "angle": self.angle.value(),
            "formula": self.formula.text(),
            "start": list(self.start()),
            "range": [box.value() for box in self.range_boxes],
            "view": self.view_box.currentData(),
            "log": self.log_box.isChecked(),
            "arrows": self.arrows(),
            "arrow_scale": self.arrow_scale.currentData(),
            "speed": self.speed_steps_per_s(),
            "max_steps": self.max_steps.value(),
        }

    def set_setup_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` says about the surface, the drawing mode, the arrows and the playback;
        entries of the wrong type or out of the choices are ignored."""
        for box, key in ((self.surface_box, "surface"), (self.view_box, "view"), (self.arrow_scale, "arrow_scale")):
            index = box.findData(state.get(key))
            if index >= 0:
                box.setCurrentIndex(index)
        for spin_box, key in ((self.condition, "condition"), (self.angle, "angle")):
            if isinstance(state.get(key), (int, float)):
                spin_box.setValue(float(state[key]))
        if isinstance(state.get("formula"), str):
            self.formula.setText(state["formula"])
        for kind, on in (state.get("arrows") or {}).items():
            if kind in self.arrow_boxes and isinstance(on, bool):
                self.arrow_boxes[kind].setChecked(on)
        if state.get("speed") in SPEEDS:
            self.speed.setValue(SPEEDS.index(state["speed"]))
        if isinstance(state.get("max_steps"), int):
            self.max_steps.setValue(state["max_steps"])

    def set_view_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` says about the log scale, the ranges and the start (after the surface,
        which sets its own); entries of the wrong type are ignored."""
        if isinstance(state.get("log"), bool):
            self.log_box.setChecked(state["log"])
        rng = state.get("range")
        if isinstance(rng, list) and len(rng) == 4 and all(isinstance(v, (int, float)) for v in rng):
            self.set_range((rng[0], rng[1]), (rng[2], rng[3]))
        start = state.get("start")
        if isinstance(start, list) and len(start) == 2 and all(isinstance(v, (int, float)) for v in start):
            self.set_start(start[0], start[1])
