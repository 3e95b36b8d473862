"""Figures of landscape results drawn offscreen: ``landscape.png`` and ``landscape.svg`` of one result
(what ``resnet-viz landscape`` writes), and of two side by side on one colour scale (plain-56 vs resnet-56)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtGui

from resnet_viz.export.image_limits import ImageSizeError, image_size_problem
from resnet_viz.gui import figure_export
from resnet_viz.gui.landscape.export import Progress, write_path_animation
from resnet_viz.gui.landscape.figure import LandscapeFigure
from resnet_viz.gui.qt_app import dispose

if TYPE_CHECKING:
    from resnet_viz.landscape.result import LandscapeResult

SIZE_2D = (880, 860)  # px: one square-ish contour plot with its colour bar
SIZE_1D = (1100, 760)
COMPARE_SIZE_2D = (1600, 860)
COMPARE_SIZE_1D = (1800, 760)


def render_landscape_files(
    result: LandscapeResult,
    out_dir: str | Path,
    *,
    size: tuple[int, int] | None = None,
    stem: str = "landscape",
    animations: Sequence[str] = (),
    progress_for: Callable[[str], Progress | None] | None = None,
) -> list[Path]:
    """Draw ``result`` offscreen and write ``<stem>.png`` (at ``size``, default by kind) and ``<stem>.svg`` into
    ``out_dir``, and ``<stem>-path.gif`` / ``.mp4`` for each kind in ``animations`` (the training path drawn
    snapshot by snapshot; ``progress_for(file name)`` gives each file's progress callback). Needs a
    QApplication. Returns the paths written; ``ImageSizeError`` for a size over the limits, ``WriteError`` when
    a file cannot be written, ``ValueError`` for an animation of a slice without a path (only PCA has one)."""
    default = SIZE_2D if result.beta is not None else SIZE_1D
    return render_results_files(
        [result], out_dir, size=size or default, stem=stem, animations=animations, progress_for=progress_for
    )


def render_compare_files(
    results: Sequence[LandscapeResult],
    out_dir: str | Path,
    *,
    size: tuple[int, int] | None = None,
    stem: str = "landscape-compare",
) -> list[Path]:
    """Two results side by side on one colour scale (both 2D or both 1D): ``<stem>.png`` and ``<stem>.svg``."""
    default = COMPARE_SIZE_2D if results and results[0].beta is not None else COMPARE_SIZE_1D
    return render_results_files(results, out_dir, size=size or default, stem=stem)


def render_results_files(
    results: Sequence[LandscapeResult],
    out_dir: str | Path,
    *,
    size: tuple[int, int],
    stem: str,
    animations: Sequence[str] = (),
    progress_for: Callable[[str], Progress | None] | None = None,
) -> list[Path]:
    """Draw ``results`` with :class:`LandscapeFigure` at ``size`` and write the PNG and SVG (and the path
    animations, as :func:`render_landscape_files` says)."""
    problem = image_size_problem(*size)
    if problem is not None:
        raise ImageSizeError(problem)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig = LandscapeFigure()
    fig.readout.hide()  # the hover line is for the screen; the figure then fills ``size`` exactly
    fig.resize(*size)
    fig.set_results(results)
    fig.show()
    QtGui.QGuiApplication.processEvents()
    try:
        written = [
            figure_export.export_png(fig, out / f"{stem}.png", size[0]),
            figure_export.export_svg(fig, out / f"{stem}.svg"),
        ]
        for kind in animations:
            name = f"{stem}-path.{kind}"
            progress = progress_for(name) if progress_for is not None else None
            written.append(write_path_animation(kind, fig, out / name, progress=progress))
        return written
    finally:
        dispose(fig)
