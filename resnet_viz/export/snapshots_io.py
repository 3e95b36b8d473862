"""The run folder's parameter snapshots and sharpness probe (format: :mod:`resnet_viz.export.run_folder`).

- ``snapshots/step_0000123.npz``: one :class:`ParameterSnapshot` each (``np.savez``; keys are the parameter
  names, float32 arrays), written atomically (a temporary file moved over) as each arrives.
- ``sharpness.csv``: header ``step,top_eigenvalue,trace,iterations,samples``, one row per
  :class:`SharpnessRecord` appended as it arrives (trace empty when off).

A failed write of either (disk full, ...) does not stop the run: :class:`ObservationFiles` keeps the
files written so far, stops writing these two, and says why in one line (``error``), which the run's
summary.json keeps as ``"snapshots_error"``. The other files go on (a full disk stops them next).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from resnet_viz.export.csv_columns import read_csv_columns
from resnet_viz.export.run_folder_checks import RunFolderError
from resnet_viz.export.run_folder_io import append, fsync_dir, open_new_for_append, write_atomic
from resnet_viz.metrics.records import ParameterSnapshot, Record, SharpnessRecord

SNAPSHOTS_DIR = "snapshots"
SHARPNESS_FILE = "sharpness.csv"
SHARPNESS_COLUMNS = ("step", "top_eigenvalue", "trace", "iterations", "samples")
_SNAPSHOT_NAME = re.compile(r"step_(\d{7,})\.npz")


def snapshot_path(run_folder: Path, step: int) -> Path:
    return run_folder / SNAPSHOTS_DIR / f"step_{step:07d}.npz"


def write_snapshot(folder: Path, snap: ParameterSnapshot, durable: bool = True) -> Path:
    """Write ``snap`` as ``folder/snapshots/step_%07d.npz`` (atomically; the folder made if missing)."""
    path = snapshot_path(Path(folder), snap.step)
    path.parent.mkdir(exist_ok=True)
    arrays: dict[str, Any] = dict(snap.params)
    write_atomic(path, lambda f: np.savez(f, **arrays), durable)
    if durable:
        fsync_dir(path.parent)
    return path


def read_snapshots(run_folder: str | Path) -> list[ParameterSnapshot]:
    """The snapshots of a run folder, sorted by step ([] when none). An unreadable file raises
    :class:`RunFolderError` naming it."""
    folder = Path(run_folder) / SNAPSHOTS_DIR
    if not folder.is_dir():
        return []
    out = []
    for path in folder.iterdir():
        match = _SNAPSHOT_NAME.fullmatch(path.name)
        if match is None:
            continue  # temporary files of an interrupted write, anything else
        try:
            with np.load(path, allow_pickle=False) as npz:
                params = {name: npz[name].astype(np.float32, copy=False) for name in npz.files}
        except (OSError, ValueError, EOFError) as exc:
            raise RunFolderError(path, f"cannot read this snapshot: {exc}".splitlines()[0]) from None
        out.append(ParameterSnapshot(step=int(match.group(1)), params=params))
    return sorted(out, key=lambda s: s.step)


def sharpness_row(r: SharpnessRecord) -> bytes:
    trace = "" if math.isnan(r.trace) else repr(r.trace)
    return f"{r.step},{r.top_eigenvalue!r},{trace},{r.iterations},{r.samples}\n".encode()


def read_sharpness(run_folder: str | Path) -> list[SharpnessRecord]:
    """The records of ``sharpness.csv`` ([] without it; a torn last line is dropped)."""
    path = Path(run_folder) / SHARPNESS_FILE
    if not path.is_file():
        return []
    cols = read_csv_columns(path, names=list(SHARPNESS_COLUMNS), stop_at_damage=True)
    return [
        SharpnessRecord(
            step=int(cols["step"][i]),
            top_eigenvalue=float(cols["top_eigenvalue"][i]),
            trace=float(cols["trace"][i]),
            iterations=int(cols["iterations"][i]),
            samples=int(cols["samples"][i]),
        )
        for i in range(len(cols["step"]))
    ]


class ObservationFiles:
    """Writes the snapshots and sharpness.csv of one run folder as their records arrive (module doc)."""

    def __init__(self, run_folder: Path, durable: bool = True) -> None:
        self.run_folder = run_folder
        self.durable = durable
        self.error: str | None = None  # one line: why these files stopped being written
        self._csv_fd: int | None = None
        self._csv_size = 0

    def start(self) -> None:
        """Remove the snapshots and sharpness.csv of a previous run (files this tool names, nothing else)."""
        (self.run_folder / SHARPNESS_FILE).unlink(missing_ok=True)
        folder = self.run_folder / SNAPSHOTS_DIR
        if folder.is_dir():
            for path in folder.iterdir():
                if _SNAPSHOT_NAME.fullmatch(path.name) or _SNAPSHOT_NAME.fullmatch(path.name[1:-4]):
                    path.unlink(missing_ok=True)

    def add(self, record: Record) -> None:
        """Write a snapshot or a sharpness row (other records are not for these files)."""
        if self.error is not None or not isinstance(record, (ParameterSnapshot, SharpnessRecord)):
            return
        path = snapshot_path(self.run_folder, record.step) if isinstance(record, ParameterSnapshot) else None
        try:
            if isinstance(record, ParameterSnapshot):
                write_snapshot(self.run_folder, record, self.durable)
            else:
                path = self.run_folder / SHARPNESS_FILE
                self._append_row(path, record)
        except OSError as exc:
            where = exc.filename or path
            self.error = f"write failed at step {record.step}: {exc.strerror or type(exc).__name__} ({where})"
            self.close()

    def _append_row(self, path: Path, record: SharpnessRecord) -> None:
        if self._csv_fd is None:
            self._csv_fd = open_new_for_append(path)
            self._csv_size = append(self._csv_fd, (",".join(SHARPNESS_COLUMNS) + "\n").encode(), 0)
        self._csv_size = append(self._csv_fd, sharpness_row(record), self._csv_size)
        if self.durable:
            os.fsync(self._csv_fd)

    def close(self) -> None:
        if self._csv_fd is not None:
            try:
                os.close(self._csv_fd)
            except OSError:
                pass
            self._csv_fd = None


__all__ = [
    "SHARPNESS_COLUMNS",
    "SHARPNESS_FILE",
    "SNAPSHOTS_DIR",
    "ObservationFiles",
    "read_sharpness",
    "read_snapshots",
    "snapshot_path",
    "write_snapshot",
]
