"""Replay a run: a :class:`RunStore` back into records, into a run folder, and a run folder back into a store.

- :func:`records_from_store` re-emits a store's content as records in the engine's order contract
  (``resnet_viz.metrics.records``), so any record consumer (a fresh ``RunStore``, a
  ``RunFolderWriter``, a plot) can take a recorded run as if it were training now.
- :func:`write_run_folder` writes the engine's run-folder format from a store, through
  ``RunFolderWriter``; a run still training gets a provisional summary (status ``"running"``).
- :func:`store_from_run_folder` is the inverse: the store a run folder describes
  (:func:`records_from_run_folder`: the same as records). An interrupted folder (its writer was
  killed or crashed: ``RunFolder.interrupted``) reads back with a ``RunFinished`` of status
  ``interrupted at step k``, so a window or a session shows it as ended, with everything on disk.

Round-trip precision through a folder: metrics.csv keeps 9 significant digits of the float64
per-step values and of the evaluation values (NaN written empty, ±inf as ``inf``/``-inf``, both
restored); layers.npz and histograms.npz are exact. Not stored in a folder, hence not restored:
``EvalRecord.eval_time_s`` (0.0 on reading), an evaluation of a step that has no metrics.csv row,
``RunFinished.extra`` beyond ``final_eval_step`` and ``traceback``, and non-finite final errors or
losses in summary.json (written as null, read back as ``None``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.export.run_folder import (
    EVAL_COLUMNS,
    INIT_ARRAYS,
    RUNNING,
    RunFolder,
    RunFolderWriter,
    read_run_folder,
)
from resnet_viz.export.run_folder_format import CHECKPOINT_FILE
from resnet_viz.export.run_folder_read import read_histograms
from resnet_viz.export.snapshots_io import read_sharpness, read_snapshots
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    HistogramRecord,
    LayerInfoRecord,
    LayerStats,
    ModelWeights,
    ParameterSnapshot,
    Record,
    RunFinished,
    RunStarted,
    SharpnessRecord,
    TrainChunk,
)
from resnet_viz.metrics.store import RunStore
from resnet_viz.models.checkpoint import CheckpointError, read_checkpoint

_STEP_SCALARS = ("step", "loss", "batch_error", "lr", "step_time_s")


# --- records -------------------------------------------------------------------------------------
def _chunk(
    scalars: dict[str, np.ndarray], a: int, b: int, layer_step: np.ndarray, layers: dict[str, np.ndarray] | None
) -> TrainChunk:
    """The chunk of steps ``a:b`` with its layer rows; the first and last chunks also take any rows outside
    the recorded steps, so that every row of the store is replayed exactly once."""
    steps = scalars["step"]
    n, k = int(steps.shape[0]), int(layer_step.shape[0])
    lo = 0 if a == 0 else int(np.searchsorted(layer_step, steps[a], side="left"))
    hi = k if b == n else int(np.searchsorted(layer_step, steps[b - 1], side="right"))
    chunk_layers = chunk_layer_step = None
    if layers is not None and hi > lo:
        chunk_layers = LayerStats(**{q: layers[q][lo:hi].copy() for q in LAYER_QUANTITIES})
        chunk_layer_step = layer_step[lo:hi].copy()
    return TrainChunk(
        **{name: scalars[name][a:b].copy() for name in _STEP_SCALARS},
        layers=chunk_layers,
        layer_step=chunk_layer_step,
    )


def _replay(
    started: RunStarted | None,
    scalars: dict[str, np.ndarray],
    layer_step: np.ndarray,
    layers: dict[str, np.ndarray] | None,
    evals: list[EvalRecord],
    histograms: list[HistogramRecord],
    finished: RunFinished | None,
    chunk_steps: int,
    weights: ModelWeights | None = None,
    observed: list[ParameterSnapshot | SharpnessRecord] | None = None,
) -> Iterator[Record]:
    """Records in the engine's order from per-step arrays [N] and per-layer arrays [K, L] (see module doc);
    ``observed`` (snapshots and sharpness by step) each right after the chunk holding its step."""
    if chunk_steps < 1:
        raise ValueError(f"chunk_steps must be ≥ 1, not {chunk_steps}")
    if started is not None:
        yield started
    # evaluations and histograms of step k go out before the chunk holding step k; at one step the
    # engine emits histograms (during the step) before the evaluation (at the flush after it)
    events: list[tuple[int, int, int, Record]] = [(int(h.step), 0, i, h) for i, h in enumerate(histograms)]
    events += [(int(e.step), 1, i, e) for i, e in enumerate(evals)]
    events.sort(key=lambda ev: ev[:3])
    steps = scalars["step"]
    n = int(steps.shape[0])
    pending = 0
    observed = sorted(observed or [], key=lambda r: (r.step, isinstance(r, SharpnessRecord)))
    seen = 0
    for a in range(0, n, chunk_steps):
        b = min(a + chunk_steps, n)
        last = int(steps[b - 1])
        while pending < len(events) and events[pending][0] < int(steps[a]):  # step 0's evaluation
            yield events[pending][3]
            pending += 1
        while seen < len(observed) and observed[seen].step < int(steps[a]):  # step 0's snapshot
            yield observed[seen]
            seen += 1
        while pending < len(events) and events[pending][0] <= last:
            yield events[pending][3]
            pending += 1
        yield _chunk(scalars, a, b, layer_step, layers)
        while seen < len(observed) and observed[seen].step <= last:
            yield observed[seen]
            seen += 1
    for event in events[pending:]:  # beyond the last recorded step (or no steps at all)
        yield event[3]
    yield from observed[seen:]
    if weights is not None:
        yield weights
    if finished is not None:
        yield finished


def records_from_store(store: RunStore, chunk_steps: int = 4096) -> Iterator[Record]:
    """The store's content as records in the engine's order: ``RunStarted`` (if any), ``TrainChunk``
    of at most ``chunk_steps`` steps (layer rows sliced to the chunk's steps; ``layers`` None for a
    chunk without probed steps), each ``EvalRecord`` / ``HistogramRecord`` before the chunk holding
    its step (after the last chunk when its step is beyond it), then ``RunFinished`` (if any).

    Feeding them to a fresh ``RunStore`` gives an equal store. The store is snapshotted when the
    first record is requested, so records the store receives meanwhile (a run still training) are
    not replayed. Chunks hold copies; ``RunStarted``, evaluation and histogram records are shared.
    """
    n, k = store.steps_done, int(store.layer_step.shape[0])
    scalars = {name: store.scalar(name)[:n] for name in _STEP_SCALARS}
    layer_step = store.layer_step[:k]
    layers = {q: store.layer(q)[:k] for q in LAYER_QUANTITIES} if k else None
    yield from _replay(
        store.started,
        scalars,
        layer_step,
        layers,
        list(store.evals),
        list(store.histograms),
        store.finished,
        chunk_steps,
        store.weights,
        [*store.snapshots, *store.sharpness],
    )


def provisional_finished(store: RunStore) -> RunFinished:
    """A ``RunFinished`` describing a run still training, for its run folder's summary.json.

    status ``"running"``; ``steps``: steps recorded so far; final errors and losses: those of the
    latest evaluation (``extra["final_eval_step"]`` its step); ``steps_per_s`` over the recorded step
    times; ``elapsed_s``: recorded step plus evaluation times (a lower bound of the wall time).
    """
    started = store.started
    ev = max(store.evals, key=lambda e: e.step) if store.evals else None
    train_time = float(np.sum(store.scalar("step_time_s")))
    total = started.total_steps if started is not None else 0
    return RunFinished(
        status=RUNNING,
        steps=store.steps_done,
        final_train_error=ev.train_error if ev else None,
        final_test_error=ev.test_error if ev else None,
        final_train_loss=ev.train_loss if ev else None,
        final_test_loss=ev.test_loss if ev else None,
        steps_per_s=store.steps_done / train_time if train_time > 0 else 0.0,
        elapsed_s=train_time + float(sum(e.eval_time_s for e in store.evals)),
        params=started.params if started is not None else 0,
        device=started.device if started is not None else "",
        message=f"still running at step {store.steps_done} of {total}",
        extra={"final_eval_step": ev.step if ev else None},
    )


# --- run folder ----------------------------------------------------------------------------------
def write_run_folder(store: RunStore, out_dir: str | Path) -> Path:
    """Write the run folder of ``store`` (format: ``resnet_viz.export.run_folder``) into ``out_dir``.

    The records of :func:`records_from_store` go through a ``RunFolderWriter``, so the files are
    those the engine writes while training (run.json's ``created`` is now). A run without
    ``RunFinished`` (still training) is closed with :func:`provisional_finished`: the folder is
    complete, its summary.json says ``"running"``. Raises ``ValueError`` if the run has not started,
    ``OSError`` when a file cannot be written (the folder keeps what was written).
    """
    if store.started is None:
        raise ValueError("nothing to write: the run has not started")
    writer = RunFolderWriter(out_dir, durable=False)
    finished = None
    for record in records_from_store(store):
        if isinstance(record, RunFinished):
            finished = record
        writer(record)
    if finished is None:
        writer(provisional_finished(store))
    if writer.error is not None:
        raise writer.error
    return writer.out_dir


def _started_from_folder(
    run: dict[str, Any], layers: dict[str, np.ndarray] | None, summary: dict[str, Any] | None
) -> RunStarted:
    resolved = run.get("resolved", {})
    config = run.get("config", {})
    try:  # restore tuples (betas, milestones) as RunConfig.to_dict has them; keep the JSON as is otherwise
        config = RunConfig.from_dict(config).to_dict()
    except (ConfigError, TypeError):
        pass
    if layers is not None:
        info = LayerInfoRecord(
            names=[str(s) for s in layers["layer_names"]],
            kinds=[str(s) for s in layers["layer_kinds"]],
            roles=[str(s) for s in layers["layer_roles"]],
            stages=layers["layer_stages"].astype(np.int64),
            blocks=layers["layer_blocks"].astype(np.int64),
            fan_in=layers["layer_fan_in"].astype(np.int64),
            params=layers["layer_params"].astype(np.int64),
        )
        init = {name: layers[name].astype(np.float64) for name in INIT_ARRAYS}
    else:  # no layers.npz (the process was killed): no layer is known
        empty_i = np.zeros(0, dtype=np.int64)
        info = LayerInfoRecord(
            names=[],
            kinds=[],
            roles=[],
            stages=empty_i,
            blocks=empty_i.copy(),
            fan_in=empty_i.copy(),
            params=empty_i.copy(),
        )
        init = {name: np.zeros(0, dtype=np.float64) for name in INIT_ARRAYS}
    params = resolved.get("params", (summary or {}).get("params", int(np.sum(info.params))))
    return RunStarted(
        label=run.get("label", ""),
        config=config,
        resolved=resolved,
        device=run.get("device", ""),
        versions=run.get("versions", {}),
        layers=info,
        params=int(params),
        total_steps=int(resolved.get("total_steps", 0)),
        **init,
    )


def _interrupted(folder: RunFolder, evals: list[EvalRecord], step_time_s: np.ndarray) -> RunFinished:
    """The end of a run whose writer died: what is on disk, with the latest evaluation."""
    ev = max(evals, key=lambda e: e.step) if evals else None
    resolved = folder.run.get("resolved") or {}
    train_time = float(np.nansum(step_time_s))
    n = int(step_time_s.shape[0])
    return RunFinished(
        status=folder.status,
        steps=folder.last_step,
        final_train_error=ev.train_error if ev else None,
        final_test_error=ev.test_error if ev else None,
        final_train_loss=ev.train_loss if ev else None,
        final_test_loss=ev.test_loss if ev else None,
        steps_per_s=n / train_time if train_time > 0 else 0.0,
        elapsed_s=train_time,
        params=int(resolved.get("params", 0)),
        device=str(folder.run.get("device", "")),
        message=folder.message,
        extra={"final_eval_step": ev.step if ev else None},
    )


def _finished_from_folder(summary: dict[str, Any] | None, traceback_text: str | None) -> RunFinished | None:
    if summary is None or summary.get("status") == RUNNING:
        return None
    extra: dict[str, Any] = {"final_eval_step": summary.get("final_eval_step")}
    if traceback_text is not None:
        extra["traceback"] = traceback_text
    return RunFinished(
        status=summary["status"],
        steps=int(summary.get("steps", 0)),
        final_train_error=summary.get("final_train_error"),
        final_test_error=summary.get("final_test_error"),
        final_train_loss=summary.get("final_train_loss"),
        final_test_loss=summary.get("final_test_loss"),
        steps_per_s=float(summary.get("steps_per_s", 0.0)),
        elapsed_s=float(summary.get("elapsed_s", 0.0)),
        params=int(summary.get("params", 0)),
        device=summary.get("device", ""),
        message=summary.get("message", ""),
        extra=extra,
    )


def records_from_run_folder(path: str | Path | RunFolder, chunk_steps: int = 4096) -> Iterator[Record]:
    """The records a run folder (a path, or one read already) describes, in the engine's order (see
    :func:`store_from_run_folder`)."""
    folder = path if isinstance(path, RunFolder) else read_run_folder(path)
    m = folder.metrics
    n = int(m["step"].shape[0])
    trained = m["step"] >= 1  # a row of step 0 holds only the evaluation of loaded weights
    scalars = {name: (m[name][trained] if name in m else np.full(int(trained.sum()), np.nan)) for name in _STEP_SCALARS}
    evals = []
    eval_cols = {col: m.get(col, np.full(n, np.nan)) for col in EVAL_COLUMNS}
    rows = (
        np.flatnonzero(np.any([~np.isnan(eval_cols[col]) for col in EVAL_COLUMNS], axis=0))
        if n
        else np.zeros(0, dtype=np.intp)
    )
    for i in rows:
        evals.append(
            EvalRecord(
                step=int(m["step"][i]), **{col: float(eval_cols[col][i]) for col in EVAL_COLUMNS}, eval_time_s=0.0
            )
        )
    layers = layer_step = None
    if folder.layers is not None:
        layer_step = folder.layers["step"].astype(np.int64)
        if layer_step.shape[0]:
            layers = {q: folder.layers[q] for q in LAYER_QUANTITIES}
    if layer_step is None:
        layer_step = np.zeros(0, dtype=np.int64)
    histograms = read_histograms(folder.path)
    error_log = folder.path / "error.log"
    traceback_text = error_log.read_text() if error_log.exists() else None
    finished = (
        _interrupted(folder, evals, scalars["step_time_s"])
        if folder.interrupted
        else _finished_from_folder(folder.summary, traceback_text)
    )
    yield from _replay(
        _started_from_folder(folder.run, folder.layers, folder.summary),
        scalars,
        layer_step,
        layers,
        evals,
        histograms,
        finished,
        chunk_steps,
        _weights_from_folder(folder.path / CHECKPOINT_FILE),
        [*read_snapshots(folder.path), *read_sharpness(folder.path)],
    )


def _weights_from_folder(path: Path) -> ModelWeights | None:
    """The weights of a folder's checkpoint.pt; None without one, or when it cannot be read (the rest of
    the folder is still worth opening)."""
    if not path.is_file():
        return None
    try:
        ckpt = read_checkpoint(path)
    except CheckpointError:
        return None
    state = {name: t.numpy() for name, t in ckpt.state.items()}
    return ModelWeights(step=ckpt.step if ckpt.step is not None else 0, state=state)


def store_from_run_folder(path: str | Path | RunFolder) -> RunStore:
    """The store of a run folder (the inverse of :func:`write_run_folder`, up to the module doc's precision).

    - ``RunStarted`` from run.json (config re-normalised through ``RunConfig`` when valid) and
      layers.npz (layer info, step-0 arrays); ``params`` and ``total_steps`` from run.json's resolved.
    - ``TrainChunk`` from metrics.csv and layers.npz (else layers.json + layers.bin, as streamed);
      ``EvalRecord`` from metrics.csv rows with evaluation values (``eval_time_s`` 0.0);
      ``HistogramRecord`` from histograms.npz (else histograms.json + histograms.bin); ``ModelWeights``
      from checkpoint.pt (when it is there and readable); ``ParameterSnapshot`` from snapshots/ and
      ``SharpnessRecord`` from sharpness.csv (``resnet_viz.export.snapshots_io``).
    - ``RunFinished`` from summary.json (error.log's text as ``extra["traceback"]``). For an
      interrupted folder (summary.json says ``"running"`` but its writer is gone, or is missing):
      status ``interrupted at step k`` (k the last step on disk), the latest evaluation on disk,
      ``steps_per_s`` / ``elapsed_s`` from the recorded step times, ``params`` and ``device`` from
      run.json. None while a process still writes the folder, or for a snapshot of a training run
      (summary.json ``"running"`` without a writer: :func:`write_run_folder`).
    - Without any layer file (an old killed run) the store has what metrics.csv has, and
      ``RunStarted`` describes zero layers (empty layer info and step-0 arrays, no layer statistics).

    Raises ``FileNotFoundError`` without run.json or metrics.csv.
    """
    store = RunStore()
    for record in records_from_run_folder(path):
        store.add(record)
    return store
