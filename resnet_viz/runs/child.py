"""The child process of a run (:class:`~resnet_viz.runs.process_backend.ProcessBackend`).

:func:`run_child` is the spawn target. It runs the engine on the child's MAIN thread and sends every
record to the parent on ``records``; a daemon thread reads ``control``:

- ``("run", run_id, config, threads)`` first (a child may be spawned before its run is known);
- ``("splits", DatasetSplits)`` once the parent has loaded the data (tensors in shared memory);
- ``("pause",)``, ``("resume",)``, ``("stop", evaluate)`` at any time.

End of file on ``control`` (the parent died or let go of the run) ends the child at once, without
an evaluation. SIGTERM stops the engine without an evaluation: it flushes its records and sends its
``RunFinished`` within one step. The child sends records and :class:`~resnet_viz.runs.items.Failed`
(strings only, never exception objects); the parent posts ``Exited`` when the process is gone.

Imports are what training needs (torch, the engine): no Qt, no plotting.
"""

from __future__ import annotations

import importlib
import os
import queue
import signal
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any, NoReturn

import torch

from resnet_viz.config import ConfigError
from resnet_viz.data import DataError, DatasetSplits
from resnet_viz.runs.items import Failed
from resnet_viz.train.engine import Engine
from resnet_viz.train.prepared import use_deterministic_algorithms

#: What the child's main thread waits for: the data, None when the run was stopped first, or why it failed.
Inbox = queue.SimpleQueue[DatasetSplits | Failed | None]


def run_child(records: Connection, control: Connection) -> None:
    """The child's main: wait for the run and its data, train, send every record; never raises."""
    if not control.poll():  # a spare child, idle until its run: import what the run will need
        importlib.import_module("torch._inductor.config")  # torch.use_deterministic_algorithms imports it (s)
    try:
        message = control.recv()
    except (EOFError, OSError):
        _exit(records)  # the parent let go of this child before giving it a run
    _, _run_id, config, threads = message
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    try:
        engine = Engine(config, records.send)
    except ConfigError as exc:
        records.send(Failed(str(exc)))
        _exit(records)
    inbox: Inbox = queue.SimpleQueue()
    _stop_on_sigterm(engine, inbox)
    threading.Thread(target=_listen, args=(control, engine, inbox), name="control", daemon=True).start()
    # While the parent loads the data: torch's deterministic switch imports torch._inductor (seconds).
    use_deterministic_algorithms(engine.config.train)
    splits = inbox.get()
    if isinstance(splits, Failed):
        _send(records, splits)
    elif splits is not None:  # None: stopped while the parent loaded the data (the parent reports it)
        train(engine, splits, records)
    _exit(records)


def _exit(records: Connection) -> NoReturn:
    """End the process now that every record is out: the interpreter's teardown with torch takes seconds."""
    records.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def train(engine: Engine, splits: DatasetSplits, records: Connection) -> None:
    """Build the run on ``splits`` and train it; a build error becomes one :class:`Failed`."""
    engine.splits = splits
    try:
        engine.prepare()
    except (ConfigError, DataError) as exc:
        _send(records, Failed(str(exc)))
        return
    except BaseException as exc:  # noqa: BLE001 - becomes a failed run
        _send(records, Failed(f"could not build the run: {type(exc).__name__}: {exc}", traceback.format_exc()))
        return
    try:
        engine.run()  # emits RunFinished itself for every training failure
    except (BrokenPipeError, EOFError):
        pass  # the parent is gone: nobody to tell
    except BaseException as exc:  # noqa: BLE001
        _send(records, Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))


def _send(records: Connection, item: Any) -> None:
    try:
        records.send(item)
    except OSError:
        pass  # the parent is gone


def _stop_on_sigterm(engine: Engine, inbox: Inbox) -> None:
    """SIGTERM (the parent's kill): stop without evaluating; the records so far still go out."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        engine.stop(evaluate=False)
        inbox.put(None)

    signal.signal(signal.SIGTERM, handler)


def _listen(control: Connection, engine: Engine, inbox: Inbox) -> None:
    """The control thread: hand the data to the main thread, forward pause/resume/stop to the engine."""
    while True:
        try:
            message = control.recv()
        except (EOFError, OSError):
            os._exit(0)  # the parent died or let go: no orphan, no evaluation
        except BaseException as exc:  # noqa: BLE001 - e.g. the shared data could not be mapped
            inbox.put(Failed(f"could not receive from the parent process: {type(exc).__name__}: {exc}"))
            engine.stop(evaluate=False)  # without control, a run must not go on
            return
        kind = message[0]
        if kind == "splits":
            inbox.put(message[1])
        elif kind == "pause":
            engine.pause()
        elif kind == "resume":
            engine.resume()
        elif kind == "stop":
            engine.stop(evaluate=bool(message[1]))
            inbox.put(None)


__all__ = ["Inbox", "run_child", "train"]
