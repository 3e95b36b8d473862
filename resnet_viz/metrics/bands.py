"""Bands over seeds: runs that differ only in their seed form a group, drawn as the mean over the group's runs
with a band (±1 std or min–max) at every x the runs share.

:func:`seed_key` names a run's config without its seed; :func:`seed_groups` groups runs by it (list order kept);
:func:`seed_band` reduces the groups' series (x [N_i], y [N_i] per run) to one :class:`Band`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

import numpy as np

from resnet_viz.config import RunConfig

#: How runs that differ only in seed are drawn: each on its own, mean ± 1 std, min–max.
BAND_MODES = ("runs", "std", "minmax")
#: Words for each mode (menus, legends).
BAND_MODE_TEXT = {"runs": "each run", "std": "mean ± 1 std", "minmax": "min–max"}


class HasConfig(Protocol):
    """Anything with a run config (a :class:`~resnet_viz.runs.run.Run`, a window's run entry)."""

    @property
    def config(self) -> RunConfig: ...


R = TypeVar("R", bound=HasConfig)


def seed_key(config: RunConfig) -> str:
    """Canonical JSON (sorted keys) of ``config`` with ``train.seed`` set to 0: equal for two configs exactly
    when they differ at most in their seed."""
    unseeded = replace(config, train=replace(config.train, seed=0))
    return json.dumps(unseeded.to_dict(), sort_keys=True, default=str)


def seed_groups(runs: Sequence[R]) -> list[list[R]]:
    """The runs grouped by :func:`seed_key` (names do not matter): groups in the order of their first run,
    runs in list order within a group; a run without seed siblings is a group of one."""
    groups: dict[str, list[R]] = {}
    for run in runs:
        groups.setdefault(seed_key(run.config), []).append(run)
    return list(groups.values())


@dataclass(frozen=True)
class Band:
    """A band over ``n`` runs at the x values they share: ``x`` [M] (ascending), ``mean``, ``lo``, ``hi`` [M]
    float64 (NaN where no run has a finite value). ``lo``/``hi``: mean ∓ 1 std (ddof 0), or min/max."""

    x: np.ndarray
    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n: int

    @classmethod
    def empty(cls) -> Band:
        e = np.empty(0, dtype=np.float64)
        return cls(e, e, e, e, 0)


def common_x(xs: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The x values every array of ``xs`` holds (ascending) and, for each array, the index of each of them
    (its first occurrence). Arrays that agree on their common prefix (runs of one config: steps 1..n) take a
    fast path of O(total length)."""
    m = min(len(x) for x in xs)
    first = xs[0][:m]
    increasing = m < 2 or bool(np.all(np.diff(first) > 0))
    if increasing and all(np.array_equal(x[:m], first) for x in xs[1:]):
        index = np.arange(m)
        return np.asarray(first, dtype=np.float64), [index] * len(xs)
    common = np.unique(xs[0])
    for x in xs[1:]:
        common = np.intersect1d(common, x)
    indices = []
    for x in xs:
        order = np.argsort(x, kind="stable")
        indices.append(order[np.searchsorted(x[order], common)])
    return np.asarray(common, dtype=np.float64), indices


def _reduce(values: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mean, lo, hi over axis 0 of ``values`` [K, M]: numpy's own reductions when every value is finite,
    else over the finite values of each column (NaN for a column with none)."""
    finite = np.isfinite(values)
    if finite.all():
        mean = np.mean(values, axis=0)
        if mode == "std":
            std = np.std(values, axis=0)
            return mean, mean - std, mean + std
        return mean, np.min(values, axis=0), np.max(values, axis=0)
    masked = np.where(finite, values, np.nan)
    out = np.full((3, values.shape[1]), np.nan)
    cols = finite.any(axis=0)
    if cols.any():
        sel = masked[:, cols]
        mean = np.nanmean(sel, axis=0)
        if mode == "std":
            std = np.nanstd(sel, axis=0)
            lo, hi = mean - std, mean + std
        else:
            lo, hi = np.nanmin(sel, axis=0), np.nanmax(sel, axis=0)
        out[:, cols] = mean, lo, hi
    return out[0], out[1], out[2]


def seed_band(series: Sequence[tuple[np.ndarray, np.ndarray]], mode: str) -> Band:
    """The band of ``series`` (one ``(x [N_i], y [N_i])`` per run) at the x values common to all of them (a run
    still training shortens the band): mean is ``np.mean`` over runs at each x; ``mode`` ``"std"``: lo/hi =
    mean ∓ ``np.std`` (ddof 0); ``"minmax"``: the min/max over runs. NaN and ±inf are left out per x. No
    series: an empty band."""
    if mode not in BAND_MODES[1:]:
        raise ValueError(f"band mode {mode!r}: choose one of {', '.join(BAND_MODES[1:])}")
    if not series:
        return Band.empty()
    xs = [np.asarray(x) for x, _ in series]
    x, indices = common_x(xs)
    if x.size == 0:
        e = np.empty(0, dtype=np.float64)
        return Band(e, e, e, e, len(series))
    values = np.stack([np.asarray(y, dtype=np.float64)[i] for (_, y), i in zip(series, indices)])
    mean, lo, hi = _reduce(values, mode)
    return Band(x, mean, lo, hi, len(series))


__all__ = ["BAND_MODES", "BAND_MODE_TEXT", "Band", "common_x", "seed_band", "seed_groups", "seed_key"]
