"""What the run folder's files hold (format: :mod:`resnet_viz.export.run_folder`): the JSON documents
(summary.json, run.json, layers.json, histograms.json), metrics.csv rows, layers.bin and histograms.bin
records, histograms.npz and checkpoint.pt, each built from the run's records.

checkpoint.pt is this project's checkpoint (:mod:`resnet_viz.models.checkpoint`: a torch file of
``{"format": "resnet-viz checkpoint", "version": 1, "config", "step", "state_dict"}``) of the run's
``ModelWeights``: written when the run ends, only if it finished or was stopped with finite weights
(not for a diverged or failed run, and never for a run whose process was killed: the weights live in
that process until its end). ``resnet-viz run --init-from <folder>/checkpoint.pt`` trains it further.
Such a run's evaluation at step 0 is the metrics.csv row of step 0 (evaluation columns only), written with
the chunk of step 1: a run stopped before its first step has no such row (summary.json has the numbers).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import os
import socket
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from resnet_viz.export.run_folder_format import (
    EVAL_COLUMNS,
    HISTOGRAM_KINDS,
    HISTOGRAMS_FORMAT,
    INIT_ARRAYS,
    LAYERS_FORMAT,
    RUNNING,
    histogram_record_dtype,
    layers_record_dtype,
)
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    HistogramRecord,
    RunFinished,
    RunStarted,
    TrainChunk,
)
from resnet_viz.metrics.store import METRIC_COLUMNS, RunStore
from resnet_viz.models.checkpoint import checkpoint_payload


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _clean(value: Any) -> Any:
    """NaN/inf become null so the JSON stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_floats(values: np.ndarray) -> list[float | str]:
    """Exact floats for JSON; non-finite ones as "nan", "inf", "-inf" so the JSON stays standard."""
    return [v if math.isfinite(v) else str(v) for v in np.asarray(values, dtype=np.float64).tolist()]


# --- JSON documents --------------------------------------------------------------------------------
def summary_dict(finished: RunFinished, label: str = "") -> dict[str, Any]:
    """summary.json of a run that ended."""
    return {
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


def running_summary(started: RunStarted) -> dict[str, Any]:
    """summary.json while the run trains: status ``running`` and the writing process."""
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
        "writer": {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()},
    }


def layers_header(started: RunStarted) -> dict[str, Any]:
    """layers.json: the layout of layers.bin, the layers and their step-0 arrays."""
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


def run_doc(started: RunStarted) -> dict[str, Any]:
    """run.json: the config, derived values, device, library versions."""
    return {
        "label": started.label,
        "config": started.config,
        "resolved": started.resolved,
        "device": started.device,
        "versions": started.versions,
        "created": _now(),
    }


def histograms_header(n_layers: int, bins: int) -> dict[str, Any]:
    """histograms.json: the layout of histograms.bin."""
    return {
        "format": HISTOGRAMS_FORMAT,
        "version": 1,
        "byte_order": "little",
        "kinds": list(HISTOGRAM_KINDS),
        "n_layers": n_layers,
        "bins": bins,
        "record_bytes": histogram_record_dtype(n_layers, bins).itemsize,
    }


# --- metrics.csv -----------------------------------------------------------------------------------
def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.9g}"


def csv_bytes(rows: list[list[str]]) -> bytes:
    """Rows of cells as CSV lines (UTF-8)."""
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue().encode("utf-8")


def row_cells(row: dict[str, Any]) -> list[str]:
    """A metrics.csv row's cells in :data:`METRIC_COLUMNS` order (empty where the row has no value)."""
    return [_fmt(row.get(col, float("nan"))) for col in METRIC_COLUMNS]


def with_eval(row: dict[str, Any], ev: EvalRecord) -> dict[str, Any]:
    """``row`` with the evaluation's columns filled in (a new dict)."""
    return {**row, **{col: getattr(ev, col) for col in EVAL_COLUMNS}}


def chunk_rows(chunk: TrainChunk, evals: dict[int, EvalRecord]) -> list[dict[str, Any]]:
    """The metrics.csv rows of a chunk of steps; a step evaluated already gets its evaluation columns. The
    chunk of step 1 starts with a row of step 0 when step 0 was evaluated (a run started from a checkpoint):
    evaluation columns only."""
    rows: list[dict[str, Any]] = []
    if len(chunk) and int(chunk.step[0]) == 1 and 0 in evals:
        rows.append(with_eval({"step": 0}, evals[0]))
    for i in range(len(chunk)):
        row: dict[str, Any] = {
            "step": int(chunk.step[i]),
            "loss": chunk.loss[i],
            "batch_error": chunk.batch_error[i],
            "lr": chunk.lr[i],
            "step_time_s": chunk.step_time_s[i],
        }
        ev = evals.get(row["step"])
        rows.append(row if ev is None else with_eval(row, ev))
    return rows


# --- binary records --------------------------------------------------------------------------------
def layers_records(chunk: TrainChunk) -> np.ndarray | None:
    """The layers.bin records [K] of a chunk's probed steps (``None`` when it probed none)."""
    if chunk.layers is None or chunk.layer_step is None or not len(chunk.layer_step):
        return None
    k, n = len(chunk.layer_step), chunk.layers.grad_norm.shape[1]
    records = np.empty(k, dtype=layers_record_dtype(len(LAYER_QUANTITIES), n))
    records["step"] = chunk.layer_step
    for qi, q in enumerate(LAYER_QUANTITIES):
        records["values"][:, qi, :] = getattr(chunk.layers, q)
    return records


def histogram_record(h: HistogramRecord) -> np.ndarray:
    """One histograms.bin record [1] (``h.kind`` one of :data:`HISTOGRAM_KINDS`)."""
    n, bins = h.counts.shape
    record = np.zeros(1, dtype=histogram_record_dtype(n, bins))
    record["step"], record["kind"] = h.step, HISTOGRAM_KINDS.index(h.kind)
    record["edges"][0], record["counts"][0] = h.edges, h.counts
    return record


def write_layers_npz(path: Path | BinaryIO, store: RunStore) -> None:
    """layers.npz: :meth:`RunStore.layer_arrays` (``path``: a path or a binary file)."""
    arrays: dict[str, Any] = store.layer_arrays()  # Any: numpy's stubs type savez's keywords as its options
    np.savez(path, **arrays)


def write_checkpoint_file(f: BinaryIO, store: RunStore) -> None:
    """checkpoint.pt of the store's latest weights (``ValueError`` when it has none or has not started)."""
    if store.weights is None or store.started is None:
        raise ValueError("the run has no weights to write")
    torch.save(checkpoint_payload(store.started.config, store.weights.step, store.weights.state), f)


def write_histograms_npz(path: Path | BinaryIO, store: RunStore) -> None:
    """``{kind}_step`` [H], ``{kind}_edges`` [H, L, B+1], ``{kind}_counts`` [H, L, B] per kind
    (``path``: a path or a binary file)."""
    out: dict[str, Any] = {}  # Any: as in write_layers_npz
    for kind in sorted({h.kind for h in store.histograms}):
        hs = [h for h in store.histograms if h.kind == kind]
        out[f"{kind}_step"] = np.array([h.step for h in hs], dtype=np.int64)
        out[f"{kind}_edges"] = np.stack([h.edges for h in hs])
        out[f"{kind}_counts"] = np.stack([h.counts for h in hs])
    np.savez(path, **out)
