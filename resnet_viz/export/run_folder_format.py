"""Names and record layouts of the run folder's files (the format: :mod:`resnet_viz.export.run_folder`),
and whether a process is writing a folder now (the lock on run.lock)."""

from __future__ import annotations

import errno
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from resnet_viz.metrics.records import HISTOGRAM_KINDS as HISTOGRAM_KINDS  # re-exported: it lives there now

try:
    import fcntl
except ImportError:  # Windows: no flock; the writer's pid and host stand in
    fcntl = None  # type: ignore[assignment]

EVAL_COLUMNS = ("train_error", "test_error", "train_loss", "test_loss")
#: The files of a complete run folder (what sessions and exports carry).
RUN_FILES = (
    "run.json",
    "metrics.csv",
    "layers.npz",
    "summary.json",
    "histograms.npz",
    "error.log",
    "checkpoint.pt",
    "sharpness.csv",
)
#: The network's weights at the end of a run that ended well (``resnet_viz.models.checkpoint`` format).
CHECKPOINT_FILE = "checkpoint.pt"
#: Files streamed while the run trains (readers use them when layers.npz is missing).
STREAM_FILES = ("layers.json", "layers.bin", "histograms.json", "histograms.bin")
LOCK_FILE = "run.lock"
#: Every file name the writer writes: the only files it removes from a folder before a new run.
TOOL_FILES = RUN_FILES + STREAM_FILES + (LOCK_FILE,)
RUNNING = "running"
LAYERS_FORMAT = "resnet-viz layers.bin"
HISTOGRAMS_FORMAT = "resnet-viz histograms.bin"
#: Step-0 arrays [L] of RunStarted, kept in layers.json and layers.npz.
INIT_ARRAYS = ("act_mean_init", "act_std_init", "out_grad_norm_init", "grad_norm_init", "theory_act_std_init")
#: bytes of one metrics.csv row, an upper estimate for :func:`estimate_run_bytes`
CSV_ROW_BYTES = 160


def layers_record_dtype(n_quantities: int, n_layers: int) -> np.dtype:
    """One layers.bin record: int64 step, float32 [Q, L]; little-endian, 8 + 4·Q·L bytes."""
    return np.dtype([("step", "<i8"), ("values", "<f4", (n_quantities, n_layers))])


def histogram_record_dtype(n_layers: int, bins: int) -> np.dtype:
    """One histograms.bin record: int64 step, int64 kind (index into the header's kinds), float64
    edges [L, B+1], int64 counts [L, B]; little-endian, 16 + 8·L·(2B+1) bytes."""
    return np.dtype(
        [("step", "<i8"), ("kind", "<i8"), ("edges", "<f8", (n_layers, bins + 1)), ("counts", "<i8", (n_layers, bins))]
    )


def lock_exclusive(fd: int, folder: Path) -> None:
    """Take the writer's exclusive flock on run.lock (open as ``fd``) for the whole run; ``OSError``
    (EBUSY) when another process holds it. Without ``fcntl`` the summary's writer pid and host stand in."""
    if fcntl is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OSError(errno.EBUSY, "another process is writing a run there", str(folder)) from None


def writer_alive(path: str | Path, summary: dict[str, Any] | None = None) -> bool:
    """Whether a process is writing the run folder ``path`` now: it holds the flock on run.lock.
    Without ``fcntl``: the summary's writer runs on this host and its pid exists (POSIX only)."""
    lock = Path(path) / LOCK_FILE
    if fcntl is not None:
        try:
            fd = os.open(lock, os.O_RDONLY)
        except OSError:
            return False
        try:
            for _ in range(3):  # a second reader can hold it for an instant
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    time.sleep(0.02)
                    continue
                fcntl.flock(fd, fcntl.LOCK_UN)
                return False
            return True
        finally:
            os.close(fd)
    writer = (summary or {}).get("writer") or {}
    if os.name != "posix" or writer.get("host") != socket.gethostname() or not isinstance(writer.get("pid"), int):
        return False
    try:
        os.kill(writer["pid"], 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
