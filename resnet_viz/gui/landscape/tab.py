"""LandscapeTab: the "Loss landscape" tab: slice a trained network's loss (Li et al. 2018) and look at it.

Left: the network (a finished run of the window, a checkpoint file or a run folder), the slice's settings,
Compute / Cancel with a progress bar, and the results (compare, 3D, race, export, save, open). Right: a
one-line message bar and the figure (:class:`~.figure.LandscapeFigure`). The computation runs in a child
process (:class:`~.runner.LandscapeRunner`); closing the window cancels it (:meth:`shutdown`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from resnet_viz.config import ConfigError
from resnet_viz.gui.landscape.controls import LandscapeControls
from resnet_viz.gui.landscape.figure import LandscapeFigure
from resnet_viz.gui.landscape.runner import LandscapeRunner, one_line
from resnet_viz.gui.landscape.tab_files import LandscapeFiles
from resnet_viz.gui.landscape.view3d import gl_problem, surface_view
from resnet_viz.gui.message_bar import MessageBar

if TYPE_CHECKING:
    from resnet_viz.gui.manager import RunManager
    from resnet_viz.landscape.result import LandscapeResult
    from resnet_viz.landscape.spec import LandscapeSpec

MAX_RESULTS = 12  # results kept in the tab (computed or opened); the oldest goes first


def duration_text(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``."""
    s = max(0, int(round(seconds)))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


class LandscapeTab(QtWidgets.QWidget):
    """The landscape tab. ``manager``: the window's runs (finished ones can be sliced); ``settings``: where
    the export folder is remembered. ``race_requested(Surface)``: race the optimisers on a landscape plane."""

    race_requested = QtCore.Signal(object)

    def __init__(
        self,
        settings: QtCore.QSettings | None = None,
        manager: RunManager | None = None,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings, self.manager = settings, manager
        self.results: list[LandscapeResult] = []
        self.paths: list[str] = []  # checkpoint files and run folders chosen in this tab
        self._started = time.monotonic()  # of the computation running
        self._first: tuple[float, int] | None = None  # (time, points done) of its first progress event
        self.figure = LandscapeFigure()
        self.message_bar = MessageBar()
        self.controls = LandscapeControls()
        self.runner = LandscapeRunner(self)
        self.files = LandscapeFiles(self)
        self._view3d: QtWidgets.QWidget | None = None
        self._queue: list[tuple[int, LandscapeSpec, str]] = []  # runs still to compute (a preset's batch)
        self._batch: list[LandscapeResult] | None = None  # the batch's results so far
        right = QtWidgets.QVBoxLayout()
        right.setContentsMargins(0, 4, 4, 4)
        right.addWidget(self.message_bar)
        right.addWidget(self.figure, 1)
        outer = QtWidgets.QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.controls)
        outer.addLayout(right, 1)
        self._connect()
        self.refresh_sources()
        self._update_buttons()

    def _connect(self) -> None:
        c, r = self.controls, self.runner
        c.compute_button.clicked.connect(self.compute)
        c.cancel_button.clicked.connect(self.cancel)
        c.checkpoint_button.clicked.connect(self.files.choose_checkpoint)
        c.folder_button.clicked.connect(self.files.choose_run_folder)
        c.shown_box.currentIndexChanged.connect(lambda _i: self.show_selected())
        c.compare_box.currentIndexChanged.connect(lambda _i: self.show_selected())
        c.view3d_button.clicked.connect(self.show_3d)
        c.race_button.clicked.connect(self.race_here)
        c.export_requested.connect(self.files.export_dialog)
        c.save_button.clicked.connect(self.files.save_dialog)
        c.open_button.clicked.connect(self.files.open_dialog)
        r.progress.connect(self._progress)
        r.finished.connect(self._computed)
        r.failed.connect(self._failed)
        if self.manager is not None:
            self.manager.runs_changed.connect(self.refresh_sources)

    # --- sources ----------------------------------------------------------------------------------
    def refresh_sources(self) -> None:
        """The networks to choose from (item data ``run:<id>`` or ``path:<file or folder>``): the window's runs
        with final weights, then the files chosen here."""
        box = self.controls.source_box
        current = box.currentData()
        box.blockSignals(True)
        box.clear()
        for entry in self.manager.entries if self.manager is not None else []:
            if entry.store.weights is not None:
                box.addItem(f"run: {entry.name}", f"run:{entry.run_id}")
        for path in self.paths:
            box.addItem(f"file: {Path(path).name}", f"path:{path}")
            box.setItemData(box.count() - 1, path, QtCore.Qt.ItemDataRole.ToolTipRole)
        if box.count() == 0:
            box.addItem("(no finished run yet)", None)
        index = box.findData(current)
        box.setCurrentIndex(max(index, 0))
        box.blockSignals(False)

    def add_source(self, path: str | Path) -> None:
        """Offer a checkpoint file or run folder as the network to slice, selected."""
        path = str(path)
        if path not in self.paths:
            self.paths.append(path)
        self.refresh_sources()
        self.controls.source_box.setCurrentIndex(self.controls.source_box.findData(f"path:{path}"))

    # --- computing --------------------------------------------------------------------------------
    def compute(self) -> None:
        """Start computing the chosen slice of the chosen network (problems: one line in the message bar)."""
        if self.runner.running:
            return
        try:
            spec = self.controls.spec()
        except ConfigError as exc:
            self.show_message(f"The slice is not valid: {exc}")
            return
        source = self.controls.source_box.currentData()
        if source is None:
            self.show_message("Choose the network to slice: a finished run, a checkpoint file or a run folder.")
            return
        self._queue, self._batch = [], None
        self._start(str(source), spec, str(self.controls.device.currentData()))

    def compute_runs(self, run_ids: list[int], spec: LandscapeSpec) -> None:
        """Compute ``spec`` for each of the window's runs ``run_ids`` in turn (on the device chosen here), then
        show the first two side by side on one colour scale (a preset's landscapes)."""
        if self.runner.running or not run_ids:
            return
        device = str(self.controls.device.currentData())
        self._queue = [(run_id, spec, device) for run_id in run_ids]
        self._batch = []
        self._next_in_batch()

    def _next_in_batch(self) -> None:
        run_id, spec, device = self._queue.pop(0)
        self._start(f"run:{run_id}", spec, device)

    def _start(self, source: str, spec: LandscapeSpec, device: str) -> None:
        kind, _, key = source.partition(":")
        try:
            if kind == "run":
                entry = self.manager.entry(int(key)) if self.manager is not None else None
                if entry is None:
                    raise ValueError("that run is no longer in the window")
                self.runner.start_store(entry.store, spec, device)
            else:
                self.runner.start_path(key, spec, device)
        except (OSError, ValueError, RuntimeError) as exc:
            self.show_message(f"Could not start the computation: {one_line(exc)}")
            self._queue, self._batch = [], None
            return
        self.message_bar.hide()
        self.controls.set_running(True)
        self.controls.progress.setRange(0, spec.points)
        self.controls.progress.setValue(0)
        self.controls.status.setText(f"Computing {spec.points} grid points…")
        self._started, self._first = time.monotonic(), None

    def cancel(self) -> None:
        """Stop the computation now; nothing is kept."""
        self._queue, self._batch = [], None
        if self.runner.running:
            self.runner.cancel()
            self.controls.status.setText("Cancelled; nothing was kept.")
        self.controls.set_running(False)
        self.controls.progress.setValue(0)

    def shutdown(self) -> None:
        """The window closes: a computation still running is killed (no process is left behind)."""
        self.runner.cancel()
        if self._view3d is not None:
            self._view3d.close()

    def _progress(self, done: int, total: int) -> None:
        self.controls.progress.setRange(0, max(total, 1))
        self.controls.progress.setValue(done)
        now = time.monotonic()
        if self._first is None and done > 0:  # the rate is measured from the first point: not the start-up
            self._first = (now, done)
        t0, done0 = self._first or (now, done)
        rate = (done - done0) / (now - t0) if done > done0 and now > t0 else 0.0
        left = f" · about {duration_text((total - done) / rate)} left" if rate > 0 and done < total else ""
        self.controls.status.setText(f"Computing: {duration_text(now - self._started)} so far{left}")

    def _computed(self, result: LandscapeResult) -> None:
        self.controls.set_running(False)
        self.controls.progress.setValue(self.controls.progress.maximum())
        self.controls.status.setText(f"{result.label}: done in {float(result.elapsed_s):.1f} s on {result.device}.")
        self.add_result(result)
        if self._batch is None:
            return
        self._batch.append(result)
        if self._queue:
            self._next_in_batch()
            return
        first = len(self.results) - len(self._batch)
        self._batch = None
        if len(self.results) - first >= 2:  # the batch side by side: the first shown, the second beside it
            self.controls.shown_box.setCurrentIndex(first)
            self.controls.compare_box.setCurrentIndex(first + 2)  # item 0 is "nothing"
            self.show_selected()

    def _failed(self, text: str) -> None:
        self._queue, self._batch = [], None
        self.controls.set_running(False)
        self.controls.status.setText("Failed.")
        self.show_message(text)

    # --- results ----------------------------------------------------------------------------------
    def add_result(self, result: LandscapeResult) -> None:
        """Keep ``result`` (computed or opened) and show it."""
        self.results.append(result)
        del self.results[:-MAX_RESULTS]
        c = self.controls
        for box in (c.shown_box, c.compare_box):
            box.blockSignals(True)
            box.clear()
        c.compare_box.addItem("nothing", None)
        for i, r in enumerate(self.results):
            name = f"{i + 1}. {r.label} · {r.spec.directions}"
            c.shown_box.addItem(name, i)
            c.compare_box.addItem(name, i)
        c.shown_box.setCurrentIndex(len(self.results) - 1)
        for box in (c.shown_box, c.compare_box):
            box.blockSignals(False)
        self.show_selected()

    @property
    def result(self) -> LandscapeResult | None:
        """The result shown (the left one when comparing)."""
        i = self.controls.shown_box.currentData()
        return self.results[i] if i is not None and 0 <= i < len(self.results) else None

    def show_selected(self) -> None:
        """Draw the chosen result, beside the one to compare with when one is chosen (one colour scale)."""
        result = self.result
        if result is None:
            return
        shown = [result]
        j = self.controls.compare_box.currentData()
        if j is not None and 0 <= j < len(self.results) and self.results[j] is not result:
            other = self.results[j]
            if (other.beta is None) == (result.beta is None):
                shown.append(other)
            else:
                self.show_message("Compare a 2D landscape with a 2D one, a line with a line.", "warning")
        self.figure.set_results(shown)
        self._update_buttons()

    def _update_buttons(self) -> None:
        c, result = self.controls, self.result
        plane = result is not None and result.beta is not None
        for w in (c.export_button, c.save_button):
            w.setEnabled(result is not None)
        c.race_button.setEnabled(plane)
        problem = gl_problem()
        c.view3d_button.setEnabled(plane and problem is None)
        c.view3d_button.setToolTip(problem or "The loss as a 3D surface (mouse: rotate; wheel: zoom)")

    def show_3d(self) -> None:
        if self.result is None:
            return
        try:
            self._view3d = surface_view(self.result)
        except (RuntimeError, ValueError) as exc:
            self.show_message(one_line(exc))
            return
        self._view3d.show()

    def race_here(self) -> None:
        """Hand the shown plane to the optimiser race (as a differentiable surface)."""
        from resnet_viz.landscape.surface import landscape_surface

        if self.result is None or self.result.beta is None:
            return
        try:
            surface = landscape_surface(self.result)
        except ValueError as exc:
            self.show_message(f"Cannot race on this landscape: {one_line(exc)}")
            return
        self.race_requested.emit(surface)

    def show_message(self, text: str, level: str = "error") -> None:
        self.message_bar.show_message(one_line(text), level)
