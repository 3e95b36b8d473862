"""ConfigPanel: the left-panel editor of one run's configuration (a :class:`RunConfig`).

The rows are generated from the field table (:mod:`resnet_viz.config.spec`), group by group, in a
scroll area with the current validation error pinned under it in red. Which controls apply comes from
the rules table (:mod:`resnet_viz.config.rules`): the panel builds a RunConfig from the raw control
values and asks :func:`field_state` / :func:`option_state` for each control; a control that does not
apply is disabled with the reason in its tooltip (or its row hidden), and :meth:`ConfigPanel.config`
takes the field's default for it, so a disabled control never causes an error. Empty optimiser fields
mean torch.optim's default, shown as placeholder text.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, TypeVar

from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Signal

from resnet_viz.config import SECTIONS, ConfigError, RunConfig, all_fields, field_state
from resnet_viz.data import default_data_root
from resnet_viz.gui.setup_panel.builder import Control, group_box, group_fields, make_control
from resnet_viz.gui.setup_panel.extras import (
    ATTRIBUTES,
    GROUPS,
    LENGTH_TIP,
    SHARES_ROW_OF,
    button_row,
    file_row,
    folder_row,
    quick_depth_buttons,
)
from resnet_viz.gui.setup_panel.sync import sync_extras
from resnet_viz.gui.setup_panel.widgets import wrap_tooltip
from resnet_viz.models.budget import check_fits
from resnet_viz.train.device import resolve_device

W = TypeVar("W", bound=QtWidgets.QWidget)
ERROR_STYLE = (
    "QLabel { color: #b00020; background: #fdecee; border: 1px solid #e8a0a8; border-radius: 3px; padding: 4px; }"
)


class ConfigPanel(QtWidgets.QWidget):
    """Editor of one run's :class:`RunConfig`: grouped controls in a scroll area, the error in red below.

    Signals: ``configChanged()`` once per user edit (never from :meth:`set_config`).
    Methods: :meth:`config`, :meth:`set_config`, :meth:`error_text`, :meth:`reset_to_defaults`.

    Each field with a control is an attribute named after the field (``arch``, ``depth``, ``width``,
    ``lr``, ``batch_size``, ...; ``init_scheme``, ``init_mode``, ``init_distribution``, ``init_std``,
    ``optimizer`` and ``data_root`` for ``init.scheme``, ..., ``optim.name``, ``data.root``). Choices are
    :class:`Choice` combos or :class:`Segmented` button rows, both with ``value()`` / ``set_value()`` in
    config terms; numbers typed as text are :class:`NumberEdit` / :class:`ListEdit` (empty = default,
    shown as placeholder); integers are spin boxes whose minimum may mean the default ("default (16)").
    ``width`` and ``depth`` shadow QWidget's methods of those names, as they always have. Further:
    ``depth_buttons`` (dict depth → QToolButton: 20, 32, 44, 56, 110, 164), ``length_steps`` /
    ``length_epochs`` (radio buttons: which of steps and epochs is shown), ``browse_root``, ``browse_checkpoint`` (QToolButtons),
    ``error_label`` (red QLabel, visible only on an error), ``scroll_area`` (the QScrollArea).

    Config fields without a control (``data.embedded_seed``, ``train.eval_train_samples``,
    ``histogram_bins``, ``deterministic``) keep the values of the last
    :meth:`set_config`.
    """

    configChanged = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._base = RunConfig()
        self._quiet = 0
        self._error = ""
        self._controls: dict[str, Control] = {}
        self.depth_buttons = quick_depth_buttons()
        self.length_steps = QtWidgets.QRadioButton("steps")
        self.length_epochs = QtWidgets.QRadioButton("epochs")
        self._length_group = QtWidgets.QButtonGroup(self)  # the pair is exclusive
        self.browse_root = QtWidgets.QToolButton()
        self.browse_checkpoint = QtWidgets.QToolButton()  # the window connects it to File → Open checkpoint…

        self.scroll_area = QtWidgets.QScrollArea(self)
        self.scroll_area.setWidget(self._build_body())
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.error_label = QtWidgets.QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setVisible(False)

        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        outer.addWidget(self.scroll_area, 1)
        outer.addWidget(self.error_label)

        self._connect()
        self._load(RunConfig())

    # ------------------------------------------------------------------------------------ building

    def _build_body(self) -> QtWidgets.QWidget:
        body = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(body)
        column.setContentsMargins(4, 4, 4, 4)
        column.setSpacing(6)
        for group in GROUPS:
            column.addWidget(self._build_group(group))
        column.addStretch(1)
        order = [info.path for info in all_fields()]  # read in table order (errors in the order of the fields)
        self._controls = dict(sorted(self._controls.items(), key=lambda item: order.index(item[0])))
        labels = body.findChildren(QtWidgets.QLabel)
        label_width = max(lab.sizeHint().width() for lab in labels)
        for lab in labels:
            lab.setMinimumWidth(label_width)
            lab.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        return body

    def _build_group(self, group: str) -> QtWidgets.QGroupBox:
        box, form = group_box(group)
        for info in group_fields(group):
            control = make_control(info)
            self._controls[info.path] = control
            setattr(self, ATTRIBUTES.get(info.path, info.name), control.widget)
            if info.path == "train.steps":
                self._add_length_row(form)
            self._add_row(form, control)
            if info.path == "model.depth":
                self._add_labelled(form, "", button_row(list(self.depth_buttons.values())), "")
        return box

    def _add_row(self, form: QtWidgets.QFormLayout, control: Control) -> None:
        """The control's row: its label (or none, in the field column), its widget or a row around it."""
        control.form = form
        host = SHARES_ROW_OF.get(control.path)
        if host is not None:  # a check box next to another
            field = self._controls[host].field
            layout = field.layout() if field is not None else None
            if isinstance(layout, QtWidgets.QHBoxLayout):
                layout.insertWidget(layout.count() - 1, control.widget)
            control.field = field
            return
        control.field = self._field_of(control)
        control.label = self._add_labelled(form, control.info.spec.label, control.field, control.tip, control.widget)

    def _field_of(self, control: Control) -> QtWidgets.QWidget:
        """What the row lays out: the widget, or a row of it and its GUI extras."""
        if control.path in SHARES_ROW_OF.values():
            return button_row([control.widget], spacing=-1, stretch=True)
        if control.info.spec.widget == "folder":
            cache = default_data_root()
            control.tip = wrap_tooltip(f"{control.info.spec.help.rstrip('.')} ({cache}).")
            return folder_row(self._widget(control.path, QtWidgets.QLineEdit), self.browse_root, cache)
        if control.info.spec.widget == "file":
            return file_row(self._widget(control.path, QtWidgets.QLineEdit), self.browse_checkpoint)
        return control.widget

    def _add_labelled(
        self,
        form: QtWidgets.QFormLayout,
        text: str,
        field: QtWidgets.QWidget,
        tip: str,
        buddy: QtWidgets.QWidget | None = None,
    ) -> QtWidgets.QLabel | None:
        """Add a row; a labelled row's label shows ``tip`` (an unlabelled row has an empty label)."""
        if not text:
            form.addRow(QtWidgets.QLabel(""), field)
            return None
        label = QtWidgets.QLabel(text)
        label.setToolTip(tip)
        if buddy is not None:
            label.setBuddy(buddy)
        form.addRow(label, field)
        return label

    def _add_length_row(self, form: QtWidgets.QFormLayout) -> None:
        """The steps/epochs radio pair, before the steps row: which of the two rows is shown."""
        for radio in (self.length_steps, self.length_epochs):
            self._length_group.addButton(radio)
            radio.setToolTip(wrap_tooltip(LENGTH_TIP))
        self.length_steps.setChecked(True)
        row = button_row([self.length_steps, self.length_epochs], spacing=-1, stretch=True)
        self._add_labelled(form, "length", row, wrap_tooltip(LENGTH_TIP))

    def _connect(self) -> None:
        for path, control in self._controls.items():
            control.changed().connect(lambda *_args, path=path: self._on_edit(path))
        self.length_epochs.toggled.connect(lambda *_args: self._on_edit("length"))  # once per switch
        for depth, button in self.depth_buttons.items():
            button.clicked.connect(lambda _checked=False, depth=depth: self._quick_depth(depth))
        self.browse_root.clicked.connect(self._browse_root)

    def _widget(self, path: str, kind: type[W]) -> W:
        """The widget of field ``path``, typed."""
        widget = self._controls[path].widget
        if not isinstance(widget, kind):
            raise TypeError(f"{path}: {type(widget).__name__} is not a {kind.__name__}")
        return widget

    def is_row_visible(self, widget: QtWidgets.QWidget) -> bool:
        """Whether the row of a field's widget is shown."""
        control = next(c for c in self._controls.values() if c.widget is widget)
        if control.form is None or control.field is None:
            return False
        return control.form.isRowVisible(control.label if control.label is not None else control.field)

    # ------------------------------------------------------------------------------------- editing

    def _quick_depth(self, depth: int) -> None:
        self._controls["model.depth"].write(depth)  # emits configChanged through valueChanged (once; none if same)

    def _browse_root(self) -> None:
        edit = self._widget("data.root", QtWidgets.QLineEdit)
        start = edit.text() or str(default_data_root())
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Data folder", start)
        if folder:
            edit.setText(folder)

    def _on_edit(self, source: str) -> None:
        if self._quiet:
            return
        self._quiet += 1
        try:
            self._sync(snap=source in ("model.arch", "model.block"))
        except Exception as exc:  # noqa: BLE001 - never raise into the event loop
            self._error = f"{type(exc).__name__}: {exc}"
            self.error_label.setText(self._error)
            self.error_label.setVisible(True)
        finally:
            self._quiet -= 1
        self.configChanged.emit()

    def _length_shows(self, path: str) -> bool:
        """Whether the steps/epochs radio pair shows the row of ``path``."""
        if path == "train.steps":
            return not self.length_epochs.isChecked()
        if path == "train.epochs":
            return self.length_epochs.isChecked()
        return True

    def _applies(self, run: RunConfig, path: str) -> bool:
        state = field_state(run, path)
        return state.enabled and state.visible and self._length_shows(path)

    def _sync(self, snap: bool = False) -> None:
        """Bring the controls in line with each other: which apply (enabled or disabled with the reason,
        rows shown or hidden), their GUI extras (snapping depth if ``snap``), then the error."""
        run = self._raw_config()
        sync_extras(run, self._controls, self.depth_buttons, snap)
        if snap:  # the depth may have moved to a valid one
            run = self._raw_config()
        for control in self._controls.values():
            control.show_state(field_state(run, control.path), self._length_shows(control.path))
            control.show_options(run)
        self.browse_root.setEnabled(self._controls["data.root"].widget.isEnabled())
        self.browse_checkpoint.setEnabled(self._controls["init.from_file"].widget.isEnabled())
        self._update_error(run)

    def _update_error(self, raw: RunConfig) -> None:
        """Show the error of the config the controls ``raw`` make (or nothing when it is valid and fits)."""
        try:
            config = self._validated(raw)
            try:
                device = resolve_device(config.train.device)
            except ConfigError:  # a device of another machine (shown, not an error): check building only
                device = None
            check_fits(config, device)  # a run that cannot fit in this machine's memory is refused here
            self._error = ""
        except ConfigError as exc:
            self._error = str(exc)
        except Exception as exc:  # noqa: BLE001 - never raise into the event loop
            self._error = f"{type(exc).__name__}: {exc}"
        self.error_label.setText(self._error)
        self.error_label.setVisible(bool(self._error))

    # ---------------------------------------------------------------------------------- reading

    def _raw_config(self) -> RunConfig:
        """The controls' values as a RunConfig, not validated; text that is not a number reads as the default."""
        values = {}
        for path, control in self._controls.items():
            try:
                values[path] = control.read()
            except ConfigError:
                values[path] = control.info.default
        return self._assemble(values)

    def _assemble(self, values: dict[str, Any]) -> RunConfig:
        """``values`` (by dotted path) over the last :meth:`set_config`'s config; the radio pair picks
        which of steps and epochs is set."""
        if self.length_epochs.isChecked():
            values["train.steps"] = None
        else:
            values["train.epochs"] = None
        fields: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
        for path, value in values.items():
            section, name = path.split(".", 1)
            fields[section][name] = value
        return RunConfig(**{s: dataclasses.replace(getattr(self._base, s), **fields[s]) for s in SECTIONS})

    # ------------------------------------------------------------------------------------------ API

    def error_text(self) -> str:
        """``""`` when the controls make a valid config that fits this machine's memory, else the
        :class:`ConfigError` message (one line)."""
        return self._error

    def config(self) -> RunConfig:
        """The validated config the controls show; controls that do not apply contribute the fields'
        defaults. Raises :class:`ConfigError` for an invalid value or combination."""
        return self._validated(self._raw_config())

    def _validated(self, raw: RunConfig) -> RunConfig:
        """The validated config of the controls whose raw values are ``raw``: controls that do not apply
        (by ``raw``) contribute the fields' defaults."""
        values = {}
        for path, control in self._controls.items():
            values[path] = control.read() if self._applies(raw, path) else control.info.default
        if self.length_epochs.isChecked() and values["train.epochs"] is None:
            raise ConfigError("train.epochs", "", "enter the number of epochs (or choose steps)")
        return self._assemble(values).validate()

    def set_config(self, cfg: RunConfig) -> None:
        """Show ``cfg`` (emits nothing); :meth:`config` then returns it unchanged, except for values of
        controls disabled for it (e.g. a plain net's shortcut type), which come back as the defaults.
        Values the controls cannot hold are clamped; an invalid config is shown with its error."""
        self._load(cfg)

    def reset_to_defaults(self) -> None:
        """Show ``RunConfig()``'s defaults (emits nothing)."""
        self._load(RunConfig())

    def _load(self, cfg: RunConfig) -> None:
        self._base = copy.deepcopy(cfg)
        self._quiet += 1
        try:
            for control in self._controls.values():
                control.write(getattr(getattr(cfg, control.info.section), control.info.name))
            (self.length_epochs if cfg.train.epochs is not None else self.length_steps).setChecked(True)
            self._sync(snap=False)
        finally:
            self._quiet -= 1
