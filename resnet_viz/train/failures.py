"""How a training run that did not end well is reported: its status, message and details."""

from __future__ import annotations

import traceback
from typing import Any

import torch

_OOM_MARKERS = ("out of memory", "can't allocate memory", "not enough memory", "DefaultCPUAllocator")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory error, ``MemoryError``, or a ``RuntimeError`` an allocator raised."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc) for m in _OOM_MARKERS)


def failure_outcome(exc: BaseException, step: int) -> tuple[str, str, dict[str, Any]]:
    """(status, message, extra) of a run ended by ``exc`` after ``step`` completed steps.

    Call it inside the ``except`` block: a failure's traceback goes into ``extra["traceback"]``.
    """
    if isinstance(exc, KeyboardInterrupt):
        return "stopped", "interrupted", {}
    if is_out_of_memory(exc):
        return (
            "out of memory",
            f"out of memory at step {step + 1}: {(str(exc).splitlines() or [type(exc).__name__])[0]}",
            {},
        )
    return "failed", f"{type(exc).__name__}: {exc}", {"traceback": traceback.format_exc()}
