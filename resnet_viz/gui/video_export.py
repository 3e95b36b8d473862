"""The plot panels' "Video (MP4)…" export: the visible runs' history of the gradient heatmap or a depth profile
as an MP4 (:mod:`resnet_viz.gui.run_video`), with a progress dialog and Cancel; the outcome in one line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from resnet_viz.export.video import VideoCancelled, video_missing
from resnet_viz.export.written import WriteError
from resnet_viz.gui.animation import ANIMATION_KINDS, progress_dialog
from resnet_viz.gui.plots.base import PlotPanel
from resnet_viz.gui.plots.heatmap import GradHeatmapPlot
from resnet_viz.gui.run_video import VIDEO_PLOTS, write_run_video
from resnet_viz.gui.runs import RunEntry

#: Plot keys whose Export menu has "Video (MP4)…".
VIDEO_PLOT_KEYS = frozenset(VIDEO_PLOTS.values())
_DIR_KEY = "export/dir"  # QSettings: the folder of the last export (shared with the other exports)


def video_runs(panel: PlotPanel, entries: Sequence[RunEntry]) -> list[RunEntry]:
    """The runs a panel's video shows: the heatmap's shown run; for a depth plot every visible run with
    per-layer data (in list order)."""
    if isinstance(panel, GradHeatmapPlot):
        shown = panel.entry
        return [shown] if shown is not None and shown.store.layer_step.size else []
    return [e for e in entries if e.visible and e.store.started is not None and e.store.layer_step.size]


def _ask_path(parent: QtWidgets.QWidget, settings: QtCore.QSettings, panel: PlotPanel) -> str | None:
    folder = settings.value(_DIR_KEY, str(Path.home()))
    start = str(Path(folder if isinstance(folder, str) else str(Path.home())) / f"{panel.key}.mp4")
    path, _ = QtWidgets.QFileDialog.getSaveFileName(parent, f"Video of {panel.title}", start, "MP4 video (*.mp4)")
    if not path:
        return None
    settings.setValue(_DIR_KEY, str(Path(path).parent))
    return path


def export_run_video(
    parent: QtWidgets.QWidget,
    settings: QtCore.QSettings,
    panel: PlotPanel,
    entries: Sequence[RunEntry],
    say: Callable[[str, str], None],
    path: str | None = None,
) -> Path | None:
    """Ask for the file (unless ``path``), write the video of ``panel``'s runs over training with a cancellable
    progress dialog, and ``say`` "Wrote …" or one line why not. Returns the path written, or None."""
    missing = video_missing()
    if missing is not None:
        say(f"Could not make a video of “{panel.title}”: {missing}", "error")
        return None
    runs = video_runs(panel, entries)
    if not runs:
        say(f"Nothing to film in “{panel.title}”: no visible run has per-layer data", "warning")
        return None
    if path is None:
        path = _ask_path(parent, settings, panel)
        if path is None:
            return None
    dialog, progress = progress_dialog(parent, ANIMATION_KINDS["mp4"])
    try:
        written = write_run_video(panel.key, runs, path, progress=progress)
    except VideoCancelled:
        say(f"Video cancelled: nothing was written to {path}", "info")
        return None
    except WriteError as exc:  # names the path and why: permission, disk full, ...
        say(f"Could not write the video of “{panel.title}”: {exc}", "error")
        return None
    except Exception as exc:  # noqa: BLE001 - too large, no PyAV encoder, ...: say so in the window
        say(f"Could not write the video of “{panel.title}” to {path}: {exc}", "error")
        return None
    finally:
        dialog.close()
    say(f"Wrote {written}", "info")
    return written
