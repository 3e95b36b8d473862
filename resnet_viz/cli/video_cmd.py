"""``resnet-viz video RUN_FOLDER… --plot heatmap|grad-depth|act-depth --out FILE.mp4``: a plot of saved runs
evolving over training, as an H.264 MP4 (drawn offscreen; needs PyAV: ``pip install 'resnet-viz[video]'``).

Exit statuses: 0 written; 1 the file could not be written; 2 bad input or PyAV missing (a folder that is not
a run folder, a run without per-layer data, a size, an unwritable path: one line each); 130 Ctrl-C (the
video is cancelled cleanly: nothing is left at the path, an older file there is kept).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from resnet_viz.cli.progress import FrameProgress
from resnet_viz.cli.signals import stop_on_signals
from resnet_viz.cli.snapshot_cmd import parse_size
from resnet_viz.cli.status import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE

#: The command line's plot names (``resnet_viz.gui.run_video.VIDEO_PLOTS``, not imported here: it needs Qt).
PLOT_NAMES = ("heatmap", "grad-depth", "act-depth")


def _positive_fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 240):
        raise argparse.ArgumentTypeError(f"expected frames per second in (0, 240], got {text!r}")
    return value


def _frame_count(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of frames >= 1, got {text!r}")
    return int(text)


def add_video_parser(sub: Any) -> argparse.ArgumentParser:
    video: argparse.ArgumentParser = sub.add_parser(
        "video",
        help="MP4 of a plot of saved runs evolving over training",
        description="Draw the gradient heatmap (one run) or a depth profile (every run given, overlaid) at "
        "frames spread over training, and write them as an H.264 MP4 for slides. Needs PyAV "
        "(pip install 'resnet-viz[video]').",
    )
    video.add_argument("run_folders", nargs="+", metavar="RUN_FOLDER", help="run folders (resnet-viz run --out)")
    video.add_argument("--plot", required=True, choices=PLOT_NAMES, help="the plot to animate")
    video.add_argument("--out", required=True, metavar="FILE.mp4", help="video to write")
    video.add_argument("--fps", type=_positive_fps, default=30.0, help="frames per second (default 30)")
    video.add_argument(
        "--frames",
        type=_frame_count,
        default=150,
        help="frames spread over the probed steps (default 150; every probed step when there are fewer)",
    )
    video.add_argument(
        "--size", type=parse_size, default=(1280, 720), metavar="WxH", help="frame size in pixels (default 1280x720)"
    )
    video.add_argument("--quiet", action="store_true", help="no progress")
    return video


def _error(text: str, status: int) -> int:
    print(f"resnet-viz: error: {text}", file=sys.stderr)
    return status


def cmd_video(args: argparse.Namespace) -> int:
    from resnet_viz.export.video import VideoCancelled, VideoUnavailable, video_missing
    from resnet_viz.export.written import WriteError, check_writable, make_folder

    missing = video_missing()
    if missing is not None:  # as surfaces --mp4 and the other extras: one line, exit 2
        return _error(missing, EXIT_USAGE)
    try:  # before drawing anything: a file that cannot be written is known now
        check_writable(args.out)
        make_folder(Path(args.out).parent)
    except WriteError as exc:
        return _error(f"--out {args.out} cannot be written: {exc.why}", EXIT_USAGE)
    from resnet_viz.gui.qt_app import application

    application(offscreen=True)
    from resnet_viz.gui.run_video import check_layer_data, entries_from_run_folders, plot_key, write_run_video

    try:
        entries = entries_from_run_folders(args.run_folders)
        check_layer_data(entries, plot_key(args.plot))
    except ValueError as exc:
        return _error(str(exc), EXIT_USAGE)
    stop = [False]
    progress = FrameProgress(Path(args.out).name, args.quiet, lambda: stop[0])
    start = time.perf_counter()
    try:
        with stop_on_signals(lambda _signum: stop.__setitem__(0, True), lambda: stop[0]):
            out = write_run_video(
                args.plot, entries, args.out, frames=args.frames, size=args.size, fps=args.fps, progress=progress
            )
    except (VideoCancelled, KeyboardInterrupt):
        print(f"\nresnet-viz: interrupted; nothing was written to {args.out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ValueError as exc:  # a size over the limits
        return _error(str(exc), EXIT_USAGE)
    except (VideoUnavailable, WriteError) as exc:
        return _error(f"could not write the video: {exc}", EXIT_RUN_FAILED)
    finally:
        progress.close()
    print(f"wrote {out} ({args.size[0]}x{args.size[1]}, {time.perf_counter() - start:.1f} s)")
    return EXIT_OK
