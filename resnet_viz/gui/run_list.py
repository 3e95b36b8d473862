"""RunListWidget: the runs of the window, one row each: visibility, colour, name, status, step, errors.

A row's check box shows or hides the run's curves; the colour swatch is its colour in every plot;
double-click loads the run's config into the setup panel; Delete (or the context menu) removes it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.runs import RunEntry

STATUS_TIPS = {
    "queued": "waiting to start",
    "preparing": "loading data and building the network",
    "running": "training",
    "paused": "paused between two steps",
    "finished": "trained all its steps",
    "stopped": "stopped by request; everything recorded is kept",
    "failed": "could not be built or raised an error; see the message",
    "out of memory": "ran out of memory; everything recorded before is kept",
}
_STATUS_COLOURS = {
    "running": "#0b6bcb",
    "preparing": "#0b6bcb",
    "paused": "#8a6d00",
    "finished": "#1a7f37",
    "failed": "#c62828",
    "out of memory": "#c62828",
}

COLUMNS = ("Run", "Status", "Step", "Test err.")


def status_colour(status: str) -> str | None:
    if status.startswith("diverged"):
        return "#c62828"
    return _STATUS_COLOURS.get(status)


def swatch(colour: str, size: int = 12) -> QtGui.QIcon:
    """A filled square of the run's colour, for the list and menus."""
    pix = QtGui.QPixmap(size, size)
    pix.fill(QtGui.QColor(colour))
    return QtGui.QIcon(pix)


def _pct(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{100 * value:.1f}%"


class RunListWidget(QtWidgets.QTreeWidget):
    """Shows a list of :class:`RunEntry`. Signals carry the entry's ``run_id``.

    ``visibility_toggled(run_id, visible)``, ``remove_requested(run_id)``, ``config_requested(run_id)``
    (double-click: load this run's config), ``pause_requested(run_id)``, ``stop_requested(run_id)``,
    ``colour_requested(run_id)``; ``selection_changed()`` when the current run changes.
    """

    visibility_toggled = QtCore.Signal(int, bool)
    remove_requested = QtCore.Signal(int)
    config_requested = QtCore.Signal(int)
    pause_requested = QtCore.Signal(int)
    stop_requested = QtCore.Signal(int)
    colour_requested = QtCore.Signal(int)
    selection_changed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(COLUMNS)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.headerItem().setToolTip(0, "Check box: show the run in the plots. Colour: its colour everywhere.")
        self.headerItem().setToolTip(1, "queued, preparing, running, paused, finished, stopped, diverged, failed")
        self.headerItem().setToolTip(2, "Steps trained / steps planned")
        self.headerItem().setToolTip(3, "Test error at the last evaluation")
        self.setToolTip(
            "Runs: tick to show, double-click to load a run's settings, Delete to remove, right-click for more"
        )
        self._items: dict[int, QtWidgets.QTreeWidgetItem] = {}
        self._shown: dict[int, tuple] = {}
        self._updating = False
        self.itemChanged.connect(self._item_changed)
        self.itemDoubleClicked.connect(lambda item, _col: self.config_requested.emit(item.data(0, _ROLE)))
        self.currentItemChanged.connect(lambda *_: self.selection_changed.emit())
        self.customContextMenuRequested.connect(self._context_menu)

    # --- showing --------------------------------------------------------------------------------
    def sync(self, entries: Sequence[RunEntry]) -> None:
        """Make the rows match ``entries`` (added, removed, changed), keeping the selection."""
        self._updating = True
        try:
            ids = [e.run_id for e in entries]
            for rid in list(self._items):
                if rid not in ids:
                    self.takeTopLevelItem(self.indexOfTopLevelItem(self._items.pop(rid)))
                    self._shown.pop(rid, None)
            for pos, e in enumerate(entries):
                item = self._items.get(e.run_id)
                if item is None:
                    item = QtWidgets.QTreeWidgetItem()
                    item.setData(0, _ROLE, e.run_id)
                    item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
                    self._items[e.run_id] = item
                    self.insertTopLevelItem(pos, item)
                elif self.indexOfTopLevelItem(item) != pos:
                    self.takeTopLevelItem(self.indexOfTopLevelItem(item))
                    self.insertTopLevelItem(pos, item)
                self._fill(item, e)
        finally:
            self._updating = False

    def _fill(self, item: QtWidgets.QTreeWidgetItem, e: RunEntry) -> None:
        store = e.store
        total = store.started.total_steps if store.started else None
        last_test = store.evals[-1].test_error if store.evals else None
        state = (e.name, e.color, e.status, e.visible, store.steps_done, total, last_test, e.message)
        if self._shown.get(e.run_id) == state:
            return
        self._shown[e.run_id] = state
        item.setText(0, e.name)
        item.setIcon(0, swatch(e.color))
        item.setCheckState(0, QtCore.Qt.CheckState.Checked if e.visible else QtCore.Qt.CheckState.Unchecked)
        item.setToolTip(0, f"{e.name}\n{e.config.label()}")
        item.setText(1, e.status)
        tip = STATUS_TIPS.get(
            e.status, "the loss became NaN or inf; the curves up to there are kept" if e.diverged else e.status
        )
        item.setToolTip(1, tip + (f"\n{e.message}" if e.message else ""))
        colour = status_colour(e.status)
        item.setForeground(1, QtGui.QBrush(QtGui.QColor(colour)) if colour else QtGui.QBrush())
        font = item.font(1)
        font.setBold(e.diverged or e.status in ("failed", "out of memory"))
        item.setFont(1, font)
        item.setText(2, f"{store.steps_done:,}" + (f" / {total:,}" if total else ""))
        item.setText(3, _pct(last_test))
        for col in (2, 3):
            item.setTextAlignment(col, QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)

    # --- reading --------------------------------------------------------------------------------
    def selected_id(self) -> int | None:
        item = self.currentItem()
        return None if item is None else item.data(0, _ROLE)

    def select(self, run_id: int) -> None:
        item = self._items.get(run_id)
        if item is not None:
            self.setCurrentItem(item)

    # --- events ---------------------------------------------------------------------------------
    def _item_changed(self, item: QtWidgets.QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        self.visibility_toggled.emit(item.data(0, _ROLE), item.checkState(0) == QtCore.Qt.CheckState.Checked)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        item = self.currentItem()
        if event.key() in (QtCore.Qt.Key.Key_Delete, QtCore.Qt.Key.Key_Backspace) and item:
            self.remove_requested.emit(item.data(0, _ROLE))
            return
        super().keyPressEvent(event)

    def _context_menu(self, pos: QtCore.QPoint) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        rid = item.data(0, _ROLE)
        menu = QtWidgets.QMenu(self)
        menu.addAction("Load its settings", lambda: self.config_requested.emit(rid))
        menu.addAction("Pause / resume", lambda: self.pause_requested.emit(rid))
        menu.addAction("Stop", lambda: self.stop_requested.emit(rid))
        menu.addAction("Change colour…", lambda: self.colour_requested.emit(rid))
        menu.addSeparator()
        menu.addAction("Remove", lambda: self.remove_requested.emit(rid))
        menu.exec(self.viewport().mapToGlobal(pos))


_ROLE = QtCore.Qt.ItemDataRole.UserRole
