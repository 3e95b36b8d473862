"""The data of Ray trials: loaded once per data configuration by the driver, shared through Ray's object store.

A trial's worker is a fresh process (on a cluster, on another machine): loading there would generate
the embedded set, or read and augment-prepare CIFAR, once per trial (seconds each; a download on a node
without network fails). Instead the driver loads each data configuration once (a
:class:`~resnet_viz.runs.splits_cache.SplitsCache`, as the process backend does), puts the splits into
Ray's object store once (``ray.put``), and every trial on that data gets the same object: Ray copies it
to each node once, and the nodes need neither the dataset nor network access.
"""

from __future__ import annotations

import threading
from typing import Any

from resnet_viz.config import DataConfig
from resnet_viz.data import ProgressFn
from resnet_viz.runs.splits_cache import SplitsCache


class SharedSplits:
    """Each data configuration's splits, loaded here once and put into the object store once (thread-safe)."""

    def __init__(self) -> None:
        self.cache = SplitsCache()
        self._lock = threading.Lock()
        self._refs: dict[str, Any] = {}

    def ref(self, ray: Any, data: DataConfig, progress: ProgressFn) -> Any:
        """The object reference of ``data``'s splits (loaded and put on first use; ``progress`` may raise to cancel)."""
        splits = self.cache.get(data, progress)
        key = SplitsCache.key(data)
        with self._lock:
            if key not in self._refs:
                self._refs[key] = ray.put(splits)
            return self._refs[key]

    def clear(self) -> None:
        """Let go of the objects and the loaded splits."""
        with self._lock:
            self._refs.clear()
        self.cache.clear()


__all__ = ["SharedSplits"]
