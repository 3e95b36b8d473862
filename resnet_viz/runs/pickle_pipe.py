"""Pickled messages over a child process's stdin and stdout: the helpers the child processes of
:mod:`resnet_viz.runs.init_sampler` and :mod:`resnet_viz.landscape.job` share (each runs in a daemon thread
of the parent, or in the child for :func:`send`)."""

from __future__ import annotations

import pickle
import queue
import subprocess
from typing import IO, Any


def send(out: IO[bytes], message: Any) -> None:
    """Write one pickled message and flush it."""
    pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def read_messages(stream: IO[bytes], inbox: queue.SimpleQueue[Any]) -> None:
    """Reader thread: every message of the child into ``inbox``, then ``None`` at its end."""
    try:
        while True:
            inbox.put(pickle.load(stream))
    except (EOFError, OSError, pickle.UnpicklingError, ValueError):
        inbox.put(None)


def write_request(stream: IO[bytes], request: Any) -> None:
    """Writer thread: one request to the child (a pipe holds 64 KiB, and a child still starting reads
    nothing yet); if the child ends meanwhile, its reader reports it."""
    try:
        send(stream, request)
    except (OSError, ValueError):
        pass


def reap(child: subprocess.Popen[bytes]) -> None:
    """Reaper thread of a killed child: wait for it (so no zombie stays), then close its pipes."""
    try:
        child.wait()
    finally:
        for stream in (child.stdin, child.stdout):
            try:
                if stream is not None:
                    stream.close()
            except (OSError, ValueError):
                pass
