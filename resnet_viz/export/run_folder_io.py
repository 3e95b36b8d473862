"""Low-level writes of the run folder's files (format: :mod:`resnet_viz.export.run_folder`): appends cut
back when interrupted, whole-file replaces, an in-place rewrite for a full disk, fsync of a folder, and
Ctrl-C / SIGTERM held off while a record is written."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


@contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (in the main thread, where Python runs signal
    handlers), so a handler that raises (a second Ctrl-C) cannot cut a write between two files or
    leave the writer's offsets behind the files. No-op elsewhere and without ``pthread_sigmask``."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def fsync_dir(path: Path) -> None:
    """Make created, replaced and removed names in ``path`` durable (best effort; not on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def open_new_for_append(path: Path) -> int:
    """A descriptor of ``path``, emptied (created 0644 if missing), open for appends."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)


def opened(fd: int | None) -> int:
    """A data file's descriptor, open while writing (after RunStarted, before a failure or the end)."""
    if fd is None:
        raise RuntimeError("the run folder's files are not open")
    return fd


def fsync_all(*fds: int | None) -> None:
    """fsync each descriptor that is not None (``OSError`` propagates: the data may not be on disk)."""
    for fd in fds:
        if fd is not None:
            os.fsync(fd)


def close_quietly(*fds: int | None) -> None:
    """Close each descriptor that is not None, ignoring errors (the end of writing: nothing to do about them)."""
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def append(fd: int, data: bytes, size: int) -> int:
    """Append ``data`` to the file ``fd`` of ``size`` bytes; returns the new size. Whatever interrupts
    the write (an error, Ctrl-C) cuts the file back to ``size``: no partial record stays behind."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        try:
            os.ftruncate(fd, size)
        except OSError:
            pass
        raise
    return size + len(data)


def write_atomic(path: Path, write: Callable[[BinaryIO], object], durable: bool = True) -> None:
    """Write ``path`` through ``write(binary file)`` into a temporary file beside it, then move it over."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def json_bytes(doc: dict[str, Any], indent: int | None = 2) -> bytes:
    """``doc`` as UTF-8 JSON and a newline (numpy scalars and arrays as numbers and lists)."""
    return (json.dumps(doc, indent=indent, default=_json_default) + "\n").encode("utf-8")


def write_json_atomic(path: Path, doc: dict[str, Any], durable: bool = True, indent: int | None = 2) -> None:
    data = json_bytes(doc, indent)
    write_atomic(path, lambda f: f.write(data), durable)


def overwrite_json(path: Path, doc: dict[str, Any]) -> None:
    """Rewrite an existing file in place (no new file: the last resort on a full disk; not atomic, a
    reader takes a damaged summary.json for a missing one)."""
    data = json_bytes(doc)
    fd = os.open(path, os.O_WRONLY)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)
