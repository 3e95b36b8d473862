"""TensorBoard event files of a run, written from its records while it trains (``resnet-viz run --tensorboard
DIR``, the window's "TensorBoard logs" box) or replayed from a saved run folder (``resnet-viz export
tensorboard``), with ``torch.utils.tensorboard``'s ``SummaryWriter`` (extra ``tensorboard``).

Tags. TensorBoard puts the cards of the tags that share a first ``/`` segment in one collapsible group and
orders tags naturally (digits by value), so the first segment says what a group is:

===============================================  ==========================================================
``train/loss``, ``train/batch_error``,           every step: the mini-batch's loss and error in training
``train/lr``                                     mode, and the learning rate used (metrics.csv's columns)
``eval/train_error``, ``eval/test_error``,       at every evaluation (eval mode, no augmentation)
``eval/train_loss``, ``eval/test_loss``
``sharpness/top_eigenvalue``, ``sharpness/trace``  with ``--sharpness-every``
``layer-<NN>-<name>/<quantity>``                 every probed step, each of ``LAYER_QUANTITIES``
``histograms/<kind>/<NN>-<name>``                every histogram step; kinds ``HISTOGRAM_KINDS``
``config``                                       text at step 0: the label, the device and run.json's config
===============================================  ==========================================================

Per-layer quantities are grouped by layer: one group per layer (its first segment), the groups in depth
order; ``NN`` is the layer's index in forward order, zero-padded to the same width for every layer (two
digits, three from 101 layers) so that a plain sort gives depth order too. Typing a quantity into
TensorBoard's tag filter (``grad_norm``) shows that quantity of every layer, in depth order.

Values are those of the records and the run folder: errors are fractions in [0, 1] (not percent), losses
are mean cross-entropy in nats, as in metrics.csv. TensorBoard keeps a scalar as float32: an event holds
``float32(value)`` of the record's float64 (metrics.csv keeps 9 significant digits of the same value, so a
replayed folder's event can differ from the live one by one float32 ulp; layers and histograms are exact).
Non-finite values are skipped, that step has no point (TensorBoard draws NaN and ±inf badly): NaN is a
quantity that does not apply to a layer (``dead_fraction`` of a layer with no ReLU after it), ±inf (or a
value beyond float32's range) a diverging run. Histograms come from ``HistogramRecord`` through ``add_histogram_raw``: ``bucket_limit`` are
the right edges ``edges[1:]``, ``bucket`` the counts, min and max the first and last edge, num the sum of
the counts; sum and sum_squares are not recorded, they are estimated from the bin centres c (Σ n·c,
Σ n·c²; TensorBoard uses them only for a mean). Layer rows without data (NaN edges, no counts) are skipped.

Writing. The scalars of one step go out as one event (one ``Summary`` of many values, through the
writer's ``file_writer``: seven times faster than one ``add_scalar`` per value, and the window writes them
in its GUI thread). Nothing is written before ``RunStarted``; ``RunFinished`` flushes and closes. A failed
write (read-only or removed folder, disk full) never raises into the run: the writer stops, keeps
``error`` (a :class:`~resnet_viz.export.written.WriteError`, one line naming the folder and why) and calls
``on_error`` once; the run goes on and keeps its run folder. ``SummaryWriter`` writes in a thread of its
own, where such an error is stored and raised at the next write here; that thread's own traceback on
stderr is silenced (a hook in front of ``threading.excepthook``, for that thread class only).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from resnet_viz.export.written import WriteError, check_folders_above, check_writable, reason
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    HistogramRecord,
    Record,
    RunFinished,
    RunStarted,
    SharpnessRecord,
    TrainChunk,
)
from resnet_viz.runs.run import Run

#: What to install when ``tensorboard`` cannot be imported.
MISSING = "TensorBoard output needs the tensorboard package: pip install 'resnet-viz[tensorboard]'"
#: The names of TensorBoard's event files (one or more per log folder).
EVENT_FILES = "events.out.tfevents.*"
EARLIER_EVENTS = "it holds the TensorBoard events of an earlier run"  # why check_log_dir refuses a folder
STEP_SCALARS = ("loss", "batch_error", "lr")  # TrainChunk arrays written as train/<name>
EVAL_SCALARS = ("train_error", "test_error", "train_loss", "test_loss")
FLUSH_SECS = 5  # the writer thread's flush period, s
_F32_MAX = float(np.finfo(np.float32).max)


class TensorBoardUnavailable(RuntimeError):
    """``tensorboard`` (or torch's writer for it) cannot be imported; ``str()`` is one line."""


def tensorboard_missing() -> str | None:
    """One line saying what to install when TensorBoard output cannot work here, else None."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "tensorboard":
            return MISSING
        return f"TensorBoard output cannot start: {' '.join(str(exc).split())}"
    return None


# --- tags ----------------------------------------------------------------------------------------
def layer_labels(names: Iterable[str]) -> list[str]:
    """``<NN>-<name>`` per layer: NN its zero-padded index in forward order ("/" and spaces in a name → "_")."""
    names = list(names)
    width = max(2, len(str(len(names) - 1)))
    return [f"{i:0{width}d}-{'_'.join(name.replace('/', '_').split())}" for i, name in enumerate(names)]


def layer_tag(label: str, quantity: str) -> str:
    return f"layer-{label}/{quantity}"


def histogram_tag(kind: str, label: str) -> str:
    return f"histograms/{kind}/{label}"


def config_text(started: RunStarted) -> str:
    """The ``config`` text: label and device, then the config as indented JSON (a Markdown code block)."""
    doc = json.dumps(started.config, indent=2, sort_keys=True, default=str)
    code = "\n".join("    " + line for line in doc.splitlines())
    return f"**{started.label}** on {started.device}\n\n{code}"


def histogram_fields(edges: np.ndarray, counts: np.ndarray) -> dict[str, Any] | None:
    """``add_histogram_raw``'s fields of one layer's histogram (edges [B+1], counts [B]); None without data."""
    num = int(np.sum(counts))
    if num <= 0 or not np.all(np.isfinite(edges)):
        return None
    centres = (edges[:-1] + edges[1:]) / 2
    return {
        "min": float(edges[0]),
        "max": float(edges[-1]),
        "num": num,
        "sum": float(np.dot(counts, centres)),
        "sum_squares": float(np.dot(counts, centres * centres)),
        "bucket_limits": edges[1:].tolist(),
        "bucket_counts": counts.tolist(),
    }


# --- folders -------------------------------------------------------------------------------------
def event_files(log_dir: str | Path) -> list[Path]:
    return sorted(Path(log_dir).glob(EVENT_FILES))


def check_log_dir(log_dir: str | Path, *, replace: bool = False) -> Path:
    """Check, creating nothing, that TensorBoard events can be written in ``log_dir``: a
    :class:`WriteError` naming it and why not, also when it holds a previous run's events and not ``replace``."""
    log_dir = Path(log_dir)
    check_folders_above(log_dir)
    if log_dir.exists() and not log_dir.is_dir():
        raise WriteError(log_dir, "it is a file, not a folder")
    if not replace and event_files(log_dir):
        raise WriteError(log_dir, EARLIER_EVENTS)
    check_writable(log_dir / "events.out.tfevents.probe")
    return log_dir


def _quiet_writer_threads() -> None:
    """Silence the traceback of TensorBoard's writer thread when a write fails there (module doc)."""
    if getattr(threading.excepthook, "_tensorboard_quiet", False):
        return
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if type(args.thread).__name__ == "_AsyncWriterThread" and isinstance(args.exc_value, Exception):
            return  # stored by the thread; the next write raises it where it is reported
        previous(args)

    hook._tensorboard_quiet = True  # type: ignore[attr-defined]
    threading.excepthook = hook


# --- the writer ----------------------------------------------------------------------------------
class TensorBoardWriter:
    """A record consumer that writes a run's TensorBoard events into ``log_dir`` (module doc).

    ``writer(record)`` for each record in the engine's order; ``close()`` ends it (``RunFinished`` does).
    ``replace``: remove the event files already in ``log_dir`` when the run starts (else they stay and
    TensorBoard shows both). ``on_error(error)`` is called once when a write fails; ``error`` keeps it.
    Raises :class:`TensorBoardUnavailable` when ``tensorboard`` cannot be imported.
    """

    def __init__(
        self,
        log_dir: str | Path,
        *,
        replace: bool = False,
        on_error: Callable[[WriteError], None] | None = None,
    ) -> None:
        missing = tensorboard_missing()
        if missing is not None:
            raise TensorBoardUnavailable(missing)
        self.log_dir = Path(log_dir)
        self.replace = replace
        self.on_error = on_error
        self.error: WriteError | None = None
        self.closed = False
        self._writer: Any = None  # torch.utils.tensorboard.SummaryWriter once the run started
        self._labels: list[str] = []

    @property
    def writing(self) -> bool:
        return self._writer is not None and self.error is None and not self.closed

    def __call__(self, record: Record) -> None:
        if self.error is not None or self.closed:
            return
        try:
            self._record(record)
        except Exception as exc:  # noqa: BLE001 - OSError or tensorboard's own errors: the run must go on
            self._failed(exc)

    def _record(self, record: Record) -> None:
        if isinstance(record, RunStarted):
            self._open(record)
        elif self._writer is None:
            return
        elif isinstance(record, TrainChunk):
            self._chunk(record)
        elif isinstance(record, EvalRecord):
            self._scalars(record.step, {f"eval/{name}": getattr(record, name) for name in EVAL_SCALARS})
        elif isinstance(record, HistogramRecord):
            self._histograms(record)
        elif isinstance(record, SharpnessRecord):
            values = {"sharpness/top_eigenvalue": record.top_eigenvalue, "sharpness/trace": record.trace}
            self._scalars(record.step, values)
        elif isinstance(record, RunFinished):
            self.close()

    def _failed(self, exc: BaseException) -> None:
        self.error = exc if isinstance(exc, WriteError) else WriteError(self.log_dir, reason(exc))
        self._shut(quiet=True)
        if self.on_error is not None:
            self.on_error(self.error)

    def _open(self, started: RunStarted) -> None:
        from torch.utils.tensorboard import SummaryWriter

        if self._writer is not None:
            return
        _quiet_writer_threads()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.replace:
            for path in event_files(self.log_dir):
                path.unlink()
        self._writer = SummaryWriter(str(self.log_dir), max_queue=100, flush_secs=FLUSH_SECS)
        self._labels = layer_labels(started.layers.names)
        self._writer.add_text("config", config_text(started), 0)

    def _scalars(self, step: int, values: dict[str, float]) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        kept = [
            Summary.Value(tag=tag, simple_value=v)
            for tag, v in values.items()
            if math.isfinite(v) and abs(v) <= _F32_MAX
        ]
        if kept:
            self._writer.file_writer.add_summary(Summary(value=kept), int(step))

    def _chunk(self, chunk: TrainChunk) -> None:
        """One event per step: train/* of the step and, on a probed step, every finite layer quantity."""
        rows: dict[int, dict[str, float]] = {}
        for i, step in enumerate(chunk.step.tolist()):
            rows[step] = {f"train/{name}": float(getattr(chunk, name)[i]) for name in STEP_SCALARS}
        if chunk.layers is not None and chunk.layer_step is not None:
            for quantity in LAYER_QUANTITIES:
                values = getattr(chunk.layers, quantity, None)
                if values is None:
                    continue
                tags = [layer_tag(label, quantity) for label in self._labels]
                for k, step in enumerate(chunk.layer_step.tolist()):
                    row = rows.setdefault(step, {})
                    row.update(zip(tags, values[k].astype(np.float64).tolist()))
        for step in sorted(rows):
            self._scalars(step, rows[step])

    def _histograms(self, h: HistogramRecord) -> None:
        for label, edges, counts in zip(self._labels, h.edges, h.counts):
            fields = histogram_fields(edges, counts)
            if fields is not None:
                self._writer.add_histogram_raw(histogram_tag(h.kind, label), global_step=int(h.step), **fields)

    def flush(self) -> None:
        """Everything written so far on disk (a failure is reported like any write's)."""
        if self.writing:
            try:
                self._writer.flush()
            except Exception as exc:  # noqa: BLE001 - see __call__
                self._failed(exc)

    def close(self) -> None:
        """Flush and close the event file (again: nothing); a failure is reported like a write's."""
        if self.closed:
            return
        self.flush()
        self._shut(quiet=self.error is not None)

    def _shut(self, quiet: bool) -> None:
        self.closed = True
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            writer.close()
        except Exception as exc:  # noqa: BLE001 - see __call__
            if not quiet:
                self._failed(exc)


# --- runs of a scheduler -------------------------------------------------------------------------
class TensorBoardRuns:
    """A scheduler record listener (``Scheduler.listeners``): a :class:`TensorBoardWriter` per run, made
    at its ``RunStarted`` in ``log_dir_of(run)`` (None: that run writes no events) and closed when the run
    ends; ``on_error(run, error)`` once for a run whose writing failed (the run goes on)."""

    def __init__(
        self,
        log_dir_of: Callable[[Run], Path | None],
        on_error: Callable[[Run, WriteError], None] | None = None,
        *,
        replace: bool = False,
    ) -> None:
        self.log_dir_of = log_dir_of
        self.on_error = on_error
        self.replace = replace
        self.writers: dict[int, TensorBoardWriter] = {}  # run id → the writer of a run writing events

    def __call__(self, run: Run, record: Record) -> None:
        if isinstance(record, RunStarted) and run.run_id not in self.writers:
            log_dir = self.log_dir_of(run)
            if log_dir is not None:
                self._start(run, log_dir)
        writer = self.writers.get(run.run_id)
        if writer is None:
            return
        writer(record)
        if writer.closed:  # RunFinished, or a failed write
            del self.writers[run.run_id]

    def _start(self, run: Run, log_dir: Path) -> None:
        def failed(error: WriteError) -> None:
            if self.on_error is not None:
                self.on_error(run, error)

        try:
            self.writers[run.run_id] = TensorBoardWriter(log_dir, replace=self.replace, on_error=failed)
        except TensorBoardUnavailable as exc:
            failed(WriteError(log_dir, str(exc)))

    def keep(self, run_ids: Iterable[int]) -> None:
        """Close the writers of runs not in ``run_ids`` (removed while training: no ``RunFinished`` comes)."""
        alive = set(run_ids)
        for run_id in [i for i in self.writers if i not in alive]:
            self.writers.pop(run_id).close()

    def close(self) -> None:
        """Every writer flushes and closes."""
        while self.writers:
            self.writers.popitem()[1].close()


# --- a saved run ---------------------------------------------------------------------------------
def export_run_folder_to_tensorboard(run_folder: str | Path, log_dir: str | Path) -> Path:
    """Write the TensorBoard events of a saved run folder into ``log_dir`` (its records replayed through
    :class:`TensorBoardWriter`; event files already there are replaced) and return ``log_dir``.

    Raises ``ValueError`` (one line) when ``run_folder`` is not a readable run folder, :class:`WriteError`
    when ``log_dir`` cannot be written, :class:`TensorBoardUnavailable` without ``tensorboard``.
    """
    from resnet_viz.export.replay import records_from_run_folder

    run_folder, log_dir = Path(run_folder), Path(log_dir)
    writer = TensorBoardWriter(log_dir, replace=True)
    records = records_from_run_folder(run_folder)
    try:  # the folder is read at the first record
        first = next(records, None)
    except FileNotFoundError as exc:
        raise ValueError(f"{run_folder} is not a run folder: {exc.filename or exc} is missing") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"{run_folder}: the run folder cannot be read: {reason(exc)}") from None
    check_log_dir(log_dir, replace=True)
    for record in itertools.chain([first] if first is not None else [], records):
        writer(record)
    writer.close()
    if writer.error is not None:
        raise writer.error
    return log_dir
