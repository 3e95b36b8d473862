"""RaceTab: the "Optimiser race" tab: torch.optim optimisers race on a 2D surface, step by step.

Left: the surface (and its parameters or formula), the view, the start, the arrows and the playback
controls. Right: the race figure (:class:`RaceFigure`) over the racers' table (:class:`OptimizerTable`).
The race runs in the GUI thread: a 2D step costs ~0.1 ms per optimiser, and a 30 Hz timer takes as
many steps as the speed asks for within a 25 ms budget per tick, then redraws once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.config import ConfigError
from resnet_viz.export.trajectories import write_trajectories_csv
from resnet_viz.gui import figure_export
from resnet_viz.gui.message_bar import MessageBar
from resnet_viz.gui.race.figure import ARROW_KINDS, ARROW_TIPS, RaceFigure
from resnet_viz.gui.race.optimizer_table import OptimizerTable
from resnet_viz.gui.race.render import race_caption, write_gif
from resnet_viz.surfaces.formula import FORMULA_CONSTANTS, FORMULA_FUNCTIONS
from resnet_viz.surfaces.functions import SURFACE_TITLES, SURFACES, Surface, SurfaceConfig, build_surface
from resnet_viz.surfaces.race import OptimizerRace

SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)  # steps per second
TICK_MS = 33
STEP_BUDGET_S = 0.025  # stepping time per tick; the rest of the frame is for drawing
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


def _spin(lo: float, hi: float, value: float, decimals: int = 3, step: float = 0.1) -> QtWidgets.QDoubleSpinBox:
    box = QtWidgets.QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    box.setKeyboardTracking(False)
    return box


class RaceTab(QtWidgets.QWidget):
    """The optimiser race. ``settings``: where the setup persists (None: nothing is saved)."""

    def __init__(self, settings: QtCore.QSettings | None = None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.race: OptimizerRace | None = None
        self.surface: Surface | None = None
        self._surface_key: tuple | None = None
        self._debt = 0.0
        self._last_tick = time.monotonic()
        self._updating = False

        self.figure = RaceFigure()
        self.table = OptimizerTable()
        self.message_bar = MessageBar()
        self._build_controls()
        self._build_layout()

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

        self.figure.start_picked.connect(self._start_picked)
        self.table.changed.connect(self.rebuild_race)
        self._apply_surface(suggest=True)

    # --- building ---------------------------------------------------------------------------------
    def _build_controls(self) -> None:
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
        self.surface_box.currentIndexChanged.connect(lambda _i: self._apply_surface(suggest=True))
        self.condition = _spin(1.0, 1e6, 50.0, decimals=1, step=1.0)
        self.condition.setStepType(QtWidgets.QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.condition.setToolTip("Condition number κ: the ratio of the bowl's largest to smallest curvature")
        self.angle = _spin(-90.0, 90.0, 0.0, decimals=1, step=5.0)
        self.angle.setSuffix("°")
        self.angle.setToolTip(
            "Rotation of the bowl's axes: at 0° the axes are x and y, which per-coordinate "
            "methods (AdaGrad, RMSProp, Adam) handle best; at 45° they cannot"
        )
        for box in (self.condition, self.angle):
            box.valueChanged.connect(lambda _v: self._apply_surface(suggest=True))
        self.formula = QtWidgets.QLineEdit(SurfaceConfig.formula)
        self.formula.setPlaceholderText("e.g. (1-x)^2 + 100*(y-x^2)^2")
        self.formula.setToolTip(
            "f(x, y) with numbers, x, y, "
            + ", ".join(FORMULA_CONSTANTS)
            + ", + − * / ^ (or **), parentheses and the functions "
            + ", ".join(FORMULA_FUNCTIONS)
            + ". Press Enter to use it."
        )
        self.formula.editingFinished.connect(lambda: self._apply_surface(suggest=False))
        self.formula_error = QtWidgets.QLabel()
        self.formula_error.setWordWrap(True)
        self.formula_error.setStyleSheet("color: #b00020;")
        self.formula_error.hide()

        self.view_box = QtWidgets.QComboBox()
        self.view_box.addItem("Filled contours", "contours")
        self.view_box.addItem("Heatmap", "heatmap")
        self.view_box.setToolTip("How the surface is drawn")
        self.log_box = QtWidgets.QCheckBox("Log colour scale")
        self.log_box.setToolTip("Colour by log₁₀(f − f_lo): shows the floor of deep valleys (Rosenbrock, Beale)")
        self.view_box.currentIndexChanged.connect(lambda _i: self._draw_surface())
        self.log_box.toggled.connect(lambda _on: self._draw_surface())
        self.x_min, self.x_max = _spin(-1e6, 1e6, -2.0), _spin(-1e6, 1e6, 2.0)
        self.y_min, self.y_max = _spin(-1e6, 1e6, -1.0), _spin(-1e6, 1e6, 3.0)
        for box in (self.x_min, self.x_max, self.y_min, self.y_max):
            box.setToolTip("The part of the plane shown")
            box.valueChanged.connect(lambda _v: self._draw_surface())
        self.fit_button = QtWidgets.QPushButton("Default view")
        self.fit_button.setToolTip("Back to the surface's own view (widened to show the start)")
        self.fit_button.clicked.connect(self._default_view)

        self.start_x, self.start_y = _spin(-1e6, 1e6, -1.5, decimals=4), _spin(-1e6, 1e6, 2.0, decimals=4)
        for box in (self.start_x, self.start_y):
            box.setToolTip("Where every optimiser starts (or click on the surface)")
            box.valueChanged.connect(lambda _v: self.rebuild_race())
        self.start_button = QtWidgets.QPushButton("Default start")
        self.start_button.setToolTip("The surface's own starting point")
        self.start_button.clicked.connect(self._default_start)

        self.arrow_boxes: dict[str, QtWidgets.QCheckBox] = {}
        for kind in ARROW_KINDS:
            box = QtWidgets.QCheckBox(kind)
            box.setToolTip(ARROW_TIPS[kind])
            box.toggled.connect(lambda _on: self._apply_arrows())
            self.arrow_boxes[kind] = box
        self.arrow_scale = QtWidgets.QComboBox()
        for v in ARROW_SCALES:
            self.arrow_scale.addItem(f"×{v:g}", v)
        self.arrow_scale.setCurrentIndex(ARROW_SCALES.index(1.0))
        self.arrow_scale.setToolTip("Arrows are drawn in the units of the plane (×1: true length), times this")
        self.arrow_scale.currentIndexChanged.connect(lambda _i: self._apply_arrows())

        self.play_button = QtWidgets.QPushButton("▶ Play")
        self.play_button.setToolTip("Run the race (Space)")
        self.play_button.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Space))
        self.play_button.clicked.connect(self.toggle_play)
        self.step_button = QtWidgets.QPushButton("Step")
        self.step_button.setToolTip("One step of every optimiser (→)")
        self.step_button.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Right))
        self.step_button.clicked.connect(lambda: self.step(1))
        self.reset_button = QtWidgets.QPushButton("Reset")
        self.reset_button.setToolTip("Back to the start, optimiser states cleared (Home)")
        self.reset_button.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Home))
        self.reset_button.clicked.connect(self.reset)
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

        self.export_button = QtWidgets.QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QtWidgets.QMenu(self.export_button)
        menu.addAction("PNG image…", lambda: self.export_dialog("png"))
        menu.addAction("SVG image…", lambda: self.export_dialog("svg"))
        menu.addAction("Trajectories CSV…", lambda: self.export_dialog("csv"))
        menu.addAction("Animated GIF…", lambda: self.export_dialog("gif"))
        menu.addSeparator()
        menu.addAction("Copy image", lambda: figure_export.copy_image(self.figure))
        self.export_button.setMenu(menu)
        self.export_button.setToolTip("Save the figure (PNG, SVG), the trajectories (CSV) or the race as an animation")
        self.status = QtWidgets.QLabel(" ")
        self.status.setWordWrap(True)

    def _build_layout(self) -> None:
        panel = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(panel)
        col.setContentsMargins(6, 6, 6, 6)

        surface = QtWidgets.QGroupBox("Surface")
        form = QtWidgets.QFormLayout(surface)
        form.addRow(self.surface_box)
        self._condition_row = QtWidgets.QLabel("condition κ")
        form.addRow(self._condition_row, self.condition)
        self._angle_row = QtWidgets.QLabel("angle")
        form.addRow(self._angle_row, self.angle)
        form.addRow(self.formula)
        form.addRow(self.formula_error)
        col.addWidget(surface)

        view = QtWidgets.QGroupBox("View")
        grid = QtWidgets.QGridLayout(view)
        grid.addWidget(self.view_box, 0, 0, 1, 3)
        grid.addWidget(self.log_box, 1, 0, 1, 3)
        grid.addWidget(QtWidgets.QLabel("x"), 2, 0)
        grid.addWidget(self.x_min, 2, 1)
        grid.addWidget(self.x_max, 2, 2)
        grid.addWidget(QtWidgets.QLabel("y"), 3, 0)
        grid.addWidget(self.y_min, 3, 1)
        grid.addWidget(self.y_max, 3, 2)
        grid.addWidget(self.fit_button, 4, 1, 1, 2)
        col.addWidget(view)

        start = QtWidgets.QGroupBox("Start (or click the surface)")
        grid = QtWidgets.QGridLayout(start)
        grid.addWidget(QtWidgets.QLabel("x"), 0, 0)
        grid.addWidget(self.start_x, 0, 1)
        grid.addWidget(QtWidgets.QLabel("y"), 0, 2)
        grid.addWidget(self.start_y, 0, 3)
        grid.addWidget(self.start_button, 1, 1, 1, 3)
        col.addWidget(start)

        arrows = QtWidgets.QGroupBox("Arrows at the current points")
        grid = QtWidgets.QGridLayout(arrows)
        for i, box in enumerate(self.arrow_boxes.values()):
            grid.addWidget(box, 0, i)
        grid.addWidget(QtWidgets.QLabel("length"), 1, 0)
        grid.addWidget(self.arrow_scale, 1, 1, 1, 2)
        col.addWidget(arrows)

        play = QtWidgets.QGroupBox("Race")
        grid = QtWidgets.QGridLayout(play)
        grid.addWidget(self.play_button, 0, 0)
        grid.addWidget(self.step_button, 0, 1)
        grid.addWidget(self.reset_button, 0, 2)
        grid.addWidget(QtWidgets.QLabel("speed"), 1, 0)
        grid.addWidget(self.speed, 1, 1)
        grid.addWidget(self.speed_label, 1, 2)
        grid.addWidget(QtWidgets.QLabel("stop at"), 2, 0)
        grid.addWidget(self.max_steps, 2, 1, 1, 2)
        col.addWidget(play)
        col.addWidget(self.export_button)
        col.addWidget(self.status)
        col.addStretch(1)

        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setFixedWidth(panel.sizeHint().width() + 18)

        self.suggest_button = QtWidgets.QPushButton("Suggested rates")
        self.suggest_button.setToolTip("Set the learning rates suggested for this surface (and clear the other fields)")
        self.suggest_button.clicked.connect(self._apply_suggestions)
        table_row = QtWidgets.QHBoxLayout()
        table_row.addWidget(self.table)
        side = QtWidgets.QVBoxLayout()
        side.addWidget(self.suggest_button)
        side.addStretch(1)
        table_row.addLayout(side)
        table_row.addStretch(1)

        right = QtWidgets.QVBoxLayout()
        right.setContentsMargins(0, 4, 4, 4)
        right.addWidget(self.message_bar)
        right.addWidget(self.figure, 1)
        right.addLayout(table_row)
        outer = QtWidgets.QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        outer.addLayout(right, 1)

    # --- surface ----------------------------------------------------------------------------------
    def surface_config(self) -> SurfaceConfig:
        return SurfaceConfig(
            name=self.surface_box.currentData(),
            condition=self.condition.value(),
            angle=self.angle.value(),
            formula=self.formula.text(),
        )

    def _apply_surface(self, suggest: bool) -> None:
        """Build the chosen surface; on success draw it, reset the view and the start, and rebuild the race."""
        if self._updating:
            return
        name = self.surface_box.currentData()
        for widget in (self._condition_row, self.condition, self._angle_row, self.angle):
            widget.setVisible(name == "quadratic")
        self.formula.setVisible(name == "formula")
        cfg = self.surface_config()
        key = (cfg.name, cfg.condition, cfg.angle, cfg.formula if name == "formula" else None)
        if key == self._surface_key and self.surface is not None:
            return
        try:
            surface = build_surface(cfg)
        except ConfigError as exc:
            self.formula_error.setText(exc.allowed if exc.field == "surface.formula" else str(exc))
            self.formula_error.setVisible(True)
            self.formula.setStyleSheet("border: 1px solid #d93025;")
            self.formula_error.setVisible(name == "formula")
            self.pause()
            return
        self.formula_error.hide()
        self.formula.setStyleSheet("")
        same_name = self.surface is not None and self.surface.name == surface.name
        self.surface, self._surface_key = surface, key
        self._updating = True
        try:
            if not (same_name and name == "formula"):
                self.log_box.setChecked(surface.log_view)
                self.start_x.setValue(surface.start[0])
                self.start_y.setValue(surface.start[1])
                self._set_range(surface.x_range, surface.y_range)
            if suggest and surface.suggested:
                self.table.set_hyperparameters(surface.suggested)
        finally:
            self._updating = False
        self._draw_surface()
        self.rebuild_race()

    def _set_range(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        for box, v in (
            (self.x_min, x_range[0]),
            (self.x_max, x_range[1]),
            (self.y_min, y_range[0]),
            (self.y_max, y_range[1]),
        ):
            box.blockSignals(True)
            box.setValue(v)
            box.blockSignals(False)

    def view_ranges(self) -> tuple[tuple[float, float], tuple[float, float]]:
        x0, x1, y0, y1 = self.x_min.value(), self.x_max.value(), self.y_min.value(), self.y_max.value()
        if x1 <= x0:
            x1 = x0 + 1.0
        if y1 <= y0:
            y1 = y0 + 1.0
        return (x0, x1), (y0, y1)

    def _draw_surface(self) -> None:
        if self._updating or self.surface is None:
            return
        x_range, y_range = self.view_ranges()
        self.figure.set_surface(
            self.surface, x_range, y_range, mode=self.view_box.currentData(), log=self.log_box.isChecked()
        )
        if self.race is not None:
            self.figure.show_race(self.race)

    def _apply_suggestions(self) -> None:
        if self.surface is not None and self.surface.suggested:
            self.table.set_hyperparameters(self.surface.suggested)
        elif self.surface is not None:
            self.show_message(
                "No suggested rates for a formula of your own: torch.optim's defaults apply where a field is empty.",
                "info",
            )

    def _default_view(self) -> None:
        if self.surface is not None:
            self._set_range(*self.surface.view_containing(self.start()))
            self._draw_surface()

    def _default_start(self) -> None:
        if self.surface is not None:
            self.set_start(*self.surface.start)

    # --- race -------------------------------------------------------------------------------------
    def start(self) -> tuple[float, float]:
        return self.start_x.value(), self.start_y.value()

    def set_start(self, x: float, y: float) -> None:
        self._updating = True
        try:
            self.start_x.setValue(x)
            self.start_y.setValue(y)
        finally:
            self._updating = False
        self.rebuild_race()

    def _start_picked(self, x: float, y: float) -> None:
        self.set_start(round(x, 4), round(y, 4))

    def rebuild_race(self) -> None:
        """A fresh race from the current surface, start and racers (step 0); playing goes on if it was on."""
        if self._updating or self.surface is None:
            return
        try:
            specs = self.table.specs()
        except ConfigError as exc:
            self.pause()
            self.show_message(f"Racers: {exc}")
            return
        self.message_bar.hide()
        self.race = OptimizerRace(self.surface, self.start(), specs)
        self._show_new_racers()

    def _show_new_racers(self) -> None:
        """Draw the race from step 0: racers in the table's colours, arrows as set."""
        self.figure.set_racers(self.race, [self.table.colour(t.spec.key) for t in self.race.trajectories])
        self._apply_arrows()
        self._after_steps()

    def _apply_arrows(self) -> None:
        self.figure.set_arrows({k: b.isChecked() for k, b in self.arrow_boxes.items()}, self.arrow_scale.currentData())

    def show_message(self, text: str, level: str = "error") -> None:
        self.message_bar.show_message(text, level)

    # --- playback ---------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self.race is None:
            return
        if self.race.steps >= self.max_steps.value() or not self.race.running:
            self.reset()
        self._debt = 0.0
        self._last_tick = time.monotonic()
        self.timer.start()
        self.play_button.setText("⏸ Pause")

    def pause(self) -> None:
        self.timer.stop()
        self.play_button.setText("▶ Play")

    def reset(self) -> None:
        if self.race is None:
            self.rebuild_race()
            return
        self.race.reset()
        self._show_new_racers()

    def step(self, n: int = 1) -> None:
        """Advance every racer by ``n`` steps and redraw."""
        if self.race is None:
            return
        self.race.step(n)
        self._after_steps()

    def speed_steps_per_s(self) -> int:
        return SPEEDS[self.speed.value()]

    def _speed_changed(self) -> None:
        self.speed_label.setText(f"{self.speed_steps_per_s()}/s")

    def _tick(self) -> None:
        race = self.race
        if race is None:
            self.pause()
            return
        now = time.monotonic()
        self._debt = min(self._debt + (now - self._last_tick) * self.speed_steps_per_s(), 1000.0)
        self._last_tick = now
        deadline = now + STEP_BUDGET_S
        limit = self.max_steps.value()
        while self._debt >= 1.0 and race.steps < limit and race.running and time.monotonic() < deadline:
            race.step(1)
            self._debt -= 1.0
        if race.steps >= limit or not race.running:
            self.pause()
        self._after_steps()

    def _after_steps(self) -> None:
        race = self.race
        if race is None:
            return
        self.figure.show_race(race)
        self.figure.set_caption(race_caption(race))
        parts = [f"step {race.steps}"]
        for t in race.trajectories:
            if t.diverged_at is not None:
                parts.append(f"{t.label}: diverged at step {t.diverged_at} (f or position not finite)")
            elif t.reached_at is not None:
                parts.append(f"{t.label} within 1e-3 of a minimum at step {t.reached_at}")
        self.status.setText("\n".join(parts))

    # --- export -----------------------------------------------------------------------------------
    def export(self, kind: str, path: str | Path, progress=None) -> Path:
        """Write the figure (png, svg), the trajectories (csv) or the animation (gif) to ``path``."""
        path = Path(path)
        if kind == "png":
            return figure_export.export_png(self.figure, path)
        if kind == "svg":
            return figure_export.export_svg(self.figure, path)
        if self.race is None:
            raise ValueError("no race to export")
        if kind == "csv":
            return write_trajectories_csv(path, self.race.trajectories)
        if kind == "gif":
            return write_gif(self.figure, self.race, path, progress=progress)
        raise ValueError(f"unknown export kind {kind!r}")

    def export_dialog(self, kind: str) -> None:
        filters = {
            "png": "PNG image (*.png)",
            "svg": "SVG image (*.svg)",
            "csv": "CSV (*.csv)",
            "gif": "Animated GIF (*.gif)",
        }
        default = f"race-{self.surface.name if self.surface else 'surface'}.{kind}"
        folder = self.settings.value("race/export_dir", "") if self.settings is not None else ""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export the race", str(Path(folder or ".") / default), filters[kind]
        )
        if not path:
            return
        if self.settings is not None:
            self.settings.setValue("race/export_dir", str(Path(path).parent))
        self.pause()
        dialog = None
        progress = None
        if kind == "gif":
            dialog = QtWidgets.QProgressDialog("Drawing the frames…", "Cancel", 0, 100, self)
            dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
            dialog.setMinimumDuration(300)

            def progress(done: int, total: int) -> bool:
                dialog.setMaximum(total)
                dialog.setValue(done)
                QtWidgets.QApplication.processEvents()
                return not dialog.wasCanceled()

        try:
            written = self.export(kind, path, progress)
        except InterruptedError:
            self.show_message("GIF export cancelled; nothing was written.", "info")
            return
        except (OSError, ValueError) as exc:
            self.show_message(f"Could not write {path}: {exc}")
            return
        finally:
            if dialog is not None:
                dialog.close()
        self.show_message(f"Wrote {written}", "info")

    # --- settings ---------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The setup as JSON-friendly data (QSettings)."""
        return {
            "surface": self.surface_box.currentData(),
            "condition": self.condition.value(),
            "angle": self.angle.value(),
            "formula": self.formula.text(),
            "start": list(self.start()),
            "range": [self.x_min.value(), self.x_max.value(), self.y_min.value(), self.y_max.value()],
            "view": self.view_box.currentData(),
            "log": self.log_box.isChecked(),
            "arrows": {k: b.isChecked() for k, b in self.arrow_boxes.items()},
            "arrow_scale": self.arrow_scale.currentData(),
            "speed": self.speed_steps_per_s(),
            "max_steps": self.max_steps.value(),
            "table": self.table.state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`; unknown or bad entries are ignored."""
        if not isinstance(state, dict):
            return
        self._updating = True
        try:
            index = self.surface_box.findData(state.get("surface"))
            if index >= 0:
                self.surface_box.setCurrentIndex(index)
            for box, key in ((self.condition, "condition"), (self.angle, "angle")):
                if isinstance(state.get(key), (int, float)):
                    box.setValue(float(state[key]))
            if isinstance(state.get("formula"), str):
                self.formula.setText(state["formula"])
            index = self.view_box.findData(state.get("view"))
            if index >= 0:
                self.view_box.setCurrentIndex(index)
            for kind, on in (state.get("arrows") or {}).items():
                if kind in self.arrow_boxes and isinstance(on, bool):
                    self.arrow_boxes[kind].setChecked(on)
            index = self.arrow_scale.findData(state.get("arrow_scale"))
            if index >= 0:
                self.arrow_scale.setCurrentIndex(index)
            if state.get("speed") in SPEEDS:
                self.speed.setValue(SPEEDS.index(state["speed"]))
            if isinstance(state.get("max_steps"), int):
                self.max_steps.setValue(state["max_steps"])
            self.table.set_state(state.get("table", {}))
        finally:
            self._updating = False
        self._surface_key = None
        self._apply_surface(suggest=False)
        self._updating = True
        try:
            if isinstance(state.get("log"), bool):
                self.log_box.setChecked(state["log"])
            rng = state.get("range")
            if isinstance(rng, list) and len(rng) == 4 and all(isinstance(v, (int, float)) for v in rng):
                self._set_range((rng[0], rng[1]), (rng[2], rng[3]))
            start = state.get("start")
            if isinstance(start, list) and len(start) == 2 and all(isinstance(v, (int, float)) for v in start):
                self.start_x.setValue(start[0])
                self.start_y.setValue(start[1])
        finally:
            self._updating = False
        self._draw_surface()
        self.rebuild_race()

    def restore_settings(self) -> None:
        if self.settings is None:
            return
        text = self.settings.value("race/state")
        if text:
            try:
                self.set_state(json.loads(text))
            except (ValueError, TypeError):
                pass

    def save_settings(self) -> None:
        if self.settings is not None:
            self.settings.setValue("race/state", json.dumps(self.state()))
