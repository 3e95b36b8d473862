"""MessageBar: a one-line notice at the top of the setup panel (errors, warnings), closable.

Used instead of modal dialogs for everything the user must read but need not answer: a bad
configuration, a run that failed or diverged, a session file that could not be read.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

#: level -> (background, border, text) colours of a notice (also the notes of the presets gallery)
LEVEL_COLOURS = {
    "error": ("#fdecea", "#e0a8a3", "#8a1c12"),
    "warning": ("#fff4e5", "#e8c48a", "#6b4400"),
    "info": ("#e8f1fb", "#a9c5e8", "#0c3c78"),
}


class MessageBar(QtWidgets.QFrame):
    """Shows the latest message; ``show_message(text, level)`` with level error / warning / info."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QtWidgets.QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QtWidgets.QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 2, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        self.level = ""
        self.history: list[tuple[str, str]] = []
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        self.level = level
        self.history.append((level, text))
        self.label.setText(text)
        bg, border, fg = LEVEL_COLOURS.get(level, LEVEL_COLOURS["info"])
        self.setStyleSheet(
            f"MessageBar {{background:{bg}; border:1px solid {border}; border-radius:3px;}}"
            f"QLabel {{color:{fg}; background:transparent; border:none;}}"
        )
        self.setToolTip(text)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""
