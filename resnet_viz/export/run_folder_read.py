"""Reading a run folder back (format: :mod:`resnet_viz.export.run_folder`): whole rows and records
only, whatever a kill left, and the state of the run (finished, running, ``interrupted at step k``)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_viz.export.csv_columns import read_csv_columns
from resnet_viz.export.run_folder_format import (
    HISTOGRAMS_FORMAT,
    INIT_ARRAYS,
    LAYERS_FORMAT,
    RUNNING,
    histogram_record_dtype,
    layers_record_dtype,
    writer_alive,
)
from resnet_viz.metrics.records import HISTOGRAM_KINDS, LAYER_QUANTITIES, HistogramRecord
from resnet_viz.metrics.store import METRIC_COLUMNS


@dataclass
class RunFolder:
    """A run folder read back from disk.

    ``status``: summary.json's final status; ``"running"`` while a process writes the folder
    (``live``) or for a snapshot of a training run; ``interrupted at step k`` when summary.json says
    ``"running"`` but its writer is gone, or there is no summary.json. ``last_step``: the last step on
    disk (metrics.csv or layers.bin); ``message``: a sentence about the status.
    """

    path: Path
    run: dict[str, Any]
    metrics: dict[str, np.ndarray]  # METRIC_COLUMNS -> [N]; NaN where empty
    layers: dict[str, np.ndarray] | None  # every one of LAYER_QUANTITIES (NaN when the folder predates it)
    summary: dict[str, Any] | None
    status: str = ""
    message: str = ""
    live: bool = False
    last_step: int = 0

    @property
    def interrupted(self) -> bool:
        return self.status.startswith("interrupted")


def _read_metrics(path: Path) -> dict[str, np.ndarray]:
    """metrics.csv: the lines that end with a newline and parse, with increasing steps; a torn or damaged
    tail is dropped. Parsed by numpy in blocks (``read_csv_columns``): time and memory in proportion to
    the file, not a Python object per value."""
    with open(path, "rb") as f:
        header = f.readline().decode("utf-8", errors="replace").strip().split(",")
    names = header if header[0] == "step" else list(METRIC_COLUMNS)
    columns = read_csv_columns(path, names=names, stop_at_damage=True)
    step = columns["step"]
    ok = np.isfinite(step)
    ok[1:] &= np.diff(step) > 0
    n = int(np.argmin(ok)) if not ok.all() else step.shape[0]  # rows up to the first damaged step
    return {col: values[:n].astype(np.int64) if col == "step" else values[:n] for col, values in columns.items()}


def _npz_layers(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of layers.npz, with NaN [K, L] for the quantities it predates; None when damaged."""
    try:
        with np.load(path) as npz:
            layers = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # damaged (e.g. a cut copy): use the stream
        return None
    shape = (layers["step"].shape[0], layers["layer_names"].shape[0]) if "step" in layers else (0, 0)
    for q in LAYER_QUANTITIES:
        layers.setdefault(q, np.full(shape, np.nan, dtype=np.float32))
    return layers


def _read_streamed_layers(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of layers.npz, from layers.json and layers.bin (whole records only)."""
    try:
        head = json.loads((path / "layers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(head, dict) or head.get("format") != LAYERS_FORMAT:
        return None
    quantities, n = list(head["quantities"]), int(head["n_layers"])
    dtype = layers_record_dtype(len(quantities), n)
    if int(head.get("record_bytes", dtype.itemsize)) != dtype.itemsize:
        raise ValueError(
            f"{path / 'layers.json'}: record_bytes {head.get('record_bytes')} does not match "
            f"{len(quantities)} quantities × {n} layers ({dtype.itemsize} bytes)"
        )
    bin_path = path / "layers.bin"
    size = bin_path.stat().st_size if bin_path.exists() else 0
    records = (
        np.fromfile(bin_path, dtype=dtype, count=size // dtype.itemsize)
        if size >= dtype.itemsize
        else np.zeros(0, dtype=dtype)
    )
    steps = records["step"]
    bad = np.flatnonzero((steps < 1) | (np.diff(steps, prepend=0) <= 0))
    keep = int(bad[0]) if bad.size else steps.shape[0]
    records = records[:keep]
    out: dict[str, np.ndarray] = {
        **{k: np.array(head[k], dtype=str) for k in ("layer_names", "layer_kinds", "layer_roles")},
        **{
            k: np.array(head[k], dtype=np.int64)
            for k in ("layer_stages", "layer_blocks", "layer_fan_in", "layer_params")
        },
        "step": records["step"].astype(np.int64),
    }
    for q in LAYER_QUANTITIES:
        out[q] = (
            records["values"][:, quantities.index(q), :].astype(np.float32)
            if q in quantities
            else np.full((keep, n), np.nan, dtype=np.float32)
        )
    for name in INIT_ARRAYS:
        out[name] = np.array([float(v) for v in head[name]], dtype=np.float64)
    return out


def read_streamed_histograms(path: str | Path) -> list[HistogramRecord]:
    """The histograms of histograms.json + histograms.bin (whole records, steps ≥ 1 and not
    decreasing), in the order written; [] without them."""
    path = Path(path)
    try:
        head = json.loads((path / "histograms.json").read_text(encoding="utf-8"))
        bin_size = (path / "histograms.bin").stat().st_size
    except (OSError, ValueError):
        return []
    if not isinstance(head, dict) or head.get("format") != HISTOGRAMS_FORMAT:
        return []
    dtype = histogram_record_dtype(int(head["n_layers"]), int(head["bins"]))
    if int(head.get("record_bytes", dtype.itemsize)) != dtype.itemsize:
        raise ValueError(
            f"{path / 'histograms.json'}: record_bytes {head.get('record_bytes')} does not match "
            f"its layers and bins ({dtype.itemsize} bytes)"
        )
    records = np.fromfile(path / "histograms.bin", dtype=dtype, count=bin_size // dtype.itemsize)
    kinds = list(head["kinds"])
    steps = records["step"]
    bad = np.flatnonzero(
        (steps < 1) | (np.diff(steps, prepend=1) < 0) | (records["kind"] < 0) | (records["kind"] >= len(kinds))
    )
    keep = int(bad[0]) if bad.size else steps.shape[0]
    return [
        HistogramRecord(
            step=int(r["step"]), kind=kinds[int(r["kind"])], edges=r["edges"].copy(), counts=r["counts"].copy()
        )
        for r in records[:keep]
    ]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # not written by an atomic replace: damaged; treat as absent
        return None
    return doc if isinstance(doc, dict) else None


def read_run_folder(path: str | Path) -> RunFolder:
    """Load run.json, metrics.csv, the layers (layers.npz, else layers.json + layers.bin) and summary.json,
    and say what state the run is in (see :class:`RunFolder`). Raises ``FileNotFoundError`` without
    run.json or metrics.csv."""
    path = Path(path)
    run = json.loads((path / "run.json").read_text(encoding="utf-8"))
    metrics = _read_metrics(path / "metrics.csv")
    layers = _npz_layers(path / "layers.npz") if (path / "layers.npz").exists() else None
    if layers is None:
        layers = _read_streamed_layers(path)
    summary = _read_json(path / "summary.json")
    last_step = max(
        int(metrics["step"][-1]) if metrics["step"].shape[0] else 0,
        int(layers["step"][-1]) if layers is not None and layers["step"].shape[0] else 0,
    )
    folder = RunFolder(path=path, run=run, metrics=metrics, layers=layers, summary=summary, last_step=last_step)
    total = (run.get("resolved") or {}).get("total_steps") if isinstance(run, dict) else None
    of_total = f" of {total}" if total else ""
    if summary is not None and summary.get("status") != RUNNING:
        folder.status, folder.message = str(summary.get("status")), str(summary.get("message", ""))
    elif summary is not None and "writer" not in summary:
        folder.status, folder.message = RUNNING, str(summary.get("message", ""))
    elif summary is not None and writer_alive(path, summary):
        writer = summary["writer"]
        folder.status, folder.live = RUNNING, True
        folder.message = (
            f"being written by process {writer.get('pid')} on {writer.get('host')}: "
            f"step {last_step}{of_total} when read"
        )
    else:
        folder.status = f"interrupted at step {last_step}"
        folder.message = (
            f"the process writing this run folder ended before the run did (killed, crashed or the "
            f"machine stopped) after step {last_step}{of_total}; everything up to there is kept"
        )
    return folder


def histograms_from_npz(path: Path) -> list[HistogramRecord]:
    """HistogramRecords of histograms.npz, in the engine's order (by step; kinds in ``HISTOGRAM_KINDS`` order)."""
    out: list[HistogramRecord] = []
    with np.load(path) as npz:
        kinds = sorted(
            (key[: -len("_step")] for key in npz.files if key.endswith("_step")),
            key=lambda k: (HISTOGRAM_KINDS.index(k) if k in HISTOGRAM_KINDS else len(HISTOGRAM_KINDS), k),
        )
        for kind in kinds:
            steps, edges, counts = npz[f"{kind}_step"], npz[f"{kind}_edges"], npz[f"{kind}_counts"]
            out += [
                HistogramRecord(step=int(s), kind=kind, edges=edges[i], counts=counts[i]) for i, s in enumerate(steps)
            ]
    out.sort(key=lambda h: h.step)  # stable: kinds stay in sorted order within a step
    return out


def read_histograms(path: str | Path) -> list[HistogramRecord]:
    """The histograms of a run folder: histograms.npz, else the streamed histograms.json + histograms.bin."""
    npz = Path(path) / "histograms.npz"
    return histograms_from_npz(npz) if npz.exists() else read_streamed_histograms(path)
