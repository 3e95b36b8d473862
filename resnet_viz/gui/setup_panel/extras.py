"""What the setup panel adds to the field table: GUI-only texts, placements and widgets.

Everything a field's row shows (label, tooltip, choices, range, unit) comes from the table
(:mod:`resnet_viz.config.spec`). This module holds only what a window needs beyond it: the attribute
names the panel has always had, the group order, "default (16)" texts of spin boxes at their minimum,
the first item of a choice whose value may be left unset, the quick-depth buttons, the steps/epochs
radio pair, the data folder's browse button and this machine's devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PySide6 import QtCore, QtWidgets

from resnet_viz.config import DEFAULT_CONV_WIDTH, DEFAULT_STEPS
from resnet_viz.config.model import ARCH, INIT
from resnet_viz.config.training import DATA, DEVICE, OPTIM, TRAIN
from resnet_viz.gui.setup_panel.widgets import Choice
from resnet_viz.train.device import available_devices, device_label

#: The groups, top to bottom.
GROUPS = (ARCH, INIT, OPTIM, TRAIN, DATA, DEVICE)
#: Rows placed after another field's row rather than in table order (width sits under the shortcut rows).
PLACED_AFTER = {"model.width": "model.after_add"}
#: Check boxes that share the row of another check box (the two rows show and hide together).
SHARES_ROW_OF = {"data.normalize": "data.augment"}
#: The panel's attribute for a field, where it is not the field's name.
ATTRIBUTES = {
    "init.scheme": "init_scheme",
    "init.mode": "init_mode",
    "init.distribution": "init_distribution",
    "init.std": "init_std",
    "optim.name": "optimizer",
    "data.root": "data_root",
}
QUICK_DEPTHS = (20, 32, 44, 56, 110, 164)


@dataclass(frozen=True)
class SpinText:
    """A spin box's extras: ``special`` text shown at its minimum, ``first`` value stepped to from it, step."""

    special: str = ""
    first: int | None = None
    single_step: int = 1


#: Spin boxes of fields whose minimum means "unset" or has a name (the width's text follows the arch).
SPIN_TEXTS = {
    "model.width": SpinText(f"default ({DEFAULT_CONV_WIDTH})", first=DEFAULT_CONV_WIDTH),
    "train.steps": SpinText(f"default ({DEFAULT_STEPS})", first=DEFAULT_STEPS),
    "train.probe_every": SpinText("step"),
    "train.histogram_every": SpinText("off", first=50),
    "optim.warmup_steps": SpinText("none", single_step=100),
    "data.subset": SpinText("all", single_step=1000),
}
#: The first item of a choice that may be left unset (None): value, text, tooltip (texts follow the arch).
UNSET_ITEMS: dict[str, list[tuple[Any, str, str]]] = {
    "model.after_add": [(None, "default (ReLU)", "The block's default: ReLU (none for pre-activation).")],
    "model.shortcut": [(None, "default", "The block's default: A (B for the bottleneck blocks, as in the papers).")],
    "model.batch_norm": [
        (None, "default (on)", "On for conv nets, off for the MLP."),
        (True, "on", "Batch normalisation."),
        (False, "off", "No batch normalisation."),
    ],
}
#: Placeholders of number fields whose empty text has no default to show.
PLACEHOLDERS = {"train.epochs": "e.g. 30"}
LENGTH_TIP = "Training length: optimiser steps (default 2000) or epochs (passes over the training set)."
REQUIRED_ROOT = "required: an ImageFolder tree"


def home_short(path: Path) -> str:
    """``/home/me/.cache/x`` as ``~/.cache/x``."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


class DeviceChoice(Choice):
    """This machine's devices ("auto" first); a device it does not have is added when shown, so it round-trips."""

    def __init__(self, tip: str, parent: QtWidgets.QWidget | None = None) -> None:
        names = available_devices()
        labels = {name: device_label(torch.device(name)) for name in names}
        items: list[tuple[Any, str, str]] = [("auto", f"Auto ({labels[names[0]]})", tip)]
        items += [(name, labels[name], f"Train on {labels[name]}.") for name in names]
        super().__init__(items, parent)

    def set_value(self, value: Any) -> None:
        if value not in self.values():
            self.addItem(f"{value} (not available here)", value)
            self.setItemData(
                self.count() - 1, "This device is not available on this machine.", QtCore.Qt.ItemDataRole.ToolTipRole
            )
        super().set_value(value)


def button_row(widgets: list[QtWidgets.QWidget], spacing: int = 2, stretch: bool = False) -> QtWidgets.QWidget:
    """A margin-less row of widgets (the field column of a form row); ``spacing`` < 0: the style's."""
    row = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    if spacing >= 0:
        layout.setSpacing(spacing)
    for widget in widgets:
        layout.addWidget(widget)
    if stretch:
        layout.addStretch(1)
    return row


def quick_depth_buttons() -> dict[int, QtWidgets.QToolButton]:
    """One button per depth of :data:`QUICK_DEPTHS` (20, 32, 44, 56, 110, 164), tooltip "Depth 20."."""
    buttons = {}
    for depth in QUICK_DEPTHS:
        button = QtWidgets.QToolButton()
        button.setText(str(depth))
        button.setToolTip(f"Depth {depth}.")
        button.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        button.setMinimumWidth(button.fontMetrics().horizontalAdvance(str(depth)) + 8)  # six fit a ~330 px dock
        buttons[depth] = button
    return buttons


def edit_with_browse(
    edit: QtWidgets.QLineEdit, browse: QtWidgets.QToolButton, placeholder: str, tip: str
) -> QtWidgets.QWidget:
    """A path's edit (showing ``placeholder`` while empty) with its button "…" (tooltip ``tip``) beside it."""
    edit.setPlaceholderText(placeholder)
    browse.setText("…")
    browse.setToolTip(tip)
    row = button_row([edit, browse])
    layout = row.layout()
    if isinstance(layout, QtWidgets.QHBoxLayout):
        layout.setStretch(0, 1)
    return row


def file_row(edit: QtWidgets.QLineEdit, browse: QtWidgets.QToolButton) -> QtWidgets.QWidget:
    """The checkpoint file's edit with its button "…" beside it (which opens File → Open checkpoint…)."""
    tip = "Open a checkpoint: set up its network and start from its weights (File → Open checkpoint…)."
    return edit_with_browse(edit, browse, "none: initialise (scheme above)", tip)


def folder_row(edit: QtWidgets.QLineEdit, browse: QtWidgets.QToolButton, cache: Path) -> QtWidgets.QWidget:
    """The data folder's edit (placeholder: the cache) with its browse button "…" beside it."""
    return edit_with_browse(edit, browse, home_short(cache), "Choose the data folder.")
