"""MP4 videos (H.264) from RGB frames, through PyAV (extra ``video``; its wheels ship FFmpeg).

:func:`write_mp4` encodes uint8 RGB frames ``[H, W, 3]`` with libx264 into yuv420p (what players, browsers
and slide software play), tagged BT.709 so that players convert the colours back as they were. Frames are
pulled one at a time from an iterable (never all in memory); the last frame is held ``hold_s`` seconds so
that a video does not end on a flash. The file is written atomically: a failure or a cancel leaves the
previous file (if any) untouched and no partial file behind. PyAV is imported only when a video is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sized
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from resnet_viz.export.written import WriteError, write_atomically

if TYPE_CHECKING:
    from types import ModuleType

    from av.container import OutputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

#: Frames per second of a video unless asked otherwise.
VIDEO_FPS = 30
#: libx264's constant rate factor: 18 keeps one-pixel plot lines and small text crisp (0 lossless … 51 worst).
VIDEO_CRF = 18
#: libx264's speed preset: "veryfast" encodes ~1.8x faster than "medium" for ~6% more bytes on plots.
VIDEO_PRESET = "veryfast"
_BT709 = 1  # FFmpeg's AVCOL_SPC/PRI/TRC_BT709
_LIMITED_RANGE = 1  # FFmpeg's AVCOL_RANGE_MPEG (16..235), what players assume for yuv420p

_INSTALL_HINT = "MP4 videos need PyAV: pip install 'resnet-viz[video]'"


class VideoUnavailable(RuntimeError):
    """PyAV (or its H.264 encoder) is missing; ``str()`` is one line saying what to install."""


class VideoCancelled(InterruptedError):
    """The progress callback returned False; nothing was left at the path (an older file stays)."""


class _Cancelled(Exception):
    """Raised inside the writer on cancel (not an OSError, so it is not reported as a write failure)."""


def video_missing() -> str | None:
    """One line saying what to install when PyAV cannot be imported, else None."""
    try:
        _import_av()
    except VideoUnavailable as exc:
        return str(exc)
    return None


def _import_av() -> ModuleType:
    try:
        import av
    except ImportError:
        raise VideoUnavailable(_INSTALL_HINT) from None
    return av


def write_mp4(
    frames: Iterable[np.ndarray],
    path: str | Path,
    *,
    fps: float = VIDEO_FPS,
    total: int | None = None,
    progress: Callable[[int, int], bool] | None = None,
    hold_s: float = 1.0,
) -> Path:
    """Encode ``frames`` (uint8 RGB ``[H, W, 3]``, all one size) as an H.264 MP4 at ``path``.

    ``fps``: frames per second (> 0). ``total``: the number of frames, passed to ``progress(done, total)``
    after each frame (else ``len(frames)`` when it has one, else 0 for unknown); ``progress`` returning
    False stops: :class:`VideoCancelled`. ``hold_s``: seconds (≥ 0) the last frame is held, as
    ``round(hold_s * fps)`` repeats of it. Odd widths/heights are padded to even with white (right, bottom).
    Raises ValueError for no frames or a frame of another size, shape or dtype (naming its index),
    :class:`VideoUnavailable` without PyAV, :class:`WriteError` when the file cannot be written.
    """
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: {fps} is not allowed; use a number > 0")
    if not (math.isfinite(hold_s) and hold_s >= 0):
        raise ValueError(f"hold_s: {hold_s} is not allowed; use seconds >= 0")
    av = _import_av()
    if total is None:
        total = len(frames) if isinstance(frames, Sized) else 0
    path = Path(path)
    encoder = _Encoder(av, fps, round(hold_s * fps), total, progress)
    try:
        return write_atomically(path, lambda tmp: encoder.write(iter(frames), tmp))
    except _Cancelled:
        raise VideoCancelled(f"{path}: cancelled; nothing was written") from None
    except av.FFmpegError as exc:
        raise WriteError(path, f"the encoder failed: {' '.join(str(exc).split())}") from None


class _Encoder:
    """One video's encoding: opens the container on the first frame (its size), then frame by frame."""

    def __init__(
        self, av: ModuleType, fps: float, n_hold: int, total: int, progress: Callable[[int, int], bool] | None
    ) -> None:
        self.av = av
        self.rate = Fraction(fps).limit_denominator(1001)
        self.n_hold = n_hold
        self.total = total
        self.progress = progress

    def write(self, frames: Iterator[np.ndarray], tmp: Path) -> None:
        first = next(frames, None)
        if first is None:
            raise ValueError("frames: the video has no frames; give at least one")
        shape = _check_frame(first, 0, None)
        container: OutputContainer = self.av.open(str(tmp), mode="w", format="mp4")
        try:
            stream = self._add_stream(container, shape)
            last, index = self._encode(container, stream, self._yuv(first), 0), 0
            self._report(1)
            for index, frame in enumerate(frames, start=1):
                _check_frame(frame, index, shape)
                last = self._encode(container, stream, self._yuv(frame), index)
                self._report(index + 1)
            for held in range(1, self.n_hold + 1):  # the same picture again: converted once
                self._encode(container, stream, last, index + held)
            for packet in stream.encode(None):
                container.mux(packet)
        finally:
            container.close()

    def _add_stream(self, container: OutputContainer, shape: tuple[int, int]) -> VideoStream:
        height, width = shape
        try:
            stream = container.add_stream("libx264", rate=self.rate)
        except self.av.error.EncoderNotFoundError:
            raise VideoUnavailable("this PyAV has no H.264 encoder (libx264); " + _INSTALL_HINT) from None
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = 1 / self.rate
        stream.options = {"crf": str(VIDEO_CRF), "preset": VIDEO_PRESET}
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = _BT709
        context.color_range = _LIMITED_RANGE
        return stream

    def _yuv(self, rgb: np.ndarray) -> VideoFrame:
        """``rgb`` padded to even sides and converted to BT.709 limited-range yuv420p."""
        frame: VideoFrame = self.av.VideoFrame.from_ndarray(_pad_even(rgb), format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace="itu709", dst_color_range=_LIMITED_RANGE)
        frame.colorspace, frame.color_range = _BT709, _LIMITED_RANGE
        return frame

    def _encode(self, container: OutputContainer, stream: VideoStream, frame: VideoFrame, index: int) -> VideoFrame:
        """Encode ``frame`` as the ``index``-th picture (its time: index / fps); returns it."""
        frame.pts = index
        for packet in stream.encode(frame):
            container.mux(packet)
        return frame

    def _report(self, done: int) -> None:
        if self.progress is not None and self.progress(done, self.total) is False:
            raise _Cancelled


def _check_frame(frame: np.ndarray, index: int, shape: tuple[int, int] | None) -> tuple[int, int]:
    """The frame's (H, W); ValueError naming the frame's index when it is not uint8 [H, W, 3] of ``shape``."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        what = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"frame {index}: {what} is not allowed; use uint8 RGB [H, W, 3]")
    size = (int(frame.shape[0]), int(frame.shape[1]))
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"frame {index}: size {size[1]}x{size[0]} is empty")
    if shape is not None and size != shape:
        raise ValueError(
            f"frame {index}: size {size[1]}x{size[0]} (WxH) differs from the first frame's {shape[1]}x{shape[0]}"
        )
    return size


def _pad_even(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` padded with white to an even height and width (yuv420p halves both), C-contiguous."""
    height, width = rgb.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return np.ascontiguousarray(rgb)
    padded = np.full((height + height % 2, width + width % 2, 3), 255, dtype=np.uint8)
    padded[:height, :width] = rgb
    return padded
