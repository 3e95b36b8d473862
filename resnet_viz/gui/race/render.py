"""Pictures of a race: PNG/SVG of the figure, and animations of the race step by step (a looping GIF, an
H.264 MP4), whose frames are drawn by :func:`race_frames` and encoded by :mod:`resnet_viz.gui.animation`."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from pathlib import Path

from PySide6 import QtGui

from resnet_viz.export.image_limits import ImageSizeError, image_size_problem
from resnet_viz.gui import figure_export
from resnet_viz.gui.animation import Progress, animation_steps, write_animation
from resnet_viz.gui.figure_export import render_image
from resnet_viz.gui.qt_app import dispose
from resnet_viz.gui.race.figure import RaceFigure
from resnet_viz.gui.race.optimizer_table import DEFAULT_COLOURS
from resnet_viz.gui.runs import PALETTE
from resnet_viz.surfaces.race import OptimizerRace

ANIMATION_SIZE = (1000, 540)  # px: the headless animations (the window's have the figure's on-screen size)


def figure_image(fig: RaceFigure, width: int) -> QtGui.QImage:
    """The figure rendered at ``width`` pixels (height keeps the on-screen aspect ratio; sizes over the
    limits raise ``ImageSizeError`` before anything is drawn)."""
    return render_image(fig, width)


def race_frames(fig: RaceFigure, race: OptimizerRace, steps: Sequence[int]) -> Generator[QtGui.QImage, None, None]:
    """The race as drawn by ``fig`` through each of ``steps``, at the figure's on-screen size (rescaling
    would re-flow the legends' text). When the iteration ends or is closed, the figure shows the whole race."""
    width = max(fig.graphics.width(), 100)
    try:
        for k in steps:
            fig.show_race(race, upto=k)
            fig.set_caption(race_caption(race, k))
            yield figure_image(fig, width)
    finally:
        fig.show_race(race)
        fig.set_caption(race_caption(race))


def write_race_animation(
    kind: str, fig: RaceFigure, race: OptimizerRace, path: str | Path, progress: Progress | None = None
) -> Path:
    """Animate the race (steps 0..race.steps) as drawn by ``fig`` into a ``kind`` file: ``gif`` (looping) or
    ``mp4`` (H.264, more frames). ``progress(done, total)`` after each frame; False cancels (``InterruptedError``,
    nothing written). The figure is left showing the whole race. Written atomically and checked (``WriteError``
    naming the path and why; ``VideoUnavailable`` for an MP4 without PyAV)."""
    steps = animation_steps(kind, race.steps)
    with closing(race_frames(fig, race, steps)) as images:
        return write_animation(kind, images, path, total=len(steps), progress=progress)


def write_gif(fig: RaceFigure, race: OptimizerRace, path: str | Path, progress: Progress | None = None) -> Path:
    """The race as a looping GIF (:func:`write_race_animation`)."""
    return write_race_animation("gif", fig, race, path, progress)


def write_race_mp4(fig: RaceFigure, race: OptimizerRace, path: str | Path, progress: Progress | None = None) -> Path:
    """The race as an H.264 MP4 (:func:`write_race_animation`)."""
    return write_race_animation("mp4", fig, race, path, progress)


def racer_colours(race: OptimizerRace) -> list[QtGui.QColor]:
    """Each racer's default colour; a key raced twice takes the run palette's colours for its repeats."""
    seen: set[str] = set()
    spare = iter(PALETTE * 4)
    out = []
    for traj in race.trajectories:
        key = traj.spec.key
        out.append(QtGui.QColor(next(spare) if key in seen else DEFAULT_COLOURS[key]))
        seen.add(key)
    return out


def race_caption(race: OptimizerRace, step: int | None = None) -> str:
    """``Rosenbrock: (1 − x)² + 100·(y − x²)² · start (−1.5, 2) · step 500`` (rich text)."""
    s = race.surface
    x, y = race.start
    k = race.steps if step is None else step
    return f"<b>{s.title}</b>: {s.text} &nbsp;·&nbsp; start ({x:.4g}, {y:.4g}) &nbsp;·&nbsp; step {k}"


def offscreen_figure(
    race: OptimizerRace,
    size: tuple[int, int],
    *,
    mode: str = "contours",
    log: bool | None = None,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
) -> RaceFigure:
    """A figure of ``race`` shown offscreen at ``size`` pixels without the hover line (dispose of it after use);
    the view defaults to the surface's view containing the start, the colour scale to the surface's own."""
    surface = race.surface
    if x_range is None or y_range is None:
        xr, yr = surface.view_containing(race.start)
        x_range, y_range = x_range or xr, y_range or yr
    fig = RaceFigure()
    fig.readout.hide()  # the hover line is for the screen; the figure then fills ``size`` exactly
    fig.resize(*size)
    fig.set_surface(surface, x_range, y_range, mode=mode, log=surface.log_view if log is None else log)
    fig.set_caption(race_caption(race))
    fig.set_racers(race, racer_colours(race))
    fig.show()
    QtGui.QGuiApplication.processEvents()
    fig.redraw_surface()  # the laid-out view (not waiting for the debounce timer)
    return fig


def render_race_files(
    race: OptimizerRace,
    out_dir: str | Path,
    *,
    size: tuple[int, int] = (1400, 760),
    mode: str = "contours",
    log: bool | None = None,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    animations: Sequence[str] = (),
    progress_for: Callable[[str], Progress] | None = None,
) -> list[Path]:
    """Draw ``race`` offscreen and write ``race.png`` (at ``size``), ``race.svg`` and ``race.<kind>`` for each
    of ``animations`` (gif, mp4; at :data:`ANIMATION_SIZE`) into ``out_dir``, the progress of each reported to
    ``progress_for(file name)``. Needs a QApplication. Returns the paths written, each checked to be there;
    ``ImageSizeError`` for a ``size`` over the limits (before drawing), ``WriteError`` when a file cannot be
    written, ``VideoUnavailable`` for an MP4 without PyAV."""
    problem = image_size_problem(*size)
    if problem is not None:
        raise ImageSizeError(problem)
    out_dir = Path(out_dir)
    fig = offscreen_figure(race, size, mode=mode, log=log, x_range=x_range, y_range=y_range)
    try:
        written = [
            figure_export.export_png(fig, out_dir / "race.png", size[0]),
            figure_export.export_svg(fig, out_dir / "race.svg"),
        ]
        if animations:
            fig.resize(*ANIMATION_SIZE)
            QtGui.QGuiApplication.processEvents()
            fig.redraw_surface()
        for kind in animations:
            name = f"race.{kind}"
            progress = progress_for(name) if progress_for is not None else None
            written.append(write_race_animation(kind, fig, race, out_dir / name, progress))
    finally:
        dispose(fig)
    return written
