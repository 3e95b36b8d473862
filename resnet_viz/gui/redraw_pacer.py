"""RedrawPacer: redraws while training, spaced so that drawing keeps to its share of the GUI thread.

New records ask for a redraw (:meth:`RedrawPacer.schedule`); the pacer runs ``redraw`` at the next
allowed time: at most 30 Hz, and less often when the GUI thread (measured with its own CPU clock,
paint included) uses more than :data:`GUI_CPU_BUDGET` of one core. A deep net's redraw costs tens of
ms on a software-rendered X server, and the GUI thread competes with training for the same cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6 import QtCore

GUI_CPU_BUDGET = 0.15
MIN_REDRAW_S, MAX_REDRAW_S = 1 / 30, 1.0


class RedrawPacer(QtCore.QObject):
    """Calls ``redraw()`` at most every ``interval_s`` seconds (adapted to the CPU budget, once a second)."""

    def __init__(self, redraw: Callable[[], None], parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._redraw = redraw
        self.interval_s = MIN_REDRAW_S
        self._last = 0.0
        self._cpu_mark = (time.thread_time(), time.monotonic())
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._timed_redraw)

    def schedule(self) -> None:
        """New records: redraw at the next allowed time."""
        if not self._timer.isActive():
            wait = self._last + self.interval_s - time.monotonic()
            self._timer.start(max(0, int(1000 * wait)))

    def _timed_redraw(self) -> None:
        self._redraw()
        now = time.monotonic()
        self._last = now
        cpu0, wall0 = self._cpu_mark
        if now - wall0 >= 1.0:  # adapt the interval to the GUI thread's CPU use (paint included)
            busy = (time.thread_time() - cpu0) / (now - wall0)
            if busy > GUI_CPU_BUDGET:
                self.interval_s = min(MAX_REDRAW_S, self.interval_s * 1.5)
            elif busy < GUI_CPU_BUDGET / 2:
                self.interval_s = max(MIN_REDRAW_S, self.interval_s / 1.5)
            self._cpu_mark = (time.thread_time(), now)
