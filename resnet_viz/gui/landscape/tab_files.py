"""The Landscape tab's files: choosing a checkpoint or run folder to slice, exporting the figure / grid /
animation, saving and opening results (``landscape.npz`` through ``LandscapeResult.save`` / ``load``).

Every outcome is one line in the tab's message bar; the folder of the last file is remembered."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6 import QtCore, QtWidgets

from resnet_viz.export.names import slug
from resnet_viz.export.video import VideoUnavailable
from resnet_viz.export.written import WriteError
from resnet_viz.gui.animation import ANIMATION_KINDS, Progress
from resnet_viz.gui.checkpoint_files import CHECKPOINT_FILTER
from resnet_viz.gui.landscape.export import EXPORT_KINDS, write_landscape_file
from resnet_viz.gui.landscape.figure import LandscapeFigure
from resnet_viz.gui.landscape.runner import one_line
from resnet_viz.gui.race.race_export import animation_progress_dialog

if TYPE_CHECKING:
    from resnet_viz.landscape.result import LandscapeResult

DIR_KEY = "landscape/dir"  # QSettings: the folder of the last file chosen in the tab
RESULT_FILTER = "Landscape (landscape.npz landscape.json);;All files (*)"  # LandscapeResult.load reads both


class LandscapeHost(Protocol):
    """What the files need of the tab (:class:`~resnet_viz.gui.landscape.tab.LandscapeTab`)."""

    settings: QtCore.QSettings | None
    figure: LandscapeFigure

    @property
    def result(self) -> LandscapeResult | None: ...

    def window(self) -> QtWidgets.QWidget: ...

    def add_source(self, path: str | Path) -> None: ...

    def add_result(self, result: LandscapeResult) -> None: ...

    def show_message(self, text: str, level: str = "error") -> None: ...


class LandscapeFiles:
    """File dialogs and file work of the tab ``tab`` (dialogs are modal to its window)."""

    def __init__(self, tab: LandscapeHost) -> None:
        self.tab = tab

    def _folder(self) -> str:
        s = self.tab.settings
        return str(s.value(DIR_KEY, "") or "") if s is not None else ""

    def _remember(self, path: str | Path) -> None:
        if self.tab.settings is not None:
            p = Path(path)
            self.tab.settings.setValue(DIR_KEY, str(p if p.is_dir() else p.parent))

    # --- sources ----------------------------------------------------------------------------------
    def choose_checkpoint(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self.tab.window(), "Slice a checkpoint", self._folder(), CHECKPOINT_FILTER
        )
        if path:
            self._remember(path)
            self.tab.add_source(path)

    def choose_run_folder(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self.tab.window(), "Slice a run folder", self._folder())
        if path:
            self._remember(path)
            self.tab.add_source(path)

    # --- results ----------------------------------------------------------------------------------
    def open_result(self, path: str | Path) -> bool:
        """Open a saved result and show it; False (and one line in the tab) when it cannot be read."""
        from resnet_viz.landscape.result import LandscapeResult

        try:
            result = LandscapeResult.load(path)
        except Exception as exc:  # noqa: BLE001 - damaged or foreign files: one line in the tab
            self.tab.show_message(f"Could not open the landscape: {one_line(exc)}")  # the error names the path
            return False
        self.tab.add_result(result)
        return True

    def open_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self.tab.window(), "Open a landscape", self._folder(), RESULT_FILTER
        )
        if path:
            self._remember(path)
            self.open_result(path)

    def save_result(self, folder: str | Path) -> list[Path]:
        """Save the shown result into ``folder`` (landscape.npz, landscape.json); ``OSError`` when it cannot."""
        result = self.tab.result
        if result is None:
            raise ValueError("no landscape to save")
        return list(result.save(Path(folder)))

    def save_dialog(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self.tab.window(), "Save the landscape into", self._folder()
        )
        if not folder:
            return
        self._remember(folder)
        try:
            written = self.save_result(folder)
        except (OSError, ValueError) as exc:
            self.tab.show_message(f"Could not save into {folder}: {one_line(exc)}")
            return
        self.tab.show_message("Wrote " + ", ".join(str(p) for p in written), "info")

    # --- export -----------------------------------------------------------------------------------
    def export(self, kind: str, path: str | Path, progress: Progress | None = None) -> Path:
        """Write the figure (png, svg, pdf), the grid (csv) or the path animation (gif, mp4) to ``path``."""
        return write_landscape_file(kind, path, self.tab.figure, progress)

    def export_dialog(self, kind: str) -> None:
        result = self.tab.result
        name = f"landscape-{slug(result.label) if result is not None else 'net'}.{kind}"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.tab.window(), "Export the landscape", str(Path(self._folder() or ".") / name), EXPORT_KINDS[kind][1]
        )
        if not path:
            return
        self._remember(path)
        dialog, progress = (
            animation_progress_dialog(self.tab.window(), kind) if kind in ANIMATION_KINDS else (None, None)
        )
        try:
            written = self.export(kind, path, progress)
        except InterruptedError:
            self.tab.show_message(f"{kind.upper()} export cancelled; nothing was written.", "info")
            return
        except VideoUnavailable as exc:  # PyAV missing: says what to install
            self.tab.show_message(str(exc))
            return
        except WriteError as exc:
            self.tab.show_message(f"Could not write {one_line(exc)}")
            return
        except (OSError, ValueError) as exc:
            self.tab.show_message(f"Could not write {path}: {one_line(exc)}")
            return
        finally:
            if dialog is not None:
                dialog.close()
        self.tab.show_message(f"Wrote {written}", "info")
