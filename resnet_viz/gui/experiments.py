"""Guided experiments in the window: the presets, loading one (its runs, train mode and plots), the
loaded one (and the runs it created), the Experiment dock that shows its checks, the gallery that
picks one, and the race a preset sets up.

:class:`GuidedExperiments` works on the window through :class:`ExperimentsHost`. It keeps what was
loaded and re-evaluates its checks as its runs train: the window calls :meth:`GuidedExperiments.update_checks`
when a run's status changes and :meth:`GuidedExperiments.schedule_checks` when records arrive (at most
one evaluation a second).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6 import QtCore, QtWidgets

from resnet_viz.config import ConfigError
from resnet_viz.gui.controls import ConfigPanel
from resnet_viz.gui.experiment_panel import ExperimentPanel, race_state
from resnet_viz.gui.landscape.tab import LandscapeTab
from resnet_viz.gui.manager import RunManager
from resnet_viz.gui.message_bar import MessageBar
from resnet_viz.gui.presets_dialog import PresetGallery, cuda_available, size_summary
from resnet_viz.gui.race.race_tab import RaceTab
from resnet_viz.gui.runs import ACTIVE_STATUSES, PALETTE, RunEntry
from resnet_viz.presets import Preset, PresetError, PresetRun, RaceSetup, load_presets

CHECKS_INTERVAL_MS = 1000


class ExperimentsHost(Protocol):
    """What :class:`GuidedExperiments` uses of the window."""

    settings: QtCore.QSettings
    manager: RunManager
    explorer: QtWidgets.QMainWindow
    setup_dock: QtWidgets.QDockWidget
    runs_dock: QtWidgets.QDockWidget
    message_bar: MessageBar
    config_panel: ConfigPanel
    tabs: QtWidgets.QTabWidget
    race_tab: RaceTab
    landscape_tab: LandscapeTab

    def window(self) -> QtWidgets.QWidget: ...
    def statusBar(self) -> QtWidgets.QStatusBar: ...
    def show_message(self, text: str, level: str = "error") -> None: ...
    def set_train_mode(self, mode: str) -> None: ...
    def arrange_plots(self, keys: tuple[str, ...] | list[str]) -> None: ...
    def forget_selection(self) -> None: ...
    def update_buttons(self) -> None: ...
    def refresh_plots(self) -> None: ...


class GuidedExperiments(QtCore.QObject):
    """The presets (``presets``; ``presets_error`` when they could not be read), the loaded
    ``experiment`` (preset and size, or None), the ``panel`` in its ``dock`` in ``explorer``, and the
    open ``gallery`` (or None)."""

    def __init__(self, host: ExperimentsHost) -> None:
        super().__init__(host.explorer)
        self.host = host
        self.manager = host.manager
        self.experiment: tuple[Preset, str] | None = None
        self._ids: dict[str, int] = {}  # its run names -> the run ids it created
        self.gallery: PresetGallery | None = None
        try:
            self.presets: dict[str, Preset] = load_presets()
            self.presets_error = ""
        except PresetError as exc:
            self.presets, self.presets_error = {}, str(exc)
        self.panel = ExperimentPanel()
        self.panel.race_requested.connect(self.open_race)
        self.panel.landscape_requested.connect(self.open_landscapes)
        self.panel.details_requested.connect(self.open_gallery)
        self.dock = QtWidgets.QDockWidget("Experiment", host.explorer)
        self.dock.setObjectName("dock_experiment")
        self.dock.setWidget(self.panel)
        self._checks_timer = QtCore.QTimer(self)  # the checks follow new records at most once a second
        self._checks_timer.setSingleShot(True)
        self._checks_timer.setInterval(CHECKS_INTERVAL_MS)
        self._checks_timer.timeout.connect(self.update_checks)

    def schedule_checks(self) -> None:
        """New records: re-evaluate the checks within a second (once, however many records arrive)."""
        if not self._checks_timer.isActive():
            self._checks_timer.start()

    def fill_menu(self, menu: QtWidgets.QMenu) -> None:
        """One entry per preset (its summary as the tip) that opens the gallery on it."""
        menu.setToolTipsVisible(True)
        for preset in self.presets.values():
            action = menu.addAction(preset.title.replace("&", "&&"), self._gallery_opener(preset.name))
            action.setToolTip(preset.summary)
        if self.presets_error:
            menu.addAction("(no presets: see the message)").setEnabled(False)

    def _gallery_opener(self, name: str) -> Callable[[], object]:
        return lambda: self.open_gallery(name)

    def open_gallery(self, name: str | None = None) -> PresetGallery:
        """Open the gallery (window-modal, returns at once) on preset ``name`` (None: the loaded one)
        at the size last chosen; its Run button loads the preset."""
        if self.presets_error:
            self.host.show_message(f"The guided experiments could not be read: {self.presets_error}", "error")
        if self.gallery is not None:
            self.gallery.close()
        if not isinstance(name, str):
            name = self.experiment[0].name if self.experiment is not None else None
        size = self.host.settings.value("experiments/size", "quick")
        size = size if isinstance(size, str) else "quick"
        self.gallery = PresetGallery(self.presets, self.host.window(), current=name, size=size)
        self.gallery.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        self.gallery.run_requested.connect(lambda preset, size: self.load(preset, size))
        self.gallery.destroyed.connect(lambda *_a: setattr(self, "gallery", None))
        self.gallery.open()
        return self.gallery

    def _confirm_replace(self, preset: Preset) -> bool:
        """Ask before replacing runs that train or have recorded steps; True when there are none."""
        m = self.manager
        if not (m.busy or any(e.store.steps_done for e in m.entries)):
            return True
        text = (
            "Runs are training. Stop them and replace every run with this experiment's?"
            if m.busy
            else "Replace the current runs and their curves with this experiment's?"
        )
        answer = QtWidgets.QMessageBox.question(
            self.host.window(), preset.title, text + "\n(Save the session or export first to keep them.)"
        )
        return answer == QtWidgets.QMessageBox.StandardButton.Yes

    def load(
        self,
        preset: Preset,
        size: str = "quick",
        start: bool = True,
        confirm: bool = True,
        runs: Sequence[PresetRun] | None = None,
    ) -> bool:
        """Replace the runs with ``preset``'s at ``size`` (``runs``: instead of the size's, e.g. shortened),
        set its train mode, arrange its plots, show the Experiment dock and, if ``start``, train.

        With ``confirm``, asks first when runs are training or have recorded steps; False if declined."""
        h = self.host
        if size not in preset.sizes:
            h.show_message(f"The experiment “{preset.title}” has no {size} size.", "error")
            return False
        if confirm and not self._confirm_replace(preset):
            return False
        self.manager.clear()
        h.forget_selection()
        h.message_bar.hide()
        added = self._add_runs(preset, size, list(runs) if runs is not None else list(preset.runs(size)))
        if added:  # the Setup panel shows the experiment's first run, ready to vary and add
            h.config_panel.set_config(added[0].config)
        h.set_train_mode(preset.mode)
        self.manager.set_mode(preset.mode)
        self._show(preset, size)
        self.update_checks()
        if start and self.manager.queued:
            self.manager.start()
        h.update_buttons()
        h.refresh_plots()
        return True

    def _show(self, preset: Preset, size: str) -> None:
        """The Networks tab with the preset's plots and the Experiment dock; the size noted."""
        h = self.host
        h.tabs.setCurrentIndex(0)
        h.arrange_plots(preset.plots)
        self.dock.show()
        self.dock.raise_()
        h.explorer.resizeDocks([h.setup_dock, h.runs_dock], [35, 65], QtCore.Qt.Orientation.Vertical)
        h.settings.setValue("experiments/size", size)
        if size == "paper" and not cuda_available():
            h.show_message(
                f"{preset.title}: the paper size needs a GPU (no CUDA device here: it would take "
                "days) and CIFAR-10 on disk.",
                "warning",
            )
        h.statusBar().showMessage(f"Experiment: {preset.title} — {size_summary(preset, size)}", 15000)

    def open_race(self, setup: RaceSetup) -> None:
        """Set the Optimiser race tab to ``setup`` (surface, start, steps, racers) and switch to it."""
        try:
            state = race_state(setup)
        except ConfigError as exc:
            self.host.show_message(f"The experiment's race could not be set up: {exc}", "error")
            return
        self.host.race_tab.pause()
        self.host.race_tab.set_state(state)
        self.host.tabs.setCurrentWidget(self.host.race_tab)

    def open_landscapes(self) -> None:
        """Compute the loaded experiment's landscapes of its trained runs in the Loss landscape tab and switch
        to it; a run without final weights yet is named in one line instead."""
        from resnet_viz.landscape.spec import LandscapeSpec

        if self.experiment is None or self.experiment[0].landscape is None:
            return
        preset, size = self.experiment
        fields = preset.landscape.spec_fields(size) if preset.landscape is not None else None
        if fields is None:
            self.host.show_message(f"{preset.title}: no landscape is set for the {size} size.", "warning")
            return
        entries = self.entries()
        waiting = [name for name, e in entries.items() if e.store.weights is None]
        if waiting or not entries:
            self.host.show_message(
                f"The landscapes are computed from the trained weights: wait until {', '.join(waiting) or 'the runs'}"
                " finished (a run that diverged or failed has none).",
                "warning",
            )
            return
        tab = self.host.landscape_tab
        if tab.runner.running:
            self.host.show_message("The Loss landscape tab is computing: cancel it or wait.", "warning")
            return
        tab.compute_runs([e.run_id for e in entries.values()], LandscapeSpec(**fields))
        self.host.tabs.setCurrentWidget(tab)

    def forget(self) -> None:
        """No experiment loaded (its runs stay, as ordinary runs)."""
        self.experiment, self._ids = None, {}
        self.panel.set_preset(None)

    def _add_runs(self, preset: Preset, size: str, runs: Sequence[PresetRun]) -> list[RunEntry]:
        """Make ``preset`` at ``size`` the loaded experiment and queue its ``runs`` (in palette colours);
        a run that is not valid is skipped with a message. Returns the queued entries."""
        self._ids = {}
        self.experiment = (preset, size)
        self.panel.set_preset(preset, size, runs)
        for i, run in enumerate(runs):
            try:
                entry = self.manager.add(run.config, name=run.name, color=PALETTE[i % len(PALETTE)])
            except ConfigError as exc:
                self.host.show_message(f"{preset.title}: run {run.name} is not valid: {exc}", "error")
                continue
            self._ids[run.name] = entry.run_id
        return list(self.entries().values())

    def entries(self) -> dict[str, RunEntry]:
        """The loaded experiment's runs that still exist: run name -> RunEntry."""
        out = {}
        for name, run_id in self._ids.items():
            entry = self.manager.entry(run_id)
            if entry is not None:
                out[name] = entry
        return out

    def update_checks(self) -> None:
        """Re-evaluate the loaded experiment's checks on its runs' records."""
        if self.experiment is None:
            return
        entries = self.entries()
        finished = all(e.status not in ("queued", *ACTIVE_STATUSES) for e in entries.values())
        self.panel.update_checks({n: e.store for n, e in entries.items()}, finished)
