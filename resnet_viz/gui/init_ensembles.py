"""InitEnsembleJobs: samples fresh initialisations of runs' networks in a background thread (for the
activation-std panel's theory band and its *Average over K initialisations* button).

One job is :func:`~resnet_viz.train.init_ensemble.measure_init_ensemble` of one network setup: the model,
init and data sections and the batch size (no training-only field), sampled on one batch of the setup's
training images (the first batch of seed 0, normalised as the engine does) on the CPU. Each setup and K
is measured once per window (:func:`setup_key`) and cached. Jobs run one at a time: a daemon thread,
which exists only while jobs are queued, loads the data and hands each measurement to an
:class:`~resnet_viz.runs.init_sampler.InitSampler` child process at the lowest CPU priority (nice 19),
so training keeps its speed and the window never waits for the GIL of a starved thread. Results are
picked up on the GUI thread by a timer and announced by :attr:`InitEnsembleJobs.finished`.
:meth:`~InitEnsembleJobs.close` cancels everything: the thread kills the child (never waiting for it)
within :data:`~resnet_viz.runs.init_sampler.POLL_S` and ends.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import queue
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from PySide6 import QtCore

from resnet_viz.config import DataConfig, RunConfig
from resnet_viz.data import DatasetSplits
from resnet_viz.runs.init_sampler import InitSampler, SamplingRequest
from resnet_viz.runs.splits_cache import SplitsCache
from resnet_viz.train.init_ensemble import InitEnsemble

#: Loads a data configuration (e.g. the run backend's ``SplitsCache.get``).
SplitsSource = Callable[[DataConfig], DatasetSplits]

_shared_cache: SplitsCache | None = None


def default_splits_source(data: DataConfig) -> DatasetSplits:
    """A process-wide :class:`SplitsCache` of this module (when no window gave its backend's)."""
    global _shared_cache
    if _shared_cache is None:
        _shared_cache = SplitsCache()
    return _shared_cache.get(data, lambda _text, _fraction: None)


def setup_key(config: RunConfig, k: int, seed: int) -> str:
    """What a job's result depends on: model, init and data sections, batch size, K and the sampling seed."""
    d = config.resolved().to_dict()
    setup = {s: d[s] for s in ("model", "init", "data")} | {
        "batch_size": d["train"]["batch_size"],
        "k": k,
        "seed": seed,
    }
    return json.dumps(setup, sort_keys=True)


#: Every job queue of this process, stopped at interpreter exit (a daemon thread inside torch at exit aborts it).
_live: weakref.WeakSet[InitEnsembleJobs] = weakref.WeakSet()


#: s: how long the interpreter's exit waits for a worker still loading data (not cancellable mid-load). A
#: thread still inside torch when the interpreter finalises aborts the process ("terminate called without
#: an active exception", exit 134): the window closed during a sample's data load did that.
EXIT_WAIT_S = 60.0


@atexit.register
def _stop_all() -> None:
    for jobs in list(_live):
        jobs.stop_worker(EXIT_WAIT_S)


@dataclass
class _Job:
    key: str
    config: RunConfig
    k: int
    seed: int
    cancelled: threading.Event = field(default_factory=threading.Event)


class InitEnsembleJobs(QtCore.QObject):
    """Queue, run and cache :class:`InitEnsemble` measurements (GUI thread API; the work in a thread).

    Signals (GUI thread): ``finished(key)`` a job ended (:meth:`result` or :meth:`error` has it, or it
    was cancelled); ``progressed(key, done, k)`` one more init measured.
    """

    finished = QtCore.Signal(str)
    progressed = QtCore.Signal(str, int, int)

    def __init__(self, parent: QtCore.QObject | None = None, splits_source: SplitsSource | None = None) -> None:
        super().__init__(parent)
        self.splits_source: SplitsSource = splits_source or default_splits_source
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()  # guarded by _cond
        self._thread: threading.Thread | None = None  # guarded by _cond
        self._closed = False
        self._outbox: queue.SimpleQueue[tuple[str, str, Any]] = queue.SimpleQueue()
        self._pending: dict[str, _Job] = {}
        self._results: dict[str, InitEnsemble] = {}
        self._errors: dict[str, str] = {}
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.deliver)
        _live.add(self)

    # --- GUI thread ---------------------------------------------------------------------------------
    def result(self, key: str) -> InitEnsemble | None:
        return self._results.get(key)

    def error(self, key: str) -> str | None:
        return self._errors.get(key)

    def pending(self, key: str) -> bool:
        return key in self._pending

    @property
    def worker(self) -> threading.Thread | None:
        """The worker thread while jobs are queued or running (tests check it ends)."""
        with self._cond:
            return self._thread

    def request(self, config: RunConfig, k: int, seed: int) -> str:
        """Queue a measurement of ``config``'s setup unless it is cached, failed or queued; returns its key."""
        key = setup_key(config, k, seed)
        if self._closed or key in self._results or key in self._errors or key in self._pending:
            return key
        job = _Job(key, config, k, seed)
        self._pending[key] = job
        with self._cond:
            self._queue.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="resnet-viz init ensembles", daemon=True)
                self._thread.start()
        self._timer.start()
        return key

    def cancel(self, keys: list[str] | None = None) -> None:
        """Cancel the queued or running jobs of ``keys`` (all when None); each reports ``finished``."""
        for key, job in list(self._pending.items()):
            if keys is None or key in keys:
                job.cancelled.set()

    def close(self, timeout_s: float = 2.0) -> bool:
        """Cancel every job and wait for the thread (at most ``timeout_s``); True when it ended."""
        self._timer.stop()
        return self.stop_worker(timeout_s)

    def stop_worker(self, timeout_s: float = 2.0) -> bool:
        """:meth:`close` without Qt (also called at interpreter exit, so that no thread is inside torch then)."""
        self._closed = True
        for job in list(self._pending.values()):
            job.cancelled.set()
        with self._cond:
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
        return thread is None or not thread.is_alive()

    def deliver(self) -> None:
        """Move what the thread reported into the cache and emit the signals (the timer calls it)."""
        while True:
            try:
                kind, key, value = self._outbox.get_nowait()
            except queue.Empty:
                break
            if kind == "progress":
                self.progressed.emit(key, value[0], value[1])
                continue
            self._pending.pop(key, None)
            if kind == "done":
                self._results[key] = value
            elif kind == "error":
                self._errors[key] = value
            self.finished.emit(key)
        if not self._pending:
            self._timer.stop()

    # --- worker thread ------------------------------------------------------------------------------
    def _work(self) -> None:
        sampler = InitSampler()
        try:
            while True:
                with self._cond:
                    if not self._queue or self._closed:
                        for job in self._queue:
                            self._outbox.put(("cancelled", job.key, None))
                        self._queue.clear()
                        self._thread = None
                        return
                    job = self._queue.popleft()
                self._outbox.put(self._run(job, sampler))
        finally:
            sampler.close()

    def _run(self, job: _Job, sampler: InitSampler) -> tuple[str, str, Any]:
        from resnet_viz.train.init_ensemble import SamplingCancelled, first_training_batch, sampling_refusal

        def stop() -> bool:
            return job.cancelled.is_set() or self._closed

        def progress(done: int, k: int) -> None:
            self._outbox.put(("progress", job.key, (done, k)))

        if stop():
            return ("cancelled", job.key, None)
        try:
            splits = self.splits_source(job.config.data)
            seed0 = dataclasses.replace(job.config, train=dataclasses.replace(job.config.train, seed=0))
            batch = first_training_batch(seed0, splits)
            refusal = sampling_refusal(job.config)
            if refusal is not None:
                raise ValueError(refusal)
            request = SamplingRequest(job.config, batch.detach().cpu().numpy(), job.k, job.seed, splits.num_classes)
            ens = sampler.measure(request, stop, progress)
        except SamplingCancelled:
            return ("cancelled", job.key, None)
        except Exception as exc:  # noqa: BLE001 - a failed sample is reported in the panel, never raised in the window
            return ("error", job.key, f"{type(exc).__name__}: {exc}")
        return ("done", job.key, ens)


def use_backend_data(panels: Iterable[object], backend: object) -> None:
    """Let the sampling jobs of ``panels`` load data through the run backend's :class:`SplitsCache` (the
    window's one copy of each dataset) instead of this module's own."""
    cache = getattr(backend, "cache", None)
    if not isinstance(cache, SplitsCache):
        return
    shared: SplitsCache = cache

    def load(data: DataConfig) -> DatasetSplits:
        return shared.get(data, lambda _text, _fraction: None)

    for panel in panels:
        jobs = getattr(panel, "jobs", None)
        if isinstance(jobs, InitEnsembleJobs):
            jobs.splits_source = load
