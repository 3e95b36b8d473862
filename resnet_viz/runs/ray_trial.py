"""The trial actor of the Ray backend: one run's engine on a Ray worker, its records streamed back in batches.

:class:`TrialActor` is a plain class (this module never imports Ray):
:mod:`~resnet_viz.runs.ray_backend` wraps it with ``ray.remote`` as a threaded actor. Its methods run on
the actor's threads: :meth:`TrialActor.records` (a generator the driver streams; through Ray Client,
which cannot stream an actor's generator, the driver polls :meth:`TrialActor.next_batch`) trains the run
in a thread of its own and yields the records emitted since the last batch, at most
``1 / BATCH_INTERVAL_S`` batches a second; :meth:`TrialActor.control` pauses, resumes or stops the
engine meanwhile.

The trial gets its data from the driver, through Ray's object store (:mod:`~resnet_viz.runs.ray_data`),
and runs the engine as :mod:`~resnet_viz.runs.child` does (torch threads, deterministic switch), so that a
config and seed give the same numbers as the process backend with the same thread count.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Iterator

import torch

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.data import DataError, DatasetSplits
from resnet_viz.runs.items import Cancelled, Failed, StreamItem
from resnet_viz.train.engine import Engine
from resnet_viz.train.prepared import use_deterministic_algorithms

#: Seconds between two batches of records sent to the driver (Ray's cost is per batch, not per record).
BATCH_INTERVAL_S = 0.1


class _LoadingCancelled(Exception):
    """Raised from the progress callback to abandon loading the data of a stopped run."""


class TrialActor:
    """One run on a Ray worker. ``threads``: torch's intra-op threads in this worker; ``gpus``: the GPUs
    Ray gave it (none: CUDA devices are hidden, since Ray leaves them visible to an actor without GPUs);
    ``splits``: the run's data (Ray resolves the driver's object reference before the actor starts)."""

    def __init__(self, config: RunConfig, threads: int, gpus: float, splits: DatasetSplits) -> None:
        if gpus <= 0:
            os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch first touches CUDA in this worker
        torch.set_num_threads(max(1, threads))
        self._changed = threading.Condition()
        self._batch: list[StreamItem] = []
        self._done = False
        self._trainer: threading.Thread | None = None  # trains the run, started by the first batch asked for
        self._sent_at = 0.0  # time.monotonic() of the last batch handed out
        self._last_control = -1  # sequence number of the last control applied
        self._build_error: Failed | None = None
        self._splits = splits
        self.engine: Engine | None = None
        try:
            self.engine = Engine(config, self._post)
        except ConfigError as exc:
            self._build_error = Failed(str(exc), input_error=True)

    def pid(self) -> int:
        """This worker's process id."""
        return os.getpid()

    def control(self, seq: int, kind: str, evaluate: bool = True) -> None:
        """``kind``: ``"pause"``, ``"resume"`` or ``"stop"``. Calls of a threaded actor may run out of
        order: a pause or resume older than the last control applied (``seq``) is dropped; a stop never is."""
        with self._changed:
            stale = seq < self._last_control
            self._last_control = max(seq, self._last_control)
        engine = self.engine
        if engine is None:
            return
        if kind == "stop":
            engine.stop(evaluate=evaluate)
        elif stale or engine.stop_requested:
            return
        elif kind == "pause":
            engine.pause()
        elif kind == "resume":
            engine.resume()

    # --- the stream -------------------------------------------------------------------------------
    def records(self) -> Iterator[list[StreamItem]]:
        """Train the run and yield its records in batches (every item once, in order), until it ended."""
        while (batch := self.next_batch(None)) is not None:
            if batch:
                yield batch

    def next_batch(self, wait_s: float | None) -> list[StreamItem] | None:
        """The records since the last batch, waiting up to ``wait_s`` seconds (None: until there are some):
        ``[]`` when none came, None once the run ended and every record was taken. The first call starts
        the training. (Ray Client cannot stream an actor's generator: its driver polls this instead.)"""
        with self._changed:
            if self._trainer is None:
                self._trainer = threading.Thread(target=self._work, name="resnet-viz trial", daemon=True)
                self._trainer.start()
            self._changed.wait_for(lambda: self._done or bool(self._batch), timeout=wait_s)
            wait_s = self._sent_at + BATCH_INTERVAL_S - time.monotonic()
            if wait_s > 0:
                self._changed.wait_for(lambda: self._done, timeout=wait_s)
            batch, self._batch = self._batch, []
            if batch:
                self._sent_at = time.monotonic()
                return batch
            return None if self._done else []

    def _post(self, item: StreamItem) -> None:
        with self._changed:
            self._batch.append(item)
            self._changed.notify_all()

    # --- the training thread ---------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            self._train()
        except BaseException as exc:  # noqa: BLE001 - becomes a failed run
            self._post(Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        finally:
            with self._changed:
                self._done = True
                self._changed.notify_all()

    def _train(self) -> None:
        """Load the data, build the run and train it, as the process backend's child does."""
        engine = self.engine
        if engine is None:
            self._post(self._build_error or Failed("the run could not be built"))
            return
        try:
            use_deterministic_algorithms(engine.config.train)
            engine.splits = self._splits
            if engine.stop_requested:
                raise _LoadingCancelled
            engine.prepare()
        except _LoadingCancelled:
            self._post(Cancelled())
            return
        except (ConfigError, DataError) as exc:
            self._post(Failed(str(exc), input_error=True))
            return
        except BaseException as exc:  # noqa: BLE001 - becomes a failed run
            self._post(Failed(f"could not build the run: {type(exc).__name__}: {exc}", traceback.format_exc()))
            return
        engine.run()  # emits RunFinished itself for every training failure


__all__ = ["BATCH_INTERVAL_S", "TrialActor"]
