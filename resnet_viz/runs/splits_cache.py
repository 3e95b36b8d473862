"""SplitsCache: one loaded dataset per data configuration, shared by every run that uses it."""

from __future__ import annotations

import dataclasses
import json
import threading

from resnet_viz.config import DataConfig
from resnet_viz.data import DatasetSplits, ProgressFn, load_dataset


class SplitsCache:
    """Loads each data configuration once (thread-safe: a second run waits for the first one's load)."""

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

    def prefetch(self, data: DataConfig) -> threading.Thread:
        """Load ``data`` in a daemon thread now, so that the first run on it need not wait (a run that
        asks meanwhile waits for this load and gets the same splits)."""
        thread = threading.Thread(
            target=self.get, args=(data, lambda _text, _fraction: None), name="resnet-viz prefetch", daemon=True
        )
        thread.start()
        return thread

    def clear(self) -> None:
        with self._lock:
            self._splits.clear()
