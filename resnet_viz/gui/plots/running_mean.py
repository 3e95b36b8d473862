"""The thin training curves' smoothing: a trailing running mean of an append-only series, extended
incrementally, and two lookups on series (the last finite value, the nearest sample)."""

from __future__ import annotations

import numpy as np

from resnet_viz.metrics.store import GrowingArray

DEFAULT_SMOOTHING = 20
MAX_SMOOTHING = 1000


class RunningMean:
    """Trailing running mean of an append-only series, extended incrementally.

    ``values[i]`` is the mean of the valid samples among the last ``window`` steps up to step ``i``
    (fewer at the start, where the window is not full yet), times ``scale``. Steps whose own sample is
    invalid (non-finite, or flagged by the caller) are NaN, so a plotted line breaks there; invalid
    samples are also left out of their neighbours' means. With ``positive=True`` values ≤ 0 become NaN
    (for log axes).

    Prefix sums of the samples and of the valid counts are kept, so :meth:`extend` costs O(k) for k new
    steps and :meth:`set_window` O(N) once.
    """

    def __init__(self, window: int = DEFAULT_SMOOTHING, *, scale: float = 1.0, positive: bool = False) -> None:
        if window < 1:
            raise ValueError(f"window must be ≥ 1 step, got {window}")
        self.window = int(window)
        self.scale = float(scale)
        self.positive = positive
        self._sum = GrowingArray()  # prefix sums of valid samples, [N + 1], _sum[0] = 0
        self._count = GrowingArray(dtype=np.int64)  # prefix counts of valid samples, [N + 1]
        self._valid = GrowingArray(dtype=bool)  # [N]
        self._mean = GrowingArray()  # [N], scaled
        self._sum.extend(np.zeros(1))
        self._count.extend(np.zeros(1, dtype=np.int64))

    def __len__(self) -> int:
        return len(self._valid)

    @property
    def values(self) -> np.ndarray:
        """The running mean [N] (a view, valid until the next :meth:`extend` / :meth:`set_window`)."""
        return self._mean.values

    def extend(self, samples: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Append ``k`` new raw samples [k] (``valid``: bool [k], default: finite ones)."""
        samples = np.asarray(samples, dtype=np.float64)
        if samples.shape[0] == 0:
            return
        ok = np.isfinite(samples) if valid is None else (np.asarray(valid, dtype=bool) & np.isfinite(samples))
        start = len(self)
        self._sum.extend(self._sum.values[-1] + np.cumsum(np.where(ok, samples, 0.0)))
        self._count.extend(self._count.values[-1] + np.cumsum(ok, dtype=np.int64))
        self._valid.extend(ok)
        self._mean.extend(self._compute(start, len(self)))

    def set_window(self, window: int) -> None:
        """Change the window (steps) and recompute every value, O(N)."""
        if window < 1:
            raise ValueError(f"window must be ≥ 1 step, got {window}")
        if window == self.window:
            return
        self.window = int(window)
        mean = GrowingArray()
        mean.extend(self._compute(0, len(self)))
        self._mean = mean  # a new buffer: arrays handed out earlier stay unchanged

    def _compute(self, start: int, stop: int) -> np.ndarray:
        """Scaled means of steps [start, stop) from the prefix sums."""
        hi = np.arange(start + 1, stop + 1)
        lo = np.maximum(hi - self.window, 0)
        s, c = self._sum.values, self._count.values
        count = c[hi] - c[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (s[hi] - s[lo]) / count * self.scale
        out[(count == 0) | ~self._valid.values[start:stop]] = np.nan
        if self.positive:
            out[out <= 0] = np.nan
        return out


def last_finite(values: np.ndarray) -> int | None:
    """Index of the last finite element of ``values`` [N] (None if none); looks at the tail first."""
    for tail in (values[-64:], values):
        ok = np.flatnonzero(np.isfinite(tail))
        if len(ok):
            return len(values) - len(tail) + int(ok[-1])
    return None


def nearest_index(sorted_x: np.ndarray, x: float) -> int:
    """Index of the element of an increasing array [N ≥ 1] nearest to ``x``."""
    i = int(np.searchsorted(sorted_x, x))
    if i <= 0:
        return 0
    if i >= len(sorted_x):
        return len(sorted_x) - 1
    return i if sorted_x[i] - x < x - sorted_x[i - 1] else i - 1
