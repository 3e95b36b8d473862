"""What the window benches share: a MainWindow with every plot on screen, a record tap, and waiting.

Imported lazily by ``bench/window_training.py``, ``bench/launch_time.py`` and ``bench/window_memory.py``
(their spawned children re-import the bench script, so Qt is imported only inside functions here).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SIZE = (1600, 1000)


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages (2 cores here: above 2 means waiting)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


def open_window(backend: str, size: tuple[int, int] = SIZE) -> Any:
    """A shown MainWindow of ``size`` on ``backend`` (``process`` or ``thread``), all seven plots on
    screen (:func:`every_plot_on_screen`), private settings."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore

    from resnet_viz.config import BACKEND_ENV
    from resnet_viz.gui.main_window import MainWindow
    from resnet_viz.gui.qt_app import application

    app = application()
    os.environ[BACKEND_ENV] = backend
    window = MainWindow(QtCore.QSettings(os.devnull, QtCore.QSettings.Format.IniFormat), restore=False)
    window.resize(*size)
    window.show()
    window.default_layout()
    every_plot_on_screen(window)
    for _ in range(2):
        app.processEvents()
    shown = [p for p in window.panels if p.isVisible() and not p.visibleRegion().isEmpty()]
    assert len(shown) == len(window.panels), f"{len(shown)} of {len(window.panels)} plots on screen"
    return window


def every_plot_on_screen(window: Any) -> None:
    """The default three rows of plots with the update-ratio plot beside the backward signal (not in
    a tab behind it): error | loss, heatmap | gradient norm, activation std | backward signal | update ratio."""
    from PySide6 import QtCore

    h, v, d, ex = QtCore.Qt.Orientation.Horizontal, QtCore.Qt.Orientation.Vertical, window.docks, window.explorer
    for dock in d.values():
        ex.removeDockWidget(dock)  # a fresh placement: a dock once tabbed goes back to its tab otherwise
    ex.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, d["error"])
    ex.splitDockWidget(d["error"], d["grad_heatmap"], v)
    ex.splitDockWidget(d["grad_heatmap"], d["act_std_depth"], v)
    for left, right in (
        ("error", "loss"),
        ("grad_heatmap", "grad_norm_depth"),
        ("act_std_depth", "out_grad_depth"),
        ("out_grad_depth", "update_ratio_depth"),
    ):
        ex.splitDockWidget(d[left], d[right], h)
    for dock in d.values():
        dock.show()
    width = window.width() - 340
    ex.resizeDocks([window.setup_dock, d["error"]], [340, width], h)
    ex.resizeDocks([d["error"], d["grad_heatmap"], d["act_std_depth"]], [1000] * 3, v)
    for row in (("error", "loss"), ("grad_heatmap", "grad_norm_depth")):
        ex.resizeDocks([d[k] for k in row], [width // 2] * 2, h)
    ex.resizeDocks([d[k] for k in ("act_std_depth", "out_grad_depth", "update_ratio_depth")], [width // 3] * 3, h)


def close_window(window: Any) -> None:
    """Close the window (its runs are stopped) and let Qt delete it."""
    from PySide6 import QtWidgets

    window.close()
    window.deleteLater()
    QtWidgets.QApplication.processEvents()


@dataclass
class ChunkTap:
    """Times (``time.perf_counter()``) at which TrainChunks arrive and the steps done then; once
    ``stop_at`` steps are done, ``stop()`` is called once (a fixed number of steps without waiting
    for the run's planned length or its evaluation)."""

    stop_at: int
    stop: Callable[[], None]
    skip: int = 0  # steps before the wall-time clock starts (the first steps warm up)
    times: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    stopped: bool = False

    def chunk(self, steps_done: int) -> None:
        self.times.append(time.perf_counter())
        self.steps.append(steps_done)
        if steps_done >= self.stop_at and not self.stopped:
            self.stopped = True
            self.stop()

    def wall_rate(self) -> float:
        """Steps/s between the first chunk at or after ``skip`` steps and the one that reached
        ``stop_at`` (start-up and the final record excluded)."""
        first = next(i for i, s in enumerate(self.steps) if s >= self.skip)
        last = next(i for i, s in enumerate(self.steps) if s >= self.stop_at)
        return (self.steps[last] - self.steps[first]) / (self.times[last] - self.times[first])


def run_event_loop_until(done: Callable[[], bool], poll_ms: int = 20, timeout_s: float = 1800.0) -> None:
    """Run the real Qt event loop (as ``app.exec()`` does) until ``done()`` or the timeout."""
    from PySide6 import QtCore

    loop = QtCore.QEventLoop()
    deadline = time.monotonic() + timeout_s
    check = QtCore.QTimer()
    check.timeout.connect(lambda: (done() or time.monotonic() > deadline) and loop.quit())
    check.start(poll_ms)
    loop.exec()
    check.stop()
