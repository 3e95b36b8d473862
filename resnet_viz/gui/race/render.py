"""Pictures of a race: PNG/SVG of the figure and an animated GIF of the race step by step.

Qt writes no GIF, so frames (QImages from pyqtgraph's ImageExporter) are encoded with Pillow, which
torchvision already depends on. MP4 would need an ffmpeg binary and is not offered.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6 import QtGui

from resnet_viz.export.image_limits import ImageSizeError, image_size_problem
from resnet_viz.export.written import write_atomically
from resnet_viz.gui import figure_export
from resnet_viz.gui.figure_export import render_image
from resnet_viz.gui.qt_app import dispose
from resnet_viz.gui.race.figure import RaceFigure
from resnet_viz.gui.race.optimizer_table import DEFAULT_COLOURS
from resnet_viz.gui.runs import PALETTE
from resnet_viz.surfaces.race import OptimizerRace

GIF_FRAMES = 120
GIF_FPS = 25
GIF_HOLD_S = 2.0  # s: the last frame stays this long before the loop restarts
GIF_SIZE = (1000, 540)  # px: the headless GIF (the window's GIF has the figure's on-screen size)


def figure_image(fig: RaceFigure, width: int) -> QtGui.QImage:
    """The figure rendered at ``width`` pixels (height keeps the on-screen aspect ratio; sizes over the
    limits raise ``ImageSizeError`` before anything is drawn)."""
    return render_image(fig, width)


def _to_pil(image: QtGui.QImage) -> Image.Image:
    rgba = image.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    w, h, stride = rgba.width(), rgba.height(), rgba.bytesPerLine()
    arr = np.frombuffer(rgba.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride // 4, 4)[:, :w]
    return Image.fromarray(np.ascontiguousarray(arr[..., :3]), "RGB")


def frame_steps(steps: int, frames: int = GIF_FRAMES) -> list[int]:
    """The steps shown in the animation: 0..steps, at most ``frames`` of them, evenly spaced, ending at ``steps``."""
    if steps <= 0:
        return [0]
    return sorted({int(round(v)) for v in np.linspace(0, steps, min(frames, steps + 1))})


def write_gif(
    fig: RaceFigure,
    race: OptimizerRace,
    path: str | Path,
    *,
    frames: int = GIF_FRAMES,
    fps: int = GIF_FPS,
    progress: Callable[[int, int], bool] | None = None,
) -> Path:
    """Animate the race as drawn by ``fig`` (steps 0..race.steps) into a looping GIF at the figure's
    on-screen size (rescaling would re-flow the legends' text).

    ``progress(done, total)`` is called after each frame; returning False cancels (raises
    InterruptedError, nothing is written). The figure is left showing the whole race. The file is
    written atomically and checked (``WriteError`` naming the path and why when it is not there).
    """
    path = Path(path)
    images: list[Image.Image] = []
    steps = frame_steps(race.steps, frames)
    width = max(fig.graphics.width(), 100)
    try:
        for i, k in enumerate(steps):
            fig.show_race(race, upto=k)
            fig.set_caption(race_caption(race, k))
            images.append(_to_pil(figure_image(fig, width)).quantize(colors=255, method=Image.Quantize.FASTOCTREE))
            if progress is not None and progress(i + 1, len(steps)) is False:
                raise InterruptedError("GIF export cancelled")
    finally:
        fig.show_race(race)
        fig.set_caption(race_caption(race))
    durations = [int(1000 / fps)] * len(images)
    durations[-1] = int(GIF_HOLD_S * 1000)
    return write_atomically(
        path,
        lambda tmp: images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0, disposal=1
        ),
    )


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


def render_race_files(
    race: OptimizerRace,
    out_dir: str | Path,
    *,
    size: tuple[int, int] = (1400, 760),
    mode: str = "contours",
    log: bool | None = None,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    gif: bool = False,
    progress: Callable[[int, int], bool] | None = None,
) -> list[Path]:
    """Draw ``race`` offscreen and write ``race.png`` (at ``size``), ``race.svg`` and, with ``gif``,
    ``race.gif`` into ``out_dir``. Needs a QApplication. Returns the paths written, each checked to be
    there; ``ImageSizeError`` for a ``size`` over the limits (before drawing), ``WriteError`` when a
    file cannot be written."""
    problem = image_size_problem(*size)
    if problem is not None:
        raise ImageSizeError(problem)
    out_dir = Path(out_dir)
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
    try:
        written = [
            figure_export.export_png(fig, out_dir / "race.png", size[0]),
            figure_export.export_svg(fig, out_dir / "race.svg"),
        ]
        if gif:
            fig.resize(*GIF_SIZE)
            QtGui.QGuiApplication.processEvents()
            fig.redraw_surface()
            written.append(write_gif(fig, race, out_dir / "race.gif", progress=progress))
    finally:
        dispose(fig)
    return written
