"""The setup panel's GUI extras that follow the other controls.

The depth box's rule (arrows step through the valid depths; snapping after an arch or block change)
and the quick-depth buttons valid for it; the "default (...)" texts of width, batch norm and after-add
(the core's resolved defaults); torch.optim's defaults as the optimiser fields' placeholders; the data
folder's placeholder when the dataset needs one. Which fields apply is not here: that is the rules
table's (:func:`resnet_viz.config.field_state`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from PySide6 import QtWidgets

from resnet_viz.config import RunConfig, depth_rule, required_state
from resnet_viz.data import default_data_root
from resnet_viz.gui.setup_panel.builder import Control, field_tooltip, show_enabled
from resnet_viz.gui.setup_panel.extras import REQUIRED_ROOT, home_short
from resnet_viz.gui.setup_panel.widgets import (
    Choice,
    DepthSpinBox,
    DoublingSpinBox,
    NumberEdit,
    Segmented,
    format_number,
    wrap_tooltip,
)
from resnet_viz.train.optim import torch_default

W = TypeVar("W", bound=QtWidgets.QWidget)


def _widget(control: Control, kind: type[W]) -> W:
    if not isinstance(control.widget, kind):
        raise TypeError(f"{control.path}: {type(control.widget).__name__} is not a {kind.__name__}")
    return control.widget


def sync_extras(
    run: RunConfig, controls: dict[str, Control], depth_buttons: dict[int, QtWidgets.QToolButton], snap: bool
) -> None:
    """Bring the GUI extras in line with ``run`` (the controls' values, not validated)."""
    sync_depth(run, controls["model.depth"], depth_buttons, snap)
    sync_default_texts(run, controls)
    sync_placeholders(run, controls)


def sync_depth(run: RunConfig, control: Control, buttons: dict[int, QtWidgets.QToolButton], snap: bool) -> None:
    """The depth box steps through the depths valid for the arch and block (snapping to the nearest if
    ``snap``); its tooltip says the rule; quick-depth buttons that are not valid are disabled."""
    box = _widget(control, DepthSpinBox)
    arch = run.model.arch
    block = "basic" if arch == "mlp" else run.model.block
    box.set_rule(arch, block)
    if snap:
        box.setValue(box.nearest(box.value()))
    rule = depth_rule(arch, block)
    control.tip = wrap_tooltip(field_tooltip(control.info) + f"\nNow: {rule}.")
    for depth, button in buttons.items():
        show_enabled(button, f"Depth {depth}.", box.is_valid(depth), f"{depth} is not {rule}")


def _short_label(control: Control, value: Any) -> str:
    """An option's label without its remark: ``ReLU (original)`` → ``ReLU``."""
    label = next((o.label for o in control.info.spec.options if o.value == value), str(value))
    return label.split(" (")[0]


def sync_default_texts(run: RunConfig, controls: dict[str, Control]) -> None:
    """ "default (16)" / "default (on)" / "default (ReLU)" / "default (B)": the defaults the core fills in for this
    arch and block."""
    defaults = dataclasses.replace(run.model, width=None, batch_norm=None, after_add=None, shortcut=None).resolved()
    width = _widget(controls["model.width"], DoublingSpinBox)
    width.setSpecialValueText(f"default ({defaults.width})")
    width.first = defaults.width
    batch_norm = _widget(controls["model.batch_norm"], Choice)
    batch_norm.setItemText(0, "default (on)" if defaults.batch_norm else "default (off)")
    after_add = controls["model.after_add"]
    _widget(after_add, Choice).setItemText(0, f"default ({_short_label(after_add, defaults.after_add)})")
    shortcut = _widget(controls["model.shortcut"], Segmented)
    shortcut.buttons[shortcut.values()[0]].setText(f"default ({defaults.shortcut})")


def sync_placeholders(run: RunConfig, controls: dict[str, Control]) -> None:
    """Empty optimiser fields show torch.optim's default for the chosen optimiser ("—": it has none);
    an empty data folder shows the cache, or that the dataset needs one."""
    for control in controls.values():
        info = control.info
        if info.section == "optim" and info.default is None and isinstance(control.widget, NumberEdit):
            default = torch_default(run.optim.name, info.name)
            control.widget.setPlaceholderText("—" if default is None else f"default: {format_number(default)}")
    root = _widget(controls["data.root"], QtWidgets.QLineEdit)
    root.setPlaceholderText(REQUIRED_ROOT if required_state(run, "data.root") else home_short(default_data_root()))
