"""Exporting a landscape: the figure (PNG, SVG, PDF), the grid as CSV (long format: alpha, beta, loss, error),
the training path's animation (GIF or MP4, encoded as the optimiser race's are) and the result itself
(``landscape.npz`` + ``landscape.json`` through ``LandscapeResult.save``)."""

from __future__ import annotations

import csv
from collections.abc import Generator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtGui

from resnet_viz.export.written import write_atomically
from resnet_viz.gui import figure_export
from resnet_viz.gui.animation import ANIMATION_KINDS, Progress, animation_steps, write_animation
from resnet_viz.gui.landscape.figure import LandscapeFigure

if TYPE_CHECKING:
    from resnet_viz.landscape.result import LandscapeResult

#: Export kind -> (menu entry, file dialog filter).
EXPORT_KINDS = {
    "png": ("PNG image…", "PNG image (*.png)"),
    "svg": ("SVG image…", "SVG image (*.svg)"),
    "pdf": ("PDF (vector)…", "PDF document (*.pdf)"),
    "csv": ("Grid CSV…", "CSV (*.csv)"),
    "gif": ("Path animation GIF…", "Animated GIF (*.gif)"),
    "mp4": ("Path video (MP4)…", "MP4 video (*.mp4)"),
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


def path_frames(fig: LandscapeFigure, snapshots: Sequence[int]) -> Generator[QtGui.QImage, None, None]:
    """The figure with the training path drawn through each of ``snapshots``, at its on-screen size; the whole
    path is drawn again when the iteration ends or is closed."""
    width = max(fig.graphics.width(), 100)
    try:
        for k in snapshots:
            fig.show_path(k)
            yield figure_export.render_image(fig, width)
    finally:
        fig.show_path()


def write_path_animation(
    kind: str, fig: LandscapeFigure, path: str | Path, *, progress: Progress | None = None
) -> Path:
    """The training path drawn snapshot by snapshot over the landscape, as a looping GIF or an H.264 MP4
    (``kind`` gif, mp4) at the figure's on-screen size. ``progress(done, total)`` after each frame; False
    cancels (``InterruptedError``, nothing written). ``ValueError`` when no path is drawn (only PCA slices
    have one); ``VideoUnavailable`` for an MP4 without PyAV; ``WriteError`` naming the path and why."""
    n = fig.path_length()
    if n < 2:
        raise ValueError("this landscape has no training path to animate (PCA directions have one)")
    snapshots = animation_steps(kind, n - 1)
    with closing(path_frames(fig, snapshots)) as images:
        return write_animation(kind, images, path, total=len(snapshots), progress=progress)


def write_path_gif(fig: LandscapeFigure, path: str | Path, *, progress: Progress | None = None) -> Path:
    """The training path as a looping GIF (:func:`write_path_animation`)."""
    return write_path_animation("gif", fig, path, progress=progress)


def write_path_mp4(fig: LandscapeFigure, path: str | Path, *, progress: Progress | None = None) -> Path:
    """The training path as an H.264 MP4 (:func:`write_path_animation`)."""
    return write_path_animation("mp4", fig, path, progress=progress)


def write_landscape_file(kind: str, path: str | Path, fig: LandscapeFigure, progress: Progress | None = None) -> Path:
    """Write the figure (png, svg, pdf), the first result's grid (csv) or the path animation (gif, mp4) to
    ``path``."""
    if kind == "png":
        return figure_export.export_png(fig, path)
    if kind == "svg":
        return figure_export.export_svg(fig, path)
    if kind == "pdf":
        return figure_export.export_pdf(fig, path)
    if not fig.results:
        raise ValueError("no landscape to export")
    if kind == "csv":
        return write_grid_csv(fig.results[0], path)
    if kind in ANIMATION_KINDS:
        return write_path_animation(kind, fig, path, progress=progress)
    raise ValueError(f"unknown export kind {kind!r}")
