"""LandscapeJob: one landscape computed in a child process, so the window stays responsive and a cancel is
immediate (SIGKILL; a thread computing for minutes could not be stopped mid-point).

Protocol (as :mod:`resnet_viz.runs.init_sampler`): the parent writes one pickled :class:`LandscapeRequest`
to the child's stdin and keeps stdin open; the child answers with pickled ``("progress", done, total)``
tuples and one ``("done", LandscapeResult)`` or ``("error", one_line)``. The child's own stdout and
stderr go to the null device (a library's print cannot corrupt the stream); it exits when its stdin ends
(the parent closed it or died), so no computation outlives its window. Normal priority: the user asked
for this result and waits for it.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, Any

from resnet_viz.config import one_line
from resnet_viz.landscape.spec import LandscapeSpec
from resnet_viz.runs.exit_reason import signal_name
from resnet_viz.runs.pickle_pipe import read_messages, reap, send, write_request


@dataclass(frozen=True)
class LandscapeRequest:
    """What the child computes: the landscape ``spec`` of the run folder or checkpoint ``source_path``."""

    source_path: str
    spec: LandscapeSpec
    device: str = "cpu"


def _exit_at_end_of_input(stdin: IO[bytes]) -> None:
    """Watchdog thread of the child: the parent closed our stdin or died, so nobody waits for the result."""
    try:
        while stdin.read(4096):
            pass
    except (OSError, ValueError):
        pass
    os._exit(0)


def _child_main() -> None:
    """The child: stdio to the null device, one request, progress and the result (or one error line)."""
    out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.dup2(null, 2)
    stdin = sys.stdin.buffer
    try:
        request: LandscapeRequest = pickle.load(stdin)
    except (EOFError, OSError, pickle.UnpicklingError):
        return
    threading.Thread(target=_exit_at_end_of_input, args=(stdin,), daemon=True).start()
    send(out, ("progress", 0, request.spec.points))
    try:
        from resnet_viz.landscape.compute import compute_landscape
        from resnet_viz.landscape.source import load_landscape_source

        source = load_landscape_source(request.source_path)
        result = compute_landscape(
            source,
            request.spec,
            progress=lambda done, total: send(out, ("progress", done, total)),
            device=request.device,
        )
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        send(out, ("error", _error_line(exc)))
    else:
        send(out, ("done", result))


def _error_line(exc: Exception) -> str:
    """Our own one-line errors as they are; anything else with its type."""
    from resnet_viz.config import ConfigError
    from resnet_viz.data import DataError
    from resnet_viz.landscape.errors import LandscapeError

    if isinstance(exc, (LandscapeError, ConfigError, DataError)):
        return one_line(str(exc), 500)
    return one_line(f"{type(exc).__name__}: {exc}", 500)


class LandscapeJob:
    """The parent's side of one computation (see the module doc). Not thread-safe: one thread (the GUI's)
    calls :meth:`start`, :meth:`poll` and :meth:`cancel`."""

    def __init__(self, source_path: str, spec: LandscapeSpec, device: str = "cpu") -> None:
        self.request = LandscapeRequest(str(source_path), spec, device)
        self.child: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None  # the child's, once started
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._running = False

    @property
    def running(self) -> bool:
        """True from :meth:`start` until the result, an error, the child's end or :meth:`cancel`."""
        return self._running

    def start(self) -> None:
        """Start the child and send it the request; returns at once."""
        if self.child is not None:
            raise RuntimeError("a LandscapeJob runs once")
        child = subprocess.Popen(
            [sys.executable, "-m", "resnet_viz.landscape.job"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert child.stdin is not None and child.stdout is not None
        self.child, self.pid, self._running = child, child.pid, True
        name = f"resnet-viz landscape {child.pid}"
        threading.Thread(target=read_messages, args=(child.stdout, self._inbox), name=name, daemon=True).start()
        threading.Thread(target=write_request, args=(child.stdin, self.request), name=name, daemon=True).start()

    def poll(self) -> list[tuple[Any, ...]]:
        """The events that arrived since the last call, never blocking: ``("progress", done, total)``,
        ``("done", LandscapeResult)``, ``("error", one_line)`` (also when the child ended without a
        result); after ``done`` or ``error`` the job is over (:attr:`running` False)."""
        events: list[tuple[Any, ...]] = []
        while self._running:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                break
            if message is None:
                events.append(("error", self._ended_line()))
                self._finish()
            else:
                events.append(tuple(message))
                if message[0] in ("done", "error"):
                    self._finish()
        return events

    def cancel(self) -> None:
        """Kill the child now (SIGKILL) without waiting for it; a daemon thread reaps it."""
        self._finish()

    def _finish(self) -> None:
        self._running = False
        child, self.child = self.child, None
        if child is None:
            return
        try:
            child.kill()  # after a result the child would exit by itself; this is quicker and certain
        except OSError:
            pass
        threading.Thread(
            target=reap, args=(child,), name=f"resnet-viz landscape reaper {child.pid}", daemon=True
        ).start()

    def _ended_line(self) -> str:
        child = self.child
        code = None if child is None else child.poll()
        if code is None and child is not None:
            try:
                code = child.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                return "the landscape process stopped answering"
        if code is not None and code < 0:
            return f"the landscape process was ended by {signal_name(-code)}"
        return f"the landscape process ended unexpectedly (exit code {code})"


if __name__ == "__main__":
    _child_main()
