"""The training path in the plane of its top two principal components (Li et al. 2018 §7; science.md §8).

d_i = θ_i − θ_final over the snapshots (tensors with dim ≤ 1 zeroed, as the reference's ``ignore biasbn``);
PCA of the mean-centred matrix of the d_i; the top two components (unit norm) are the directions; each
snapshot's coordinates are its *uncentred* d_i projected on them, so the final weights sit at (0, 0).
The PCA goes through the small Gram matrix of the snapshots (float64, n × n for n snapshots), so a net
of millions of parameters needs no SVD of an n × p matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from resnet_viz.landscape.errors import LandscapeError

#: Parameters per block of the Gram matrix's accumulation (bounds the float64 temporary).
_CHUNK = 1 << 20


@dataclass(frozen=True)
class PcaPath:
    """``pc1``, ``pc2``: unit directions by parameter name (float32, shaped like the parameters; zero for
    dim ≤ 1 tensors); ``path_alpha``, ``path_beta``: float64 [n] coordinates of the snapshots (the final
    weights: (0, 0)); ``explained_variance``: float64 [2] the fractions of the centred path's variance the
    two components explain; ``steps``: int64 [n] the snapshots' steps."""

    pc1: dict[str, np.ndarray]
    pc2: dict[str, np.ndarray]
    path_alpha: np.ndarray
    path_beta: np.ndarray
    explained_variance: np.ndarray
    steps: np.ndarray


def _flat_differences(snapshots: Sequence[Mapping[str, np.ndarray]], final: Mapping[str, np.ndarray]) -> np.ndarray:
    """float32 [n, p]: θ_i − θ_final for the parameters with dim ≥ 2, concatenated in ``final``'s order."""
    names = [k for k, v in final.items() if np.ndim(v) >= 2]
    for i, snap in enumerate(snapshots):
        missing = [k for k in names if k not in snap or np.shape(snap[k]) != np.shape(final[k])]
        if missing:
            raise LandscapeError(
                f"snapshot {i} does not fit the final weights: {missing[0]} is missing or of another shape"
            )
    rows = [
        np.concatenate([(np.asarray(snap[k], np.float32) - np.asarray(final[k], np.float32)).ravel() for k in names])
        for snap in snapshots
    ]
    return np.stack(rows) if rows else np.zeros((0, 0), np.float32)


def _gram(centred: np.ndarray) -> np.ndarray:
    """float64 [n, n]: centred @ centred.T accumulated block by block."""
    n, p = centred.shape
    g = np.zeros((n, n), np.float64)
    for start in range(0, p, _CHUNK):
        block = centred[:, start : start + _CHUNK].astype(np.float64)
        g += block @ block.T
    return g


def _combine(weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """float64 [p]: weights [n] @ rows [n, p] in float64, block by block."""
    p = rows.shape[1]
    out = np.empty(p, np.float64)
    for start in range(0, p, _CHUNK):
        out[start : start + _CHUNK] = weights @ rows[:, start : start + _CHUNK].astype(np.float64)
    return out


def _project(rows: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """float64 [n]: rows [n, p] @ direction [p] in float64, block by block."""
    out = np.zeros(rows.shape[0], np.float64)
    for start in range(0, rows.shape[1], _CHUNK):
        out += rows[:, start : start + _CHUNK].astype(np.float64) @ direction[start : start + _CHUNK]
    return out


def _unflatten(flat: np.ndarray, final: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    pos = 0
    for k, v in final.items():
        shape = np.shape(v)
        if len(shape) >= 2:
            size = int(np.prod(shape))
            out[k] = flat[pos : pos + size].reshape(shape).astype(np.float32)
            pos += size
        else:
            out[k] = np.zeros(shape, np.float32)
    return out


def pca_path(
    snapshots: Sequence[Mapping[str, np.ndarray]], final: Mapping[str, np.ndarray], steps: Sequence[int]
) -> PcaPath:
    """The PCA plane of the path ``snapshots`` (parameter dicts, oldest first) ending at ``final`` (see the
    module doc); ``steps``: each snapshot's step. :class:`LandscapeError` (one line) when the path does not
    span a plane (fewer than 3 snapshots, or all on one line)."""
    if len(snapshots) != len(steps):
        raise ValueError(f"{len(snapshots)} snapshots but {len(steps)} steps")
    if len(snapshots) < 3:
        raise LandscapeError(f"the PCA of the training path needs at least 3 snapshots; this run has {len(snapshots)}")
    d = _flat_differences(snapshots, final)
    centred = d - d.mean(axis=0, dtype=np.float64).astype(np.float32)
    eigenvalues, vectors = np.linalg.eigh(_gram(centred))  # ascending
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = np.clip(eigenvalues[order], 0.0, None), vectors[:, order]
    total = float(eigenvalues.sum())
    if total <= 0.0 or eigenvalues[1] <= 1e-12 * eigenvalues[0]:
        raise LandscapeError("the training path does not span a plane (its snapshots lie on one line): no PCA plane")
    pcs = []
    for k in range(2):
        pc = _combine(vectors[:, k], centred)  # ∝ the k-th right singular vector of the centred matrix
        pcs.append(pc / np.linalg.norm(pc))
    coords = [_project(d, pc) for pc in pcs]
    return PcaPath(
        pc1=_unflatten(pcs[0], final),
        pc2=_unflatten(pcs[1], final),
        path_alpha=coords[0],
        path_beta=coords[1],
        explained_variance=eigenvalues[:2] / total,
        steps=np.asarray(steps, np.int64),
    )
