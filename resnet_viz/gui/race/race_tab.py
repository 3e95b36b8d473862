"""RaceTab: the "Optimiser race" tab: torch.optim optimisers race on a 2D surface, step by step.

Left: the surface (and its parameters or formula), the view, the start, the arrows and the playback
controls (:class:`RaceControls`). Right: the race figure (:class:`RaceFigure`) over the racers' table
(:class:`OptimizerTable`).
The race runs in the GUI thread: a 2D step costs ~0.1 ms per optimiser, and a 30 Hz timer takes as
many steps as the speed asks for within a 25 ms budget per tick, then redraws once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from resnet_viz.config import ConfigError
from resnet_viz.export.video import VideoUnavailable
from resnet_viz.export.written import WriteError
from resnet_viz.gui import figure_export
from resnet_viz.gui.animation import ANIMATION_KINDS, Progress
from resnet_viz.gui.message_bar import MessageBar
from resnet_viz.gui.race.figure import RaceFigure
from resnet_viz.gui.race.optimizer_table import OptimizerTable
from resnet_viz.gui.race.race_controls import RaceControls
from resnet_viz.gui.race.race_export import animation_progress_dialog, ask_export_path, write_race_file
from resnet_viz.gui.race.render import race_caption
from resnet_viz.surfaces.functions import Surface, build_surface
from resnet_viz.surfaces.race import OptimizerRace

TICK_MS = 33
GIVEN = "given"  # the surface box's entry of a surface given by use_surface (a network's loss landscape)
STEP_BUDGET_S = 0.025  # stepping time per tick; the rest of the frame is for drawing


class RaceTab(QtWidgets.QWidget):
    """The optimiser race. ``settings``: where the setup persists (None: nothing is saved)."""

    def __init__(self, settings: QtCore.QSettings | None = None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.race: OptimizerRace | None = None
        self.surface: Surface | None = None
        self._surface_key: tuple | None = None
        self.given_surface: Surface | None = None  # a surface from elsewhere (use_surface), listed as GIVEN
        self._debt = 0.0
        self._last_tick = time.monotonic()
        self._updating = False

        self.figure = RaceFigure()
        self.table = OptimizerTable()
        self.message_bar = MessageBar()
        self.controls = RaceControls()
        self._connect_controls()
        self._build_layout()

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

        self.figure.start_picked.connect(self._start_picked)
        self.table.changed.connect(self.rebuild_race)
        self._apply_surface(suggest=True)

    # --- building ---------------------------------------------------------------------------------
    def _connect_controls(self) -> None:
        """What each control of the left column does."""
        c = self.controls
        c.surface_box.currentIndexChanged.connect(lambda _i: self._apply_surface(suggest=True))
        for surface_spin in (c.condition, c.angle):
            surface_spin.valueChanged.connect(lambda _v: self._apply_surface(suggest=True))
        c.formula.editingFinished.connect(lambda: self._apply_surface(suggest=False))
        c.view_box.currentIndexChanged.connect(lambda _i: self._draw_surface())
        c.log_box.toggled.connect(lambda _on: self._draw_surface())
        for range_spin in c.range_boxes:
            range_spin.valueChanged.connect(lambda _v: self._draw_surface())
        c.fit_button.clicked.connect(self._default_view)
        for start_spin in (c.start_x, c.start_y):
            start_spin.valueChanged.connect(lambda _v: self.rebuild_race())
        c.start_button.clicked.connect(self._default_start)
        for arrow_box in c.arrow_boxes.values():
            arrow_box.toggled.connect(lambda _on: self._apply_arrows())
        c.arrow_scale.currentIndexChanged.connect(lambda _i: self._apply_arrows())
        c.play_button.clicked.connect(self.toggle_play)
        c.step_button.clicked.connect(lambda: self.step(1))
        c.reset_button.clicked.connect(self.reset)
        c.export_requested.connect(self.export_dialog)
        c.copy_requested.connect(lambda: figure_export.copy_image(self.figure))

    def _build_layout(self) -> None:
        """The controls on the left; on the right the message bar, the figure, and the racers' table."""
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
        outer.addWidget(self.controls)
        outer.addLayout(right, 1)

    # --- surface ----------------------------------------------------------------------------------
    def _apply_surface(self, suggest: bool) -> None:
        """Build the chosen surface; on success draw it, reset the view and the start, and rebuild the race."""
        if self._updating:
            return
        c = self.controls
        name = c.surface_box.currentData()
        if name == GIVEN:
            if self.given_surface is not None and self.surface is not self.given_surface:
                self.use_surface(self.given_surface)
            return
        c.show_surface_fields(name)
        cfg = c.surface_config()
        key = (cfg.name, cfg.condition, cfg.angle, cfg.formula if name == "formula" else None)
        if key == self._surface_key and self.surface is not None:
            return
        try:
            surface = build_surface(cfg)
        except ConfigError as exc:
            c.show_formula_error(exc.allowed if exc.field == "surface.formula" else str(exc), name == "formula")
            self.pause()
            return
        c.show_formula_error(None)
        same_name = self.surface is not None and self.surface.name == surface.name
        self.surface, self._surface_key = surface, key
        self._updating = True
        try:
            if not (same_name and name == "formula"):
                c.log_box.setChecked(surface.log_view)
                c.set_start(*surface.start)
                c.set_range(surface.x_range, surface.y_range)
            if suggest and surface.suggested:
                self.table.set_hyperparameters(surface.suggested)
        finally:
            self._updating = False
        self._draw_surface()
        self.rebuild_race()

    def use_surface(self, surface: Surface) -> None:
        """Race on ``surface`` (e.g. a network's loss plane from the Landscape tab): it joins the surface list
        as its last entry (until another is given) and its view, log scale, start and suggested rates are taken."""
        self.given_surface = surface
        self.surface, self._surface_key = surface, ("given", surface.name)
        box = self.controls.surface_box
        self._updating = True
        try:
            if box.findData(GIVEN) < 0:
                box.addItem("", GIVEN)
            box.setItemText(box.findData(GIVEN), surface.title)
            box.setCurrentIndex(box.findData(GIVEN))
            self.controls.show_surface_fields(GIVEN)
            self.controls.log_box.setChecked(surface.log_view)
            self.controls.set_start(*surface.start)
            self.controls.set_range(surface.x_range, surface.y_range)
            if surface.suggested:
                self.table.set_hyperparameters(surface.suggested)
        finally:
            self._updating = False
        self._draw_surface()
        self.rebuild_race()

    def _draw_surface(self) -> None:
        if self._updating or self.surface is None:
            return
        c = self.controls
        x_range, y_range = c.view_ranges()
        self.figure.set_surface(
            self.surface, x_range, y_range, mode=c.view_box.currentData(), log=c.log_box.isChecked()
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
            self.controls.set_range(*self.surface.view_containing(self.start()))
            self._draw_surface()

    def _default_start(self) -> None:
        if self.surface is not None:
            self.set_start(*self.surface.start)

    # --- race -------------------------------------------------------------------------------------
    def start(self) -> tuple[float, float]:
        return self.controls.start()

    def set_start(self, x: float, y: float) -> None:
        self._updating = True
        try:
            self.controls.set_start(x, y)
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
        race = self.race
        if race is None:
            return
        self.figure.set_racers(race, [self.table.colour(t.spec.key) for t in race.trajectories])
        self._apply_arrows()
        self._after_steps()

    def _apply_arrows(self) -> None:
        self.figure.set_arrows(self.controls.arrows(), self.controls.arrow_scale.currentData())

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
        if self.race.steps >= self.controls.max_steps.value() or not self.race.running:
            self.reset()
        self._debt = 0.0
        self._last_tick = time.monotonic()
        self.timer.start()
        self.controls.play_button.setText("⏸ Pause")

    def pause(self) -> None:
        self.timer.stop()
        self.controls.play_button.setText("▶ Play")

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

    def _tick(self) -> None:
        race = self.race
        if race is None:
            self.pause()
            return
        now = time.monotonic()
        self._debt = min(self._debt + (now - self._last_tick) * self.controls.speed_steps_per_s(), 1000.0)
        self._last_tick = now
        deadline = now + STEP_BUDGET_S
        limit = self.controls.max_steps.value()
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
        self.controls.status.setText("\n".join(parts))

    # --- export -----------------------------------------------------------------------------------
    def export(self, kind: str, path: str | Path, progress: Progress | None = None) -> Path:
        """Write the figure (png, svg, pdf), the trajectories (csv) or the animation (gif, mp4) to ``path``,
        atomically (``WriteError`` naming the path and why when it cannot be written)."""
        return write_race_file(kind, path, self.figure, self.race, progress)

    def export_dialog(self, kind: str) -> None:
        """Ask where, then :meth:`export` (an animation with a cancellable progress dialog); the outcome in the
        message bar."""
        path = ask_export_path(self, self.settings, kind, self.surface.name if self.surface else "surface")
        if path is None:
            return
        self.pause()
        dialog = None
        progress: Progress | None = None
        if kind in ANIMATION_KINDS:
            dialog, progress = animation_progress_dialog(self, kind)
        try:
            written = self.export(kind, path, progress)
        except InterruptedError:
            self.show_message(f"{kind.upper()} export cancelled; nothing was written.", "info")
            return
        except VideoUnavailable as exc:  # PyAV missing: says what to install
            self.show_message(str(exc))
            return
        except WriteError as exc:  # names the path and why
            self.show_message(f"Could not write {exc}")
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
        return {**self.controls.state(), "table": self.table.state()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`; unknown or bad entries are ignored."""
        if not isinstance(state, dict):
            return
        self._updating = True
        try:
            self.controls.set_setup_state(state)
            self.table.set_state(state.get("table", {}))
        finally:
            self._updating = False
        self._surface_key = None
        self._apply_surface(suggest=False)
        self._updating = True
        try:
            self.controls.set_view_state(state)
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
