"""What the run list's rows and buttons do to a run: stop or pause it, remove it, show or hide it,
change its colour, load its setup; and Show all / Remove under the list.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.manager import RunManager
from resnet_viz.gui.run_list import RunListWidget
from resnet_viz.gui.runs import RunEntry


class RunListActions(QtCore.QObject):
    """Connects ``run_list`` (and its ``show_all``/``remove`` buttons) to ``manager``.

    ``redraw()`` after a run's look changed; ``load_config(entry)`` for a double-clicked run;
    ``removed(run_id)`` after a run was removed. Colour dialogs open over ``parent``."""

    def __init__(
        self,
        manager: RunManager,
        run_list: RunListWidget,
        parent: QtWidgets.QWidget,
        redraw: Callable[[], None],
        load_config: Callable[[RunEntry], None],
        removed: Callable[[int], None],
    ) -> None:
        super().__init__(parent)
        self.manager, self.run_list, self._parent = manager, run_list, parent
        self._redraw, self._load_config, self._removed = redraw, load_config, removed
        run_list.visibility_toggled.connect(self.set_visible)
        run_list.remove_requested.connect(self.remove)
        run_list.config_requested.connect(self._with_entry(load_config))
        run_list.pause_requested.connect(self._with_entry(self._toggle_pause))
        run_list.stop_requested.connect(self._with_entry(manager.stop))
        run_list.colour_requested.connect(self._with_entry(self._choose_colour))

    def connect_buttons(self, show_all: QtWidgets.QPushButton, remove: QtWidgets.QPushButton) -> None:
        show_all.clicked.connect(self.show_all)
        remove.clicked.connect(self.remove_selected)

    def _with_entry(self, action: Callable[[RunEntry], object]) -> Callable[[int], None]:
        """``action(entry)`` for a run id; nothing for a run that is gone."""

        def act(run_id: int) -> None:
            entry = self.manager.entry(run_id)
            if entry is not None:
                action(entry)

        return act

    def _toggle_pause(self, entry: RunEntry) -> None:
        if entry.status == "paused":
            self.manager.resume(entry)
        else:
            self.manager.pause(entry)

    def remove(self, run_id: int) -> None:
        """Remove a run (a training one is stopped first)."""
        entry = self.manager.entry(run_id)
        if entry is not None:
            self.manager.remove(entry)
        self._removed(run_id)

    def remove_selected(self) -> None:
        run_id = self.run_list.selected_id()
        if run_id is not None:
            self.remove(run_id)

    def show_all(self) -> None:
        for e in self.manager.entries:
            self.set_visible(e.run_id, True)

    def set_visible(self, run_id: int, visible: bool) -> None:
        """Show or hide a run's curves in every plot."""
        entry = self.manager.entry(run_id)
        if entry is not None and entry.visible != visible:
            entry.visible = visible
            self.run_list.sync(self.manager.entries)
            self._redraw()

    def _choose_colour(self, entry: RunEntry) -> None:
        colour = QtWidgets.QColorDialog.getColor(QtGui.QColor(entry.color), self._parent, f"Colour of {entry.name}")
        if colour.isValid():
            entry.color = colour.name()
            self.run_list.sync(self.manager.entries)
            self._redraw()
