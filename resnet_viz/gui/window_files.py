"""Files the window opens and saves: sessions (every run, its records and the window's settings) and
run folders (one run written by ``resnet-viz run`` or by another window).

:class:`WindowFiles` works on the window through :class:`FilesHost`, the part of the window it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6 import QtCore, QtWidgets

from resnet_viz.config import RunConfig
from resnet_viz.export.session import Session, SessionError, SessionRun, load_session, save_session
from resnet_viz.gui import figure_export
from resnet_viz.gui.export_dialogs import setting_text
from resnet_viz.gui.manager import RunManager
from resnet_viz.gui.run_list import RunListWidget
from resnet_viz.gui.runs import ACTIVE_STATUSES, PALETTE, RunEntry

SESSION_FILTER = "resnet-viz session (*.rvsession)"


class FilesHost(Protocol):
    """What :class:`WindowFiles` uses of the window."""

    settings: QtCore.QSettings
    manager: RunManager
    run_list: RunListWidget
    mode_box: QtWidgets.QComboBox

    def window(self) -> QtWidgets.QWidget: ...
    def statusBar(self) -> QtWidgets.QStatusBar: ...
    def setWindowTitle(self, title: str, /) -> None: ...
    def show_message(self, text: str, level: str = "error") -> None: ...
    def refresh_plots(self) -> None: ...
    def selected_id(self) -> int | None: ...
    def forget_experiment(self) -> None: ...


def _session_entry(run: SessionRun) -> RunEntry:
    """A saved run as a window entry; one saved while training shows as stopped."""
    entry = RunEntry(
        run_id=0,
        config=run.config,
        name=run.name,
        color=run.color,
        status=run.status if run.status not in ACTIVE_STATUSES else "stopped",
        visible=run.visible,
        message=run.message,
    )
    if run.store is not None:
        entry.store = run.store
    entry.version = 1
    return entry


def _session_run(entry: RunEntry) -> SessionRun:
    return SessionRun(
        name=entry.name,
        color=entry.color,
        visible=entry.visible,
        status=entry.status,
        message=entry.message,
        config=entry.config,
        store=entry.store if entry.store.started is not None else None,
    )


class WindowFiles:
    """Sessions and run folders of the window ``host``."""

    def __init__(self, host: FilesHost) -> None:
        self.host = host

    # --- sessions ---------------------------------------------------------------------------------
    def session(self) -> Session:
        """The window's runs and settings (train mode, selected run) as a :class:`Session`."""
        h = self.host
        ids = [e.run_id for e in h.manager.entries]
        selected = h.selected_id()
        return Session(
            runs=[_session_run(e) for e in h.manager.entries],
            settings={
                "train_mode": h.mode_box.currentData(),
                "selected": ids.index(selected) if selected in ids else None,
            },
        )

    def save_session(self, path: str | Path) -> Path:
        return save_session(path, self.session())

    def open_session(self, path: str | Path, session: Session | None = None) -> None:
        """Replace the runs with a saved session's: ``session`` when given (already read from ``path``),
        else the file's. Raises SessionError (one line) for a bad file, before any run is replaced."""
        if session is None:
            session = load_session(path)
        h = self.host
        h.manager.clear()
        h.forget_experiment()
        for run in session.runs:
            h.manager.adopt(_session_entry(run))
        index = h.mode_box.findData(session.settings.get("train_mode"))
        if index >= 0:
            h.mode_box.setCurrentIndex(index)
        selected = session.settings.get("selected")
        if isinstance(selected, int) and 0 <= selected < len(h.manager.entries):
            h.run_list.select(h.manager.entries[selected].run_id)
        h.setWindowTitle(f"resnet-viz — {Path(path).name}")
        h.refresh_plots()

    def save_session_dialog(self) -> None:
        h = self.host
        start = setting_text(h.settings, "session/dir", str(Path.home()))
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            h.window(), "Save session", str(Path(start) / "session.rvsession"), SESSION_FILTER
        )
        if not path:
            return
        h.settings.setValue("session/dir", str(Path(path).parent))
        try:
            written = self.save_session(path)
        except figure_export.WriteError as exc:  # names the file and why; a previous file there is kept
            h.show_message(f"Could not save the session: {exc}", "error")
            return
        except (OSError, ValueError, TypeError) as exc:
            h.show_message(f"Could not save the session to {path}: {exc}", "error")
            return
        h.setWindowTitle(f"resnet-viz — {written.name}")
        h.statusBar().showMessage(f"saved {written}", 4000)

    def open_session_dialog(self) -> None:
        h = self.host
        if h.manager.busy:
            answer = QtWidgets.QMessageBox.question(
                h.window(), "Open session", "Runs are training. Stop them and open another session?"
            )
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return
        start = setting_text(h.settings, "session/dir", str(Path.home()))
        path, _ = QtWidgets.QFileDialog.getOpenFileName(h.window(), "Open session", start, SESSION_FILTER)
        if not path:
            return
        h.settings.setValue("session/dir", str(Path(path).parent))
        try:
            self.open_session(path)
        except SessionError as exc:
            h.show_message(str(exc), "error")

    # --- run folders ------------------------------------------------------------------------------
    def open_run_folder(self, path: str | Path) -> RunEntry | None:
        """Add the run of a run folder (``resnet-viz run``'s output) to the runs, selected; None (and a
        message in the window) when the folder cannot be read. A run whose process was killed shows as
        ``interrupted at step k`` with everything on disk; one another process still writes, as it was
        when read."""
        from resnet_viz.export.replay import store_from_run_folder
        from resnet_viz.export.run_folder import RUNNING, read_run_folder

        h = self.host
        try:
            folder = read_run_folder(path)
            store = store_from_run_folder(folder)
            config = RunConfig.from_dict(folder.run.get("config"))  # from_dict checks
        except FileNotFoundError as exc:
            h.show_message(f"{path} is not a run folder: {exc.filename or exc} is missing", "error")
            return None
        except Exception as exc:  # noqa: BLE001 - damaged or foreign files: say so in the window
            h.show_message(f"Could not open the run folder {path}: {type(exc).__name__}: {exc}", "error")
            return None
        status = folder.status
        if status == RUNNING:  # not trained by this window: no live updates
            status = (
                f"running elsewhere (step {folder.last_step} when opened)"
                if folder.live
                else f"saved while running (step {folder.last_step})"
            )
        used = {e.color for e in h.manager.entries}
        color = next((c for c in PALETTE if c not in used), PALETTE[len(h.manager.entries) % len(PALETTE)])
        name = str(folder.run.get("label") or config.label())
        entry = RunEntry(
            run_id=0,
            config=config,
            name=name,
            color=color,
            store=store,
            status=status,
            message=folder.message,
            version=1,
        )
        h.manager.adopt(entry)
        h.run_list.select(entry.run_id)
        h.refresh_plots()
        if folder.interrupted:
            h.show_message(f"{Path(path).name}: {status}: {folder.message}", "warning")
        return entry

    def open_run_folder_dialog(self) -> None:
        h = self.host
        start = setting_text(h.settings, "runfolder/dir", str(Path.cwd()))
        path = QtWidgets.QFileDialog.getExistingDirectory(h.window(), "Open run folder", start)
        if not path:
            return
        h.settings.setValue("runfolder/dir", str(Path(path).parent))
        self.open_run_folder(path)
