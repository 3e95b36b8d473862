"""File → Open checkpoint… and Save checkpoint…: trained weights into the setup, a run's weights to a file.

Opening reads the file with :func:`resnet_viz.models.checkpoint.read_checkpoint` (this project's
checkpoint.pt or the PyTorch CIFAR reproduction's state dict), sets the setup panel to the network the
file holds with ``init.from_file`` set (the other sections stay as they were), and says so in the
message bar; Start then evaluates the loaded weights at step 0 and trains them further. Saving writes
the selected run's last weights (``RunStore.weights``: a run that finished or was stopped) in this
project's format. Both remember their folder in the window's QSettings.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Protocol

from PySide6 import QtCore, QtWidgets

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.gui.export_dialogs import setting_text
from resnet_viz.gui.runs import RunEntry
from resnet_viz.gui.setup_panel import ConfigPanel
from resnet_viz.models.checkpoint import (
    CHECKPOINT_PATTERNS,
    CheckpointError,
    model_name,
    read_checkpoint,
    save_checkpoint,
)
from resnet_viz.models.describe import format_count

CHECKPOINT_FILTER = f"Checkpoints ({' '.join(CHECKPOINT_PATTERNS)});;All files (*)"
DIR_KEY = "checkpoint/dir"


class CheckpointHost(Protocol):
    """What the checkpoint actions use of the window."""

    settings: QtCore.QSettings
    config_panel: ConfigPanel

    def window(self) -> QtWidgets.QWidget: ...
    def statusBar(self) -> QtWidgets.QStatusBar: ...
    def show_message(self, text: str, level: str = "error") -> None: ...
    def selected_entry(self) -> RunEntry | None: ...


def _current_setup(host: CheckpointHost) -> RunConfig:
    """The setup panel's config, or the defaults when it is not valid now."""
    try:
        return host.config_panel.config()
    except ConfigError:
        return RunConfig()


def open_checkpoint(host: CheckpointHost, path: str | Path) -> RunConfig | None:
    """Set the setup to the network of checkpoint ``path`` starting from its weights; the config shown,
    or None (and the reason, one line, in the message bar) when the file cannot be read."""
    try:
        ckpt = read_checkpoint(path)
    except CheckpointError as exc:
        host.show_message(f"Could not open the checkpoint: {exc}", "error")
        return None
    current = _current_setup(host)
    config = dataclasses.replace(
        current, model=ckpt.model, init=dataclasses.replace(current.init, from_file=str(Path(path)))
    )
    host.config_panel.set_config(config)
    step = f", step {ckpt.step}" if ckpt.step is not None else ""
    host.show_message(
        f"Loaded {Path(path).name}: {model_name(ckpt.model)} ({format_count(ckpt.params)} parameters, "
        f"{ckpt.layout} layout{step}) — Start evaluates it at step 0 and trains it further",
        "info",
    )
    return config


def open_checkpoint_dialog(host: CheckpointHost) -> None:
    start = setting_text(host.settings, DIR_KEY, str(Path.home()))
    path, _ = QtWidgets.QFileDialog.getOpenFileName(host.window(), "Open checkpoint", start, CHECKPOINT_FILTER)
    if not path:
        return
    host.settings.setValue(DIR_KEY, str(Path(path).parent))
    open_checkpoint(host, path)


def save_state(host: CheckpointHost) -> tuple[RunEntry | None, str]:
    """The run whose weights Save checkpoint… writes, or None and why there is none."""
    entry = host.selected_entry()
    if entry is None:
        return None, "no run is selected"
    if entry.store.weights is None or entry.store.started is None:
        return None, (
            f"{entry.name} has no weights to save: they are kept when a run finishes or is stopped "
            "(not while it trains, nor for a diverged or failed run)"
        )
    return entry, ""


def save_checkpoint_dialog(host: CheckpointHost) -> Path | None:
    entry, why = save_state(host)
    if entry is None or entry.store.weights is None or entry.store.started is None:
        host.show_message(f"Nothing to save: {why}", "warning")
        return None
    start = setting_text(host.settings, DIR_KEY, str(Path.home()))
    path, _ = QtWidgets.QFileDialog.getSaveFileName(
        host.window(), "Save checkpoint", str(Path(start) / "checkpoint.pt"), CHECKPOINT_FILTER
    )
    if not path:
        return None
    host.settings.setValue(DIR_KEY, str(Path(path).parent))
    weights = entry.store.weights
    try:
        written = save_checkpoint(path, entry.store.started.config, weights.step, weights.state)
    except CheckpointError as exc:
        host.show_message(str(exc), "error")
        return None
    host.statusBar().showMessage(f"saved {entry.name} at step {weights.step} to {written}", 4000)
    return written


def fill_checkpoint_menu(host: Any, menu: QtWidgets.QMenu) -> None:
    """Add Open checkpoint… and Save checkpoint… to ``menu`` (and Open to the setup's "from file" button "…");
    Save is disabled, with the reason as its tip, while the selected run has no weights."""
    open_action = menu.addAction("Open &checkpoint…")
    open_action.triggered.connect(lambda _checked=False: open_checkpoint_dialog(host))
    open_action.setToolTip("Set up the network of a checkpoint file, starting from its weights (init.from_file)")
    save_action = menu.addAction("Save chec&kpoint…")
    save_action.triggered.connect(lambda _checked=False: save_checkpoint_dialog(host))
    menu.setToolTipsVisible(True)

    def update() -> None:
        entry, why = save_state(host)
        save_action.setEnabled(entry is not None)
        save_action.setToolTip(f"Save the weights of {entry.name}" if entry is not None else why)

    menu.aboutToShow.connect(update)
    update()
    host.config_panel.browse_checkpoint.clicked.connect(lambda _checked=False: open_checkpoint_dialog(host))


__all__ = [
    "CHECKPOINT_FILTER",
    "fill_checkpoint_menu",
    "open_checkpoint",
    "open_checkpoint_dialog",
    "save_checkpoint_dialog",
    "save_state",
]
