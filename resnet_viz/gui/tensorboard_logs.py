"""The window's "TensorBoard logs" box (under the run buttons, and in the Runs menu): TensorBoard events of
the runs that train in the window (:mod:`resnet_viz.export.tensorboard`).

While the box is checked, each run that starts (a sweep's trials too) writes its events into a subfolder of
its own, ``<folder>/<run name>-<date>-<time>`` (``-2``, ``-3`` when taken), so that ``tensorboard --logdir
<folder>`` shows the runs side by side, until the run ends, is removed or the window closes. Unchecking the
box concerns the runs that start later. The folder is chosen once (the box asks when none is set; "…"
changes it); the folder and the box persist in the window's QSettings.

A write that fails (the folder removed or read-only, the disk full) is one message in the window's message
bar; that run's TensorBoard writing stops, the run trains on. Records reach the writers through the
scheduler's record listeners, in the GUI thread, at each poll.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.export.names import slug
from resnet_viz.export.tensorboard import TensorBoardRuns, tensorboard_missing
from resnet_viz.export.written import WriteError
from resnet_viz.gui.setup_dock import add_below_buttons
from resnet_viz.runs.run import Run

SETTINGS_FOLDER = "tensorboard/folder"
SETTINGS_ENABLED = "tensorboard/enabled"
TIP = (
    "Write TensorBoard events (losses, errors, lr, per-layer quantities, histograms) of every run started "
    "from now on, one subfolder per run (view: tensorboard --logdir FOLDER)"
)


class TensorBoardLogs(QtCore.QObject):
    """The box, its folder and one :class:`TensorBoardWriter` per run started while it is checked.

    ``window``: the main window (``settings``, ``manager``, ``setup_dock``, ``show_message``); ``menu``:
    where its two entries go (the Runs menu)."""

    def __init__(self, window: Any, menu: QtWidgets.QMenu | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings: QtCore.QSettings = window.settings
        folder = self.settings.value(SETTINGS_FOLDER, "", type=str)
        self.folder: Path | None = Path(folder) if folder else None
        self.runs = TensorBoardRuns(self._log_dir_of, self._failed)  # a writer per run writing events
        self.checkbox = QtWidgets.QCheckBox("TensorBoard logs")
        self.checkbox.setToolTip(TIP)
        self.folder_label = QtWidgets.QLabel()
        self.browse = QtWidgets.QToolButton()
        self.browse.setText("…")
        self.browse.setToolTip("Choose the folder of the TensorBoard logs")
        row = QtWidgets.QWidget()
        layout = QtWidgets.QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.checkbox)
        layout.addWidget(self.folder_label, 1)
        layout.addWidget(self.browse)
        add_below_buttons(window.setup_dock, row)
        self.action = _menu_action(menu, "TensorBoard logs", checkable=True)
        self.folder_action = _menu_action(menu, "TensorBoard logs folder…")
        self.checkbox.toggled.connect(self.set_enabled)
        self.action.toggled.connect(self.set_enabled)
        self.browse.clicked.connect(lambda _checked=False: self.choose_folder())
        self.folder_action.triggered.connect(lambda _checked=False: self.choose_folder())
        window.manager.scheduler.listeners.append(self.runs)
        window.manager.after_poll.append(self._forget_removed)
        window.manager.on_close.append(self.runs.close)
        self._show_folder()
        restore = self.settings.value(SETTINGS_ENABLED, False, type=bool)
        self._set_checked(bool(restore and self.folder is not None and tensorboard_missing() is None))

    # --- the box and the folder ----------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.checkbox.isChecked()

    def set_enabled(self, on: bool) -> bool:
        """Check or uncheck the box; checking needs the package (else a message) and a folder (asked for)."""
        if on:
            missing = tensorboard_missing()
            if missing is not None:
                self.window.show_message(missing, "error")
                on = False
            elif self.folder is None:
                on = self.choose_folder() is not None
        self._set_checked(on)
        self.settings.setValue(SETTINGS_ENABLED, on)
        return on

    def _set_checked(self, on: bool) -> None:
        for widget in (self.checkbox, self.action):
            blocked = widget.blockSignals(True)
            widget.setChecked(on)
            widget.blockSignals(blocked)

    def choose_folder(self) -> Path | None:
        """Ask for the folder (None: cancelled, nothing changes)."""
        start = str(self.folder or Path.home())
        chosen = QtWidgets.QFileDialog.getExistingDirectory(self.window, "Folder for TensorBoard logs", start)
        if not chosen:
            return None
        self.set_folder(chosen)
        return self.folder

    def set_folder(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.settings.setValue(SETTINGS_FOLDER, str(self.folder))
        self._show_folder()

    def _show_folder(self) -> None:
        self.folder_label.setText(f"→ {self.folder.name}" if self.folder is not None else "")
        tip = f"TensorBoard logs go to {self.folder}" if self.folder is not None else "No folder chosen yet"
        self.folder_label.setToolTip(tip)
        self.checkbox.setToolTip(f"{TIP}. {tip}.")

    # --- the runs ------------------------------------------------------------------------------------
    def log_dir(self, run: Run) -> Path:
        """A new subfolder of the folder for ``run``: its name and the time, numbered when taken."""
        assert self.folder is not None
        base = f"{slug(run.name)}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = self.folder / base, 1
        while path.exists():
            n += 1
            path = self.folder / f"{base}-{n}"
        return path

    def _log_dir_of(self, run: Run) -> Path | None:
        return self.log_dir(run) if self.enabled and self.folder is not None else None

    def _failed(self, run: Run, error: WriteError) -> None:
        self.window.show_message(f"TensorBoard logs of {run.name} stopped: {error}; the run trains on", "error")

    def _forget_removed(self) -> None:
        """Close the writers of runs removed from the list while training (no RunFinished comes)."""
        if self.runs.writers:
            self.runs.keep(r.run_id for r in self.window.manager.scheduler.runs)


def _menu_action(menu: QtWidgets.QMenu | None, text: str, checkable: bool = False) -> QtGui.QAction:
    """An entry of ``menu`` (a free-standing action without one)."""
    action = menu.addAction(text) if menu is not None else QtGui.QAction(text)
    action.setCheckable(checkable)
    return action


def fill_tensorboard_menu(window: Any, menu: QtWidgets.QMenu) -> None:
    """The Runs menu's TensorBoard entries and the box under the run buttons; the window keeps them as
    ``window.tensorboard_logs``."""
    window.tensorboard_logs = TensorBoardLogs(window, menu)
