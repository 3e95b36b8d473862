"""Starting and ending the window: the QApplication, its names (for QSettings), a last-resort error
hook, SIGINT/SIGTERM handling, and a safe process exit.

An exception that escapes a slot would otherwise print a traceback on the console and be lost; the
hook shows it in the window's message bar instead (and keeps the traceback in a log file).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, NoReturn, Protocol

from PySide6 import QtCore, QtWidgets

from resnet_viz.gui.qt_app import application, dispose

if TYPE_CHECKING:
    from resnet_viz.gui.main_window import MainWindow


def error_log_path() -> Path:
    base = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(base or Path.home() / ".resnet-viz") / "errors.log"


class ShowsMessages(Protocol):
    def show_message(self, text: str, level: str = "error") -> None: ...


def install_error_hook(window: ShowsMessages) -> None:
    """Unexpected exceptions in the GUI thread go to the window's message bar and to errors.log."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QtWidgets.QApplication.quit()
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log = error_log_path()
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a") as f:
                f.write(text + "\n")
            where = f" (details in {log})"
        except OSError:
            where = ""
        window.show_message(f"Internal error: {exc_type.__name__}: {exc}{where}", "error")

    sys.excepthook = hook


#: Signals that close the window like its close button: settings saved, runs stopped, exit status 0.
CLOSE_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def close_on_signals(window: QtWidgets.QWidget) -> Callable[[], None]:
    """Make SIGINT and SIGTERM close ``window`` and quit the event loop; returns the undo function.

    Python runs a signal handler only when the main thread next executes Python code, and while Qt's
    event loop waits in C++ none does. So the handler only records the signal: ``signal.set_wakeup_fd``
    makes CPython's C-level handler write the signal number to a socket, and a ``QSocketNotifier`` on
    the other end wakes the event loop, whose slot closes the window. Call from the main thread.
    """
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    try:
        previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread: leave the signals alone
        reader.close()
        writer.close()
        return lambda: None
    previous = {sig: signal.signal(sig, lambda signum, frame: None) for sig in CLOSE_SIGNALS}
    notifier = QtCore.QSocketNotifier(reader.fileno(), QtCore.QSocketNotifier.Type.Read)

    def on_signal() -> None:
        try:
            got = reader.recv(64)
        except OSError:
            return
        if got:
            window.close()
            QtWidgets.QApplication.quit()  # also ends a modal dialog's loop and other open windows

    notifier.activated.connect(on_signal)

    def undo() -> None:
        notifier.setEnabled(False)
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reader.close()
        writer.close()

    return undo


def end_process(code: int) -> NoReturn:
    """End the process with ``code`` once the window is closed: atexit handlers run and stdio is
    flushed, then ``os._exit`` skips the interpreter's finalisation, for two reasons.

    - A training thread can still be busy (the window joins them for about a second; one can be
      inside one long C++ op, or loading a dataset). Finalising under it aborts the process: CPython
      ends a daemon thread that next takes the GIL with ``pthread_exit``, whose forced unwind through
      torch's C++ frames (noexcept) calls ``std::terminate``: "terminate called without an active
      exception", exit status 134.
    - Finalisation alone (tearing down torch, Qt and pyqtgraph modules) took 1.5-3 s on a busy 2-core
      machine, after the window had gone: the process would outlive the 2 s the close may take.

    Nothing is lost: the window has saved (and synced) its settings, and written files are closed.
    """
    try:
        atexit._run_exitfuncs()  # what a normal exit runs first (logging flush, temp-folder cleanup)
    except BaseException:  # noqa: BLE001 - a failing handler must not keep the process alive
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)


def prefetch_setup_data(window: MainWindow) -> None:
    """Start loading the data of the setup shown (a valid one), so the first Start does not wait for
    it (generating the embedded set takes seconds). Only with the process backend: the thread
    backend is for tests and tiny runs."""
    from resnet_viz.config import ConfigError

    if window.manager.backend_name != "process":
        return
    try:
        data = window.config_panel.config().data
    except ConfigError:
        return  # the panel shows why; nothing to load
    window.manager.prefetch(data)


def run_app(session: str | None = None, runs: tuple[str, ...] | list[str] = ()) -> NoReturn:
    """Open the window (optionally with a saved session, and run folders added to its runs: ``runs``),
    run the event loop, and end the process
    with its exit code (see :func:`end_process`). SIGINT and SIGTERM close the window like its close
    button."""
    app = application()
    from resnet_viz.gui.main_window import MainWindow

    window = MainWindow()
    install_error_hook(window)
    if session:
        from resnet_viz.export.session import SessionError

        try:
            window.open_session(session)
        except SessionError as exc:
            window.show_message(str(exc), "error")
    for folder in runs:  # a folder that cannot be read says so in the window
        window.open_run_folder(folder)
    window.show()
    prefetch_setup_data(window)
    restore_signals = close_on_signals(window)
    code = app.exec()
    dispose(window)
    restore_signals()
    end_process(code)
