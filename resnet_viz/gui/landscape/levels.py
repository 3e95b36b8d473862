"""The loss grid as drawn: log₁₀ of the loss refined onto a finer grid (bilinear), the colour range shared by
the results shown together, the banded colour map of the filled contours and the colour bar's ticks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg

from resnet_viz.gui.race.surface_image import heatmap_colormap

DRAW_POINTS = 161  # per axis: the grid (21 or 51 points) refined so the bands and iso-lines are smooth (the
# iso-lines cost ~n² each: 161 draws in a third of the time of 241, looking the same)
BANDS = 18  # filled-contour bands between the colour range's ends (equal steps of log₁₀ loss)
TINY_LOSS = 1e-12  # a loss of exactly 0 is drawn as this (log scale)


def log_loss(loss: np.ndarray) -> np.ndarray:
    """log₁₀ of ``loss`` (float64, same shape); NaN where the loss is not finite."""
    z = np.asarray(loss, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.log10(np.maximum(z, TINY_LOSS))
    out[~np.isfinite(z)] = np.nan
    return out


def _interp_axis(z: np.ndarray, src: np.ndarray, dst: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``z`` along ``axis`` from coordinates ``src`` to ``dst`` (NaN spreads to the
    cells it touches, so a diverged point is not smoothed away)."""
    idx = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, len(src) - 2)
    t = (dst - src[idx]) / (src[idx + 1] - src[idx])
    lo, hi = np.take(z, idx, axis=axis), np.take(z, idx + 1, axis=axis)
    shape = [1] * z.ndim
    shape[axis] = len(dst)
    t = t.reshape(shape)
    return lo * (1 - t) + hi * t


def refine(
    alpha: np.ndarray, beta: np.ndarray, z: np.ndarray, n: int = DRAW_POINTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``z`` [ny, nx] (rows = beta) bilinearly interpolated onto n×n points spanning the same ranges:
    (xs [n], ys [n], values [n, n] rows = ys). A grid of one point per axis is returned as it is."""
    alpha, beta = np.asarray(alpha, dtype=np.float64), np.asarray(beta, dtype=np.float64)
    if len(alpha) < 2 or len(beta) < 2:
        return alpha, beta, np.asarray(z, dtype=np.float64)
    xs = np.linspace(alpha[0], alpha[-1], n)
    ys = np.linspace(beta[0], beta[-1], n)
    rows = _interp_axis(np.asarray(z, dtype=np.float64), alpha, xs, axis=1)
    return xs, ys, _interp_axis(rows, beta, ys, axis=0)


def shared_range(losses: Sequence[np.ndarray]) -> tuple[float, float]:
    """(lo, hi) in log₁₀ loss for every grid in ``losses`` together: the smallest finite value to the
    largest of their 99th percentiles (one exploding corner does not flatten the rest into one colour)."""
    lows, highs = [], []
    for loss in losses:
        z = log_loss(loss)
        finite = z[np.isfinite(z)]
        if finite.size:
            lows.append(float(finite.min()))
            highs.append(float(np.percentile(finite, 99)))
    if not lows:
        return 0.0, 1.0
    lo, hi = min(lows), max(highs)
    return (lo, hi) if hi > lo + 1e-9 else (lo - 0.5, lo + 0.5)


def band_colormap(bands: int = BANDS) -> pg.ColorMap:
    """The lightened viridis of the race's heatmap in ``bands`` flat bands (the colour bar shows the bands
    the image has)."""
    smooth = heatmap_colormap()
    colours = smooth.map(np.linspace(0.0, 1.0, bands), mode="byte")[:, :3]
    edges = np.linspace(0.0, 1.0, bands + 1)
    pos = np.repeat(edges, 2)[1:-1]
    return pg.ColorMap(pos, np.repeat(colours, 2, axis=0))


def band_edges(lo: float, hi: float, bands: int = BANDS) -> np.ndarray:
    """The levels between the bands (the iso-lines), without the ends."""
    return np.linspace(lo, hi, bands + 1)[1:-1]


#: Tick mantissas, coarse to fine: the first tier giving at least four ticks in the range is used.
TICK_TIERS = ((1.0, 2.0, 5.0), tuple(range(1, 10)), tuple(np.arange(1.0, 10.0, 0.5)), tuple(np.arange(1.0, 10.0, 0.1)))


def log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks of a log₁₀ axis from ``lo`` to ``hi``: (log₁₀ v, "v") at v = m × 10ᵏ for the mantissas m of the
    first tier of :data:`TICK_TIERS` giving at least four (a narrow range gets 1.5, 2, 2.5 …); one per
    decade when 1, 2, 5 give more than twelve."""
    ticks: list[tuple[float, str]] = []
    for mantissas in TICK_TIERS:
        values = sorted(
            {
                float(f"{m * 10.0**k:.3g}")
                for k in range(int(np.floor(lo)) - 1, int(np.ceil(hi)) + 1)
                for m in mantissas
                if lo - 1e-9 <= np.log10(m * 10.0**k) <= hi + 1e-9
            }
        )
        ticks = [(float(np.log10(v)), _loss_text(v)) for v in values]
        if len(ticks) > 12 and mantissas == TICK_TIERS[0]:
            return [t for t in ticks if abs(t[0] - round(t[0])) < 1e-9]
        if len(ticks) >= 4:
            return ticks
    return _linear_ticks(10.0**lo, 10.0**hi) or ticks


def _linear_ticks(vlo: float, vhi: float, target: int = 5) -> list[tuple[float, str]]:
    """A narrow loss range (2.564 to 2.624): ticks at round values 1, 2 or 5 × 10ᵏ apart (2.57, 2.58 …),
    placed on the log axis, labelled with the decimals their spacing needs."""
    if not (vhi > vlo > 0):
        return []
    raw = (vhi - vlo) / target
    k = int(np.floor(np.log10(raw)))
    step = min((m * 10.0**k for m in (1, 2, 5, 10) if m * 10.0**k >= raw), default=10.0 ** (k + 1))
    decimals = max(0, -int(np.floor(np.log10(step))))
    first = np.ceil(vlo / step - 1e-9) * step
    values = [first + i * step for i in range(int((vhi - first) / step + 1e-9) + 1)]
    return [(float(np.log10(v)), f"{v:.{decimals}f}") for v in values if v > 0]


def _loss_text(v: float) -> str:
    return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e") if v < 1e-3 or v >= 1e4 else f"{v:g}"
