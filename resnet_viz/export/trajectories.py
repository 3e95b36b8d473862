"""Optimiser-race trajectories as CSV: columns ``optimizer, step, x, y, loss``; step 0 is the start.

Non-finite values are written as ``nan``, ``inf`` and ``-inf`` so a diverged racer's last point is
kept as it was. Floats are written in Python's shortest exact form (``repr``), so they read back bit for bit.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from resnet_viz.surfaces.race import Trajectory

TRAJECTORY_COLUMNS = ("optimizer", "step", "x", "y", "loss")


def _num(v: float) -> str:
    return repr(float(v))


def write_trajectories_csv(path: str | Path, trajectories: Iterable[Trajectory]) -> Path:
    """Write every trajectory, one row per point, optimisers one after the other."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(TRAJECTORY_COLUMNS)
        for t in trajectories:
            pos, loss = t.positions.values, t.losses.values
            for k in range(len(loss)):
                w.writerow((t.label, k, _num(pos[k, 0]), _num(pos[k, 1]), _num(loss[k])))
    return path


def read_trajectories_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Per optimiser label: an array (n+1, 4) of step, x, y, loss, in file order."""
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != TRAJECTORY_COLUMNS:
            raise ValueError(f"{path}: expected columns {', '.join(TRAJECTORY_COLUMNS)}, got {reader.fieldnames}")
        for r in reader:
            rows.setdefault(r["optimizer"], []).append(
                (float(r["step"]), float(r["x"]), float(r["y"]), float(r["loss"]))
            )
    return {k: np.array(v, dtype=np.float64) for k, v in rows.items()}
