"""Exporting from the window: one plot (PNG at a chosen width, SVG, PDF, CSV, the clipboard) and "export all".

Asks for what it was not given (the file, the PNG width, the folder), remembers the last folder and
width in the settings, and tells the outcome in the window: a written path, or one line saying why not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from resnet_viz.gui import figure_export, video_export
from resnet_viz.gui.plots.base import PlotPanel
from resnet_viz.gui.runs import RunEntry

#: ``say(text, level)``: a message in the window's message bar (level error / warning / info).
Say = Callable[[str, str], None]
#: ``note(text, ms)``: a passing note in the status bar for ``ms`` milliseconds.
Note = Callable[[str, int], None]
#: ``entries()``: the window's runs, in list order.
Entries = Callable[[], Sequence[RunEntry]]
_FILTERS = {
    "png": "PNG image (*.png)",
    "svg": "SVG image (*.svg)",
    "pdf": "PDF document (*.pdf)",
    "csv": "CSV data (*.csv)",
}


def setting_text(settings: QtCore.QSettings, key: str, default: str) -> str:
    """A text setting (``default`` when missing or not text)."""
    value = settings.value(key, default)
    return value if isinstance(value, str) else default


def add_export_button(
    panel: PlotPanel, export: Callable[[PlotPanel, str], None], copy: Callable[[PlotPanel], None]
) -> None:
    """The panel's "Export" menu button (at the right of its toolbar): PNG, SVG, PDF, CSV, copy."""
    tool = QtWidgets.QToolButton()
    tool.setText("Export")
    tool.setToolTip(f"Export “{panel.title}”: PNG at a chosen width, SVG or PDF, its data as CSV, or copy")
    tool.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
    tool.setAutoRaise(True)
    menu = QtWidgets.QMenu(tool)
    menu.addAction("PNG image…", lambda: export(panel, "png"))
    menu.addAction("SVG (vector)…", lambda: export(panel, "svg"))
    menu.addAction("PDF (vector)…", lambda: export(panel, "pdf"))
    menu.addAction("Data as CSV…", lambda: export(panel, "csv"))
    if panel.key in video_export.VIDEO_PLOT_KEYS:
        menu.addAction("Video (MP4)…", lambda: export(panel, "mp4"))
    menu.addSeparator()
    menu.addAction("Copy image", lambda: copy(panel))
    tool.setMenu(menu)
    if panel.toolbar.count() == 0:
        panel.toolbar.addStretch(1)
    panel.toolbar.addWidget(tool)


class ExportDialogs:
    """The export dialogs of the window ``parent``, with its ``settings``; reports through ``say``/``note``."""

    def __init__(
        self, parent: QtWidgets.QWidget, settings: QtCore.QSettings, say: Say, note: Note, entries: Entries = tuple
    ) -> None:
        self._entries = entries  # the window's runs (a video of a depth plot shows the visible ones)
        self._parent = parent
        self.settings = settings
        self._say = say
        self._note = note

    def _ask_path(self, panel: PlotPanel, kind: str) -> str | None:
        start = str(Path(setting_text(self.settings, "export/dir", str(Path.home()))) / f"{panel.key}.{kind}")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self._parent, f"Export {panel.title}", start, _FILTERS[kind])
        if not path:
            return None
        self.settings.setValue("export/dir", str(Path(path).parent))
        return path

    def _ask_png_width(self) -> int | None:
        last = self.settings.value("export/png_width", figure_export.DEFAULT_PNG_WIDTH)
        width, ok = QtWidgets.QInputDialog.getInt(
            self._parent,
            "PNG width",
            "Width in pixels (height keeps the aspect ratio):",
            int(last) if isinstance(last, (int, str)) else figure_export.DEFAULT_PNG_WIDTH,
            200,
            10000,
            100,
        )
        if not ok:
            return None
        self.settings.setValue("export/png_width", width)
        return width

    def export_panel(self, panel: PlotPanel, kind: str, path: str | None = None, width: int | None = None) -> None:
        """Export one plot as PNG / SVG / PDF / CSV (asks for the file, and the PNG width, when not given)."""
        if kind == "mp4":  # the visible runs' history as a video, with a progress dialog
            video_export.export_run_video(self._parent, self.settings, panel, self._entries(), self._say, path)
            return
        if path is None:
            path = self._ask_path(panel, kind)
            if path is None:
                return
        if kind == "png" and width is None:
            width = self._ask_png_width()
            if width is None:
                return
        try:
            if kind == "png":
                written = figure_export.export_png(
                    panel, path, width if width is not None else figure_export.DEFAULT_PNG_WIDTH
                )
            elif kind == "svg":
                written = figure_export.export_svg(panel, path)
            elif kind == "pdf":
                written = figure_export.export_pdf(panel, path)
            else:
                written = figure_export.export_csv(panel, path)
        except figure_export.WriteError as exc:  # names the path and why: permission, disk full, a folder, ...
            self._say(f"Could not export “{panel.title}”: {exc}", "error")
            return
        except Exception as exc:  # noqa: BLE001 - too large, no data, ...: say so in the window
            self._say(f"Could not export “{panel.title}” to {path}: {exc}", "error")
            return
        self._say(f"Wrote {written}", "info")

    def copy_panel(self, panel: PlotPanel) -> None:
        try:
            figure_export.copy_image(panel)
        except Exception as exc:  # noqa: BLE001 - no clipboard, image too large: say so in the window
            self._say(f"Could not copy “{panel.title}”: {exc}", "error")
            return
        self._note(f"copied {panel.title} to the clipboard", 3000)

    def export_all_dialog(self, has_data: bool, export_all: Callable[[str], list[Path]]) -> None:
        """Ask for a folder and ``export_all(folder)`` into it; with no recorded data, say so instead."""
        if not has_data:
            self._say(
                "Nothing to export yet: no run has recorded data (start a run, or open a session or a run folder)",
                "warning",
            )
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self._parent, "Export all into folder", setting_text(self.settings, "export/dir", str(Path.home()))
        )
        if not folder:
            return
        self.settings.setValue("export/dir", folder)
        try:
            written = export_all(folder)
        except figure_export.WriteError as exc:  # names the file, why, and how many were written before it
            self._say(f"Export to {folder} failed: {exc}", "error")
            return
        except Exception as exc:  # noqa: BLE001
            self._say(f"Export to {folder} failed: {type(exc).__name__}: {exc}", "error")
            return
        self._say(f"Exported {len(written)} files to {folder}", "info")
