"""Writing a file so that success is claimed only for a file that exists afterwards.

:func:`write_atomically` lets a writer fill a temporary file beside the target, checks that the writer
reported success and left a non-empty file, then moves it over the target (``os.replace``): a failed
write leaves neither a partial file nor a damaged previous one. Every failure is a :class:`WriteError`
whose one-line message names the path and the reason in words (permission, disk full, ...).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the disk",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is too large for this file system",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EISDIR: "it is a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "the folder does not exist",
    errno.EEXIST: "it already exists",
    errno.EIO: "input/output error",
}


class WriteError(OSError):
    """A file could not be written; the message (one line) names the path and why."""

    def __init__(self, path: str | Path, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = Path(path)
        self.why = why

    def __str__(self) -> str:
        return str(self.args[0])


def reason(exc: BaseException) -> str:
    """A short reason in words for a failed write (``OSError`` by errno; else the exception's own text)."""
    if isinstance(exc, WriteError):
        return exc.why
    if isinstance(exc, OSError) and exc.errno in _REASONS:
        return _REASONS[exc.errno]
    if isinstance(exc, MemoryError):
        return "not enough memory"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_target(path: Path) -> None:
    """Refuse, before anything is written, a target that is a folder or not a regular file (e.g. a device)."""
    if path.is_dir():
        raise WriteError(path, "it is a folder")
    if path.exists() and not path.is_file():
        raise WriteError(path, "it is not a regular file")
    check_folders_above(path)
    if not path.parent.exists():
        raise WriteError(path, f"the folder {path.parent} does not exist")


def check_folders_above(path: Path) -> None:
    """:class:`WriteError` when the nearest existing path above ``path`` is a file, not a folder."""
    for above in path.parents:
        if above.exists():
            if not above.is_dir():
                raise WriteError(path, f"{above} is a file, not a folder")
            return


def check_written(path: str | Path) -> Path:
    """``path`` if it is a non-empty regular file, else :class:`WriteError`."""
    path = Path(path)
    if not path.is_file():
        raise WriteError(path, "the file is not there after writing")
    if path.stat().st_size == 0:
        raise WriteError(path, "the file is empty after writing")
    return path


def write_atomically(path: str | Path, write: Callable[[Path], object], *, mode: int | None = None) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, check it, and move it over ``path``.

    ``write`` returns False (e.g. ``QImage.save``) or raises on failure; a True/None result still needs a
    non-empty file. The new file gets ``mode``, else the previous file's permissions, else 0644.
    Returns ``path``; raises :class:`WriteError` (nothing changed at ``path``) on any failure.
    """
    path = Path(path)
    check_target(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name[:60]}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteError(path, reason(exc)) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            ok = write(tmp)
        except WriteError:
            raise
        except (OSError, MemoryError) as exc:
            raise WriteError(path, reason(exc)) from None
        if ok is False or not tmp.is_file() or tmp.stat().st_size == 0:
            why = "the writer reported a failure" if ok is False else "nothing was written"
            if shutil.disk_usage(path.parent).free == 0:
                why = _REASONS[errno.ENOSPC]
            raise WriteError(path, why)
        if mode is None:
            mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
        try:
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except OSError as exc:
            raise WriteError(path, reason(exc)) from None
    finally:
        tmp.unlink(missing_ok=True)
    return check_written(path)


def check_writable(path: str | Path) -> Path:
    """Check, before any work and creating nothing, that a file can be created at ``path``: a temporary
    file is created (and removed) in its folder, or in the nearest existing folder above it when the
    folder is still to be made. :class:`WriteError` says why not."""
    path = Path(path)
    check_folders_above(path)
    if path.parent.exists():
        check_target(path)
    probe_in = next(p for p in path.parents if p.exists())
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".resnet-viz-probe.", suffix=".tmp", dir=probe_in)
    except OSError as exc:
        raise WriteError(path, reason(exc)) from None
    os.close(fd)
    os.unlink(tmp_name)
    return path


def make_folder(path: str | Path) -> Path:
    """``mkdir -p`` of ``path``; :class:`WriteError` naming it and why when it cannot be made."""
    path = Path(path)
    check_folders_above(path / "x")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(path, reason(exc)) from None
    return path
