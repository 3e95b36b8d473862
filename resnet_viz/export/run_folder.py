"""The run folder: the on-disk format of one run, written as the run goes and read back.

====================  ====================================================================================
``run.json``          ``{"config": RunConfig dict, "resolved": derived values, "device", "versions", "label",
                      "created"}``; written when the run starts.
``summary.json``      status, steps, final errors and losses, steps_per_s, params, device, message. Written when
                      the run starts with status ``"running"`` and ``"writer": {"pid", "host", "started"}``,
                      rewritten when it ends with the final status (``finished``, ``stopped``, ``diverged at
                      step k``, ``out of memory``, ``failed``, ``write failed at step k: <reason> (<path>)``).
``metrics.csv``       header, then one row per step: step, loss, batch_error, lr, step_time_s, then
                      train_error, test_error, train_loss, test_loss on evaluation rows (empty elsewhere).
                      Errors are fractions. Rows are written as the steps are reported (≤ 10 times a second).
``layers.json``       the layout of layers.bin and the layers: ``{"format": "resnet-viz layers.bin",
                      "version": 1, "byte_order": "little", "step_dtype": "int64", "dtype": "float32",
                      "quantities": [Q names], "n_layers": L, "record_bytes": 8 + 4·Q·L, "layer_names",
                      "layer_kinds", "layer_roles", "layer_stages", "layer_blocks", "layer_fan_in",
                      "layer_params"`` [L], ``"act_mean_init", "act_std_init", "out_grad_norm_init",
                      "grad_norm_init", "theory_act_std_init"`` [L] (step 0; non-finite values as the
                      strings ``"nan"``, ``"inf"``, ``"-inf"``)}; written when the run starts.
``layers.bin``        one fixed-size record per probed step, appended as the steps are reported: int64 step,
                      then float32 [Q, L] (quantities in the order of ``layers.json``, which is
                      ``LAYER_QUANTITIES``), little-endian, no padding. ``numpy.fromfile(path, dtype=[("step",
                      "<i8"), ("values", "<f4", (Q, L))])`` reads it.
``layers.npz``        the same statistics as one archive, written when the run ends (compatibility; readers
                      use layers.json + layers.bin without it): layer_names [L], ``step`` [K]; grad_norm,
                      out_grad_norm, act_mean, act_std, response_std, update_ratio [K, L]; the step-0
                      arrays [L].
``histograms.json``   with histograms on, at the first one: ``{"format": "resnet-viz histograms.bin",
                      "version": 1, "byte_order": "little", "kinds": ["activation", "gradient"],
                      "n_layers": L, "bins": B, "record_bytes": 16 + 8·L·(2B+1)}``.
``histograms.bin``    one record per histogram, appended as reported: int64 step, int64 kind (index
                      into ``kinds``), float64 edges [L, B+1], int64 counts [L, B]; little-endian.
``histograms.npz``    the same as one archive, written when the run ends (readers use the .bin without it).
``error.log``         only when the run failed: the traceback.
``run.lock``          exists while a process writes the folder, which holds an exclusive ``fcntl.flock`` on
                      it for the whole run; removed when the run ends.
====================  ====================================================================================

What survives a kill (SIGKILL, a crash, a power cut). Every record is written with ``os.write`` as
it arrives (no buffering in the process), so after SIGKILL everything reported so far is on disk;
the data files are also ``fsync``-ed at most once a second (``fsync_interval_s``) and at the end, so
a power cut loses at most about the last second. Why fixed-size records and not a well-kept archive
format: a zip (npz) or HDF5 file is readable only once its index or metadata is written at close, so
a killed writer leaves nothing usable; a file of fixed-size records needs no index, its length alone
says how many whole records it holds, and a record cut by a kill is a short tail the reader ignores.
The reader keeps the longest prefix of records whose steps are ≥ 1 and increasing (a tail of zeros
that a power cut can leave is dropped) and, in metrics.csv, only lines that end with a newline and
parse. summary.json, run.json, layers.json, layers.npz and histograms.npz are written to a temporary
file and moved over the old one (``os.replace``), so each is either the old or the new file, whole.
metrics.csv's only rewrite: an evaluation reported after its step's row (the final evaluation of a
stopped run) replaces that last row in place. A killed run thus loses at most the rows whose write it
interrupted (the reader drops a torn row), and its summary.json says ``"running"``. Ctrl-C and SIGTERM
wait while a record is written (main thread), so a handler that raises cannot cut one in two.

Live or dead. A folder whose summary.json says ``"running"`` is being written when another process
holds the lock on run.lock (a flock ends with its process, whatever the way, so a reused pid cannot
fool it); otherwise (or when summary.json is missing) the run was interrupted: :func:`read_run_folder`
reports status ``interrupted at step k``, k the last step on disk. Without ``fcntl`` (Windows) the
writer's pid and host stand in (same host and the pid exists). A ``"running"`` summary without a
``writer`` is a snapshot of a run that was training (``resnet_viz.export.replay.write_run_folder``).

The code: this module writes (:class:`RunFolderWriter`); :mod:`~resnet_viz.export.run_folder_read` reads
back, :mod:`~resnet_viz.export.run_folder_checks` checks a folder before a run, and
:mod:`~resnet_viz.export.run_folder_format` holds the names and record layouts. Their public names can be
imported from here.

Writing never raises into the run: a failed write (``OSError``: disk full, folder removed, ...) stops
writing, calls ``on_write_error`` (the CLI stops the engine), keeps the files written so far, and the
final summary.json says ``write failed at step k: <reason> (<path>)`` when it can still be written.
:func:`check_run_folder` and :func:`check_free_space` find most of these before training starts.
"""

from __future__ import annotations

import csv
import datetime as _dt
import errno
import io
import json
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from resnet_viz.export.run_folder_checks import (
    RunFolderError,
    check_free_space,
    check_run_folder,
    estimate_run_bytes,
)
from resnet_viz.export.run_folder_format import (
    EVAL_COLUMNS,
    HISTOGRAM_KINDS,
    HISTOGRAMS_FORMAT,
    INIT_ARRAYS,
    LAYERS_FORMAT,
    LOCK_FILE,
    RUN_FILES,
    RUNNING,
    STREAM_FILES,
    TOOL_FILES,
    fcntl,
    histogram_record_dtype,
    layers_record_dtype,
    writer_alive,
)
from resnet_viz.export.run_folder_read import RunFolder, read_run_folder, read_streamed_histograms
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    HistogramRecord,
    Record,
    RunFinished,
    RunStarted,
    TrainChunk,
)
from resnet_viz.metrics.store import METRIC_COLUMNS, RunStore

#: The run folder's API in one place: the writer is here, reading, checking and the format beside it.
__all__ = [
    "EVAL_COLUMNS",
    "HISTOGRAM_KINDS",
    "INIT_ARRAYS",
    "LOCK_FILE",
    "RUNNING",
    "RUN_FILES",
    "STREAM_FILES",
    "TOOL_FILES",
    "RunFolder",
    "RunFolderError",
    "RunFolderWriter",
    "check_free_space",
    "check_run_folder",
    "estimate_run_bytes",
    "histogram_record_dtype",
    "layers_record_dtype",
    "read_run_folder",
    "read_streamed_histograms",
    "summary_dict",
    "write_histograms_npz",
    "writer_alive",
]


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.9g}"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean(value: Any) -> Any:
    """NaN/inf become null so the JSON stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_dict(finished: RunFinished, label: str = "") -> dict[str, Any]:
    out = {
        "label": label,
        "status": finished.status,
        "steps": finished.steps,
        "final_train_error": _clean(finished.final_train_error),
        "final_test_error": _clean(finished.final_test_error),
        "final_train_loss": _clean(finished.final_train_loss),
        "final_test_loss": _clean(finished.final_test_loss),
        "final_eval_step": finished.extra.get("final_eval_step"),
        "steps_per_s": finished.steps_per_s,
        "elapsed_s": finished.elapsed_s,
        "params": finished.params,
        "device": finished.device,
        "message": finished.message,
    }
    return out


def _json_floats(values: np.ndarray) -> list[float | str]:
    """Exact floats for JSON; non-finite ones as "nan", "inf", "-inf" so the JSON stays standard."""
    return [v if math.isfinite(v) else str(v) for v in np.asarray(values, dtype=np.float64).tolist()]


@contextmanager
def _signals_deferred() -> Iterator[None]:
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


def _fsync_dir(path: Path) -> None:
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


def _write_atomic(path: Path, write: Callable[[Any], None], durable: bool = True) -> None:
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


def _write_json_atomic(path: Path, doc: dict[str, Any], durable: bool = True, indent: int | None = 2) -> None:
    data = (json.dumps(doc, indent=indent, default=_json_default) + "\n").encode("utf-8")
    _write_atomic(path, lambda f: f.write(data), durable)


def _overwrite_json(path: Path, doc: dict[str, Any]) -> None:
    """Rewrite an existing file in place (no new file: the last resort on a full disk; not atomic, a
    reader takes a damaged summary.json for a missing one)."""
    data = (json.dumps(doc, indent=2, default=_json_default) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


class RunFolderWriter:
    """A record callback that writes a run folder (format: module doc). Keeps a :class:`RunStore` of
    everything as ``store``.

    Nothing on disk is touched before ``RunStarted`` (the run has loaded its data and built its model):
    then the folder is created, the files of a previous run (``TOOL_FILES``, nothing else) are removed
    and the new ones started. ``OSError`` while writing never propagates: it stops the writing, sets
    ``error`` (the exception) and ``write_error`` (the status line), and calls ``on_write_error``.
    ``durable``: fsync the data files at most every ``fsync_interval_s`` seconds and at the end.
    """

    def __init__(
        self,
        out_dir: str | Path,
        on_write_error: Callable[[], None] | None = None,
        *,
        durable: bool = True,
        fsync_interval_s: float = 1.0,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.on_write_error = on_write_error
        self.durable = durable
        self.fsync_interval_s = fsync_interval_s
        self.store = RunStore()
        self.error: OSError | None = None
        self.write_error: str | None = None
        self.error_path: Path | None = None  # the file whose write failed
        self._writing = False  # files opened (after RunStarted), and no write failed since
        self._lock_fd: int | None = None
        self._locked = False  # this writer holds run.lock (and so may write the folder)
        self._csv_fd: int | None = None
        self._bin_fd: int | None = None
        self._hist_fd: int | None = None
        self._hist_shape: tuple[int, int] | None = None  # (L, B) of histograms.bin
        self._csv_size = 0
        self._bin_size = 0
        self._last_row: dict[str, Any] | None = None  # the last row written, and where it starts
        self._last_row_at = 0
        self._evals: dict[int, EvalRecord] = {}
        self._current = self.out_dir  # the file being written, for the error message
        self.steps_on_disk = 0  # the last step whose metrics.csv row is written
        self._last_fsync = 0.0

    # --- records ---------------------------------------------------------------------------------
    def __call__(self, record: Record) -> None:
        with _signals_deferred():
            self._record(record)

    def _record(self, record: Record) -> None:
        self.store.add(record)
        if isinstance(record, RunFinished):
            self._finish(record)
            return
        if not self._writing and not isinstance(record, RunStarted):
            return  # before the run started, or after a write failed
        try:
            if isinstance(record, RunStarted):
                self._start(record)
            elif isinstance(record, EvalRecord):
                self._evals[record.step] = record
                if self._last_row is not None and self._last_row["step"] == record.step:
                    self._rewrite_last_row(record)
            elif isinstance(record, TrainChunk):
                self._append_chunk(record)
            elif isinstance(record, HistogramRecord):
                self._append_histogram(record)
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        if self.error is not None:
            return
        self.error = exc
        where = self.error_path = Path(exc.filename or self._current)
        self.write_error = (
            f"write failed at step {self.store.steps_done}: {exc.strerror or type(exc).__name__} ({where})"
        )
        self._writing = False
        self._close_files()
        if self.on_write_error is not None:
            self.on_write_error()

    # --- start -----------------------------------------------------------------------------------
    def _start(self, started: RunStarted) -> None:
        out = self.out_dir
        out.mkdir(parents=True, exist_ok=True)
        self._current = out / LOCK_FILE
        self._lock_fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OSError(errno.EBUSY, "another process is writing a run there", str(out)) from None
        self._locked = True
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        for name in TOOL_FILES:  # a run folder holds one run: the files of a previous one go, nothing else
            if name != LOCK_FILE:
                (out / name).unlink(missing_ok=True)
                (out / f".{name}.tmp").unlink(missing_ok=True)
        self._current = out / "summary.json"
        _write_json_atomic(out / "summary.json", self._running_summary(started), self.durable)
        self._current = out / "layers.json"
        _write_json_atomic(out / "layers.json", self._layers_header(started), self.durable, indent=None)
        self._current = out / "layers.bin"
        self._bin_fd = os.open(out / "layers.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        self._current = out / "metrics.csv"
        self._csv_fd = os.open(out / "metrics.csv", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        self._writing = True
        self._csv_size = self._append(self._csv_fd, self._csv_bytes([list(METRIC_COLUMNS)]), 0)
        self._current = out / "run.json"
        _write_json_atomic(out / "run.json", self._run_doc(started), self.durable)
        if self.durable:
            _fsync_dir(out)
        self._last_fsync = time.monotonic()

    def _running_summary(self, started: RunStarted) -> dict[str, Any]:
        return {
            "label": started.label,
            "status": RUNNING,
            "steps": 0,
            "final_train_error": None,
            "final_test_error": None,
            "final_train_loss": None,
            "final_test_loss": None,
            "final_eval_step": None,
            "steps_per_s": 0.0,
            "elapsed_s": 0.0,
            "params": started.params,
            "device": started.device,
            "message": f"training: {started.total_steps} steps; this file is rewritten when the run ends",
            "writer": {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            },
        }

    @staticmethod
    def _layers_header(started: RunStarted) -> dict[str, Any]:
        info = started.layers
        n = len(info.names)
        return {
            "format": LAYERS_FORMAT,
            "version": 1,
            "byte_order": "little",
            "step_dtype": "int64",
            "dtype": "float32",
            "quantities": list(LAYER_QUANTITIES),
            "n_layers": n,
            "record_bytes": layers_record_dtype(len(LAYER_QUANTITIES), n).itemsize,
            "layer_names": list(info.names),
            "layer_kinds": list(info.kinds),
            "layer_roles": list(info.roles),
            "layer_stages": np.asarray(info.stages).tolist(),
            "layer_blocks": np.asarray(info.blocks).tolist(),
            "layer_fan_in": np.asarray(info.fan_in).tolist(),
            "layer_params": np.asarray(info.params).tolist(),
            **{name: _json_floats(getattr(started, name)) for name in INIT_ARRAYS},
        }

    @staticmethod
    def _run_doc(started: RunStarted) -> dict[str, Any]:
        return {
            "label": started.label,
            "config": started.config,
            "resolved": started.resolved,
            "device": started.device,
            "versions": started.versions,
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }

    # --- while training --------------------------------------------------------------------------
    def _append(self, fd: int, data: bytes, size: int) -> int:
        """Append ``data`` to a file of ``size`` bytes; returns the new size. Whatever interrupts the
        write (an error, Ctrl-C) cuts the file back to ``size``: no partial record stays behind."""
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

    @staticmethod
    def _csv_bytes(rows: list[list[str]]) -> bytes:
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        return text.getvalue().encode("utf-8")

    @staticmethod
    def _row_cells(row: dict[str, Any]) -> list[str]:
        return [_fmt(row.get(col, float("nan"))) for col in METRIC_COLUMNS]

    def _append_chunk(self, chunk: TrainChunk) -> None:
        rows = []
        for i in range(len(chunk)):
            row = {
                "step": int(chunk.step[i]),
                "loss": chunk.loss[i],
                "batch_error": chunk.batch_error[i],
                "lr": chunk.lr[i],
                "step_time_s": chunk.step_time_s[i],
            }
            ev = self._evals.get(row["step"])
            if ev is not None:
                for col in EVAL_COLUMNS:
                    row[col] = getattr(ev, col)
            rows.append(row)
        if rows:
            self._current = self.out_dir / "metrics.csv"
            head = self._csv_bytes([self._row_cells(r) for r in rows[:-1]])
            last = self._csv_bytes([self._row_cells(rows[-1])])
            self._csv_size = self._append(self._csv_fd, head + last, self._csv_size)
            self._last_row, self._last_row_at = rows[-1], self._csv_size - len(last)
        if chunk.layers is not None and chunk.layer_step is not None and len(chunk.layer_step):
            self._current = self.out_dir / "layers.bin"
            k, n = len(chunk.layer_step), chunk.layers.grad_norm.shape[1]
            records = np.empty(k, dtype=layers_record_dtype(len(LAYER_QUANTITIES), n))
            records["step"] = chunk.layer_step
            for qi, q in enumerate(LAYER_QUANTITIES):
                records["values"][:, qi, :] = getattr(chunk.layers, q)
            self._bin_size = self._append(self._bin_fd, records.tobytes(), self._bin_size)
        if rows:
            self.steps_on_disk = rows[-1]["step"]
        if self.durable and time.monotonic() - self._last_fsync >= self.fsync_interval_s:
            self._fsync_files()

    def _append_histogram(self, h: HistogramRecord) -> None:
        """Append to histograms.bin (opened, and histograms.json written, at the first histogram).
        A histogram of another kind or shape than the first stays for histograms.npz only."""
        n, bins = h.counts.shape
        if self._hist_fd is None:
            self._hist_shape = (n, bins)
            self._current = self.out_dir / "histograms.json"
            _write_json_atomic(
                self.out_dir / "histograms.json",
                {
                    "format": HISTOGRAMS_FORMAT,
                    "version": 1,
                    "byte_order": "little",
                    "kinds": list(HISTOGRAM_KINDS),
                    "n_layers": n,
                    "bins": bins,
                    "record_bytes": histogram_record_dtype(n, bins).itemsize,
                },
                self.durable,
                indent=None,
            )
            self._hist_fd = os.open(
                self.out_dir / "histograms.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644
            )
        if (n, bins) != self._hist_shape or h.kind not in HISTOGRAM_KINDS:
            return
        record = np.zeros(1, dtype=histogram_record_dtype(n, bins))
        record["step"], record["kind"] = h.step, HISTOGRAM_KINDS.index(h.kind)
        record["edges"][0], record["counts"][0] = h.edges, h.counts
        self._current = self.out_dir / "histograms.bin"
        self._append(self._hist_fd, record.tobytes(), os.fstat(self._hist_fd).st_size)

    def _rewrite_last_row(self, ev: EvalRecord) -> None:
        """An evaluation of the step already written last (the final evaluation of a stopped run)."""
        row = dict(self._last_row)
        for col in EVAL_COLUMNS:
            row[col] = getattr(ev, col)
        self._current = self.out_dir / "metrics.csv"
        os.ftruncate(self._csv_fd, self._last_row_at)
        self._csv_size = self._append(self._csv_fd, self._csv_bytes([self._row_cells(row)]), self._last_row_at)
        self._last_row = row

    def _fsync_files(self) -> None:
        for fd in (self._csv_fd, self._bin_fd, self._hist_fd):
            if fd is not None:
                os.fsync(fd)
        self._last_fsync = time.monotonic()

    def _close_files(self) -> None:
        for name in ("_csv_fd", "_bin_fd", "_hist_fd"):
            fd = getattr(self, name)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, None)

    # --- end -------------------------------------------------------------------------------------
    def _finish(self, finished: RunFinished) -> None:
        if self.store.started is None or not self._locked:
            self._release_lock()
            return  # nothing of this run is on disk (it failed before its first step, or writing could not start)
        out = self.out_dir
        if self._writing:
            try:
                if self.durable:
                    self._current = out / "metrics.csv"
                    self._fsync_files()
                self._close_files()
                self._current = out / "layers.npz"
                arrays = self.store.layer_arrays()
                _write_atomic(out / "layers.npz", lambda f: np.savez(f, **arrays), self.durable)
                if self.store.histograms:
                    self._current = out / "histograms.npz"
                    _write_atomic(out / "histograms.npz", lambda f: write_histograms_npz(f, self.store), self.durable)
                if "traceback" in finished.extra:
                    self._current = out / "error.log"
                    _write_atomic(
                        out / "error.log", lambda f: f.write(finished.extra["traceback"].encode()), self.durable
                    )
            except OSError as exc:
                self._failed(exc)
        self._close_files()
        self._writing = False
        doc = summary_dict(finished, self.store.started.label)
        if self.write_error is not None:
            doc["status"] = self.write_error
            doc["message"] = (
                f"writing {self.error_path} failed "
                f"({self.error.strerror or self.error}), so the run was stopped; "
                f"the files keep every step up to {self.steps_on_disk}"
            )
        try:
            _write_json_atomic(out / "summary.json", doc, self.durable)
            if self.durable:
                _fsync_dir(out)
        except OSError as exc:
            self._failed(exc)
            try:  # a full disk has no room for a second file: overwrite the blocks of the "running" one
                _overwrite_json(out / "summary.json", doc)
            except OSError:  # it keeps saying "running": the folder reads as interrupted
                pass
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is None:
            return
        if self._locked:
            try:
                (self.out_dir / LOCK_FILE).unlink(missing_ok=True)
            except OSError:
                pass
        try:
            os.close(self._lock_fd)  # releases the flock
        except OSError:
            pass
        self._lock_fd = None
        self._locked = False


def write_histograms_npz(path: Path | Any, store: RunStore) -> None:
    """``{kind}_step`` [H], ``{kind}_edges`` [H, L, B+1], ``{kind}_counts`` [H, L, B] per kind
    (``path``: a path or a binary file)."""
    out: dict[str, np.ndarray] = {}
    for kind in sorted({h.kind for h in store.histograms}):
        hs = [h for h in store.histograms if h.kind == kind]
        out[f"{kind}_step"] = np.array([h.step for h in hs], dtype=np.int64)
        out[f"{kind}_edges"] = np.stack([h.edges for h in hs])
        out[f"{kind}_counts"] = np.stack([h.counts for h in hs])
    np.savez(path, **out)
