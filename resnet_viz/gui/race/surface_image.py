"""The race's surface as a picture: sampled on a grid (optionally log-scaled), its colour range, colour maps
and the contour lines of the filled-contour view."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg

from resnet_viz.surfaces.functions import Surface

GRID_POINTS = 280  # per axis; 78k evaluations of f, ~10 ms
CONTOUR_BANDS = 16

#: Filled contours: slate blue (low) through pale grey to warm white (high), so coloured paths stand out.
CONTOUR_MAP = pg.ColorMap([0.0, 0.5, 1.0], [(128, 147, 174), (200, 208, 216), (253, 251, 244)])


def heatmap_colormap() -> pg.ColorMap:
    """Viridis blended 40% towards white: the heatmap keeps its order but the paths stay readable."""
    base = pg.colormap.get("viridis")
    pos = np.linspace(0.0, 1.0, 16)
    cols = base.map(pos, mode="float")[:, :3]
    light = 0.6 * cols + 0.4
    return pg.ColorMap(pos, (light * 255).astype(np.uint8))


@dataclass(frozen=True)
class SurfaceLevels:
    """The surface as drawn: ``values`` (nx, ny) after the optional log transform; NaN where f is not finite."""

    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    log: bool
    offset: float  # log: values = log10(f − offset)

    def transform(self, f: np.ndarray | float) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        if not self.log:
            return f
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log10(np.maximum(f - self.offset, 1e-300))

    def colour_range(self) -> tuple[float, float]:
        """(lo, hi) of the colours: the minimum to the 99th percentile of the finite values, so that a pole
        or a steep rim (log(x) at 0, the corners of Beale) does not flatten everything else into one colour."""
        finite = self.values[np.isfinite(self.values)]
        lo, hi = (float(finite.min()), float(np.percentile(finite, 99))) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = float(finite.max()) if finite.size and finite.max() > lo else lo + 1.0
        return lo, hi


def surface_levels(
    surface: Surface, x_range: tuple[float, float], y_range: tuple[float, float], log: bool, n: int = GRID_POINTS
) -> SurfaceLevels:
    """Sample ``surface`` on an n×n grid; with ``log``, values are log10(f − f_lo + δ) where f_lo is the
    smaller of the grid's minimum and f* and δ is 10⁻⁸ of the grid's range (so the minimum is finite)."""
    xs, ys, z = surface.grid(n, n, x_range, y_range)
    z = z.astype(np.float64)
    z[~np.isfinite(z)] = np.nan
    offset = 0.0
    if log and np.isfinite(z).any():
        lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
        if surface.min_value is not None:
            lo = min(lo, surface.min_value)
        offset = lo - max((hi - lo) * 1e-8, 1e-12)
    levels = SurfaceLevels(xs, ys, z, log, offset)
    return SurfaceLevels(xs, ys, levels.transform(z), log, offset)


def contour_lines(levels: SurfaceLevels, lo: float, hi: float, parent: pg.ImageItem) -> list[pg.IsocurveItem]:
    """The lines between the ``CONTOUR_BANDS`` bands of [lo, hi], drawn over ``parent`` (non-finite values count
    as above ``hi``)."""
    data = np.where(np.isfinite(levels.values), levels.values, hi + 1)
    lines = []
    for level in np.linspace(lo, hi, CONTOUR_BANDS + 1)[1:-1]:
        iso = pg.IsocurveItem(
            data=data, level=float(level), pen=pg.mkPen(60, 60, 70, 110, width=1), axisOrder="col-major"
        )
        iso.setParentItem(parent)
        lines.append(iso)
    return lines
