"""A 2D landscape as a :class:`~resnet_viz.surfaces.functions.Surface`, so the optimiser race can run its racers
on the real network's loss plane.

f(x, y) is the bilinear interpolation of the loss grid (torch ops only, so autograd gives the gradient);
outside the grid the value at the nearest edge point plus a quadratic wall ``k·dist²`` that pushes a
racer back (k: the grid's loss range per (a tenth of the grid's span)², so a tenth of the span outside
costs as much as the whole range inside).
"""

from __future__ import annotations

import numpy as np
import torch

from resnet_viz.landscape.result import LandscapeResult
from resnet_viz.surfaces.functions import Fn, Surface

#: How far outside the grid (as a fraction of its span) the wall adds the grid's whole loss range.
WALL_REACH = 0.1


def _grid_values(result: LandscapeResult) -> np.ndarray:
    """float64 [ny, nx]: the loss with non-finite points (a diverged network) at the largest finite loss."""
    z = np.asarray(result.loss, dtype=np.float64)
    finite = np.isfinite(z)
    if not finite.any():
        raise ValueError(f"{result.label}: the landscape has no finite loss value")
    return np.where(finite, z, z[finite].max())


def bilinear(xs: np.ndarray, ys: np.ndarray, z: np.ndarray, wall: float) -> Fn:
    """f(x, y) interpolating ``z`` [ny, nx] (z[i, j] at (xs[j], ys[i]); evenly spaced axes) bilinearly,
    clamped to the edge outside plus ``wall``·dist² (dist: to the grid's rectangle)."""
    nx, ny = len(xs), len(ys)
    x0, x1, y0, y1 = float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1])
    table = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float64))

    def f(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(torch.promote_types(x.dtype, y.dtype), torch.float32)
        shape = torch.Size(np.broadcast_shapes(tuple(x.shape), tuple(y.shape)))
        x, y = x.to(dtype).expand(shape), y.to(dtype).expand(shape)
        xc, yc = x.clamp(x0, x1), y.clamp(y0, y1)
        u = (xc - x0) * ((nx - 1) / (x1 - x0))  # continuous column index in [0, nx-1]
        v = (yc - y0) * ((ny - 1) / (y1 - y0))
        j0 = u.detach().floor().long().clamp(0, nx - 2)
        i0 = v.detach().floor().long().clamp(0, ny - 2)
        fu, fv = u - j0.to(dtype), v - i0.to(dtype)
        zt = table.to(dtype=dtype, device=x.device)
        z00, z01 = zt[i0, j0], zt[i0, j0 + 1]
        z10, z11 = zt[i0 + 1, j0], zt[i0 + 1, j0 + 1]
        inside = (1 - fv) * ((1 - fu) * z00 + fu * z01) + fv * ((1 - fu) * z10 + fu * z11)
        return inside + wall * ((x - xc) ** 2 + (y - yc) ** 2)

    return f


def landscape_surface(result: LandscapeResult) -> Surface:
    """The 2D landscape ``result`` as a race surface: its grid's plane and range, a log colour scale, the
    grid's lowest point as the minimum, and as the start the path's first snapshot (pca) or the grid's
    upper-left corner. ``ValueError`` for a 1D landscape (a line is no plane to race on)."""
    if result.beta is None:
        raise ValueError(f"{result.label}: a 1D landscape ({result.spec.directions}) is a line, not a surface")
    xs, ys = np.asarray(result.alpha, np.float64), np.asarray(result.beta, np.float64)
    z = _grid_values(result)
    span = max(xs[-1] - xs[0], ys[-1] - ys[0])
    wall = float(max(z.max() - z.min(), 1e-6) / (WALL_REACH * span) ** 2)
    i, j = np.unravel_index(int(np.argmin(z)), z.shape)
    if result.path_alpha is not None and result.path_beta is not None and len(result.path_alpha):
        start = (float(result.path_alpha[0]), float(result.path_beta[0]))
    else:
        start = (float(xs[0]), float(ys[-1]))
    kind = {"random": "filter-normalised random directions", "pca": "the training path's PCA plane"}
    return Surface(
        name="landscape",
        title=f"Loss landscape of {result.label}",
        text=f"L(θ* + α·d1 + β·d2), {kind.get(result.spec.directions, result.spec.directions)}, "
        f"{len(xs)}×{len(ys)} grid, bilinear",
        fn=bilinear(xs, ys, z, wall),
        x_range=(float(xs[0]), float(xs[-1])),
        y_range=(float(ys[0]), float(ys[-1])),
        start=start,
        minima=((float(xs[j]), float(ys[i])),),
        min_value=float(z[i, j]),
        log_view=True,
    )
