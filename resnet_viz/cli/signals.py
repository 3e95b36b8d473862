"""Ctrl-C and SIGTERM while a command trains: the first asks the work to stop, the second stops at once."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def stop_on_signals(stop: Callable[[int], None], stopped: Callable[[], bool]) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM call ``stop(signum)`` (which asks the work to stop after
    its step); a signal once ``stopped()`` holds raises ``KeyboardInterrupt``. The previous handlers
    come back when the block ends."""

    def on_signal(signum: int, _frame: Any) -> None:
        if stopped():
            raise KeyboardInterrupt
        stop(signum)

    handled = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {signum: signal.signal(signum, on_signal) for signum in handled}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
