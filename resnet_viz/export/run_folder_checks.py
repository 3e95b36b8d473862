"""Before a run: can a run folder be written at a path, and is there room for what the run will write.
Errors name the path and the reason in one line (:class:`RunFolderError`)."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

from resnet_viz.export.run_folder_format import (
    CSV_ROW_BYTES,
    LOCK_FILE,
    TOOL_FILES,
    histogram_record_dtype,
    layers_record_dtype,
    writer_alive,
)
from resnet_viz.metrics.records import HISTOGRAM_KINDS, LAYER_QUANTITIES


class RunFolderError(ValueError):
    """A run folder cannot be written: ``path`` and the ``reason`` (one line). ``previous_run``: the
    folder holds a run that would be replaced."""

    def __init__(self, path: Path, reason: str, previous_run: bool = False) -> None:
        self.path, self.reason, self.previous_run = Path(path), reason, previous_run
        super().__init__(f"{path}: {reason}")


def _holds_previous_run(path: Path) -> bool:
    """Whether ``path`` holds a run this tool wrote (its run.json, or its lock file of a run starting)."""
    if (path / LOCK_FILE).exists():
        return True
    try:
        doc = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("config"), dict) and "resolved" in doc


def check_run_folder(path: str | Path, replace: bool = False) -> None:
    """Raise :class:`RunFolderError` unless a run folder can be written at ``path`` (before training).

    Refused: ``path`` or a folder above it is a file; the nearest existing folder cannot take a new file
    (a probe file is created, written, synced and removed: read-only, no permission, disk full);
    another process is writing a run there; files with the run folder's names that this tool did not
    write; a previous run when not ``replace`` (``previous_run`` set). Creates nothing (missing folders
    are created when the run starts).
    """
    path = Path(path)
    base = path
    try:
        while not base.exists():
            if base.is_symlink():
                raise RunFolderError(path, f"{base} is a broken symbolic link")
            base = base.parent
        if not base.is_dir():
            what = "is a file, not a folder" if base == path else f"cannot be created: {base} is a file, not a folder"
            raise RunFolderError(path, what)
    except OSError as exc:
        raise RunFolderError(path, f"cannot look at {exc.filename or base}: {exc.strerror or exc}") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".resnet-viz-probe-", dir=base)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise RunFolderError(path, f"cannot write in {base}: {exc.strerror or exc}") from None
    if base != path:
        return
    if writer_alive(path):
        raise RunFolderError(path, "another process is writing a run there (its run.lock is held)")
    ours = _holds_previous_run(path)
    found = [name for name in TOOL_FILES if (path / name).exists()]
    if found and not ours:
        raise RunFolderError(path, f"holds {', '.join(found)}, which resnet-viz did not write; choose another folder")
    if ours and not replace:
        raise RunFolderError(path, "holds a previous run", previous_run=True)


def estimate_run_bytes(
    total_steps: int,
    n_layers: int,
    probe_every: int = 1,
    probes: bool = True,
    histogram_every: int = 0,
    histogram_bins: int = 64,
    *,
    snapshot_bytes: int = 0,
    sharpness_every: int = 0,
) -> int:
    """Bytes a run folder will take at most: metrics.csv rows, layers.bin and layers.npz (the same
    statistics twice), histograms.bin and histograms.npz (twice too), ``snapshot_bytes`` of the parameter
    snapshots (``SnapshotPlan.total_bytes``), sharpness.csv rows, plus 64 KiB for the small files."""
    rows = total_steps * CSV_ROW_BYTES
    probed = math.ceil(total_steps / max(probe_every, 1)) if probes else 0
    layer_bytes = 2 * probed * layers_record_dtype(len(LAYER_QUANTITIES), n_layers).itemsize
    hist = 0
    if probes and histogram_every > 0:
        per_step = len(HISTOGRAM_KINDS) * histogram_record_dtype(n_layers, histogram_bins).itemsize
        hist = 2 * (total_steps // histogram_every) * per_step
    sharpness = (total_steps // sharpness_every + 1) * CSV_ROW_BYTES if sharpness_every > 0 else 0
    return rows + layer_bytes + hist + snapshot_bytes + sharpness + (64 << 10)


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def check_free_space(path: str | Path, need_bytes: int) -> None:
    """Raise :class:`RunFolderError` when the disk of ``path`` (or of its nearest existing folder) has
    less free space than ``need_bytes``, naming both."""
    path = Path(path)
    base = path
    while not base.exists() and base != base.parent:
        base = base.parent
    try:
        free = shutil.disk_usage(base).free
    except OSError:
        return  # no figure to compare with; writing errors are still caught while training
    if free < need_bytes:
        raise RunFolderError(
            path, f"the run will write about {_mb(need_bytes)}, but only {_mb(free)} is free on the disk of {base}"
        )
