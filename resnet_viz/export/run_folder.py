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
                      "<i8"), ("values", "<f4", (Q, L))])`` reads it. A quantity missing from an older
                      folder's list (``dead_fraction``) reads NaN.
``layers.npz``        the same statistics as one archive, written when the run ends (compatibility; readers
                      use layers.json + layers.bin without it): layer_names [L], ``step`` [K]; grad_norm,
                      out_grad_norm, act_mean, act_std, response_std, update_ratio, dead_fraction [K, L]
                      (missing in older folders: read NaN); the step-0 arrays [L].
``histograms.json``   with histograms on, at the first one: ``{"format": "resnet-viz histograms.bin",
                      "version": 1, "byte_order": "little", "kinds": ["activation", "gradient", "weight"]
                      (older folders: the first two), "n_layers": L, "bins": B, "record_bytes": 16 +
                      8·L·(2B+1)}``.
``histograms.bin``    one record per histogram, appended as reported: int64 step, int64 kind (index
                      into ``kinds``), float64 edges [L, B+1], int64 counts [L, B]; little-endian.
``histograms.npz``    the same as one archive, written when the run ends (readers use the .bin without it):
                      ``{kind}_step`` [H], ``{kind}_edges`` [H, L, B+1], ``{kind}_counts`` [H, L, B] per kind.
``error.log``         only when the run failed: the traceback.
``checkpoint.pt``     the weights when the run ends, if it finished or stopped with finite ones (run_folder_docs).
``snapshots/``        ``step_0000123.npz``: the parameters at ``train.snapshots`` steps (:mod:`.snapshots_io`).
``sharpness.csv``     with ``--sharpness-every K``: step, top_eigenvalue, trace, iterations, samples.
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

The code: this module writes (:class:`RunFolderWriter`), :mod:`~resnet_viz.export.run_folder_docs` builds
what each file holds and :mod:`~resnet_viz.export.run_folder_io` does the durable writes;
:mod:`~resnet_viz.export.run_folder_read` reads back, :mod:`~resnet_viz.export.run_folder_checks` checks a
folder before a run, and :mod:`~resnet_viz.export.run_folder_format` holds the names and record layouts.
Their public names can be imported from here.

Writing never raises into the run: a failed write (``OSError``: disk full, folder removed, ...) stops
writing, calls ``on_write_error`` (the CLI stops the engine), keeps the files written so far, and the
final summary.json says ``write failed at step k: <reason> (<path>)`` when it can still be written.
:func:`check_run_folder` and :func:`check_free_space` find most of these before training starts.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnet_viz.export.run_folder_checks import (
    RunFolderError,
    check_free_space,
    check_run_folder,
    estimate_run_bytes,
)
from resnet_viz.export.run_folder_docs import (
    chunk_rows,
    csv_bytes,
    histogram_record,
    histograms_header,
    layers_header,
    layers_records,
    row_cells,
    run_doc,
    running_summary,
    summary_dict,
    with_eval,
    write_checkpoint_file,
    write_histograms_npz,
    write_layers_npz,
)
from resnet_viz.export.run_folder_format import (
    CHECKPOINT_FILE,
    EVAL_COLUMNS,
    HISTOGRAM_KINDS,
    INIT_ARRAYS,
    LOCK_FILE,
    RUN_FILES,
    RUNNING,
    STREAM_FILES,
    TOOL_FILES,
    histogram_record_dtype,
    layers_record_dtype,
    lock_exclusive,
    writer_alive,
)
from resnet_viz.export.run_folder_io import (
    append,
    close_quietly,
    fsync_all,
    fsync_dir,
    open_new_for_append,
    opened,
    overwrite_json,
    signals_deferred,
    write_atomic,
    write_json_atomic,
)
from resnet_viz.export.run_folder_read import RunFolder, read_run_folder, read_streamed_histograms
from resnet_viz.export.snapshots_io import ObservationFiles
from resnet_viz.metrics.records import EvalRecord, HistogramRecord, Record, RunFinished, RunStarted, TrainChunk
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
        self.observations = ObservationFiles(self.out_dir, durable)  # snapshots/ and sharpness.csv

    # --- records ---------------------------------------------------------------------------------
    def __call__(self, record: Record) -> None:
        with signals_deferred():
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
                    self._rewrite_last_row(self._last_row, record)
            elif isinstance(record, TrainChunk):
                self._append_chunk(record)
            elif isinstance(record, HistogramRecord):
                self._append_histogram(record)
            else:  # snapshots and sharpness: a failed write of theirs is one line in summary.json, not a stop
                self.observations.add(record)
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
        self._lock_fd = lock_fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        lock_exclusive(lock_fd, out)
        self._locked = True
        os.ftruncate(lock_fd, 0)
        os.write(lock_fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        for name in TOOL_FILES:  # a run folder holds one run: the files of a previous one go, nothing else
            if name != LOCK_FILE:
                (out / name).unlink(missing_ok=True)
                (out / f".{name}.tmp").unlink(missing_ok=True)
        self.observations.start()
        self._current = out / "summary.json"
        write_json_atomic(out / "summary.json", running_summary(started), self.durable)
        self._current = out / "layers.json"
        write_json_atomic(out / "layers.json", layers_header(started), self.durable, indent=None)
        self._current = out / "layers.bin"
        self._bin_fd = open_new_for_append(out / "layers.bin")
        self._current = out / "metrics.csv"
        self._csv_fd = csv_fd = open_new_for_append(out / "metrics.csv")
        self._writing = True
        self._csv_size = append(csv_fd, csv_bytes([list(METRIC_COLUMNS)]), 0)
        self._current = out / "run.json"
        write_json_atomic(out / "run.json", run_doc(started), self.durable)
        if self.durable:
            fsync_dir(out)
        self._last_fsync = time.monotonic()

    # --- while training --------------------------------------------------------------------------
    def _append_chunk(self, chunk: TrainChunk) -> None:
        rows = chunk_rows(chunk, self._evals)
        if rows:
            self._current = self.out_dir / "metrics.csv"
            head = csv_bytes([row_cells(r) for r in rows[:-1]])
            last = csv_bytes([row_cells(rows[-1])])
            self._csv_size = append(opened(self._csv_fd), head + last, self._csv_size)
            self._last_row, self._last_row_at = rows[-1], self._csv_size - len(last)
        records = layers_records(chunk)
        if records is not None:
            self._current = self.out_dir / "layers.bin"
            self._bin_size = append(opened(self._bin_fd), records.tobytes(), self._bin_size)
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
            write_json_atomic(self.out_dir / "histograms.json", histograms_header(n, bins), self.durable, indent=None)
            self._hist_fd = open_new_for_append(self.out_dir / "histograms.bin")
        if (n, bins) != self._hist_shape or h.kind not in HISTOGRAM_KINDS:
            return
        self._current = self.out_dir / "histograms.bin"
        append(self._hist_fd, histogram_record(h).tobytes(), os.fstat(self._hist_fd).st_size)

    def _rewrite_last_row(self, last_row: dict[str, Any], ev: EvalRecord) -> None:
        """An evaluation of the step already written last (the final evaluation of a stopped run)."""
        row = with_eval(last_row, ev)
        self._current = self.out_dir / "metrics.csv"
        csv_fd = opened(self._csv_fd)
        os.ftruncate(csv_fd, self._last_row_at)
        self._csv_size = append(csv_fd, csv_bytes([row_cells(row)]), self._last_row_at)
        self._last_row = row

    def _fsync_files(self) -> None:
        fsync_all(self._csv_fd, self._bin_fd, self._hist_fd)
        self._last_fsync = time.monotonic()

    def _close_files(self) -> None:
        close_quietly(self._csv_fd, self._bin_fd, self._hist_fd)
        self.observations.close()
        self._csv_fd = self._bin_fd = self._hist_fd = None

    # --- end -------------------------------------------------------------------------------------
    def _finish(self, finished: RunFinished) -> None:
        if self.store.started is None or not self._locked:
            self._release_lock()
            return  # nothing of this run is on disk (it failed before its first step, or writing could not start)
        out = self.out_dir
        if self._writing:
            try:
                self._write_end_files(finished)
            except OSError as exc:
                self._failed(exc)
        self._close_files()
        self._writing = False
        doc = summary_dict(finished, self.store.started.label)
        if self.write_error is not None and self.error is not None:
            doc["status"] = self.write_error
            doc["message"] = (
                f"writing {self.error_path} failed "
                f"({self.error.strerror or self.error}), so the run was stopped; "
                f"the files keep every step up to {self.steps_on_disk}"
            )
        if self.observations.error is not None:
            doc["snapshots_error"] = self.observations.error
        try:
            write_json_atomic(out / "summary.json", doc, self.durable)
            if self.durable:
                fsync_dir(out)
        except OSError as exc:
            self._failed(exc)
            try:  # a full disk has no room for a second file: overwrite the blocks of the "running" one
                overwrite_json(out / "summary.json", doc)
            except OSError:  # it keeps saying "running": the folder reads as interrupted
                pass
        self._release_lock()

    def _write_end_files(self, finished: RunFinished) -> None:
        """Sync and close the streamed files; write layers.npz, histograms.npz, checkpoint.pt and error.log."""
        out = self.out_dir
        if self.durable:
            self._current = out / "metrics.csv"
            self._fsync_files()
        self._close_files()
        self._current = out / "layers.npz"
        write_atomic(out / "layers.npz", lambda f: write_layers_npz(f, self.store), self.durable)
        if self.store.histograms:
            self._current = out / "histograms.npz"
            write_atomic(out / "histograms.npz", lambda f: write_histograms_npz(f, self.store), self.durable)
        if self.store.weights is not None:
            self._current = out / CHECKPOINT_FILE
            write_atomic(self._current, lambda f: write_checkpoint_file(f, self.store), self.durable)
        if "traceback" in finished.extra:
            self._current = out / "error.log"
            write_atomic(out / "error.log", lambda f: f.write(finished.extra["traceback"].encode()), self.durable)

    def _release_lock(self) -> None:
        if self._lock_fd is None:
            return
        if self._locked:
            try:
                (self.out_dir / LOCK_FILE).unlink(missing_ok=True)
            except OSError:
                pass
        close_quietly(self._lock_fd)  # releases the flock
        self._lock_fd = None
        self._locked = False
