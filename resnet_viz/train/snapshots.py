"""Parameter snapshots during training (``train.snapshots``): which steps, and one host copy per snapshot.

The steps are spread evenly over the run, step 0 (the initialisation) and the last step always among
them, at most :data:`SNAPSHOT_BUDGET_BYTES` in all: a big network gets fewer (at least 2), and
:func:`plan_snapshots` says so in one line. The landscape's PCA path (``resnet_viz.landscape``) is built
from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from resnet_viz.metrics.records import ParameterSnapshot

#: Most bytes all the snapshots of one run may take (float32 host copies, in memory and on disk).
SNAPSHOT_BUDGET_BYTES = 256 << 20
#: Bytes of a snapshot file beyond its float32 values: the zip entry and npy header of each array, an upper estimate.
FILE_OVERHEAD_PER_ARRAY = 256


@dataclass(frozen=True)
class SnapshotPlan:
    """The steps to snapshot (sorted, 0 and the last step included; empty when off), the bytes of one
    snapshot, and ``note``: one line when the budget cut the number requested (else "")."""

    steps: frozenset[int]
    snapshot_bytes: int
    note: str = ""

    @property
    def total_bytes(self) -> int:
        return len(self.steps) * self.snapshot_bytes


def snapshot_bytes(model: nn.Module) -> int:
    """Bytes of one snapshot of ``model``: its float32 parameters plus the file overhead of each array."""
    return sum(4 * p.numel() + FILE_OVERHEAD_PER_ARRAY for p in model.parameters())


def plan_snapshots(total_steps: int, requested: int, snapshot_bytes: int) -> SnapshotPlan:
    """``requested`` steps of ``0..total_steps`` spread evenly (rounded; duplicates merged), fewer when
    ``requested`` snapshots of ``snapshot_bytes`` each exceed :data:`SNAPSHOT_BUDGET_BYTES` (never
    fewer than 2: step 0 and the last step). ``requested`` 0: none."""
    if requested <= 0 or total_steps < 0:
        return SnapshotPlan(frozenset(), snapshot_bytes)
    fit = SNAPSHOT_BUDGET_BYTES // max(snapshot_bytes, 1)
    count = max(2, min(requested, fit))
    note = ""
    if count < requested:
        note = (
            f"snapshots: {count} instead of {requested}: {requested} copies of {snapshot_bytes / 2**20:.1f} MiB "
            f"would exceed the {SNAPSHOT_BUDGET_BYTES >> 20} MiB budget"
        )
    steps = np.unique(np.round(np.linspace(0, total_steps, count)).astype(np.int64))
    return SnapshotPlan(frozenset(int(s) for s in steps), snapshot_bytes, note)


def take_snapshot(model: nn.Module, step: int) -> ParameterSnapshot | None:
    """The model's parameters as float32 host arrays (one device-side ``cat``, one copy to the host; the
    arrays are views of that one buffer), or None when a value is not finite."""
    named = list(model.named_parameters())
    if not named:
        return ParameterSnapshot(step=step, params={})
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1).float() for _, p in named]).cpu().numpy()
    if not np.isfinite(flat).all():
        return None
    params: dict[str, np.ndarray] = {}
    offset = 0
    for name, p in named:
        n = p.numel()
        params[name] = flat[offset : offset + n].reshape(tuple(p.shape))
        offset += n
    return ParameterSnapshot(step=step, params=params)


__all__ = [
    "FILE_OVERHEAD_PER_ARRAY",
    "SNAPSHOT_BUDGET_BYTES",
    "SnapshotPlan",
    "plan_snapshots",
    "snapshot_bytes",
    "take_snapshot",
]
