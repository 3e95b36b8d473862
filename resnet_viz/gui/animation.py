"""Animations of a figure drawn frame by frame (the optimiser race, the landscape path): which steps are shown,
and the frames (QImages) encoded as a looping GIF (Pillow) or an H.264 MP4 (:mod:`resnet_viz.export.video`).

Both take ``progress(done, total)`` after each frame; False cancels with nothing left at the path (an older
file there is kept): ``InterruptedError`` for a GIF, ``VideoCancelled`` (an ``InterruptedError``) for an MP4.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.export.video import VIDEO_FPS, write_mp4
from resnet_viz.export.written import write_atomically
from resnet_viz.gui.video_frames import qimage_rgb

#: ``progress(done, total)`` after each frame; False cancels.
Progress = Callable[[int, int], bool]

GIF_FRAMES = 120
GIF_FPS = 25
HOLD_S = 2.0  # s: the last frame stays this long (before a GIF loops, at the end of a video)
VIDEO_FRAMES = 300  # distinct frames at most in a video: 10 s at 30 fps, smoother than the GIF
VIDEO_MIN_S = 4.0  # s: a video of few frames shows each for longer, to last about this long (slides)
#: Animation kind (the file suffix) -> what its progress dialog says.
ANIMATION_KINDS = {"gif": "Drawing the frames…", "mp4": "Drawing and encoding the frames…"}


def frame_steps(steps: int, frames: int = GIF_FRAMES) -> list[int]:
    """The steps shown in the animation: 0..steps, at most ``frames`` of them, evenly spaced, ending at ``steps``."""
    if steps <= 0:
        return [0]
    return sorted({int(round(v)) for v in np.linspace(0, steps, min(frames, steps + 1))})


def animation_steps(kind: str, steps: int) -> list[int]:
    """The steps a ``kind`` (gif, mp4) animation of 0..steps shows (a video shows more than a GIF)."""
    return frame_steps(steps, VIDEO_FRAMES if kind == "mp4" else GIF_FRAMES)


def video_repeats(frames: int) -> int:
    """How many video frames each of ``frames`` drawn frames lasts, so that a short animation lasts
    :data:`VIDEO_MIN_S` (1 for :data:`VIDEO_FRAMES` / 2 and more)."""
    return max(1, math.ceil(VIDEO_FPS * VIDEO_MIN_S / max(frames, 1)))


def _gif_frame(image: QtGui.QImage) -> Image.Image:
    return Image.fromarray(qimage_rgb(image), "RGB").quantize(colors=255, method=Image.Quantize.FASTOCTREE)


def write_gif_frames(
    images: Iterable[QtGui.QImage], path: str | Path, *, total: int, progress: Progress | None = None
) -> Path:
    """``images`` (``total`` of them, one size) as a looping GIF at :data:`GIF_FPS`, the last held
    :data:`HOLD_S`; written atomically (``WriteError`` naming the path and why)."""
    frames: list[Image.Image] = []
    for image in images:
        frames.append(_gif_frame(image))
        if progress is not None and progress(len(frames), total) is False:
            raise InterruptedError("GIF export cancelled")
    if not frames:
        raise ValueError("the animation has no frames")
    durations = [int(1000 / GIF_FPS)] * len(frames)
    durations[-1] = int(HOLD_S * 1000)
    return write_atomically(
        Path(path),
        lambda tmp: frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0, disposal=1
        ),
    )


def write_video_frames(
    images: Iterable[QtGui.QImage], path: str | Path, *, total: int, progress: Progress | None = None
) -> Path:
    """``images`` (``total`` of them, one size) as an H.264 MP4 at :data:`VIDEO_FPS`, each shown for
    :func:`video_repeats` frames, the last held :data:`HOLD_S`. ``progress`` counts video frames.
    ``VideoUnavailable`` without PyAV, ``VideoCancelled`` on cancel, ``WriteError`` when not written."""
    repeats = video_repeats(total)

    def frames() -> Iterator[np.ndarray]:
        for image in images:
            rgb = qimage_rgb(image)
            for _ in range(repeats):
                yield rgb

    return write_mp4(frames(), path, fps=VIDEO_FPS, total=total * repeats, progress=progress, hold_s=HOLD_S)


def write_animation(
    kind: str, images: Iterable[QtGui.QImage], path: str | Path, *, total: int, progress: Progress | None = None
) -> Path:
    """``images`` as a ``kind`` (gif, mp4) file: :func:`write_gif_frames` or :func:`write_video_frames`."""
    if kind == "gif":
        return write_gif_frames(images, path, total=total, progress=progress)
    if kind == "mp4":
        return write_video_frames(images, path, total=total, progress=progress)
    raise ValueError(f"animation kind {kind!r} is not allowed; use one of {', '.join(ANIMATION_KINDS)}")


def progress_dialog(parent: QtWidgets.QWidget, text: str) -> tuple[QtWidgets.QProgressDialog, Progress]:
    """A window-modal progress dialog saying ``text``, with Cancel, and the ``progress(done, total)``
    callback that drives it (False once Cancel is pressed); every GIF and video export of the window uses it."""
    dialog = QtWidgets.QProgressDialog(text, "Cancel", 0, 100, parent)
    dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)

    def progress(done: int, total: int) -> bool:
        dialog.setMaximum(total)
        dialog.setValue(done)
        QtWidgets.QApplication.processEvents()
        return not dialog.wasCanceled()

    return dialog, progress
