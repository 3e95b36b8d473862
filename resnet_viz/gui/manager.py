"""RunManager: the window's adapter over the Qt-free :class:`~resnet_viz.runs.scheduler.Scheduler`.

The scheduler owns the runs (here :class:`RunEntry`, a :class:`~resnet_viz.runs.run.Run` with a
colour), starts them on a backend (by default each run is a child process: a crash in a run stays in
that run, and training does not share the window's interpreter) and receives every record on one
stream. This class only adds Qt: a ``QTimer`` polls the scheduler at display rate (≤ 30 Hz) and turns
what changed into at most one signal of each kind per poll. There is no Qt signal per training
step, and training never waits on drawing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from PySide6 import QtCore

from resnet_viz.config import DataConfig, RunConfig
from resnet_viz.gui.runs import PALETTE, RunEntry
from resnet_viz.runs.backend import Backend
from resnet_viz.runs.backends import default_parallel, make_backend
from resnet_viz.runs.scheduler import Changes, Scheduler

DISPLAY_HZ = 30


class RunManager(QtCore.QObject):
    """Owns the window's runs through a scheduler and polls their records.

    Signals (all emitted in the GUI thread, at most once per poll):
    ``runs_changed`` the list or a status changed; ``data_changed`` records arrived;
    ``message(str)`` something the user must read (a failed run, a bad config);
    ``data_progress(str, float)`` dataset generation/loading progress (fraction in [0, 1]).
    """

    runs_changed = QtCore.Signal()
    data_changed = QtCore.Signal()
    message = QtCore.Signal(str)
    data_progress = QtCore.Signal(str, float)

    #: Seconds the window waits for its runs when it closes before killing them (it closes within 2 s).
    close_join_s = 1.0

    def __init__(
        self,
        parent: QtCore.QObject | None = None,
        *,
        slice_s: float = 0.3,
        backend: str | Backend | None = None,
        parallel: int | None = None,
    ) -> None:
        super().__init__(parent)
        # the window keeps one child process started ahead: pressing Start does not wait for `import torch`
        chosen = backend if backend is not None and not isinstance(backend, str) else make_backend(backend, spare=True)
        self.scheduler = Scheduler(chosen, slice_s=slice_s, parallel=parallel or default_parallel())
        self.after_poll: list[Callable[[], None]] = []  # called after every poll (the sweeps update sweep.json)
        self.on_close: list[Callable[[], None]] = []  # called on close once the runs have stopped (sweeps save)
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(round(1000 / DISPLAY_HZ))
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    # --- the list ----------------------------------------------------------------------------
    @property
    def entries(self) -> list[RunEntry]:
        return cast(list[RunEntry], self.scheduler.runs)

    @property
    def mode(self) -> str:
        return self.scheduler.mode

    @property
    def parallel(self) -> int:
        return self.scheduler.parallel

    @property
    def backend_name(self) -> str:
        return self.scheduler.backend.name

    def add(self, config: RunConfig, name: str | None = None, color: str | None = None) -> RunEntry:
        """Queue a run (validated first: raises ConfigError). Its colour is the first unused one."""
        config.validate()
        if color is None:
            used = {e.color for e in self.entries}
            color = next((c for c in PALETTE if c not in used), PALETTE[len(self.entries) % len(PALETTE)])
        entry = RunEntry(run_id=0, config=config, name=name or config.label(), color=color)
        self.scheduler.add(entry)
        self.runs_changed.emit()
        return entry

    def adopt(self, entry: RunEntry) -> RunEntry:
        """Add an entry with recorded data (from a saved session or run folder); it gets a fresh id."""
        self.scheduler.add(entry)
        self.runs_changed.emit()
        return entry

    def entry(self, run_id: int) -> RunEntry | None:
        return cast(RunEntry | None, self.scheduler.get(run_id))

    def remove(self, entry: RunEntry) -> None:
        """Remove a run (a training one is stopped without evaluating; its backend ends on its own)."""
        self.scheduler.remove(entry)
        self.runs_changed.emit()

    def clear(self, timeout_s: float = 5.0) -> None:
        """Stop everything and forget every run."""
        self.shutdown(timeout_s)
        self.scheduler.runs.clear()
        self.scheduler.poll()  # drop what the ended runs still sent
        self.runs_changed.emit()
        self.data_changed.emit()

    # --- training ----------------------------------------------------------------------------
    @property
    def running(self) -> list[RunEntry]:
        return cast(list[RunEntry], self.scheduler.running)

    @property
    def queued(self) -> list[RunEntry]:
        return cast(list[RunEntry], self.scheduler.queued)

    @property
    def busy(self) -> bool:
        return self.scheduler.busy

    @property
    def all_paused(self) -> bool:
        return self.scheduler.all_paused

    def set_mode(self, mode: str) -> None:
        """``sequential`` (in turn), ``interleaved`` or ``parallel``; raises ConfigError for another."""
        self.scheduler.set_mode(mode)

    def start(self) -> None:
        """Start queued runs as the mode says (the rest follow as runs end)."""
        self.scheduler.start()
        self.runs_changed.emit()  # the list shows "preparing" while the data loads, not "queued"

    def pause(self, entry: RunEntry) -> None:
        self.scheduler.pause(entry)
        self.runs_changed.emit()

    def resume(self, entry: RunEntry) -> None:
        self.scheduler.resume(entry)
        self.runs_changed.emit()

    def pause_all(self) -> None:
        self.scheduler.pause_all()
        self.runs_changed.emit()

    def resume_all(self) -> None:
        self.scheduler.resume_all()
        self.runs_changed.emit()

    def stop(self, entry: RunEntry) -> None:
        """Stop a run after its current step (a final evaluation follows); a queued run is withdrawn."""
        self.scheduler.stop(entry)
        self.runs_changed.emit()

    def stop_all(self) -> None:
        """Stop every training run and withdraw the queued ones."""
        self.scheduler.stop_all()
        self.runs_changed.emit()

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Stop every run without a final evaluation; kill what is alive at the deadline; True if all
        ended in time. A run ends within one training step or evaluation batch, or one chunk of loading."""
        ended = self.scheduler.shutdown(timeout_s)
        self.drain()
        return ended

    def prefetch(self, data: DataConfig) -> None:
        """Load a data configuration in the background now, so the first Start on it does not wait."""
        self.scheduler.backend.prefetch(data)

    def close(self, timeout_s: float | None = None) -> bool:
        """The window closes: :meth:`shutdown` (within ``close_join_s`` by default), then release the
        backend (a child started ahead ends, shared datasets are let go); ``on_close`` hooks run between.
        Returns what shutdown returned."""
        ended = self.shutdown(self.close_join_s if timeout_s is None else timeout_s)
        self._timer.stop()
        for hook in self.on_close:
            hook()
        self.scheduler.backend.close()
        return ended

    # --- polling (GUI thread, QTimer) ----------------------------------------------------------------
    def drain(self) -> Changes:
        """Move every pending record into its run's store; emit each signal at most once."""
        changes = self.scheduler.poll()
        for hook in self.after_poll:
            hook()
        for text in changes.messages:
            self.message.emit(text)
        if changes.progress is not None:
            self.data_progress.emit(*changes.progress)
        if changes.runs:
            self.runs_changed.emit()
        if changes.data:
            self.data_changed.emit()
        return changes

    # --- figures for the status bar ---------------------------------------------------------------
    def steps_per_s(self, window_s: float = 3.0) -> float:
        """Training steps per second over the last ``window_s`` seconds, all runs together."""
        return self.scheduler.steps_per_s(window_s)

    def remaining_steps(self) -> int:
        """Steps left in running and queued runs (queued ones estimated from their config)."""
        return self.scheduler.remaining_steps()
