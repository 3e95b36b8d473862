"""Choosing a backend by name: ``"process"`` (the default: each run in a child process) or ``"thread"``."""

from __future__ import annotations

import os

from resnet_viz.config import BACKEND_ENV, BACKENDS, ConfigError
from resnet_viz.runs.backend import Backend
from resnet_viz.runs.thread_backend import ThreadBackend


def default_backend_name() -> str:
    """``$RESNET_VIZ_BACKEND`` when set (checked), else ``"process"``."""
    name = os.environ.get(BACKEND_ENV, "").strip() or BACKENDS[0]
    if name not in BACKENDS:
        raise ConfigError(BACKEND_ENV, name, "one of " + ", ".join(BACKENDS))
    return name


def make_backend(name: str | None = None, *, spare: bool = False) -> Backend:
    """A new backend of that name (None: :func:`default_backend_name`). ``spare``: the process backend
    keeps one child started ahead (it imports torch while idle), so a run starts without that wait."""
    name = default_backend_name() if name is None else name
    if name == "thread":
        return ThreadBackend()
    if name == "process":
        from resnet_viz.runs.process_backend import ProcessBackend

        return ProcessBackend(spare=spare)
    raise ConfigError("backend", name, "one of " + ", ".join(BACKENDS))


def default_parallel(cores: int | None = None) -> int:
    """Runs trained at once in parallel mode: half the cores, at least 2 and at most 4."""
    cores = cores or os.cpu_count() or 1
    return max(2, min(4, cores // 2))
