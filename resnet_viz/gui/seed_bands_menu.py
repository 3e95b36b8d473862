"""The window's *View ▸ Seeds* choice: draw runs that differ only in seed each on its own (the default), or as
one mean line per group with a band of ±1 std or min–max (every curve and depth plot; the heatmap stays per
run). The choice is the window's (``window.seed_bands``), kept in QSettings under ``view/seed_bands``.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.plots.bands import check_mode
from resnet_viz.metrics.bands import BAND_MODES

SETTINGS_KEY = "view/seed_bands"
#: Menu entries, by mode.
MENU_TEXT = {"runs": "Each run", "std": "Mean ± 1 std over seeds", "minmax": "Min–max over seeds"}
TIP = (
    "Runs whose setups differ only in their seed form a group: draw each run, or one mean line per group "
    "(in the colour of its first run) with a band over its runs, in every curve and depth plot"
)


class SeedBandsChoice:
    """The *Seeds* submenu (three exclusive entries) and the mode it gives the window's plot panels."""

    def __init__(self, window: Any, menu: QtWidgets.QMenu) -> None:
        self.window = window
        self.menu = menu.addMenu("&Seeds")
        self.menu.setToolTipsVisible(True)
        self.menu.menuAction().setToolTip(TIP)
        self.group = QtGui.QActionGroup(self.menu)
        self.group.setExclusive(True)
        self.actions: dict[str, QtGui.QAction] = {}
        for mode in BAND_MODES:
            action = self.menu.addAction(MENU_TEXT[mode])
            action.setCheckable(True)
            action.setData(mode)
            action.setToolTip(TIP)
            self.group.addAction(action)
            self.actions[mode] = action
        self.actions["runs"].setChecked(True)
        self.group.triggered.connect(lambda action: self.set_mode(str(action.data())))

    @property
    def mode(self) -> str:
        """The chosen mode: one of :data:`~resnet_viz.metrics.bands.BAND_MODES`."""
        checked = self.group.checkedAction()
        return str(checked.data()) if checked is not None else "runs"

    def set_mode(self, mode: str, redraw: bool = True) -> None:
        """Draw seed groups as ``mode`` in every plot panel (ValueError for another mode); redraws the plots."""
        check_mode(mode)
        self.actions[mode].setChecked(True)
        for panel in self.window.panels:
            panel.set_band_mode(mode)
        if redraw:
            self.window.refresh_plots()


def fill_seeds_menu(window: Any, menu: QtWidgets.QMenu) -> None:
    """The View menu's *Seeds* submenu; the window keeps the choice as ``window.seed_bands``."""
    window.seed_bands = SeedBandsChoice(window, menu)


def restore_band_mode(window: Any) -> None:
    """The mode saved by :func:`save_band_mode` (an unknown value: "each run")."""
    choice = getattr(window, "seed_bands", None)
    value = window.settings.value(SETTINGS_KEY)
    if isinstance(choice, SeedBandsChoice) and value in BAND_MODES:
        choice.set_mode(str(value))


def save_band_mode(window: Any) -> None:
    choice = getattr(window, "seed_bands", None)
    if isinstance(choice, SeedBandsChoice):
        settings: QtCore.QSettings = window.settings
        settings.setValue(SETTINGS_KEY, choice.mode)
