"""The run folder: the on-disk format of one run, written as the run goes and read back.

- ``run.json``: ``{"config": RunConfig dict, "resolved": derived values, "device", "versions", "label", "created"}``
- ``metrics.csv``: one row per step: step, loss, batch_error, lr, step_time_s, then train_error,
  test_error, train_loss, test_loss filled on evaluation rows (empty elsewhere). Errors are fractions.
- ``layers.npz``: layer_names [L] (weight layers in forward order) and per-layer info; ``step`` [K];
  grad_norm, out_grad_norm, act_mean, act_std, response_std, update_ratio [K, L];
  act_std_init, act_mean_init, out_grad_norm_init, grad_norm_init, theory_act_std_init [L] (step 0).
- ``summary.json``: status, steps, final errors and losses, steps_per_s, params, device, ...
- ``histograms.npz`` (only with histograms on), ``error.log`` (only when the run failed).

metrics.csv is appended and flushed as records arrive, so even a killed process leaves it behind;
layers.npz and summary.json are written when the run ends, whatever the way it ends.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_viz.metrics.records import EvalRecord, Record, RunFinished, RunStarted, TrainChunk
from resnet_viz.metrics.store import METRIC_COLUMNS, RunStore

EVAL_COLUMNS = ("train_error", "test_error", "train_loss", "test_loss")
RUN_FILES = ("run.json", "metrics.csv", "layers.npz", "summary.json", "histograms.npz", "error.log")


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


class RunFolderWriter:
    """A record callback that writes a run folder. Keeps a :class:`RunStore` of everything as ``store``."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:  # a run folder holds one run: nothing of a previous one survives
            (self.out_dir / name).unlink(missing_ok=True)
        self.store = RunStore()
        self._csv_file = None
        self._csv = None
        self._held: dict[str, Any] | None = None  # last row, held back until its evaluation is known
        self._evals: dict[int, EvalRecord] = {}

    def __call__(self, record: Record) -> None:
        self.store.add(record)
        if isinstance(record, RunStarted):
            self._write_run_json(record)
            self._csv_file = open(self.out_dir / "metrics.csv", "w", newline="")
            self._csv = csv.writer(self._csv_file)
            self._csv.writerow(METRIC_COLUMNS)
        elif isinstance(record, EvalRecord):
            self._evals[record.step] = record
            if self._held is not None and self._held["step"] == record.step:
                self._fill(self._held, record)
        elif isinstance(record, TrainChunk):
            self._append(record)
        elif isinstance(record, RunFinished):
            self._finish(record)

    # --- metrics.csv ---------------------------------------------------------------------------
    def _fill(self, row: dict[str, Any], ev: EvalRecord) -> None:
        for col in EVAL_COLUMNS:
            row[col] = getattr(ev, col)

    def _append(self, chunk: TrainChunk) -> None:
        if self._csv is None:
            return
        rows = []
        if self._held is not None:
            rows.append(self._held)
        for i in range(len(chunk)):
            row = {"step": int(chunk.step[i]), "loss": chunk.loss[i], "batch_error": chunk.batch_error[i],
                   "lr": chunk.lr[i], "step_time_s": chunk.step_time_s[i]}
            ev = self._evals.get(row["step"])
            if ev is not None:
                self._fill(row, ev)
            rows.append(row)
        self._held = rows.pop()
        self._write_rows(rows)

    def _write_rows(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self._csv.writerow([_fmt(row.get(col, float("nan"))) for col in METRIC_COLUMNS])
        self._csv_file.flush()

    # --- files at start and end ------------------------------------------------------------------
    def _write_run_json(self, started: RunStarted) -> None:
        doc = {
            "label": started.label,
            "config": started.config,
            "resolved": started.resolved,
            "device": started.device,
            "versions": started.versions,
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        (self.out_dir / "run.json").write_text(json.dumps(doc, indent=2, default=_json_default) + "\n")

    def _finish(self, finished: RunFinished) -> None:
        if self._held is not None and self._csv is not None:
            self._write_rows([self._held])
            self._held = None
        if self._csv_file is not None:
            self._csv_file.close()
            self._csv_file = self._csv = None
        label = self.store.started.label if self.store.started else ""
        if self.store.started is not None:
            np.savez(self.out_dir / "layers.npz", **self.store.layer_arrays())
        if self.store.histograms:
            write_histograms_npz(self.out_dir / "histograms.npz", self.store)
        if "traceback" in finished.extra:
            (self.out_dir / "error.log").write_text(finished.extra["traceback"])
        (self.out_dir / "summary.json").write_text(
            json.dumps(summary_dict(finished, label), indent=2, default=_json_default) + "\n")


def write_histograms_npz(path: Path, store: RunStore) -> None:
    """``{kind}_step`` [H], ``{kind}_edges`` [H, L, B+1], ``{kind}_counts`` [H, L, B] per kind."""
    out: dict[str, np.ndarray] = {}
    for kind in sorted({h.kind for h in store.histograms}):
        hs = [h for h in store.histograms if h.kind == kind]
        out[f"{kind}_step"] = np.array([h.step for h in hs], dtype=np.int64)
        out[f"{kind}_edges"] = np.stack([h.edges for h in hs])
        out[f"{kind}_counts"] = np.stack([h.counts for h in hs])
    np.savez(path, **out)


@dataclass
class RunFolder:
    """A run folder read back from disk."""

    path: Path
    run: dict[str, Any]
    metrics: dict[str, np.ndarray]  # METRIC_COLUMNS -> [N]; NaN where empty
    layers: dict[str, np.ndarray] | None
    summary: dict[str, Any] | None


def read_run_folder(path: str | Path) -> RunFolder:
    """Load run.json, metrics.csv, and (when present) layers.npz and summary.json."""
    path = Path(path)
    run = json.loads((path / "run.json").read_text())
    with open(path / "metrics.csv", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    metrics: dict[str, np.ndarray] = {}
    for j, col in enumerate(header):
        values = [float(r[j]) if r[j] != "" else np.nan for r in rows]
        metrics[col] = np.array(values, dtype=np.int64 if col == "step" else np.float64)
    layers = None
    if (path / "layers.npz").exists():
        with np.load(path / "layers.npz") as npz:
            layers = {k: npz[k] for k in npz.files}
    summary = json.loads((path / "summary.json").read_text()) if (path / "summary.json").exists() else None
    return RunFolder(path=path, run=run, metrics=metrics, layers=layers, summary=summary)
