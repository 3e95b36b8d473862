"""Exporting the race: each kind of file (PNG, SVG, PDF, trajectories CSV, animated GIF, MP4 video), the save
dialog that remembers its folder, and the animations' cancellable progress dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from resnet_viz.export.trajectories import write_trajectories_csv
from resnet_viz.export.written import write_atomically
from resnet_viz.gui import figure_export
from resnet_viz.gui.animation import ANIMATION_KINDS, Progress, progress_dialog
from resnet_viz.gui.race.figure import RaceFigure
from resnet_viz.gui.race.render import write_race_animation
from resnet_viz.surfaces.race import OptimizerRace

#: Export kind -> (menu entry, file dialog filter).
EXPORT_KINDS = {
    "png": ("PNG image…", "PNG image (*.png)"),
    "svg": ("SVG image…", "SVG image (*.svg)"),
    "pdf": ("PDF (vector)…", "PDF document (*.pdf)"),
    "csv": ("Trajectories CSV…", "CSV (*.csv)"),
    "gif": ("Animated GIF…", "Animated GIF (*.gif)"),
    "mp4": ("Video (MP4)…", "MP4 video (*.mp4)"),
}
EXPORT_DIR_KEY = "race/export_dir"  # QSettings: the folder of the last export


def write_race_file(
    kind: str, path: str | Path, figure: RaceFigure, race: OptimizerRace | None, progress: Progress | None = None
) -> Path:
    """Write the figure (png, svg, pdf), the trajectories (csv) or the animation (gif, mp4) to ``path``, atomically
    (``WriteError`` naming the path and why when it cannot be written; ``ValueError`` without a race;
    ``InterruptedError`` when ``progress`` cancels an animation)."""
    path = Path(path)
    if kind == "png":
        return figure_export.export_png(figure, path)
    if kind == "svg":
        return figure_export.export_svg(figure, path)
    if kind == "pdf":
        return figure_export.export_pdf(figure, path)
    if race is None:
        raise ValueError("no race to export")
    if kind == "csv":
        return write_atomically(path, lambda tmp: write_trajectories_csv(tmp, race.trajectories))
    if kind in ANIMATION_KINDS:
        return write_race_animation(kind, figure, race, path, progress)
    raise ValueError(f"unknown export kind {kind!r}")


def ask_export_path(
    parent: QtWidgets.QWidget, settings: QtCore.QSettings | None, kind: str, surface_name: str
) -> str | None:
    """The file chosen in a save dialog (in the last export's folder, ``race-<surface>.<kind>``); None when
    cancelled. The folder is remembered in ``settings``."""
    default = f"race-{surface_name}.{kind}"
    folder = str(settings.value(EXPORT_DIR_KEY, "") or "") if settings is not None else ""
    path, _ = QtWidgets.QFileDialog.getSaveFileName(
        parent, "Export the race", str(Path(folder or ".") / default), EXPORT_KINDS[kind][1]
    )
    if not path:
        return None
    if settings is not None:
        settings.setValue(EXPORT_DIR_KEY, str(Path(path).parent))
    return path


def animation_progress_dialog(parent: QtWidgets.QWidget, kind: str) -> tuple[QtWidgets.QProgressDialog, Progress]:
    """The progress dialog with Cancel of a ``kind`` (gif, mp4) animation, and its ``progress(done, total)``."""
    return progress_dialog(parent, ANIMATION_KINDS[kind])
