"""What the window keeps across launches (QSettings): its geometry and dock layout, the last setup, the
train mode, the open tab, the View ▸ Seeds choice and the race tab's own settings.

Keys: ``window/geometry``, ``window/state`` (the explorer's docks, versioned by
:data:`SETTINGS_LAYOUT_VERSION`), ``window/tab``, ``config/last`` (the setup as JSON), ``train/mode``,
``view/seed_bands``.
"""

from __future__ import annotations

import json
from typing import Protocol

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.gui.controls import ConfigPanel
from resnet_viz.gui.race.race_tab import RaceTab
from resnet_viz.gui.seed_bands_menu import restore_band_mode, save_band_mode

#: Bump when the docks change (4: the Sweep dock; 5: distributions, histogram overlay, dead units), so an old
#: saved layout is not restored.
SETTINGS_LAYOUT_VERSION = 5
#: On first launch the window fills the screen up to this size (px), less room for the desktop's panels.
FIRST_SIZE = (1600, 1000)


class SettingsHost(Protocol):
    """What is saved and restored of the window."""

    settings: QtCore.QSettings
    explorer: QtWidgets.QMainWindow
    config_panel: ConfigPanel
    mode_box: QtWidgets.QComboBox
    tabs: QtWidgets.QTabWidget
    race_tab: RaceTab

    def saveGeometry(self) -> QtCore.QByteArray: ...
    def restoreGeometry(self, geometry: QtCore.QByteArray | bytes, /) -> bool: ...
    def resize(self, w: int, h: int, /) -> None: ...
    def default_layout(self, compact: bool | None = None) -> None: ...
    def show_message(self, text: str, level: str = "error") -> None: ...


def _restore_geometry(window: SettingsHost) -> None:
    """The saved geometry; on first launch most of the screen, the plots laid out for that size."""
    geometry = window.settings.value("window/geometry")
    if isinstance(geometry, (QtCore.QByteArray, bytes)):
        window.restoreGeometry(geometry)
        return
    screen = QtGui.QGuiApplication.primaryScreen()
    if screen is not None:
        avail = screen.availableGeometry()
        window.resize(min(FIRST_SIZE[0], avail.width() - 40), min(FIRST_SIZE[1], avail.height() - 60))
        window.default_layout()


def restore(window: SettingsHost) -> None:
    """Restore what :func:`save` kept; a last setup that no longer loads is a warning in the window."""
    s = window.settings
    _restore_geometry(window)
    state = s.value("window/state")
    if isinstance(state, (QtCore.QByteArray, bytes)):
        window.explorer.restoreState(state, SETTINGS_LAYOUT_VERSION)
    text = s.value("config/last")
    if text:
        try:
            window.config_panel.set_config(RunConfig.from_dict(json.loads(str(text))))
        except (ConfigError, ValueError, TypeError) as exc:
            window.show_message(f"The last setup could not be restored ({exc}); showing the defaults.", "warning")
    window.race_tab.restore_settings()
    restore_band_mode(window)
    tab = s.value("window/tab")
    if tab in ("0", "1", 0, 1):
        window.tabs.setCurrentIndex(int(str(tab)))
    index = window.mode_box.findData(s.value("train/mode"))
    if index >= 0:
        window.mode_box.setCurrentIndex(index)


def save(window: SettingsHost) -> None:
    s = window.settings
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/state", window.explorer.saveState(SETTINGS_LAYOUT_VERSION))
    try:
        s.setValue("config/last", json.dumps(window.config_panel.config().to_dict()))
    except ConfigError:
        pass  # an unfinished edit: keep the last good one
    s.setValue("train/mode", window.mode_box.currentData())
    window.race_tab.save_settings()
    save_band_mode(window)
    s.setValue("window/tab", window.tabs.currentIndex())
    s.sync()
