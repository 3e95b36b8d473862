"""MainWindow: the setup panel, the run list and the plots, in dock panels the user can rearrange.

The window is the assembly of its parts, each in its own module: the run buttons and menus from one
table of actions (:mod:`.actions`), the setup and runs docks (:mod:`.setup_dock`), the plot panels
from the registry (:mod:`.plots.registry`), the dock layout (:mod:`.dock_layout`), sessions and run
folders (:mod:`.window_files`), exports (:mod:`.export_dialogs`), the status bar (:mod:`.status_bar`),
the redraw pacing (:mod:`.redraw_pacer`) and the guided experiments (:mod:`.experiments`).

The window never trains: :class:`RunManager` runs each engine in a worker thread and drains its
records at display rate; the window redraws the plots it shows after each drain (≤ 30 Hz), and only
the runs that changed. The last configuration, the train mode and the window layout persist across
launches (QSettings). Experiments ▸ Guided experiments loads a preset: its runs, train mode and
plots, and the Experiment dock that explains it and re-evaluates its checks as the runs train.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz import __version__
from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.export.session import Session
from resnet_viz.gui import figure_export, sweeps, window_settings
from resnet_viz.gui.actions import build_buttons, build_menus
from resnet_viz.gui.dock_layout import COMPACT_BELOW_PX, ExplorerDocks, make_explorer
from resnet_viz.gui.experiments import GuidedExperiments
from resnet_viz.gui.export_dialogs import ExportDialogs, add_export_button
from resnet_viz.gui.init_ensembles import use_backend_data
from resnet_viz.gui.landscape.tab import LandscapeTab
from resnet_viz.gui.manager import RunManager
from resnet_viz.gui.plots.base import PlotPanel
from resnet_viz.gui.plots.registry import create_panels
from resnet_viz.gui.presets_dialog import PresetGallery
from resnet_viz.gui.race.race_tab import RaceTab
from resnet_viz.gui.redraw_pacer import RedrawPacer
from resnet_viz.gui.run_list_actions import RunListActions
from resnet_viz.gui.runs import RunEntry
from resnet_viz.gui.setup_dock import build_runs_dock, build_setup_dock, starting_setup
from resnet_viz.gui.status_bar import StatusBar
from resnet_viz.gui.window_files import WindowFiles
from resnet_viz.presets.preset import Preset, PresetRun

_ABOUT = (
    "<p>Watch plain and residual networks train: error curves, "
    "per-layer gradient norms, activation statistics across depth.</p>"
    "<p>He, Zhang, Ren, Sun: Deep Residual Learning for Image Recognition (2016); "
    "Identity Mappings in Deep Residual Networks (2016); Delving Deep into Rectifiers (2015).</p>"
)


class MainWindow(QtWidgets.QMainWindow):
    """The resnet-viz window. ``settings`` defaults to the per-user QSettings; pass your own in tests."""

    def __init__(self, settings: QtCore.QSettings | None = None, *, restore: bool = True) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QtCore.QSettings()
        self.setWindowTitle("resnet-viz")
        self.explorer = make_explorer()
        self.manager = RunManager(self)
        self.frame_ms: deque[float] = deque(maxlen=600)  # plot refresh + paint times, for the benchmark
        self._selected_id: int | None = None
        self.panels: list[PlotPanel] = create_panels()
        self.panel = {p.key: p for p in self.panels}
        use_backend_data(self.panels, self.manager.scheduler.backend)
        self.files = WindowFiles(self)
        self.exports = ExportDialogs(self, self.settings, self.show_message, self._note, lambda: self.manager.entries)
        self._build_left_docks()
        self.experiments = GuidedExperiments(self)
        self.experiment_panel, self.experiment_dock = self.experiments.panel, self.experiments.dock
        self.presets = self.experiments.presets
        self.sweeps = sweeps.WindowSweeps(self)  # Runs ▸ New sweep… and the Sweep dock
        self.docks = self._build_plot_docks()
        self.layout_docks = ExplorerDocks(
            self.explorer, self.setup_dock, self.runs_dock, self.experiment_dock, self.docks, self.sweeps.dock
        )
        self.race_tab = RaceTab(self.settings)
        self.landscape_tab = LandscapeTab(self.settings, self.manager)
        self.tabs = self._build_tabs()
        self.setCentralWidget(self.tabs)
        build_menus(self.menuBar(), self)
        self.status = StatusBar(self.statusBar(), self.manager, self._setup_device, self.selected_id)
        self.config_panel.configChanged.connect(self.status.update)
        self.resize(1400, 900)
        self.default_layout()
        self.redraw = RedrawPacer(self.refresh_plots, self)
        self._connect_manager()
        if restore:
            window_settings.restore(self)
        self.update_buttons()
        self.status.update()

    # --- building ---------------------------------------------------------------------------------
    def _build_left_docks(self) -> None:
        """The setup dock (its run buttons from the actions table) and the runs dock, wired."""
        buttons = build_buttons(self)
        self.start_button, self.add_button = buttons["start"], buttons["add"]
        self.pause_button, self.stop_button, self.reset_button = buttons["pause"], buttons["stop"], buttons["reset"]
        setup = build_setup_dock(self.explorer, buttons)
        self.setup_dock, self.config_panel = setup.dock, setup.config_panel
        self.message_bar, self.mode_box = setup.message_bar, setup.mode_box
        self.mode_box.currentIndexChanged.connect(lambda _i: self.manager.set_mode(self.mode_box.currentData()))
        runs = build_runs_dock(self.explorer)
        self.runs_dock, self.run_list = runs.dock, runs.run_list
        self.run_actions = RunListActions(
            self.manager, self.run_list, self, self.refresh_plots, self._load_run_config, self._run_removed
        )
        self.run_actions.connect_buttons(runs.show_all, runs.remove)
        self.run_list.selection_changed.connect(self._selection_changed)

    def _build_plot_docks(self) -> dict[str, QtWidgets.QDockWidget]:
        """One dock per plot panel (with its Export button); a plot coming into view is redrawn."""
        docks = {}
        for p in self.panels:
            add_export_button(p, self.export_panel, self.exports.copy_panel)
            dock = QtWidgets.QDockWidget(p.title, self.explorer)
            dock.setObjectName(f"dock_{p.key}")
            dock.setWidget(p)
            dock.visibilityChanged.connect(lambda visible, p=p: visible and self._refresh_panel(p))
            docks[p.key] = dock
        return docks

    def _build_tabs(self) -> QtWidgets.QTabWidget:
        tabs = QtWidgets.QTabWidget()
        tabs.setDocumentMode(True)
        tabs.addTab(self.explorer, "Networks")
        tabs.addTab(self.race_tab, "Optimiser race")
        tabs.setTabToolTip(0, "Train plain and residual networks and watch their gradients")
        tabs.addTab(self.landscape_tab, "Loss landscape")
        tabs.setTabToolTip(1, "SGD, momentum, AdaGrad, RMSProp and Adam race on 2D loss surfaces")
        tabs.setTabToolTip(2, "Slices of a trained network's loss (Li et al. 2018) and its training path")
        self.landscape_tab.race_requested.connect(self.race_tab.use_surface)
        self.landscape_tab.race_requested.connect(lambda _surface: tabs.setCurrentWidget(self.race_tab))
        tabs.currentChanged.connect(
            lambda _i: self.race_tab.pause() if tabs.currentWidget() is not self.race_tab else None
        )
        return tabs

    def _connect_manager(self) -> None:
        m = self.manager
        m.runs_changed.connect(self._runs_changed)
        m.data_changed.connect(self.redraw.schedule)
        m.message.connect(lambda text: self.show_message(text, "error"))
        m.data_progress.connect(self.status.data_progress)
        m.runs_changed.connect(self.experiments.update_checks)
        m.data_changed.connect(self.experiments.schedule_checks)

    def fill_experiments_menu(self, menu: QtWidgets.QMenu) -> None:
        self.experiments.fill_menu(menu)

    def fill_view_menu(self, menu: QtWidgets.QMenu) -> None:
        for dock in self.layout_docks.all():
            menu.addAction(dock.toggleViewAction())

    # --- layout -----------------------------------------------------------------------------------
    def default_layout(self, compact: bool | None = None) -> None:
        """Setup and runs on the left, plots on the right; ``compact`` (default: a window under 1000 px
        high) puts two rows of plots on the right instead of three (see :mod:`.dock_layout`)."""
        if compact is None:
            compact = self.height() < COMPACT_BELOW_PX
        self.layout_docks.default_layout(self.width(), self.height(), compact, self.experiment is not None)

    def reset_layout(self) -> None:
        self.default_layout()
        if self.experiment is not None:
            self.arrange_plots(self.experiment[0].plots)

    def arrange_plots(self, keys: tuple[str, ...] | list[str]) -> None:
        """The first four plots of ``keys`` in a 2×2 grid on the right, the others in tabs behind the fourth."""
        self.layout_docks.arrange_plots(keys)

    def save_settings(self) -> None:
        window_settings.save(self)

    # --- messages -------------------------------------------------------------------------------
    def show_message(self, text: str, level: str = "error") -> None:
        self.message_bar.show_message(text, level)

    def _note(self, text: str, ms: int) -> None:
        self.statusBar().showMessage(text, ms)

    def about(self) -> None:
        QtWidgets.QMessageBox.about(self, "About resnet-viz", f"<b>resnet-viz {__version__}</b>{_ABOUT}")

    # --- files: sessions, run folders, exports (see window_files and export_dialogs) ----------------
    def session(self) -> Session:
        return self.files.session()

    def save_session(self, path: str | Path) -> Path:
        return self.files.save_session(path)

    def open_session(self, path: str | Path, session: Session | None = None) -> None:
        """Replace the runs with a saved session's (raises SessionError, one line, for a bad file)."""
        self.files.open_session(path, session)

    def save_session_dialog(self) -> None:
        self.files.save_session_dialog()

    def open_session_dialog(self) -> None:
        self.files.open_session_dialog()

    def open_run_folder(self, path: str | Path) -> RunEntry | None:
        """Add the run of a run folder to the runs, selected; None (and a message) when unreadable."""
        return self.files.open_run_folder(path)

    def open_run_folder_dialog(self) -> None:
        self.files.open_run_folder_dialog()

    def export_panel(self, panel: PlotPanel, kind: str, path: str | None = None, width: int | None = None) -> None:
        """Export one plot as PNG / SVG / CSV (asks for the file, and the PNG width, when not given)."""
        self.exports.export_panel(panel, kind, path, width)

    def export_all(self, folder: str | Path, png_width: int = figure_export.DEFAULT_PNG_WIDTH) -> list[Path]:
        """Every plot (PNG, SVG, CSV), the window, and each run's folder into ``folder``."""
        for panel in self.panels:
            self._refresh_panel(panel)  # hidden tabs too
        return figure_export.export_all(folder, self.panels, self.manager.entries, self, png_width)

    def export_all_dialog(self) -> None:
        has_data = any(e.store.started is not None for e in self.manager.entries)
        self.exports.export_all_dialog(has_data, self.export_all)

    # --- guided experiments (see experiments) ----------------------------------------------------
    @property
    def experiment(self) -> tuple[Preset, str] | None:
        """The loaded preset and its size, or None."""
        return self.experiments.experiment

    @property
    def gallery(self) -> PresetGallery | None:
        return self.experiments.gallery

    def open_gallery(self, name: str | None = None) -> PresetGallery:
        """Open the Guided experiments gallery (window-modal, returns at once) showing preset ``name``."""
        return self.experiments.open_gallery(name)

    def load_preset(
        self,
        preset: Preset,
        size: str = "quick",
        start: bool = True,
        confirm: bool = True,
        runs: Sequence[PresetRun] | None = None,
    ) -> bool:
        """Replace the runs with ``preset``'s at ``size`` and, if ``start``, train (see
        :meth:`GuidedExperiments.load`); False if the size is unknown or the user declined."""
        return self.experiments.load(preset, size, start, confirm, runs)

    def forget_experiment(self) -> None:
        self.experiments.forget()

    # --- runs -------------------------------------------------------------------------------------
    def _setup_config(self) -> RunConfig | None:
        """The setup panel's config, or None after showing why it is not valid."""
        try:
            return self.config_panel.config()
        except ConfigError as exc:
            self.show_message(f"The setup is not valid: {exc}", "error")
            return None

    def _setup_device(self) -> str:
        """The device the setup asks for (raises ConfigError when the setup is not valid)."""
        return self.config_panel.config().train.device

    def set_train_mode(self, mode: str) -> None:
        index = self.mode_box.findData(mode)
        if index >= 0:
            self.mode_box.setCurrentIndex(index)

    def restore_starting_setup(self) -> None:
        self.config_panel.set_config(starting_setup())

    def add_to_comparison(self) -> RunEntry | None:
        config = self._setup_config()
        if config is None:
            return None
        entry = self.manager.add(config)
        self.statusBar().showMessage(f"queued {entry.name}", 3000)
        return entry

    def start(self) -> None:
        """Train the queued runs; with none queued, queue the setup first."""
        if not self.manager.queued and self.add_to_comparison() is None:
            return
        if self.manager.all_paused:
            self.manager.resume_all()
        self.manager.start()
        self.update_buttons()

    def toggle_pause(self) -> None:
        if self.manager.all_paused:
            self.manager.resume_all()
        else:
            self.manager.pause_all()
        self.update_buttons()

    def stop(self) -> None:
        self.manager.stop_all()
        self.update_buttons()

    def reset(self) -> None:
        if any(e.store.steps_done for e in self.manager.entries):
            answer = QtWidgets.QMessageBox.question(
                self,
                "Reset",
                "Stop every run and remove all runs and their curves?\n"
                "(Save the session or export first to keep them.)",
            )
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return
        self.manager.clear()
        self.forget_selection()
        self.message_bar.hide()

    def _run_removed(self, run_id: int) -> None:
        if self._selected_id == run_id:
            self._selected_id = None

    def _set_visible(self, run_id: int, visible: bool) -> None:
        self.run_actions.set_visible(run_id, visible)

    def _load_run_config(self, entry: RunEntry) -> None:
        self.config_panel.set_config(entry.config)
        self.statusBar().showMessage(f"setup loaded from {entry.name}", 3000)

    def selected_id(self) -> int | None:
        """The id of the run selected in the list (None: none)."""
        return self._selected_id

    def forget_selection(self) -> None:
        self._selected_id = None

    def _selection_changed(self) -> None:
        self._selected_id = self.run_list.selected_id()
        self._refresh_panel(self.panel["grad_heatmap"])
        self.status.update()

    def selected_entry(self) -> RunEntry | None:
        """The run the heatmap shows: the selected one, else the one training, else the last visible."""
        m = self.manager
        entry = m.entry(self._selected_id) if self._selected_id is not None else None
        if entry is not None:
            return entry
        training = [e for e in m.entries if e.status in ("running", "paused") and e.visible]
        if training:
            return training[0]
        shown = [e for e in m.entries if e.visible and e.store.started is not None]
        return shown[-1] if shown else None

    def _runs_changed(self) -> None:
        self.run_list.sync(self.manager.entries)
        self.update_buttons()
        self.refresh_plots()

    def update_buttons(self) -> None:
        m = self.manager
        busy = m.busy
        self.pause_button.setEnabled(busy)
        self.pause_button.setText("Resume" if m.all_paused else "Pause")
        self.stop_button.setEnabled(busy or bool(m.queued))
        self.reset_button.setEnabled(bool(m.entries))

    # --- drawing ----------------------------------------------------------------------------------
    def refresh_plots(self) -> None:
        """Redraw every plot on screen. A plot in a tab behind another is skipped (Qt still calls it
        visible, but its visible region is empty) and redrawn when its tab comes to the front."""
        t0 = time.perf_counter()
        for panel in self.panels:
            if panel.isVisible() and not panel.visibleRegion().isEmpty():
                self._refresh_panel(panel)
        self.run_list.sync(self.manager.entries)
        self.frame_ms.append(1000 * (time.perf_counter() - t0))

    def _refresh_panel(self, panel: PlotPanel) -> bool:
        """Redraw ``panel``; False (and a message in the window) when drawing failed."""
        try:
            panel.refresh(self.manager.entries, self.selected_entry())
        except Exception as exc:  # noqa: BLE001 - a drawing bug must not take the window down
            self.show_message(f"Could not draw “{panel.title}”: {type(exc).__name__}: {exc}", "error")
            return False
        return True

    # --- closing ----------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Save the layout and the last setup, then stop every run without a final evaluation, wait for
        them for at most ``RunManager.close_join_s`` (each ends within one step, evaluation batch or
        loading chunk) and kill any child process still alive (:meth:`RunManager.close`)."""
        self.race_tab.pause()
        self.landscape_tab.shutdown()  # a landscape computation is killed, not waited for
        self.save_settings()
        for panel in self.panels:
            panel.shutdown(timeout_s=0.0)  # background sampling stops while the runs stop
        self.manager.close()
        for panel in self.panels:
            panel.shutdown()
        super().closeEvent(event)
