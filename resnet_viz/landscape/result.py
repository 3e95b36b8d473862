"""A computed landscape and its files: ``landscape.npz`` (the arrays) and ``landscape.json`` (the settings)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_viz.config import one_line
from resnet_viz.export.written import make_folder, write_atomically
from resnet_viz.landscape.errors import LandscapeError
from resnet_viz.landscape.spec import LandscapeSpec

NPZ_FILE = "landscape.npz"
JSON_FILE = "landscape.json"
FORMAT = "resnet-viz landscape"
VERSION = 1
#: The optional arrays of landscape.npz (absent: None).
_OPTIONAL = ("beta", "path_alpha", "path_beta", "path_steps", "explained_variance")


@dataclass
class LandscapeResult:
    """One landscape. ``alpha`` float64 [nx] (interpolate: the line's coefficient, 0 = initial weights,
    1 = final); ``beta`` float64 [ny], None for a line; ``loss`` and ``error`` float64 [ny, nx] (row i is
    β = beta[i]) or [nx] for a line: the mean cross-entropy and the error fraction (0..1) on the sample;
    ``path_alpha``, ``path_beta`` float64 [n] and ``path_steps`` int64 [n]: the snapshots in the plane (pca
    only: the final weights at (0, 0)); ``explained_variance`` float64 [2] (pca only); ``elapsed_s``:
    seconds of the computation; ``device``: where it ran; ``samples_used``: images in the sample (fewer
    than asked when the data has fewer); ``method``: how points were evaluated; ``step``: the final
    weights' step when known; ``precision``: the forward passes' arithmetic; ``source``: the run folder
    or file it came from."""

    spec: LandscapeSpec
    label: str
    source: str
    alpha: np.ndarray
    beta: np.ndarray | None
    loss: np.ndarray
    error: np.ndarray
    path_alpha: np.ndarray | None = None
    path_beta: np.ndarray | None = None
    path_steps: np.ndarray | None = None
    explained_variance: np.ndarray | None = None
    elapsed_s: float = 0.0
    device: str = "cpu"
    samples_used: int = 0
    method: str = "loop"
    step: int | None = None
    precision: str = "fp32"

    @property
    def one_dimensional(self) -> bool:
        return self.beta is None

    def center(self) -> tuple[float, float]:
        """The coordinates of the final weights: (0, 0) in a plane, (1, 0) on the init -> final line."""
        return (1.0, 0.0) if self.one_dimensional else (0.0, 0.0)

    def arrays(self) -> dict[str, np.ndarray]:
        """What landscape.npz holds (the optional arrays only when present)."""
        out = {"alpha": self.alpha, "loss": self.loss, "error": self.error}
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def settings(self) -> dict[str, Any]:
        """What landscape.json holds: format, label, source, the spec, the ranges used, timing, summary."""
        finite = self.loss[np.isfinite(self.loss)]
        return {
            "format": FORMAT,
            "version": VERSION,
            "label": self.label,
            "source": self.source,
            "step": self.step,
            "spec": {**dataclasses.asdict(self.spec), "range": _list(self.spec.range)},
            "alpha_range": [float(self.alpha[0]), float(self.alpha[-1])],
            "beta_range": None if self.beta is None else [float(self.beta[0]), float(self.beta[-1])],
            "samples_used": self.samples_used,
            "elapsed_s": round(self.elapsed_s, 3),
            "device": self.device,
            "method": self.method,
            "precision": self.precision,
            "min_loss": float(finite.min()) if finite.size else None,
            "max_loss": float(finite.max()) if finite.size else None,
            "explained_variance": _list(self.explained_variance),
        }

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write landscape.npz and landscape.json into ``out_dir`` (made if missing), each atomically;
        ``WriteError`` (one line) when they cannot be written. Returns the two paths."""
        out = make_folder(out_dir)
        arrays: dict[str, Any] = dict(self.arrays())

        def write_npz(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

        text = json.dumps(_json_safe(self.settings()), indent=2) + "\n"
        return [
            write_atomically(out / NPZ_FILE, write_npz),
            write_atomically(out / JSON_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8")),
        ]

    @classmethod
    def load(cls, path: str | Path) -> LandscapeResult:
        """Read a landscape folder (or its landscape.npz / landscape.json); :class:`LandscapeError` (one line)."""
        folder = Path(path)
        if folder.name in (NPZ_FILE, JSON_FILE):
            folder = folder.parent
        try:
            doc = json.loads((folder / JSON_FILE).read_text(encoding="utf-8"))
            with np.load(folder / NPZ_FILE, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            spec_doc = dict(doc["spec"])
            if spec_doc.get("range") is not None:
                spec_doc["range"] = tuple(float(v) for v in spec_doc["range"])
            spec = LandscapeSpec(**spec_doc)
            return cls(
                spec=spec,
                label=str(doc["label"]),
                source=str(doc["source"]),
                alpha=arrays["alpha"],
                beta=arrays.get("beta"),
                loss=arrays["loss"],
                error=arrays["error"],
                **{k: arrays.get(k) for k in _OPTIONAL if k != "beta"},
                elapsed_s=float(doc.get("elapsed_s", 0.0)),
                device=str(doc.get("device", "cpu")),
                samples_used=int(doc.get("samples_used", 0)),
                method=str(doc.get("method", "loop")),
                step=doc.get("step"),
                precision=str(doc.get("precision", "fp32")),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LandscapeError(
                f"{folder}: not a readable landscape ({one_line(f'{type(exc).__name__}: {exc}', 160)})"
            ) from None


def _list(value: Any) -> list[float] | None:
    return None if value is None else [float(v) for v in value]


def _json_safe(value: Any) -> Any:
    """Non-finite floats as the strings "nan", "inf", "-inf" (strict JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value
