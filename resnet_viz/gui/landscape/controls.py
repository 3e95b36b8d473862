"""LandscapeControls: the Landscape tab's left column: what to slice (a run of the window, a checkpoint file
or a run folder), how (directions, grid, range, samples, seed), Compute / Cancel with a progress bar, and
what to do with the results (compare, 3D, race, export, save, open)."""

from __future__ import annotations

from functools import partial

from PySide6 import QtCore, QtWidgets

from resnet_viz.gui.landscape.export import EXPORT_KINDS
from resnet_viz.gui.race.race_controls import spin
from resnet_viz.landscape.spec import MAX_GRID_2D, LandscapeSpec

#: Directions: (key, shown name, tooltip).
DIRECTION_CHOICES = (
    (
        "random",
        "random (filter-normalised)",
        "Two Gaussian directions, each filter scaled to the norm of the trained filter",
    ),
    (
        "pca",
        "PCA of the training path",
        "The top two principal components of the saved snapshots; the path drawn on top",
    ),
    ("interpolate", "initial → final (1D)", "The line from the initial (α = 0) to the final (α = 1) weights"),
)


def available_devices() -> list[str]:
    """``cpu``, then ``cuda`` and ``mps`` where torch finds them."""
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def _group(title: str, *rows: QtWidgets.QWidget | tuple[str, QtWidgets.QWidget]) -> QtWidgets.QGroupBox:
    box = QtWidgets.QGroupBox(title)
    form = QtWidgets.QFormLayout(box)
    for row in rows:
        if isinstance(row, tuple):
            form.addRow(*row)
        else:
            form.addRow(row)
    return box


def _button(text: str, tip: str) -> QtWidgets.QPushButton:
    button = QtWidgets.QPushButton(text)
    button.setToolTip(tip)
    return button


class LandscapeControls(QtWidgets.QScrollArea):
    """The widgets; the tab connects them. ``export_requested(kind)`` comes from the export menu."""

    export_requested = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        inner = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(inner)
        col.addWidget(self._build_source())
        col.addWidget(self._build_settings())
        col.addWidget(self._build_compute())
        col.addWidget(self._build_results())
        col.addStretch(1)
        self.setWidget(inner)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedWidth(inner.sizeHint().width() + 24)
        self.directions.currentIndexChanged.connect(lambda _i: self._directions_changed())
        self.auto_range.toggled.connect(lambda _on: self._directions_changed())
        self._directions_changed()

    def _build_source(self) -> QtWidgets.QGroupBox:
        self.source_box = QtWidgets.QComboBox()
        self.source_box.setToolTip("The trained network to slice: a finished run of this window, or a file")
        self.source_box.setMinimumContentsLength(22)
        self.checkpoint_button = _button("Checkpoint…", "Slice the network of a checkpoint file (checkpoint.pt)")
        self.folder_button = _button(
            "Run folder…", "Slice the network of a run folder (its checkpoint.pt and snapshots)"
        )
        buttons = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.checkpoint_button)
        row.addWidget(self.folder_button)
        return _group("Network", self.source_box, buttons)

    def _build_settings(self) -> QtWidgets.QGroupBox:
        self.directions = QtWidgets.QComboBox()
        for key, text, tip in DIRECTION_CHOICES:
            self.directions.addItem(text, key)
            self.directions.setItemData(self.directions.count() - 1, tip, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.grid = QtWidgets.QSpinBox()
        self.grid.setRange(2, MAX_GRID_2D)
        self.grid.setValue(21)
        self.grid.setToolTip("Points per axis (the paper: 51; 21 is quick on a CPU)")
        self.range_lo, self.range_hi = spin(-1e3, 1e3, -1.0, 2, 0.25), spin(-1e3, 1e3, 1.0, 2, 0.25)
        self.auto_range = QtWidgets.QCheckBox("span the path")
        self.auto_range.setToolTip("PCA: each axis spans the training path with a 20 % margin")
        self.auto_range.setChecked(True)
        range_row = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(range_row)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.range_lo, QtWidgets.QLabel("to"), self.range_hi):
            row.addWidget(w)
        self.samples = QtWidgets.QSpinBox()
        self.samples.setRange(1, 50_000)
        self.samples.setValue(1000)
        self.samples.setSingleStep(500)
        self.samples.setToolTip("Training images the loss is averaged over (eval mode, no augmentation)")
        self.seed = QtWidgets.QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Seed of the random directions")
        self.device = QtWidgets.QComboBox()
        for name in available_devices():
            self.device.addItem(name, name)
        self.device.setToolTip("Where the grid is evaluated (the computation runs in its own process)")
        self.biasbn = QtWidgets.QCheckBox("directions for biases and BN too")
        self.biasbn.setToolTip(
            "Off (the paper's default): biases and BatchNorm parameters stay at their trained values"
        )
        return _group(
            "Slice",
            ("Directions", self.directions),
            ("Grid", self.grid),
            ("Range", range_row),
            ("", self.auto_range),
            ("Samples", self.samples),
            ("Seed", self.seed),
            ("Device", self.device),
            self.biasbn,
        )

    def _build_compute(self) -> QtWidgets.QGroupBox:
        self.compute_button = _button("Compute", "Compute the landscape in a background process")
        self.cancel_button = _button("Cancel", "Stop the computation (nothing is kept)")
        self.cancel_button.setEnabled(False)
        buttons = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.compute_button)
        row.addWidget(self.cancel_button)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")  # "%v / %m grid points" while computing
        self.status = QtWidgets.QLabel(" ")
        self.status.setWordWrap(True)
        return _group("Compute", buttons, self.progress, self.status)

    def _build_results(self) -> QtWidgets.QGroupBox:
        self.compare_box = QtWidgets.QComboBox()
        self.compare_box.setToolTip("Show another result beside this one, on one colour scale")
        self.shown_box = QtWidgets.QComboBox()
        self.shown_box.setToolTip("The results computed or opened in this window")
        self.view3d_button = _button("3D view", "The loss as a 3D surface")
        self.race_button = _button("Race optimisers here", "Start the optimiser race's racers on this loss plane")
        self.export_button = QtWidgets.QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        self.export_button.setToolTip("The figure (PNG, SVG, PDF), the grid (CSV) or the path's animation (GIF, MP4)")
        menu = QtWidgets.QMenu(self.export_button)
        for kind, (text, _filter) in EXPORT_KINDS.items():
            menu.addAction(text, partial(self.export_requested.emit, kind))
        self.export_button.setMenu(menu)
        self.save_button = _button("Save…", "Save the result (landscape.npz, landscape.json) into a folder")
        self.open_button = _button("Open…", "Open a saved result (landscape.npz)")
        rows = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(rows)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.race_button, 0, 0, 1, 2)
        for i, w in enumerate((self.view3d_button, self.export_button, self.save_button, self.open_button)):
            grid.addWidget(w, 1 + i // 2, i % 2)
        return _group("Results", ("Show", self.shown_box), ("Compare with", self.compare_box), rows)

    # --- reading ----------------------------------------------------------------------------------
    def _directions_changed(self) -> None:
        kind = self.directions.currentData()
        self.auto_range.setVisible(kind == "pca")
        fixed = kind != "pca" or not self.auto_range.isChecked()
        self.range_lo.setEnabled(fixed)
        self.range_hi.setEnabled(fixed)
        if kind == "interpolate" and (self.range_lo.value(), self.range_hi.value()) == (-1.0, 1.0):
            self.range_lo.setValue(-0.5)
            self.range_hi.setValue(1.5)
        elif kind != "interpolate" and (self.range_lo.value(), self.range_hi.value()) == (-0.5, 1.5):
            self.range_lo.setValue(-1.0)
            self.range_hi.setValue(1.0)

    def spec(self) -> LandscapeSpec:
        """The settings as a :class:`LandscapeSpec` (raises ``ConfigError`` naming the bad field)."""
        kind = self.directions.currentData()
        auto = kind == "pca" and self.auto_range.isChecked()
        return LandscapeSpec(
            directions=kind,
            grid=self.grid.value(),
            range=None if auto else (self.range_lo.value(), self.range_hi.value()),
            samples=self.samples.value(),
            seed=self.seed.value(),
            include_biasbn=self.biasbn.isChecked(),
        )

    def set_running(self, running: bool) -> None:
        """Compute off and Cancel on while a computation runs (and back); the bar counts grid points then."""
        self.compute_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setFormat("%v / %m grid points")
