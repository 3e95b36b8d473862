"""Starting the window: the QApplication, its names (for QSettings), and a last-resort error hook.

An exception that escapes a slot would otherwise print a traceback on the console and be lost; the
hook shows it in the window's message bar instead (and keeps the traceback in a log file).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

APP_NAME = "resnet-viz"
ORG_NAME = "resnet-viz"


#: Qt warnings that say nothing to a user (the offscreen platform cannot resize native windows).
_QUIET_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)
_previous_handler = None


def _qt_message(mode: QtCore.QtMsgType, context: QtCore.QMessageLogContext, message: str) -> None:
    if message in _QUIET_QT_MESSAGES:
        return
    if _previous_handler is not None:
        _previous_handler(mode, context, message)
    else:
        print(message, file=sys.stderr)


def application(offscreen: bool = False) -> QtWidgets.QApplication:
    """The process's QApplication (created once). ``offscreen`` renders without a display."""
    global _previous_handler
    if offscreen:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if _previous_handler is None:
        _previous_handler = QtCore.qInstallMessageHandler(_qt_message) or None
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationDisplayName(APP_NAME)
    icon = Path(__file__).with_name("icon.svg")
    if icon.exists():
        app.setWindowIcon(QtGui.QIcon(str(icon)))
    return app


def dispose(widget: QtWidgets.QWidget) -> None:
    """Delete a top-level widget now. A window still alive when the interpreter exits is torn down in
    an arbitrary order with pyqtgraph's items and segfaults about one exit in two (measured here)."""
    widget.close()
    widget.deleteLater()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)


def error_log_path() -> Path:
    base = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(base or Path.home() / ".resnet-viz") / "errors.log"


def install_error_hook(window) -> None:
    """Unexpected exceptions in the GUI thread go to the window's message bar and to errors.log."""
    def hook(exc_type, exc, tb) -> None:
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


def run_app(session: str | None = None) -> int:
    """Open the window (optionally with a saved session) and run the event loop; returns the exit code."""
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
    window.show()
    code = app.exec()
    dispose(window)
    return code
