"""RunManager: the runs of the window, their worker threads, and the hand-over of records.

Each started run trains in its own worker thread (``threading.Thread`` hosting an
:class:`~resnet_viz.train.engine.Engine`). The engine's callback only puts ``(run_id, record)`` on a
thread-safe queue; a ``QTimer`` in the GUI thread drains the queue at display rate (≤ 30 Hz), adds
the records to each run's :class:`RunStore` and emits one ``data_changed`` per drain. There is no Qt
signal per training step, and training never waits on drawing.

Two ways to train several runs:

- ``"sequential"`` (in turn): one run trains at a time, in list order.
- ``"interleaved"``: every started run makes progress, in time slices of ``slice_s`` (one run trains,
  the others wait paused between steps). Slicing, rather than running all threads at once, keeps
  one run's ops from fighting another's for the same cores (oversubscribed OpenMP threads made
  small ops up to 100x slower here), so the total speed equals that of one run.

Datasets are loaded once per data configuration and shared by the runs that use it.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
import time
from collections import deque
from typing import Any

from PySide6 import QtCore

from resnet_viz.config import DEFAULT_STEPS, TRAIN_MODES, DataConfig, RunConfig
from resnet_viz.data import DatasetSplits, load_dataset
from resnet_viz.gui.run_worker import Cancelled, Exited, Failed, Progress, ProgressFn, RunWorker
from resnet_viz.gui.runs import PALETTE, RunEntry
from resnet_viz.metrics.records import OK_STATUSES, RunFinished, RunStarted, TrainChunk

DISPLAY_HZ = 30


class _SplitsCache:
    """One loaded dataset per data configuration, shared by all runs (thread-safe, loads once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._splits: dict[str, DatasetSplits] = {}

    @staticmethod
    def key(data: DataConfig) -> str:
        return json.dumps(dataclasses.asdict(data), sort_keys=True)

    def get(self, data: DataConfig, progress: ProgressFn) -> DatasetSplits:
        key = self.key(data)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._splits:
                self._splits[key] = load_dataset(data, progress=progress)
            else:
                progress("dataset ready", 1.0)
            return self._splits[key]


class RunManager(QtCore.QObject):
    """Owns the window's runs (:class:`RunEntry`), trains them in worker threads, drains their records.

    Signals (all emitted in the GUI thread, at most once per drain):
    ``runs_changed`` the list or a status changed; ``data_changed`` records arrived;
    ``message(str)`` something the user must read (a failed run, a bad config);
    ``data_progress(str, float)`` dataset generation/loading progress (fraction in [0, 1]).
    """

    runs_changed = QtCore.Signal()
    data_changed = QtCore.Signal()
    message = QtCore.Signal(str)
    data_progress = QtCore.Signal(str, float)

    #: Seconds the window waits for its workers when it closes (it must close within 2 s).
    close_join_s = 1.0

    def __init__(self, parent: QtCore.QObject | None = None, *, slice_s: float = 0.3) -> None:
        super().__init__(parent)
        self.entries: list[RunEntry] = []
        self.mode = "sequential"
        self.slice_s = slice_s
        self._queue: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self._workers: dict[int, RunWorker] = {}
        self._next_id = 1
        self._cache = _SplitsCache()
        self._user_paused: set[int] = set()
        self._autostart = False  # set once Start was pressed: queued runs follow on as others end
        self._slice_owner: int | None = None
        self._slice_started = 0.0
        self._rate: deque[tuple[float, int]] = deque(maxlen=64)  # (time, steps trained so far in this manager)
        self._steps_total = 0
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(round(1000 / DISPLAY_HZ))
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    # --- the list ----------------------------------------------------------------------------
    def add(self, config: RunConfig, name: str | None = None, color: str | None = None) -> RunEntry:
        """Queue a run (validated first: raises ConfigError). Its colour is the first unused one."""
        config.validate()
        used = {e.color for e in self.entries}
        if color is None:
            color = next((c for c in PALETTE if c not in used), PALETTE[(self._next_id - 1) % len(PALETTE)])
        entry = RunEntry(run_id=self._next_id, config=config, name=name or config.label(), color=color)
        self._next_id += 1
        self.entries.append(entry)
        self.runs_changed.emit()
        return entry

    def adopt(self, entry: RunEntry) -> RunEntry:
        """Add an entry with recorded data (from a saved session); it gets a fresh id."""
        entry.run_id = self._next_id
        self._next_id += 1
        self.entries.append(entry)
        self.runs_changed.emit()
        return entry

    def entry(self, run_id: int) -> RunEntry | None:
        return next((e for e in self.entries if e.run_id == run_id), None)

    def remove(self, entry: RunEntry) -> None:
        """Remove a run (stopping it first if it trains; its thread ends on its own)."""
        worker = self._workers.pop(entry.run_id, None)
        if worker is not None:
            worker.engine.stop(evaluate=False)
        self._user_paused.discard(entry.run_id)
        if entry in self.entries:
            self.entries.remove(entry)
        self._schedule()
        self.runs_changed.emit()

    def clear(self, timeout_s: float = 5.0) -> None:
        """Stop everything and forget every run."""
        self.shutdown(timeout_s)
        self.entries.clear()
        self._drop_queue()
        self.runs_changed.emit()
        self.data_changed.emit()

    # --- training ----------------------------------------------------------------------------
    @property
    def running(self) -> list[RunEntry]:
        return [e for e in self.entries if e.run_id in self._workers]

    @property
    def queued(self) -> list[RunEntry]:
        return [e for e in self.entries if e.status == "queued"]

    @property
    def busy(self) -> bool:
        return bool(self._workers)

    def set_mode(self, mode: str) -> None:
        if mode not in TRAIN_MODES:
            raise ValueError(f"train mode {mode!r}: choose one of {', '.join(TRAIN_MODES)}")
        self.mode = mode
        self._schedule()

    def start(self) -> None:
        """Start queued runs: the next one (sequential) or all of them (interleaved)."""
        self._schedule(start_queued=True)

    def pause(self, entry: RunEntry) -> None:
        worker = self._workers.get(entry.run_id)
        if worker is None:
            return
        self._user_paused.add(entry.run_id)
        worker.engine.pause()
        entry.status = "paused"
        entry.version += 1
        self._schedule()
        self.runs_changed.emit()

    def resume(self, entry: RunEntry) -> None:
        if entry.run_id not in self._user_paused:
            return
        self._user_paused.discard(entry.run_id)
        entry.status = "running" if entry.store.started is not None else "preparing"
        entry.version += 1
        self._slice_owner = None
        self._schedule()
        self.runs_changed.emit()

    def pause_all(self) -> None:
        for e in self.running:
            if e.run_id not in self._user_paused:
                self.pause(e)

    def resume_all(self) -> None:
        for e in self.running:
            self.resume(e)

    @property
    def all_paused(self) -> bool:
        return bool(self._workers) and all(r in self._user_paused for r in self._workers)

    def stop(self, entry: RunEntry) -> None:
        """Stop a run after its current step (a final evaluation follows); a queued run is withdrawn."""
        worker = self._workers.get(entry.run_id)
        if worker is not None:
            self._user_paused.discard(entry.run_id)
            worker.engine.stop(evaluate=True)
        elif entry.status == "queued":
            entry.status = "stopped"
            entry.message = "stopped before it started"
            entry.version += 1
            self.runs_changed.emit()

    def stop_all(self) -> None:
        """Stop every training run and withdraw the queued ones (sequential mode would start them)."""
        for e in list(self.entries):
            if e.run_id in self._workers or e.status == "queued":
                self.stop(e)

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Stop every worker without a final evaluation and join the threads. True if all ended in time.

        A worker ends within one training step or evaluation batch, or one chunk of dataset loading.
        """
        workers = list(self._workers.values())
        for w in workers:
            w.engine.stop(evaluate=False)
        deadline = time.monotonic() + timeout_s
        for w in workers:
            w.thread.join(max(0.0, deadline - time.monotonic()))
        self.drain()
        return not any(w.thread.is_alive() for w in workers)

    # --- scheduling (GUI thread) ---------------------------------------------------------------
    def _launch(self, entry: RunEntry) -> None:
        worker = RunWorker(entry.run_id, entry.config, self._queue, self._cache.get)
        self._workers[entry.run_id] = worker
        entry.status = "preparing"
        entry.version += 1
        worker.start()
        self.runs_changed.emit()  # the list shows "preparing" while the data loads, not "queued"

    def _schedule(self, start_queued: bool = False) -> None:
        """Start what the mode says and, interleaved, hand the time slice to the next run.

        Once Start was pressed, queued runs follow on (sequential: when the current one ends;
        interleaved: at once) until nothing is queued or training.
        """
        if start_queued:
            self._autostart = True
        if self._autostart:
            if self.mode == "interleaved":
                for e in self.queued:
                    self._launch(e)
            elif not self._workers and self.queued:
                self._launch(self.queued[0])
            if not self._workers and not self.queued:
                self._autostart = False
        stopping = [w for w in self._workers.values() if w.engine.stop_requested]
        for w in stopping:
            w.engine.resume()  # a paused engine must wake up to see its stop
        ids = [
            e.run_id
            for e in self.entries
            if e.run_id in self._workers
            and e.run_id not in self._user_paused
            and not self._workers[e.run_id].engine.stop_requested
        ]
        if self.mode == "interleaved" and ids:
            now = time.monotonic()
            if self._slice_owner not in ids:
                self._slice_owner, self._slice_started = ids[0], now
            elif now - self._slice_started >= self.slice_s:
                self._slice_owner = ids[(ids.index(self._slice_owner) + 1) % len(ids)]
                self._slice_started = now
            for rid in ids:
                engine = self._workers[rid].engine
                engine.resume() if rid == self._slice_owner else engine.pause()
        else:
            for rid in ids:
                self._workers[rid].engine.resume()

    # --- draining (GUI thread, QTimer) ----------------------------------------------------------
    def _drop_queue(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def drain(self) -> None:
        """Move every pending record into its run's store; emit each signal at most once."""
        got_data = list_changed = False
        last_progress: tuple[str, float] | None = None
        while True:
            try:
                run_id, item = self._queue.get_nowait()
            except queue.Empty:
                break
            entry = self.entry(run_id)
            if isinstance(item, Exited):
                self._workers.pop(run_id, None)
                self._user_paused.discard(run_id)
                list_changed = True
                continue
            if entry is None:
                continue  # removed while training
            if isinstance(item, Progress):
                last_progress = (item.text, item.fraction)
                continue
            if isinstance(item, Cancelled):
                entry.status, entry.message = "stopped", "stopped while its data was loading"
                entry.version += 1
                list_changed = True
                continue
            if isinstance(item, Failed):
                entry.status, entry.message = "failed", item.message
                entry.version += 1
                list_changed = True
                self.message.emit(f"{entry.name}: {item.message}")
                continue
            entry.store.add(item)
            entry.version += 1
            got_data = True
            if isinstance(item, RunStarted):
                entry.status = "paused" if run_id in self._user_paused else "running"
                list_changed = True
            elif isinstance(item, TrainChunk):
                self._steps_total += len(item)
            elif isinstance(item, RunFinished):
                entry.status, entry.message = item.status, item.message
                list_changed = True
                if item.status not in OK_STATUSES:
                    self.message.emit(f"{entry.name}: {item.status}" + (f" — {item.message}" if item.message else ""))
        now = time.monotonic()
        if not self._rate or now - self._rate[-1][0] >= 0.25:
            self._rate.append((now, self._steps_total))
        if last_progress is not None:
            self.data_progress.emit(*last_progress)
        self._schedule()
        if list_changed:
            self.runs_changed.emit()
        if got_data:
            self.data_changed.emit()

    # --- figures for the status bar ---------------------------------------------------------------
    def steps_per_s(self, window_s: float = 3.0) -> float:
        """Training steps per second over the last ``window_s`` seconds, all runs together."""
        if len(self._rate) < 2:
            return 0.0
        t1, s1 = self._rate[-1]
        old = [(t, s) for t, s in self._rate if t1 - t <= window_s]
        t0, s0 = old[0] if len(old) > 1 else self._rate[-2]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    def remaining_steps(self) -> int:
        """Steps left in running and queued runs (queued ones estimated from their config)."""
        left = 0
        for e in self.entries:
            if e.run_id in self._workers:
                total = e.store.started.total_steps if e.store.started else _planned_steps(e.config)
                left += max(0, total - e.store.steps_done)
            elif e.status == "queued":
                left += _planned_steps(e.config)
        return left


def _planned_steps(config: RunConfig) -> int:
    """Steps a run will take as far as the config alone tells (epochs need the dataset size: estimated)."""
    t = config.train
    if t.steps is not None:
        return t.steps
    if t.epochs is not None:
        n = config.data.subset or 50_000
        return max(1, round(t.epochs * n / t.batch_size))
    return DEFAULT_STEPS
