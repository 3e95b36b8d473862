"""ProcessBackend: each run trains in a child process (spawn), isolated from its consumer.

A crash in native code, an out-of-memory kill or a SIGKILL ends only that run: it becomes a
:class:`~resnet_viz.runs.items.Failed` naming the reason, after every record received before it.
The child (:mod:`~resnet_viz.runs.child`) runs the engine on its main thread and sends each record
on a pipe; one daemon reader thread per child puts them on the shared stream as ``(run_id, item)``.

Start latency: the child is spawned at once (its interpreter and ``import torch`` take most of
the start) while this process loads the data in the handle's loader thread, through the
backend's :class:`~resnet_viz.runs.splits_cache.SplitsCache`: once per data configuration, its
tensors moved to shared memory once, so N children map the same pages instead of copying them.
Pause, resume and stop go to the child on a second pipe; end of file on it ends the child.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any

import torch.multiprocessing

from resnet_viz.config import ConfigError, DataConfig, RunConfig
from resnet_viz.data import DataError, DatasetSplits, ProgressFn
from resnet_viz.metrics.records import RunFinished, RunStarted, TrainChunk
from resnet_viz.runs.backend import RecordStream
from resnet_viz.runs.child import run_child
from resnet_viz.runs.exit_reason import exit_reason
from resnet_viz.runs.items import Cancelled, Exited, Failed, Progress, StreamItem
from resnet_viz.runs.splits_cache import SplitsCache

#: Processes start with ``spawn``: a fresh interpreter, never a fork of a process with threads (or Qt).
SPAWN = torch.multiprocessing.get_context("spawn")
#: Seconds between SIGTERM (stop at the end of the step) and SIGKILL in :meth:`ProcessRunHandle.kill`.
KILL_GRACE_S = 0.5
#: Seconds a child may take to exit after it closed its end of the records pipe.
EXIT_WAIT_S = 5.0

#: A child's entry point: ``entry(records, control)``, a module-level function (spawn pickles it by name).
ChildEntry = Callable[[Connection, Connection], None]


class _LoadingCancelled(Exception):
    """Raised from the progress callback to abandon loading the data of a run that ended."""


@dataclass
class ChildProcess:
    """A started child and this process's ends of its pipes: ``records`` (read), ``control`` (write)."""

    process: SpawnProcess
    records: Connection
    control: Connection

    @classmethod
    def spawn(cls, entry: ChildEntry, name: str) -> ChildProcess:
        """Start ``entry(records, control)`` in a new interpreter; this process keeps only its own ends."""
        records_in, records_out = SPAWN.Pipe(duplex=False)
        control_in, control_out = SPAWN.Pipe(duplex=False)
        process = SPAWN.Process(target=entry, args=(records_out, control_in), name=name, daemon=True)
        process.start()
        records_out.close()  # the child's copy is the only writer left: its death is end of file here
        control_in.close()  # and this process is the only writer of control: our death is the child's EOF
        return cls(process, records_in, control_out)

    def discard(self) -> None:
        """End a child that never got a run (it exits at the end of file on control, or at SIGTERM)."""
        self.control.close()
        self.records.close()
        self.process.terminate()
        self.process.join(KILL_GRACE_S)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join(KILL_GRACE_S)


class ProcessRunHandle:
    """One run in a child process; what it produces goes to ``out`` as ``(run_id, item)``, ``Exited`` last."""

    killable = True

    def __init__(
        self, run_id: int, config: RunConfig, out: RecordStream, backend: ProcessBackend, threads: int | None
    ) -> None:
        config.resolved()  # a ConfigError here, at launch, as with the thread backend
        self.run_id = run_id
        self.config = config
        self.threads = threads
        self.child: ChildProcess | None = None
        self._out = out
        self._backend = backend
        self._control_lock = threading.Lock()
        self._stop_requested = False
        self._killed = False  # SIGKILL sent by kill() after the grace time
        self._abandon = False  # the child is gone: the loader stops loading
        self._started = False  # RunStarted received
        self._ended = False  # RunFinished or Failed posted
        self._last_step = 0
        self._loader = threading.Thread(target=self._load, name=f"resnet-viz run {run_id} data", daemon=True)
        self._reader = threading.Thread(target=self._read, name=f"resnet-viz run {run_id} records", daemon=True)

    @property
    def pid(self) -> int | None:
        """The child's process id (None before :meth:`start`)."""
        return self.child.process.pid if self.child is not None else None

    def _post(self, item: StreamItem) -> None:
        self._out.put((self.run_id, item))

    def _send(self, message: tuple[Any, ...]) -> None:
        """Send on the control pipe; a child that is gone (or a closed pipe) is not an error."""
        with self._control_lock:
            if self.child is not None and not self.child.control.closed:
                try:
                    self.child.control.send(message)
                except OSError:
                    pass

    def _close_control(self) -> None:
        with self._control_lock:
            if self.child is not None:
                self.child.control.close()

    # --- RunHandle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the child, then load the data here while it starts (both return at once)."""
        self.child = self._backend.take_child(f"resnet-viz run {self.run_id}")
        self._send(("run", self.run_id, self.config, self.threads))
        self._loader.start()
        self._reader.start()

    def pause(self) -> None:
        self._send(("pause",))

    def resume(self) -> None:
        self._send(("resume",))

    def stop(self, evaluate: bool = True) -> None:
        self._stop_requested = True
        self._send(("stop", evaluate))

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def alive(self) -> bool:
        return self._reader.is_alive()

    def join(self, timeout_s: float) -> bool:
        if self._reader.ident is not None:
            self._reader.join(max(0.0, timeout_s))
        return not self._reader.is_alive()

    def kill(self) -> None:
        """SIGTERM (the child stops after its step, without evaluating), SIGKILL after ``KILL_GRACE_S``."""
        self._stop_requested = True
        child = self.child
        if child is None or not self._reader.is_alive():
            return
        child.process.terminate()
        timer = threading.Timer(KILL_GRACE_S, self._kill_now)
        timer.daemon = True
        timer.start()

    def _kill_now(self) -> None:
        if self.child is not None and self._reader.is_alive() and self.child.process.exitcode is None:
            self._killed = True
            self.child.process.kill()

    # --- the loader thread: data in this process, shared with the child ---------------------------
    def _progress(self, text: str, fraction: float) -> None:
        if self._stop_requested or self._abandon:
            raise _LoadingCancelled
        self._post(Progress(text, fraction))

    def _load(self) -> None:
        try:
            splits = self._backend.shared_splits(self.config.data, self._progress)
        except _LoadingCancelled:
            if self._stop_requested and self.child is not None:
                self.child.process.terminate()  # it may still be importing torch: no need to wait for it
            return
        except (ConfigError, DataError) as exc:
            self._fail(Failed(str(exc)))
        except BaseException as exc:  # noqa: BLE001 - becomes a failed run
            self._fail(Failed(f"could not load the data: {type(exc).__name__}: {exc}", traceback.format_exc()))
        else:
            self._send(("splits", splits))
            return
        self._close_control()  # the child ends at once

    def _fail(self, failed: Failed) -> None:
        self._ended = True
        self._post(failed)

    # --- the reader thread: records from the child, then how it ended ----------------------------
    def _read(self) -> None:
        assert self.child is not None
        records = self.child.records
        try:
            while True:
                item = records.recv()
                self._note(item)
                self._post(item)
        except (EOFError, OSError):
            pass  # the child is gone (or closed its end)
        except BaseException as exc:  # noqa: BLE001 - a record that does not unpickle
            self._fail(Failed(f"could not read a record from the training process: {type(exc).__name__}: {exc}"))
            self.child.process.kill()
        finally:
            self._finish()

    def _note(self, item: StreamItem) -> None:
        if isinstance(item, RunStarted):
            self._started = True
            self._backend.refill()  # this run's start is done: the next one may start warming up
        elif isinstance(item, TrainChunk) and len(item) > 0:
            self._last_step = int(item.step[-1])
        elif isinstance(item, (RunFinished, Failed)):
            self._ended = True

    def _finish(self) -> None:
        """After the last record: reap the child, end the loader, post how the run ended, then ``Exited``."""
        assert self.child is not None
        process = self.child.process
        self.child.records.close()
        process.join(EXIT_WAIT_S)
        if process.exitcode is None:
            process.kill()
            process.join(1.0)
        self._abandon = True
        self._loader.join()
        self._close_control()
        end = self._end_item(_exitcode(process))
        if end is not None:
            self._post(end)
        self._post(Exited())

    def _end_item(self, exitcode: int | None) -> StreamItem | None:
        """What the stream still needs after the child ended: nothing, ``Cancelled`` or ``Failed``."""
        if self._ended:
            return None
        if self._stop_requested and not self._started:
            return Cancelled()
        step = self._last_step if self._started else None
        return Failed(exit_reason(exitcode, step, killed=self._killed, grace_s=KILL_GRACE_S))


def _exitcode(process: SpawnProcess, wait_s: float = 1.0) -> int | None:
    """The exit code once set: another thread's ``process.start()`` may have reaped the child first."""
    deadline = time.monotonic() + wait_s
    while process.exitcode is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return process.exitcode


class ProcessBackend:
    """Runs train in child processes; datasets are loaded once per data configuration and shared.

    ``spare``: keep one child started ahead (it imports torch and the engine while idle), so that a
    launch skips the interpreter and import time: the first at once, the next once a run has
    started. ``entry``: the child's entry point (tests substitute their own).
    """

    name = "process"

    def __init__(self, cache: SplitsCache | None = None, *, entry: ChildEntry = run_child, spare: bool = False) -> None:
        self.cache = cache or SplitsCache()
        self.entry = entry
        self.spare = spare
        self._spare: ChildProcess | None = None
        self._spare_lock = threading.Lock()
        self._share_lock = threading.Lock()
        self._closed = False
        self.refill()

    def launch(self, run_id: int, config: RunConfig, out: RecordStream, threads: int | None = None) -> ProcessRunHandle:
        """``threads``: the child calls ``torch.set_num_threads(threads)`` before it builds the run."""
        return ProcessRunHandle(run_id, config, out, self, threads)

    def take_child(self, name: str) -> ChildProcess:
        """A started child for a new run: the spare when one is ready, else a new one."""
        with self._spare_lock:
            child, self._spare = self._spare, None
        if child is not None and child.process.is_alive():
            return child
        if child is not None:
            child.discard()
        return ChildProcess.spawn(self.entry, name)

    def refill(self) -> None:
        """Start a spare child when ``spare`` and none is waiting."""
        with self._spare_lock:
            if self.spare and not self._closed and self._spare is None:
                self._spare = ChildProcess.spawn(self.entry, "resnet-viz spare")

    def shared_splits(self, data: DataConfig, progress: ProgressFn) -> DatasetSplits:
        """The cached splits of ``data`` with their tensors in shared memory (moved there once)."""
        splits = self.cache.get(data, progress)
        with self._share_lock:
            for tensor in (splits.train_x, splits.train_y, splits.test_x, splits.test_y):
                tensor.share_memory_()  # type: ignore[no-untyped-call]  # no-op once shared
        return splits

    def prefetch(self, data: DataConfig) -> None:
        """Load ``data`` in the background now (it is moved to shared memory when a run takes it)."""
        self.cache.prefetch(data)

    def close(self) -> None:
        """End the spare child and release the datasets (this process's references to them)."""
        with self._spare_lock:
            self._closed = True
            child, self._spare = self._spare, None
        if child is not None:
            child.discard()
        self.cache.clear()
