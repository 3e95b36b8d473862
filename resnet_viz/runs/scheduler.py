"""Scheduler: which runs train when, in one of three modes, over any backend; Qt-free.

- ``"sequential"`` (in turn): one run trains at a time, in list order.
- ``"interleaved"``: every started run makes progress in time slices of ``slice_s`` (one run trains,
  the others wait paused between steps), so the total speed is that of one run using every core.
- ``"parallel"``: up to ``parallel`` runs train at once, each with ``cores // parallel`` torch threads
  (so N runs do not oversubscribe the cores: oversubscribed OpenMP threads made small ops up to 100×
  slower here). With the process backend each run is its own process.

Pools (:meth:`Scheduler.add_pool`): a run whose ``pool`` names one trains on that pool's backend (a Ray
cluster, say), up to the pool's ``parallel`` at once as soon as it is queued, whatever the mode; the
mode governs the default pool (``pool == ""``) only. A sweep is a pool.

Everything runs produce arrives on one stream; :meth:`Scheduler.poll` moves it into the runs' stores
and returns what changed. The owner calls ``poll`` (the window at display rate, the CLI in
:meth:`Scheduler.run_all`); the clock is injectable so time slices and rates are testable.
"""

from __future__ import annotations

import os
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from resnet_viz.config import TRAIN_MODES, ConfigError
from resnet_viz.metrics.records import OK_STATUSES, Record, RunFinished, RunStarted, TrainChunk
from resnet_viz.runs.backend import Backend, RecordStream, RunHandle
from resnet_viz.runs.items import Cancelled, Exited, Failed, Progress, StreamItem
from resnet_viz.runs.run import Run, failed_record
from resnet_viz.runs.status import RunStatus

#: Called for every record a run receives, after it was added to the run's store.
RecordListener = Callable[[Run, Record], None]

MAX_PARALLEL = 64


@dataclass(frozen=True)
class Pool:
    """Where the runs of a named pool train: ``backend``, up to ``parallel`` at once, ``threads`` torch
    threads each (None: the backend's default)."""

    backend: Backend
    parallel: int
    threads: int | None = None


@dataclass
class Changes:
    """What one :meth:`Scheduler.poll` changed."""

    runs: bool = False  # the list or a status changed
    data: bool = False  # records arrived
    messages: list[str] = field(default_factory=list)  # what the user must read (failed runs)
    progress: tuple[str, float] | None = None  # the latest data-loading progress (fraction in [0, 1])


class Scheduler:
    """Owns runs and their handles; starts, slices and stops them as the mode says."""

    def __init__(
        self,
        backend: Backend,
        *,
        mode: str = "sequential",
        parallel: int = 2,
        slice_s: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
        cores: int | None = None,
    ) -> None:
        self.backend = backend
        self.runs: list[Run] = []
        self.slice_s = slice_s
        self.clock = clock
        self.cores = cores or os.cpu_count() or 1
        self.listeners: list[RecordListener] = []
        self.stream: RecordStream = queue.SimpleQueue()
        self._handles: dict[int, RunHandle] = {}
        self._pools: dict[str, Pool] = {}
        self._user_paused: set[int] = set()
        self._autostart = False  # set by start(): queued runs follow on as others end
        self._slice: tuple[int, float] | None = None  # (owner run id, when its slice began)
        self._next_id = 1
        self._steps_total = 0
        self._rate: deque[tuple[float, int]] = deque(maxlen=64)  # (time, steps trained so far)
        self.mode, self.parallel = "sequential", parallel
        self.set_mode(mode, parallel)

    # --- the list -----------------------------------------------------------------------------
    def new_id(self) -> int:
        run_id, self._next_id = self._next_id, self._next_id + 1
        return run_id

    def add(self, run: Run) -> Run:
        """Append a run (queued, or ended with recorded data); it gets a fresh id."""
        run.run_id = self.new_id()
        self.runs.append(run)
        return run

    def get(self, run_id: int) -> Run | None:
        return next((r for r in self.runs if r.run_id == run_id), None)

    def remove(self, run: Run) -> None:
        """Forget a run, stopping it first without an evaluation (its backend ends on its own)."""
        handle = self._handles.pop(run.run_id, None)
        if handle is not None:
            handle.kill()
        self._user_paused.discard(run.run_id)
        if run in self.runs:
            self.runs.remove(run)
        self._schedule()

    def add_pool(self, name: str, backend: Backend, parallel: int, threads: int | None = None) -> None:
        """Runs whose ``pool`` is ``name`` train on ``backend``, ``parallel`` at once, as soon as queued."""
        if not name:
            raise ConfigError("pool", name, "a non-empty name (the empty name is the default pool)")
        if isinstance(parallel, bool) or not isinstance(parallel, int) or not 1 <= parallel <= MAX_PARALLEL:
            raise ConfigError("parallel runs", parallel, f"a whole number from 1 to {MAX_PARALLEL}")
        self._pools[name] = Pool(backend, parallel, threads)
        self._schedule()

    def remove_pool(self, name: str) -> None:
        """Forget a pool whose runs have ended (its backend is its owner's to close)."""
        self._pools.pop(name, None)

    # --- what is where -------------------------------------------------------------------------
    @property
    def running(self) -> list[Run]:
        """Runs that hold a backend (preparing, training, paused, or ending)."""
        return [r for r in self.runs if r.run_id in self._handles]

    @property
    def queued(self) -> list[Run]:
        return [r for r in self.runs if r.state is RunStatus.QUEUED]

    def _queued_in(self, pool: str) -> list[Run]:
        return [r for r in self.runs if r.pool == pool and r.state is RunStatus.QUEUED]

    def _active_in(self, pool: str) -> int:
        return sum(1 for r in self.runs if r.pool == pool and r.run_id in self._handles)

    @property
    def busy(self) -> bool:
        return bool(self._handles)

    @property
    def all_paused(self) -> bool:
        return bool(self._handles) and all(r in self._user_paused for r in self._handles)

    def handle(self, run: Run) -> RunHandle | None:
        return self._handles.get(run.run_id)

    # --- control ---------------------------------------------------------------------------------
    def set_mode(self, mode: str, parallel: int | None = None) -> None:
        if mode not in TRAIN_MODES:
            raise ConfigError("train mode", mode, "one of " + ", ".join(TRAIN_MODES))
        if parallel is not None:
            if isinstance(parallel, bool) or not isinstance(parallel, int) or not 1 <= parallel <= MAX_PARALLEL:
                raise ConfigError("parallel runs", parallel, f"a whole number from 1 to {MAX_PARALLEL}")
            self.parallel = parallel
        self.mode = mode
        self._schedule()

    def start(self) -> None:
        """Start queued runs as the mode says; more queued runs follow as others end."""
        self._autostart = True
        self._schedule()

    def pause(self, run: Run) -> None:
        handle = self._handles.get(run.run_id)
        if handle is None or run.run_id in self._user_paused:
            return
        self._user_paused.add(run.run_id)
        handle.pause()
        run.set_status(RunStatus.PAUSED)
        self._schedule()

    def resume(self, run: Run) -> None:
        if run.run_id not in self._user_paused:
            return
        self._user_paused.discard(run.run_id)
        run.set_status(RunStatus.RUNNING if run.store.started is not None else RunStatus.PREPARING)
        self._slice = None
        self._schedule()

    def pause_all(self) -> None:
        for run in self.running:
            self.pause(run)

    def resume_all(self) -> None:
        for run in self.running:
            self.resume(run)

    def stop(self, run: Run, evaluate: bool = True) -> None:
        """Stop a run after its current step (a final evaluation follows unless ``evaluate`` is False);
        a queued run is withdrawn."""
        handle = self._handles.get(run.run_id)
        if handle is not None:
            self._user_paused.discard(run.run_id)
            handle.stop(evaluate=evaluate)
            handle.resume()  # a paused run must wake up to see its stop
        elif run.state is RunStatus.QUEUED:
            run.set_status(RunStatus.STOPPED, "stopped before it started")

    def stop_all(self, evaluate: bool = True) -> None:
        """Stop every training run and withdraw the queued ones (the mode would start them)."""
        for run in list(self.runs):
            if run.run_id in self._handles or run.state is RunStatus.QUEUED:
                self.stop(run, evaluate)

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Stop every run without a final evaluation; what is still alive at the deadline is killed.
        Returns True when every backend ended within ``timeout_s``."""
        self._autostart = False
        handles = list(self._handles.values())
        for h in handles:
            h.stop(evaluate=False)
            h.resume()
        deadline = time.monotonic() + max(0.0, timeout_s)
        for h in handles:
            h.join(deadline - time.monotonic())
        late = [h for h in handles if h.alive()]
        for h in late:
            h.kill()
        for h in late:
            if h.killable:  # a thread was asked already; waiting longer for it only delays the close
                h.join(0.5)
        self.poll()
        return not late

    # --- scheduling ----------------------------------------------------------------------------------
    def _launch(self, run: Run) -> None:
        pool = self._pools.get(run.pool) if run.pool else None
        if pool is not None:
            backend, threads = pool.backend, pool.threads
        else:
            backend = self.backend
            threads = max(1, self.cores // self.parallel) if self.mode == "parallel" else None
        handle = backend.launch(run.run_id, run.config, self.stream, threads)
        self._handles[run.run_id] = handle
        run.set_status(RunStatus.PREPARING)
        handle.start()

    def _launch_queued(self) -> None:
        queued = self._queued_in("")
        if self.mode == "interleaved":
            starting = queued
        else:
            slots = self.parallel if self.mode == "parallel" else 1
            starting = queued[: max(0, slots - self._active_in(""))]
        for run in starting:
            self._launch(run)
        if not self._active_in("") and not self._queued_in(""):
            self._autostart = False

    def _launch_pools(self) -> None:
        for name, pool in self._pools.items():
            for run in self._queued_in(name)[: max(0, pool.parallel - self._active_in(name))]:
                self._launch(run)

    def _schedule(self) -> None:
        """Start what the mode and the pools say and, interleaved, hand the time slice to the next run."""
        if self._autostart:
            self._launch_queued()
        self._launch_pools()
        for run in self.runs:  # a pool's runs are never sliced: they keep training unless paused by the user
            if run.pool and run.run_id in self._handles and run.run_id not in self._user_paused:
                handle = self._handles[run.run_id]
                if not handle.stop_requested:
                    handle.resume()
        ids = [
            r.run_id
            for r in self.runs
            if not r.pool
            and r.run_id in self._handles
            and r.run_id not in self._user_paused
            and not self._handles[r.run_id].stop_requested
        ]
        if self.mode != "interleaved" or not ids:
            for rid in ids:
                self._handles[rid].resume()
            return
        now = self.clock()
        if self._slice is None or self._slice[0] not in ids:
            self._slice = (ids[0], now)
        elif now - self._slice[1] >= self.slice_s:
            self._slice = (ids[(ids.index(self._slice[0]) + 1) % len(ids)], now)
        for rid in ids:
            handle = self._handles[rid]
            handle.resume() if rid == self._slice[0] else handle.pause()

    # --- the stream ----------------------------------------------------------------------------------
    def poll(self, block_s: float = 0.0) -> Changes:
        """Move everything on the stream into the runs (waiting up to ``block_s`` for the first item),
        then schedule. Each record is handed to the listeners after it was stored."""
        changes = Changes()
        timeout: float | None = block_s if block_s > 0 else None
        while True:
            try:
                run_id, item = self.stream.get(timeout=timeout) if timeout else self.stream.get_nowait()
            except queue.Empty:
                break
            timeout = None
            self._take(run_id, item, changes)
        now = self.clock()
        if not self._rate or now - self._rate[-1][0] >= 0.25:
            self._rate.append((now, self._steps_total))
        self._schedule()
        return changes

    def _take(self, run_id: int, item: StreamItem, changes: Changes) -> None:
        run = self.get(run_id)
        if isinstance(item, Exited):
            self._handles.pop(run_id, None)
            self._user_paused.discard(run_id)
            changes.runs = True
            if run is not None and run.active:  # the backend ended without saying how
                self._fail(run, "the run ended without a final record", changes)
            return
        if run is None:
            return  # removed while training
        if isinstance(item, Progress):
            changes.progress = (item.text, item.fraction)
        elif isinstance(item, Cancelled):
            run.set_status(RunStatus.STOPPED, "stopped while its data was loading")
            changes.runs = True
        elif isinstance(item, Failed):
            run.input_error = item.input_error
            self._fail(run, item.message, changes)
        else:
            self._record(run, item, changes)

    def _fail(self, run: Run, message: str, changes: Changes) -> None:
        """The run failed without a final record: one is made from what was received (so its store,
        run folder and session say how it ended), then the status is set."""
        if run.store.started is not None and run.store.finished is None:
            self._record(run, failed_record(run, message), changes, quiet=True)
        run.set_status(RunStatus.FAILED, message)
        changes.runs = True
        changes.messages.append(f"{run.name}: {message}")

    def _record(self, run: Run, record: Record, changes: Changes, *, quiet: bool = False) -> None:
        run.store.add(record)
        run.version += 1
        changes.data = True
        if isinstance(record, RunStarted):
            run.status = RunStatus.PAUSED if run.run_id in self._user_paused else RunStatus.RUNNING
            changes.runs = True
        elif isinstance(record, TrainChunk):
            self._steps_total += len(record)
        elif isinstance(record, RunFinished):
            run.status, run.message = record.status, record.message
            changes.runs = True
            if record.status not in OK_STATUSES and not quiet:
                changes.messages.append(
                    f"{run.name}: {record.status}" + (f" — {record.message}" if record.message else "")
                )
        for listener in self.listeners:
            listener(run, record)

    # --- blocking use (the CLI) --------------------------------------------------------------------------
    def run_all(self, poll_s: float = 0.1, on_changes: Callable[[Changes], None] | None = None) -> None:
        """Start the queued runs and poll until none is queued or training (a stop ends it sooner)."""
        self.start()
        while self._handles or (self._autostart and self.queued) or any(self._queued_in(p) for p in self._pools):
            changes = self.poll(block_s=poll_s)
            if on_changes is not None:
                on_changes(changes)

    # --- figures ----------------------------------------------------------------------------------------
    def steps_per_s(self, window_s: float = 3.0) -> float:
        """Training steps per second over the last ``window_s`` seconds, all runs together."""
        if len(self._rate) < 2:
            return 0.0
        t1, s1 = self._rate[-1]
        recent = [(t, s) for t, s in self._rate if t1 - t <= window_s]
        t0, s0 = recent[0] if len(recent) > 1 else self._rate[-2]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    def remaining_steps(self) -> int:
        """Steps left in training and queued runs (queued ones estimated from their config)."""
        return sum(r.steps_left for r in self.runs if r.run_id in self._handles or r.state is RunStatus.QUEUED)
