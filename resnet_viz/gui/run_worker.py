"""RunWorker: one run's engine in a daemon thread, and the items it hands to the GUI thread.

The worker never touches Qt: everything it produces (the engine's records, loading progress, a
failure, the end of the thread) goes onto a thread-safe queue as ``(run_id, item)``, which
:class:`~resnet_viz.gui.manager.RunManager` drains in the GUI thread.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet_viz.config import ConfigError, DataConfig, RunConfig
from resnet_viz.data import DataError, DatasetSplits
from resnet_viz.train.engine import Engine

#: ``(text, fraction)`` loading progress, fraction in [0, 1]
ProgressFn = Callable[[str, float], None]
#: The shared dataset loader: ``load(data, progress) -> DatasetSplits`` (loads each data configuration once).
SplitsLoader = Callable[[DataConfig, ProgressFn], DatasetSplits]


@dataclass(frozen=True)
class Progress:
    """Data loading progress from a worker: ``fraction`` in [0, 1]."""

    text: str
    fraction: float


@dataclass(frozen=True)
class Failed:
    """The worker could not build or run the engine; ``detail`` is a traceback for unexpected errors."""

    message: str
    detail: str = ""


@dataclass(frozen=True)
class Cancelled:
    """The run was stopped while its data was loading (it never started training)."""


@dataclass(frozen=True)
class Exited:
    """The worker thread is done (after its last record)."""


class _LoadingCancelled(Exception):
    """Raised from the progress callback to abandon loading a dataset for a stopped run."""


class RunWorker:
    """Trains one run in a daemon thread; everything it produces goes to ``out`` as ``(run_id, item)``."""

    def __init__(
        self, run_id: int, config: RunConfig, out: queue.SimpleQueue[tuple[int, Any]], load_splits: SplitsLoader
    ) -> None:
        self.run_id = run_id
        self.config = config
        self._out = out
        self._load_splits = load_splits
        self.engine = Engine(config, self._post)
        self.thread = threading.Thread(target=self._work, name=f"resnet-viz run {run_id}", daemon=True)

    def _post(self, item: Any) -> None:
        self._out.put((self.run_id, item))

    def _progress(self, text: str, fraction: float) -> None:
        """Report loading progress; abandons the loading (between two chunks) once a stop was requested."""
        if self.engine.stop_requested:
            raise _LoadingCancelled
        self._post(Progress(text, fraction))

    def start(self) -> None:
        self.thread.start()

    def _work(self) -> None:
        try:
            self.engine.splits = self._load_splits(self.config.data, self._progress)
            self.engine.prepare()
        except _LoadingCancelled:
            self._post(Cancelled())
        except (ConfigError, DataError) as exc:
            self._post(Failed(str(exc)))
        except BaseException as exc:  # noqa: BLE001 - becomes a failed run in the window, never a crash
            self._post(Failed(f"could not build the run: {type(exc).__name__}: {exc}", traceback.format_exc()))
        else:
            try:
                self.engine.run()  # emits RunFinished itself for every training failure
            except BaseException as exc:  # noqa: BLE001
                self._post(Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        self._post(Exited())
