"""InitSampler: measures ensembles of fresh initialisations in a child process at the lowest CPU priority.

Why a process and not a thread: a thread at nice 19 in the window's process competes for the GIL with
the window (a starved GIL holder freezes it) and, on a busy machine, the kernel may take seconds to
schedule it when the process exits, so the window's process would outlive its close. A child process
has neither problem: the window kills it (SIGKILL) and never waits for it.

Protocol: the parent writes pickled :class:`SamplingRequest` objects to the child's stdin; the child
answers each with pickled ``("progress", done, k)`` tuples and one ``("done", InitEnsemble)`` or
``("error", text)``. EOF on stdin ends the child. The child's own stdout and stderr go to the null
device (a library's print cannot corrupt the stream, and a killed child holds no pipe of its parent's
terminal), so the stream is a duplicate of its original stdout.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_viz.config import RunConfig
from resnet_viz.runs.exit_reason import signal_name
from resnet_viz.runs.pickle_pipe import read_messages, reap, send, write_request
from resnet_viz.train.init_ensemble import InitEnsemble, SamplingCancelled

#: How often the parent checks for cancellation while it waits for the child (s).
POLL_S = 0.05


@dataclass(frozen=True)
class SamplingRequest:
    """One measurement: ``k`` inits of ``config``'s network on ``batch`` (float32 [B, C, H, W], normalised
    as the engine's first step sees it), init seeds derived from ``seed``, ``num_classes`` outputs."""

    config: RunConfig
    batch: np.ndarray
    k: int
    seed: int
    num_classes: int


def _child_main() -> None:
    """The child: nice 19, its stdio to the null device, then answer requests until stdin ends."""
    out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        os.nice(19)  # before torch starts its threads: they inherit it
    except (AttributeError, OSError):
        pass
    import torch

    from resnet_viz.train.init_ensemble import measure_init_ensemble

    stdin = sys.stdin.buffer
    while True:
        try:
            request: SamplingRequest = pickle.load(stdin)
        except (EOFError, OSError):
            return

        def progress(done: int, k: int) -> None:
            send(out, ("progress", done, k))

        try:
            ens = measure_init_ensemble(
                request.config,
                torch.from_numpy(request.batch),
                request.k,
                seed=request.seed,
                progress=progress,
                num_classes=request.num_classes,
            )
        except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
            send(out, ("error", f"{type(exc).__name__}: {exc}"))
        else:
            send(out, ("done", ens))


class InitSampler:
    """The parent's side: one child process, started on the first request and reused for later ones.

    Not thread-safe: one thread calls :meth:`measure` and :meth:`close` (the jobs' worker thread).
    """

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def _start(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            [sys.executable, "-m", "resnet_viz.runs.init_sampler"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._inbox = queue.SimpleQueue()
        assert child.stdout is not None
        threading.Thread(
            target=read_messages, args=(child.stdout, self._inbox), name="resnet-viz init sampler reader", daemon=True
        ).start()
        return child

    def measure(
        self,
        request: SamplingRequest,
        cancelled: Callable[[], bool],
        progress: Callable[[int, int], None] | None = None,
    ) -> InitEnsemble:
        """Measure ``request`` in the child; ``cancelled()`` is asked every :data:`POLL_S` and, when true,
        the child is killed and :class:`SamplingCancelled` raised. Raises ``RuntimeError`` (one line)
        when the child fails or ends unexpectedly, ``ValueError`` for a request the measurement refuses."""
        if self._child is None or self._child.poll() is not None:
            self._child = self._start()
        child = self._child
        assert child.stdin is not None
        # written by a thread: the pipe holds 64 KiB and a child still starting reads nothing yet
        threading.Thread(
            target=write_request, args=(child.stdin, request), name="resnet-viz init sampler writer", daemon=True
        ).start()
        while True:
            if cancelled():
                self.close()
                raise SamplingCancelled("cancelled")
            try:
                message = self._inbox.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if message is None:
                self.close()
                raise RuntimeError(_ended_line(child))
            if message[0] == "progress":
                if progress is not None:
                    progress(message[1], message[2])
            elif message[0] == "done":
                ens: InitEnsemble = message[1]
                return ens
            else:
                raise RuntimeError(message[1])

    def close(self) -> None:
        """Kill the child (SIGKILL) without waiting for it; a daemon thread reaps it (no zombie stays)."""
        child, self._child = self._child, None
        if child is None:
            return
        try:
            child.kill()
        except OSError:
            pass
        threading.Thread(target=reap, args=(child,), name="resnet-viz init sampler reaper", daemon=True).start()


def _ended_line(child: subprocess.Popen[bytes]) -> str:
    try:
        code = child.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        return "the sampling process stopped answering"
    if code < 0:
        return f"the sampling process was ended by {signal_name(-code)}"
    return f"the sampling process ended unexpectedly (exit code {code})"


if __name__ == "__main__":
    _child_main()
