"""ThreadBackend: each run's engine in a daemon thread of this process (for tests and tiny runs).

Cheap to start (no new interpreter), but a run shares the process with its consumer: a crash in
native code takes both down, and Python work in the run competes with the consumer for the GIL.
:mod:`~resnet_viz.runs.process_backend` is the isolated alternative.
"""

from __future__ import annotations

import threading
import traceback

import torch

from resnet_viz.config import ConfigError, DataConfig, RunConfig
from resnet_viz.data import DataError
from resnet_viz.runs.backend import RecordStream
from resnet_viz.runs.items import Cancelled, Exited, Failed, Progress, StreamItem
from resnet_viz.runs.splits_cache import SplitsCache
from resnet_viz.train.engine import Engine


class _LoadingCancelled(Exception):
    """Raised from the progress callback to abandon loading a dataset for a stopped run."""


class ThreadRunHandle:
    """One run's engine in a daemon thread; everything it produces goes to ``out`` as ``(run_id, item)``."""

    killable = False

    def __init__(self, run_id: int, config: RunConfig, out: RecordStream, cache: SplitsCache) -> None:
        self.run_id = run_id
        self.config = config
        self._out = out
        self._cache = cache
        self.engine = Engine(config, self._post)
        self.thread = threading.Thread(target=self._work, name=f"resnet-viz run {run_id}", daemon=True)

    def _post(self, item: StreamItem) -> None:
        self._out.put((self.run_id, item))

    def _progress(self, text: str, fraction: float) -> None:
        """Report loading progress; abandons the loading (between two chunks) once a stop was requested."""
        if self.engine.stop_requested:
            raise _LoadingCancelled
        self._post(Progress(text, fraction))

    # --- RunHandle ------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def pause(self) -> None:
        self.engine.pause()

    def resume(self) -> None:
        self.engine.resume()

    def stop(self, evaluate: bool = True) -> None:
        self.engine.stop(evaluate=evaluate)

    @property
    def stop_requested(self) -> bool:
        return self.engine.stop_requested

    def alive(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout_s: float) -> bool:
        if self.thread.ident is not None:
            self.thread.join(max(0.0, timeout_s))
        return not self.thread.is_alive()

    def kill(self) -> None:
        """A thread cannot be killed: stop without evaluating (it ends within one step or batch)."""
        self.engine.stop(evaluate=False)

    # --- the thread -------------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            self.engine.splits = self._cache.get(self.config.data, self._progress)
            self.engine.prepare()
        except _LoadingCancelled:
            self._post(Cancelled())
        except (ConfigError, DataError) as exc:
            self._post(Failed(str(exc), input_error=True))
        except BaseException as exc:  # noqa: BLE001 - becomes a failed run, never a crash of the consumer
            self._post(Failed(f"could not build the run: {type(exc).__name__}: {exc}", traceback.format_exc()))
        else:
            try:
                self.engine.run()  # emits RunFinished itself for every training failure
            except BaseException as exc:  # noqa: BLE001
                self._post(Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        self._post(Exited())


class ThreadBackend:
    """Runs train in threads of this process; datasets are loaded once per data configuration."""

    name = "thread"

    def __init__(self, cache: SplitsCache | None = None) -> None:
        self.cache = cache or SplitsCache()

    def launch(self, run_id: int, config: RunConfig, out: RecordStream, threads: int | None = None) -> ThreadRunHandle:
        """``threads`` sets torch's intra-op threads for the whole process (threads share one pool)."""
        if threads is not None:
            torch.set_num_threads(max(1, threads))
        return ThreadRunHandle(run_id, config, out, self.cache)

    def prefetch(self, data: DataConfig) -> None:
        self.cache.prefetch(data)

    def close(self) -> None:
        self.cache.clear()
