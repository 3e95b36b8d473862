"""The process's QApplication and the safe disposal of top-level widgets: a leaf module (it imports no
other module of resnet_viz) that everything drawing with Qt may import, the window, offscreen figures and
the CLI alike."""

from __future__ import annotations

import os
import sys
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
    existing = QtWidgets.QApplication.instance()
    if existing is not None and not isinstance(existing, QtWidgets.QApplication):
        raise RuntimeError("a QCoreApplication without widgets already runs in this process")
    app = existing if existing is not None else QtWidgets.QApplication(sys.argv[:1])
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
