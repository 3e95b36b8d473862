"""The explorer's left-hand docks: "Run setup" (message bar, setup panel, train mode, run buttons) and
"Runs" (the run list, Show all, Remove). They are built here and wired by the window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6 import QtWidgets

from resnet_viz.config import TRAIN_MODES, OptimConfig, RunConfig
from resnet_viz.gui.controls import ConfigPanel
from resnet_viz.gui.message_bar import MessageBar
from resnet_viz.gui.run_list import RunListWidget
from resnet_viz.runs.backends import default_parallel

#: How the train-mode box names each of config.TRAIN_MODES.
TRAIN_MODE_LABELS = {"sequential": "in turn", "interleaved": "interleaved", "parallel": "{n} at once"}
TRAIN_MODE_TIP = (
    "How several runs train: in turn (one after the other, in list order), "
    "interleaved (all make progress, taking turns in short time slices), or "
    "{n} at once (each in its own process with {threads} of the {cores} cores)"
)
#: The setup dock is never narrower than this (px), nor than the setup panel wants.
SETUP_MIN_WIDTH = 330


def starting_setup() -> RunConfig:
    """What the window shows on first launch: ResNet-20 with the He et al. CIFAR recipe (SGD lr 0.1,
    momentum 0.9, weight decay 1e-4) on the embedded set, 2,000 steps. torch.optim's own SGD default
    (lr 0.001, no momentum) would barely move in a demo-length run."""
    return RunConfig(optim=OptimConfig(name="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4))


@dataclass
class SetupDock:
    """The "Run setup" dock and the widgets the window talks to."""

    dock: QtWidgets.QDockWidget
    config_panel: ConfigPanel
    message_bar: MessageBar
    mode_box: QtWidgets.QComboBox


def _mode_row() -> tuple[QtWidgets.QHBoxLayout, QtWidgets.QComboBox]:
    n, cores = default_parallel(), os.cpu_count() or 1
    tip = TRAIN_MODE_TIP.format(n=n, threads=max(1, cores // n), cores=cores)
    box = QtWidgets.QComboBox()
    for mode in TRAIN_MODES:
        box.addItem(TRAIN_MODE_LABELS[mode].format(n=n), mode)
    box.setToolTip(tip)
    label = QtWidgets.QLabel("Train runs")
    label.setToolTip(tip)
    row = QtWidgets.QHBoxLayout()
    row.addWidget(label)
    row.addWidget(box, 1)
    return row, box


def _button_grid(mode_row: QtWidgets.QLayout, buttons: dict[str, QtWidgets.QPushButton]) -> QtWidgets.QGridLayout:
    """Train mode on top; Add to comparison | Start; Pause | Stop | Reset."""
    grid = QtWidgets.QGridLayout()
    grid.setContentsMargins(0, 0, 0, 0)
    grid.setSpacing(4)
    grid.addLayout(mode_row, 0, 0, 1, 3)
    grid.addWidget(buttons["add"], 1, 0, 1, 2)
    grid.addWidget(buttons["start"], 1, 2)
    grid.addWidget(buttons["pause"], 2, 0)
    grid.addWidget(buttons["stop"], 2, 1)
    grid.addWidget(buttons["reset"], 2, 2)
    return grid


def build_setup_dock(explorer: QtWidgets.QMainWindow, buttons: dict[str, QtWidgets.QPushButton]) -> SetupDock:
    """The setup dock (movable and floatable, not closable) with the run ``buttons`` by action key."""
    config_panel = ConfigPanel()
    config_panel.set_config(starting_setup())
    message_bar = MessageBar()
    mode_row, mode_box = _mode_row()
    body = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(body)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.setSpacing(4)
    layout.addWidget(message_bar)
    layout.addWidget(config_panel, 1)  # it scrolls itself; its error line stays in view
    layout.addLayout(_button_grid(mode_row, buttons))
    dock = QtWidgets.QDockWidget("Run setup", explorer)
    dock.setObjectName("dock_setup")
    dock.setWidget(body)
    body.setMinimumWidth(max(SETUP_MIN_WIDTH, config_panel.sizeHint().width()))
    dock.setFeatures(
        QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
        | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable
    )
    return SetupDock(dock, config_panel, message_bar, mode_box)


@dataclass
class RunsDock:
    """The "Runs" dock: the run list and its two buttons."""

    dock: QtWidgets.QDockWidget
    run_list: RunListWidget
    show_all: QtWidgets.QPushButton
    remove: QtWidgets.QPushButton


def build_runs_dock(explorer: QtWidgets.QMainWindow) -> RunsDock:
    run_list = RunListWidget()
    remove = QtWidgets.QPushButton("Remove")
    remove.setToolTip("Remove the selected run (Delete); a training run is stopped first")
    show_all = QtWidgets.QPushButton("Show all")
    show_all.setToolTip("Tick every run")
    row = QtWidgets.QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(show_all)
    row.addStretch(1)
    row.addWidget(remove)
    body = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(body)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.setSpacing(4)
    layout.addWidget(run_list, 1)
    layout.addLayout(row)
    dock = QtWidgets.QDockWidget("Runs", explorer)
    dock.setObjectName("dock_runs")
    dock.setWidget(body)
    return RunsDock(dock, run_list, show_all, remove)


def add_below_buttons(setup_dock: QtWidgets.QDockWidget, widget: QtWidgets.QWidget) -> None:
    """Add ``widget`` to the setup dock under its run buttons (an option of the runs: TensorBoard logs)."""
    body = setup_dock.widget()
    layout = body.layout() if body is not None else None
    if layout is None:
        raise ValueError("the setup dock has no layout to add to")
    layout.addWidget(widget)
