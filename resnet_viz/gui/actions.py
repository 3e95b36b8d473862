"""The window's actions as one table: each row builds a menu entry and, where it has one, a button.

A row names its slot as a method of the window (or a function of the window), so the table is plain
data, read by :func:`build_menus` and :func:`build_buttons`. An action with a button carries its
shortcut on the button (two widgets with the same shortcut would cancel each other) and its tip
there; one without a button carries its shortcut on its menu entry. A :class:`MenuFill` row stands
for entries made at run time (the dock toggles, the guided experiments): a window method that adds
them to the menu.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6 import QtGui, QtWidgets

from resnet_viz.gui.checkpoint_files import fill_checkpoint_menu
from resnet_viz.gui.seed_bands_menu import fill_seeds_menu
from resnet_viz.gui.tensorboard_logs import fill_tensorboard_menu

Shortcut = str | QtGui.QKeySequence.StandardKey
Slot = str | Callable[[Any], object]


@dataclass(frozen=True)
class ActionSpec:
    """One action: ``text`` in ``menu``; ``slot`` a method name of the window or ``f(window)``.

    ``button``: the setup dock's button text (None: menu only); the button becomes the window's
    ``<key>_button``. ``primary``: the dock's default button (bold, Return presses it).
    ``separator``: a separator line before the entry in its menu."""

    key: str
    text: str
    slot: Slot
    menu: str
    shortcut: Shortcut | None = None
    tip: str = ""
    button: str | None = None
    primary: bool = False
    separator: bool = False


@dataclass(frozen=True)
class MenuFill:
    """Entries made at run time: ``fill`` names a window method ``fill(menu)`` that adds them, or is a
    function ``fill(window, menu)``."""

    menu: str
    fill: str | Callable[[Any, QtWidgets.QMenu], None]
    separator: bool = False


MENUS = ("&File", "&Runs", "&Experiments", "&View", "&Help")

ACTIONS: tuple[ActionSpec | MenuFill, ...] = (
    ActionSpec("open_session", "&Open session…", "open_session_dialog", "&File", QtGui.QKeySequence.StandardKey.Open),
    ActionSpec("save_session", "&Save session…", "save_session_dialog", "&File", QtGui.QKeySequence.StandardKey.Save),
    ActionSpec("open_run_folder", "Open run &folder…", "open_run_folder_dialog", "&File", "Ctrl+Shift+O"),
    MenuFill("&File", fill_checkpoint_menu),
    ActionSpec("export_all", "&Export all…", "export_all_dialog", "&File", "Ctrl+Shift+E", separator=True),
    ActionSpec("quit", "&Quit", "close", "&File", QtGui.QKeySequence.StandardKey.Quit, separator=True),
    ActionSpec(
        "start",
        "Start",
        "start",
        "&Runs",
        "Ctrl+Return",
        "Train the queued runs; with none queued, queue the setup above and train it",
        button="Start",
        primary=True,
    ),
    ActionSpec(
        "add",
        "Add to comparison",
        "add_to_comparison",
        "&Runs",
        "Ctrl+D",
        "Queue the setup above as another run without starting it (Start trains all queued runs)",
        button="Add to comparison",
    ),
    ActionSpec(
        "pause",
        "Pause / resume",
        "toggle_pause",
        "&Runs",
        "Ctrl+P",
        "Pause every training run between two steps; press again to resume",
        button="Pause",
    ),
    ActionSpec(
        "stop",
        "Stop",
        "stop",
        "&Runs",
        "Ctrl+.",
        "Stop every run after its current step (a last evaluation follows); everything recorded is kept",
        button="Stop",
    ),
    ActionSpec(
        "reset", "Reset", "reset", "&Runs", None, "Stop and remove every run and clear the plots", button="Reset"
    ),
    ActionSpec("new_sweep", "New s&weep…", lambda w: w.sweeps.open_dialog(), "&Runs", separator=True),
    MenuFill("&Runs", fill_tensorboard_menu, separator=True),
    ActionSpec(
        "starting_setup", "Setup to the starting ResNet-20 recipe", "restore_starting_setup", "&Runs", separator=True
    ),
    ActionSpec("gallery", "&Guided experiments…", "open_gallery", "&Experiments", "Ctrl+E"),
    MenuFill("&Experiments", "fill_experiments_menu", separator=True),
    MenuFill("&View", "fill_view_menu"),
    MenuFill("&View", fill_seeds_menu, separator=True),
    ActionSpec("reset_layout", "Reset layout", "reset_layout", "&View", separator=True),
    ActionSpec("networks_tab", "Networks", lambda w: w.tabs.setCurrentIndex(0), "&View", "Ctrl+1", separator=True),
    ActionSpec("race_tab", "Optimiser race", lambda w: w.tabs.setCurrentIndex(1), "&View", "Ctrl+2"),
    ActionSpec("about", "About resnet-viz", "about", "&Help"),
)


def _callable(window: object, slot: Slot) -> Callable[[], object]:
    """The slot as a function of no arguments (a click's ``checked`` flag is not passed on)."""
    if isinstance(slot, str):
        method = getattr(window, slot)
        return lambda: method()
    return lambda: slot(window)


def _key_sequence(shortcut: Shortcut) -> QtGui.QKeySequence:
    return QtGui.QKeySequence(shortcut)


def build_menus(
    bar: QtWidgets.QMenuBar, window: object, table: Iterable[ActionSpec | MenuFill] = ACTIONS
) -> dict[str, QtWidgets.QMenu]:
    """Add the menus of ``table`` to ``bar`` in :data:`MENUS` order; returns them by title."""
    menus = {title: bar.addMenu(title) for title in MENUS}
    for row in table:
        menu = menus[row.menu]
        if row.separator:
            menu.addSeparator()
        if isinstance(row, MenuFill):
            if isinstance(row.fill, str):
                getattr(window, row.fill)(menu)
            else:
                row.fill(window, menu)
            continue
        action = menu.addAction(row.text)
        action.triggered.connect(_callable(window, row.slot))
        if row.shortcut is not None and row.button is None:
            action.setShortcut(_key_sequence(row.shortcut))
    return menus


def build_buttons(window: object, table: Iterable[ActionSpec | MenuFill] = ACTIONS) -> dict[str, QtWidgets.QPushButton]:
    """The buttons of the rows of ``table`` that have one, by key, with their tip and shortcut."""
    buttons = {}
    for row in table:
        if isinstance(row, MenuFill) or row.button is None:
            continue
        button = QtWidgets.QPushButton(row.button)
        shortcut = row.shortcut if isinstance(row.shortcut, str) else None
        button.setToolTip(row.tip + (f" ({shortcut})" if shortcut else ""))
        button.clicked.connect(_callable(window, row.slot))
        if row.shortcut is not None:
            button.setShortcut(_key_sequence(row.shortcut))
        if row.primary:
            button.setDefault(True)
            font = button.font()
            font.setBold(True)
            button.setFont(font)
        buttons[row.key] = button
    return buttons
