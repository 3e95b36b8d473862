"""LandscapeRunner: one landscape computation in the background for the GUI.

The work runs in a child process (``resnet_viz.landscape.job.LandscapeJob``); a ``QTimer`` polls its
events at 10 Hz and turns them into signals. A run of the window has no folder of its own: its store is
written as a run folder into a temporary directory first (checkpoint.pt, snapshots), removed when the
computation ends, fails or is cancelled. :meth:`cancel` kills the child at once (no process is left).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore

from resnet_viz.landscape.spec import LandscapeSpec

if TYPE_CHECKING:
    from resnet_viz.landscape.job import LandscapeJob
    from resnet_viz.metrics.store import RunStore

POLL_MS = 100


def one_line(text: object) -> str:
    """The first non-empty line of ``text`` (a message in the tab is never a traceback)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


class LandscapeRunner(QtCore.QObject):
    """Signals: ``progress(done, total)``, ``finished(LandscapeResult)``, ``failed(one line)``."""

    progress = QtCore.Signal(int, int)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.job: LandscapeJob | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)

    @property
    def running(self) -> bool:
        return self.job is not None

    def start_store(self, store: RunStore, spec: LandscapeSpec, device: str = "cpu") -> None:
        """Compute the landscape of a run of the window: its run folder is written to a temporary directory
        first (``ValueError`` when the run has not started, ``OSError`` when it cannot be written)."""
        from resnet_viz.export.replay import write_run_folder

        tmp = tempfile.TemporaryDirectory(prefix="resnet-viz-landscape-")
        try:
            folder = write_run_folder(store, Path(tmp.name) / "run")
            self.start_path(str(folder), spec, device)
        except BaseException:
            tmp.cleanup()
            raise
        self._tmp = tmp

    def start_path(self, path: str, spec: LandscapeSpec, device: str = "cpu") -> None:
        """Compute the landscape of a run folder or checkpoint file (its errors arrive as ``failed``)."""
        from resnet_viz.landscape.job import LandscapeJob

        if self.job is not None:
            raise RuntimeError("a landscape is being computed already")
        job = LandscapeJob(path, spec, device=device)
        job.start()
        self.job = job
        self._timer.start()

    def poll(self) -> None:
        """Forward the child's events; at its end (result, error, or a child that died) clean up."""
        job = self.job
        if job is None:
            self._timer.stop()
            return
        events: list[Any] = job.poll()
        for event in events:
            kind = event[0]
            if kind == "progress":
                self.progress.emit(int(event[1]), int(event[2]))
            elif kind == "done":
                self._end()
                self.finished.emit(event[1])
                return
            elif kind == "error":
                self._end()
                self.failed.emit(one_line(event[1]))
                return
        if not job.running:
            self._end()
            self.failed.emit("The landscape computation ended without a result (its process died)")

    def cancel(self) -> None:
        """Kill the computation now (nothing is kept); no-op when none runs."""
        if self.job is not None:
            self.job.cancel()
        self._end()

    def _end(self) -> None:
        self._timer.stop()
        self.job = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
