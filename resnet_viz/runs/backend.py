"""The interface every backend implements: a :class:`Backend` launches a run and returns its
:class:`RunHandle`; everything the run produces goes on one :data:`RecordStream` as ``(run_id, item)``.

A handle's methods are called from one thread (the scheduler's); they never block for long. What a
run produces (records, progress, failures, the end) arrives only through the stream, in order, with
:class:`~resnet_viz.runs.items.Exited` last, whatever way the run ended (a child process that was
killed included).
"""

from __future__ import annotations

import queue
from typing import Protocol

from resnet_viz.config import DataConfig, RunConfig
from resnet_viz.runs.items import StreamItem

#: The one stream of ``(run_id, item)`` all runs of a scheduler write to (thread-safe).
RecordStream = queue.SimpleQueue[tuple[int, StreamItem]]


class RunHandle(Protocol):
    """Control of one launched run. Pause, resume and stop act within one step or one evaluation batch."""

    run_id: int
    #: True when :meth:`kill` ends it (a process); a thread can only be asked to stop.
    killable: bool

    def start(self) -> None:
        """Begin loading data and training (returns at once)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self, evaluate: bool = True) -> None:
        """End after the current step; ``evaluate``: a final evaluation runs (or a running one finishes)."""

    @property
    def stop_requested(self) -> bool: ...

    def alive(self) -> bool:
        """True until the run's backend (thread or process) has ended."""

    def join(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` seconds for the end; True when it ended."""

    def kill(self) -> None:
        """End at once, without a final evaluation (a child process is terminated, then killed)."""


class Backend(Protocol):
    """Where runs train. ``name`` is what the user picks: ``"thread"`` or ``"process"``."""

    name: str

    def launch(self, run_id: int, config: RunConfig, out: RecordStream, threads: int | None = None) -> RunHandle:
        """A handle for a new run (not started). ``threads``: torch threads the run may use (None: the default)."""

    def prefetch(self, data: DataConfig) -> None:
        """Start loading ``data`` now (in the background), for the runs to come."""

    def close(self) -> None:
        """Release what the backend holds (shared datasets); its runs must have ended."""
