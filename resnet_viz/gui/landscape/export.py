"""Exporting a landscape: the figure (PNG, SVG), the grid as CSV (long format: alpha, beta, loss, error), the
training path's animation (GIF, frames encoded as the optimiser race's are) and the result itself
(``landscape.npz`` + ``landscape.json`` through ``LandscapeResult.save``)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from resnet_viz.export.written import write_atomically
from resnet_viz.gui import figure_export
from resnet_viz.gui.landscape.figure import LandscapeFigure
from resnet_viz.gui.race.render import GIF_FPS, GIF_HOLD_S, _to_pil, frame_steps

if TYPE_CHECKING:
    from resnet_viz.landscape.result import LandscapeResult

#: ``progress(done, total)`` of a GIF export; False cancels.
Progress = Callable[[int, int], bool]
#: Export kind -> (menu entry, file dialog filter).
EXPORT_KINDS = {
    "png": ("PNG image…", "PNG image (*.png)"),
    "svg": ("SVG image…", "SVG image (*.svg)"),
    "csv": ("Grid CSV…", "CSV (*.csv)"),
    "gif": ("Path animation GIF…", "Animated GIF (*.gif)"),
}


def grid_rows(result: LandscapeResult) -> list[tuple[float, float, float, float]]:
    """(alpha, beta, loss, error) per grid point, beta-major (rows of the grid); beta NaN for a 1D result."""
    alpha = np.asarray(result.alpha, dtype=float)
    loss, error = np.asarray(result.loss, dtype=float), np.asarray(result.error, dtype=float)
    if result.beta is None:
        return [(float(a), float("nan"), float(loss[i]), float(error[i])) for i, a in enumerate(alpha)]
    beta = np.asarray(result.beta, dtype=float)
    return [
        (float(a), float(b), float(loss[j, i]), float(error[j, i]))
        for j, b in enumerate(beta)
        for i, a in enumerate(alpha)
    ]


def write_grid_csv(result: LandscapeResult, path: str | Path) -> Path:
    """The grid in long format, one row per point: ``alpha,beta,loss,error`` (error as a fraction; beta empty
    for a 1D result). Written atomically (``WriteError`` naming the path and why)."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["alpha", "beta", "loss", "error"])
            for a, b, loss, err in grid_rows(result):
                out.writerow([a, "" if np.isnan(b) else b, loss, err])  # floats as Python writes them: exact

    return write_atomically(Path(path), write)


def write_path_gif(fig: LandscapeFigure, path: str | Path, *, progress: Progress | None = None) -> Path:
    """The training path drawn snapshot by snapshot over the landscape, as a looping GIF at the figure's
    on-screen size. ``progress(done, total)`` after each frame; False cancels (``InterruptedError``, nothing
    written). ``ValueError`` when no path is drawn (only PCA slices have one)."""
    n = fig.path_length()
    if n < 2:
        raise ValueError("this landscape has no training path to animate (PCA directions have one)")
    images: list[Image.Image] = []
    steps = frame_steps(n - 1)
    width = max(fig.graphics.width(), 100)
    try:
        for i, k in enumerate(steps):
            fig.show_path(k)
            images.append(
                _to_pil(figure_export.render_image(fig, width)).quantize(colors=255, method=Image.Quantize.FASTOCTREE)
            )
            if progress is not None and progress(i + 1, len(steps)) is False:
                raise InterruptedError("GIF export cancelled")
    finally:
        fig.show_path()
    durations = [int(1000 / GIF_FPS)] * len(images)
    durations[-1] = int(GIF_HOLD_S * 1000)
    return write_atomically(
        Path(path),
        lambda tmp: images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0, disposal=1
        ),
    )


def write_landscape_file(kind: str, path: str | Path, fig: LandscapeFigure, progress: Progress | None = None) -> Path:
    """Write the figure (png, svg), the first result's grid (csv) or the path animation (gif) to ``path``."""
    if kind == "png":
        return figure_export.export_png(fig, path)
    if kind == "svg":
        return figure_export.export_svg(fig, path)
    if not fig.results:
        raise ValueError("no landscape to export")
    if kind == "csv":
        return write_grid_csv(fig.results[0], path)
    if kind == "gif":
        return write_path_gif(fig, path, progress=progress)
    raise ValueError(f"unknown export kind {kind!r}")
