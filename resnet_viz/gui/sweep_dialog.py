"""The New sweep dialog: the setup's config as the base, axes of field values, seeds, where the trials
train (local processes N at a time, or Ray) and the sweep's folder; or a sweep folder to resume.

Every edit is read by the sweeps core (:mod:`resnet_viz.sweeps.spec`): a bad value shows the core's one
line in the dialog and *Start* stays disabled. *Start* emits ``start_requested(SweepRequest)``; the
window's sweep controller opens the sweep and closes the dialog, or shows why it could not
(:meth:`SweepDialog.show_error`), the dialog still open.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.export.names import slug
from resnet_viz.gui.export_dialogs import setting_text
from resnet_viz.gui.sweep_axes import ERROR_STYLE, AxisRow, value_text, varied_fields
from resnet_viz.runs.ray_backend import RAY_EXTRA_MESSAGE, ray_available
from resnet_viz.runs.scheduler import MAX_PARALLEL
from resnet_viz.sweeps.folder import SweepError, SweepState, read_state
from resnet_viz.sweeps.spec import SweepSpec, parse_seeds

NOTE_STYLE = "color: #555555;"


@dataclass(frozen=True)
class SweepRequest:
    """A sweep to open: new (``spec``) or the one in ``folder`` resumed (``spec`` None), and where it
    trains: local processes ``parallel`` at a time, or Ray (``address`` None: a local Ray started here;
    ``parallel`` 0: as many as the cluster holds). ``cpus_per_trial``: torch threads (Ray: CPUs) per trial."""

    spec: SweepSpec | None
    folder: Path
    ray: bool = False
    parallel: int = 1
    cpus_per_trial: int = 1
    gpus_per_trial: float = 0.0
    address: str | None = None


def sweeps_folder(settings: QtCore.QSettings) -> Path:
    """Where new sweeps go: the last parent chosen, else ``<Documents>/resnet-viz/sweeps``."""
    docs = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(setting_text(settings, "sweep/dir", str(Path(docs or Path.home()) / "resnet-viz" / "sweeps")))


def count_text(spec: SweepSpec) -> str:
    """``4 configs × 5 seeds = 20 trials``."""
    configs = f"{spec.n_points} config" + ("s" if spec.n_points != 1 else "")
    seeds = f"{len(spec.seeds)} seed" + ("s" if len(spec.seeds) != 1 else "")
    return f"{configs} × {seeds} = {spec.n_points * len(spec.seeds)} trials"


class SweepDialog(QtWidgets.QDialog):
    """New sweep (or resume one). ``base``: the setup's config; ``cores``: this machine's (tests pass theirs)."""

    start_requested = QtCore.Signal(object)

    def __init__(
        self,
        base: RunConfig,
        settings: QtCore.QSettings,
        parent: QtWidgets.QWidget | None = None,
        *,
        cores: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New sweep")
        self.base, self.settings = base, settings
        self.cores = cores or os.cpu_count() or 1
        self.resume_state: SweepState | None = None
        self.resume_folder: Path | None = None
        self.rows: list[AxisRow] = []
        self._folder_edited = False
        self._stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self._build_name())
        layout.addWidget(self._build_axes())
        layout.addWidget(self._build_where())
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.hide()
        layout.addWidget(self.status)
        layout.addWidget(self._build_buttons())
        self.add_axis("model.depth")
        self.resize(860, 0)
        self.validate()

    # --- building -------------------------------------------------------------------------------
    def _build_name(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Sweep")
        form = QtWidgets.QFormLayout(box)
        self.name_edit = QtWidgets.QLineEdit("sweep")
        self.name_edit.setToolTip("The sweep's name (its folder is named after it)")
        self.folder_edit = QtWidgets.QLineEdit()
        self.folder_edit.setToolTip("The sweep's folder: sweep.json, summary.csv and one run folder per trial")
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self.browse_folder)
        folder_row = QtWidgets.QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.base_label = base = QtWidgets.QLabel(f"the setup's config: {self.base.label()}")
        base.setStyleSheet(NOTE_STYLE)
        base.setToolTip("Every trial is this config with the values below (and its seed) laid over it")
        form.addRow("Name", self.name_edit)
        form.addRow("Folder", folder_row)
        form.addRow("Base", base)
        self._default_folder()
        self.name_edit.textChanged.connect(lambda _t: self._default_folder())
        self.folder_edit.textEdited.connect(lambda _t: setattr(self, "_folder_edited", True))
        self.folder_edit.textChanged.connect(lambda _t: self.validate())
        return box

    def _build_axes(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Configs × seeds")
        layout = QtWidgets.QVBoxLayout(box)
        head = QtWidgets.QLabel("Each axis varies one config field; the configs are every combination of the values.")
        head.setStyleSheet(NOTE_STYLE)
        layout.addWidget(head)
        self.rows_layout = QtWidgets.QVBoxLayout()
        layout.addLayout(self.rows_layout)
        self.add_axis_button = QtWidgets.QPushButton("Add axis")
        self.add_axis_button.clicked.connect(lambda: self.add_axis(self._next_field()))
        self.seeds_edit = QtWidgets.QLineEdit("0-4")
        self.seeds_edit.setToolTip("The seeds of every config: 0-4, 0,3,7 or 0-2,9")
        self.seeds_edit.textChanged.connect(lambda _t: self.validate())
        self.count = QtWidgets.QLabel()
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.add_axis_button)
        row.addSpacing(16)
        row.addWidget(QtWidgets.QLabel("Seeds"))
        row.addWidget(self.seeds_edit)
        row.addSpacing(16)
        row.addWidget(self.count, 1)
        layout.addLayout(row)
        return box

    def _build_where(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Where the trials train")
        grid = QtWidgets.QGridLayout(box)
        self.local_radio = QtWidgets.QRadioButton("Local processes")
        self.ray_radio = QtWidgets.QRadioButton("Ray")
        self.local_radio.setChecked(True)
        self.parallel_spin = QtWidgets.QSpinBox()
        self.parallel_spin.setRange(1, MAX_PARALLEL)
        self.parallel_spin.setValue(min(MAX_PARALLEL, self.cores))
        self.parallel_spin.setSuffix(" at a time")
        self.cpus_spin = QtWidgets.QSpinBox()
        self.cpus_spin.setRange(1, 1024)
        self.cpus_spin.setSuffix(" CPU core(s) per trial")
        self.cpus_spin.setToolTip("Torch threads of each trial (on Ray: the CPUs each trial reserves)")
        self.cpus_spin.valueChanged.connect(lambda c: self.parallel_spin.setValue(max(1, self.cores // c)))
        self.address_edit = QtWidgets.QLineEdit()
        self.address_edit.setPlaceholderText("empty: start a local Ray; or auto, host:6379, ray://host:10001")
        self.gpus_spin = QtWidgets.QDoubleSpinBox()
        self.gpus_spin.setRange(0.0, 64.0)
        self.gpus_spin.setSingleStep(0.25)
        self.gpus_spin.setSuffix(" GPU(s) per trial")
        self.gpus_spin.setToolTip("Fractions share a GPU: 0.25 puts four trials on one")
        self.ray_note = QtWidgets.QLabel()
        self.ray_note.setStyleSheet(NOTE_STYLE)
        grid.addWidget(self.local_radio, 0, 0)
        grid.addWidget(self.parallel_spin, 0, 1)
        grid.addWidget(self.cpus_spin, 0, 2)
        grid.addWidget(self.ray_radio, 1, 0)
        grid.addWidget(self.address_edit, 1, 1, 1, 2)
        grid.addWidget(self.gpus_spin, 1, 3)
        grid.addWidget(self.ray_note, 2, 1, 1, 3)
        grid.setColumnStretch(1, 1)
        self.local_radio.toggled.connect(lambda _c: self._where_changed())
        self.ray_ok = ray_available()
        if not self.ray_ok:
            self.ray_radio.setEnabled(False)
            self.ray_radio.setToolTip(RAY_EXTRA_MESSAGE)
            self.ray_note.setText(RAY_EXTRA_MESSAGE)
        self._where_changed()
        return box

    def _build_buttons(self) -> QtWidgets.QWidget:
        """*Resume a sweep…* on the left; *Start sweep* and *Cancel* on the right."""
        self.buttons = QtWidgets.QDialogButtonBox()
        self.start_button = self.buttons.addButton("Start sweep", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setDefault(True)
        self.buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.resume_button = QtWidgets.QPushButton("Resume a sweep…")
        self.resume_button.setToolTip("Finish a sweep folder (one with sweep.json): its finished trials are kept")
        self.start_button.clicked.connect(self.submit)
        self.resume_button.clicked.connect(lambda: self.choose_resume())
        self.buttons.rejected.connect(self.reject)
        row = QtWidgets.QWidget()
        layout = QtWidgets.QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.resume_button)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        return row

    # --- axes -----------------------------------------------------------------------------------
    def add_axis(self, path: str, values: str | None = None) -> AxisRow:
        row = AxisRow(self.base, path, values)
        row.changed.connect(self.validate)
        row.remove_requested.connect(self.remove_axis)
        self.rows.append(row)
        self.rows_layout.addWidget(row)
        self.validate()
        return row

    def _next_field(self) -> str:
        """The field a new axis starts on: the first of the usual ones (then of all) not varied yet."""
        used = {row.path for row in self.rows}
        usual = ["model.depth", "optim.lr", "model.shortcut_variant", "model.arch", "optim.weight_decay"]
        return next(p for p in [*usual, *(info.path for info in varied_fields())] if p not in used)

    def remove_axis(self, row: AxisRow) -> None:
        self.rows.remove(row)
        self.rows_layout.removeWidget(row)
        row.deleteLater()
        self.validate()

    # --- folder and resume ----------------------------------------------------------------------
    def _default_folder(self) -> None:
        if not self._folder_edited and self.resume_state is None:
            name = slug(self.name_edit.text() or "sweep")
            self.folder_edit.setText(str(sweeps_folder(self.settings) / f"{name}-{self._stamp}"))

    def browse_folder(self) -> None:
        start = str(Path(self.folder_edit.text()).parent)
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Sweep folder", start)
        if path:
            self.folder_edit.setText(path)
            self._folder_edited = True

    def choose_resume(self, path: str | Path | None = None) -> bool:
        """Resume the sweep in ``path`` (asks for the folder when None); False (the reason shown) if it is none."""
        if path is None:
            path = QtWidgets.QFileDialog.getExistingDirectory(
                self, "Resume a sweep: its folder (with sweep.json)", str(sweeps_folder(self.settings))
            )
            if not path:
                return False
        try:
            state = read_state(Path(path))
        except SweepError as exc:
            self.show_error(str(exc))
            return False
        self.resume_state, self.resume_folder = state, Path(path)
        self.setWindowTitle("Resume sweep")
        self.base_label.setText(f"the sweep's own: {state.spec.base.label()}")
        self.start_button.setText("Resume sweep")
        self.name_edit.setText(state.spec.name)
        self.folder_edit.setText(str(path))
        self.seeds_edit.setText(",".join(map(str, state.spec.seeds)))
        for row in list(self.rows):
            self.remove_axis(row)
        for axis in state.spec.axes:
            sep = "; " if any(isinstance(v, (tuple, list)) for v in axis.values) else ", "
            self.add_axis(axis.path, sep.join(value_text(v) for v in axis.values))
        for widget in (self.name_edit, self.folder_edit, self.seeds_edit, self.add_axis_button):
            widget.setEnabled(False)
        for row in self.rows:
            row.set_editable(False)
        self.validate()
        return True

    # --- reading --------------------------------------------------------------------------------
    def _where_changed(self) -> None:
        ray = self.ray_radio.isChecked()
        self.parallel_spin.setEnabled(not ray)
        self.address_edit.setEnabled(ray)
        self.gpus_spin.setEnabled(ray)
        if self.ray_ok:
            self.ray_note.setText("On Ray, as many trials train at once as the cluster holds." if ray else "")
        self.ray_note.setVisible(bool(self.ray_note.text()))

    def spec(self) -> SweepSpec:
        """The sweep typed (:class:`ConfigError`: the first row's, the seeds' or the configs' error)."""
        axes = [row.axis() for row in self.rows]
        spec = SweepSpec(self.base, tuple(axes), parse_seeds(self.seeds_edit.text()), self.name_edit.text().strip())
        spec.validate()
        for values in spec.points():
            spec.point_config(values)  # a value the model rejects (depth 21 of a ResNet) is named here
        return spec

    def validate(self) -> bool:
        """Check every row (its error under it) and the rest (in the status line); *Start* follows."""
        if not hasattr(self, "start_button"):
            return False  # still building
        ok = all([row.check() is not None for row in self.rows]) or self.resume_state is not None
        text = ""
        if self.resume_state is not None:
            done = sum(1 for t in self.resume_state.trials if t.has_result)
            total = len(self.resume_state.trials)
            self.count.setText(f"{count_text(self.resume_state.spec)}: {done} done, {total - done} to train")
        elif ok:
            try:
                self.count.setText(count_text(self.spec()))
            except ConfigError as exc:
                ok, text = False, str(exc)
                self.count.setText("")
        else:
            self.count.setText("")
        if ok and not self.folder_edit.text().strip():
            ok, text = False, "choose a folder for the sweep"
        self.show_error(text)
        self.start_button.setEnabled(ok)
        return ok

    def request(self) -> SweepRequest | None:
        """What *Start* asks for (None while something is not valid)."""
        if not self.validate():
            return None
        ray = self.ray_radio.isChecked() and self.ray_radio.isEnabled()
        cpus = self.cpus_spin.value()
        return SweepRequest(
            spec=None if self.resume_state is not None else self.spec(),
            folder=Path(self.folder_edit.text().strip()).expanduser(),
            ray=ray,
            parallel=0 if ray else self.parallel_spin.value(),
            cpus_per_trial=cpus,
            gpus_per_trial=self.gpus_spin.value() if ray else 0.0,
            address=(self.address_edit.text().strip() or None) if ray else None,
        )

    # --- outcome --------------------------------------------------------------------------------
    def submit(self) -> None:
        request = self.request()
        if request is None:
            return
        if request.spec is not None:  # the next new sweep goes beside this one
            self.settings.setValue("sweep/dir", str(request.folder.parent))
        self.start_requested.emit(request)

    def show_error(self, text: str) -> None:
        """One line in the dialog (empty: none)."""
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def set_busy(self, text: str) -> None:
        """A note while the controller works (``Connecting to Ray…``); Start is disabled meanwhile."""
        self.status.setStyleSheet(NOTE_STYLE)
        self.status.setText(text)
        self.status.setVisible(bool(text))
        if text:
            self.start_button.setEnabled(False)
            QtWidgets.QApplication.processEvents()  # shown before the controller blocks
        else:
            self.validate()
