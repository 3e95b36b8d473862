"""MainWindow: the setup panel, the run list and the plots, in dock panels the user can rearrange.

The window never trains: :class:`RunManager` runs each engine in a worker thread and drains its
records at display rate; the window redraws the plots it shows after each drain (≤ 30 Hz), and only
the runs that changed. The last configuration, the train mode and the window layout persist across
launches (QSettings). Experiments ▸ Guided experiments loads a preset: its runs, train mode and
plots, and the Experiment dock that explains it and re-evaluates its checks as the runs train.
"""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz import __version__
from resnet_viz.config import ConfigError, OptimConfig, RunConfig
from resnet_viz.export.session import Session, SessionError, SessionRun, load_session, save_session
from resnet_viz.gui import figure_export
from resnet_viz.gui.controls import ConfigPanel
from resnet_viz.gui.experiment_panel import ExperimentPanel, race_state
from resnet_viz.gui.manager import RunManager
from resnet_viz.gui.message_bar import MessageBar
from resnet_viz.gui.plots.base import PlotPanel
from resnet_viz.gui.plots.curves import ErrorPlot, LossPlot
from resnet_viz.gui.plots.depth import ActStdDepthPlot, GradNormDepthPlot, OutGradDepthPlot, UpdateRatioDepthPlot
from resnet_viz.gui.plots.heatmap import GradHeatmapPlot
from resnet_viz.gui.presets_dialog import PresetGallery, cuda_available, size_summary
from resnet_viz.gui.race.race_tab import RaceTab
from resnet_viz.gui.run_list import RunListWidget
from resnet_viz.gui.runs import ACTIVE_STATUSES, PALETTE, RunEntry
from resnet_viz.presets.preset import Preset, PresetError, PresetRun, RaceSetup, load_presets
from resnet_viz.train.device import device_label, resolve_device

#: Redraws while training are spaced so that the GUI thread uses at most this share of one core
#: (measured with its own CPU clock): a deep net's redraw costs tens of ms on a software-rendered X
#: server, and the GUI thread competes with training for the same cores.
GUI_CPU_BUDGET = 0.15
MIN_REDRAW_S, MAX_REDRAW_S = 1 / 30, 1.0
SETTINGS_LAYOUT_VERSION = 3  # bump when the docks change, so an old saved layout is not restored
SESSION_FILTER = "resnet-viz session (*.rvsession)"
TRAIN_MODE_LABELS = {"sequential": "in turn", "interleaved": "interleaved"}


def starting_setup() -> RunConfig:
    """What the window shows on first launch: ResNet-20 with the He et al. CIFAR recipe (SGD lr 0.1,
    momentum 0.9, weight decay 1e-4) on the embedded set, 2,000 steps. torch.optim's own SGD default
    (lr 0.001, no momentum) would barely move in a demo-length run."""
    return RunConfig(optim=OptimConfig(name="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4))


def _fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class MainWindow(QtWidgets.QMainWindow):
    """The resnet-viz window. ``settings`` defaults to the per-user QSettings; pass your own in tests."""

    def __init__(self, settings: QtCore.QSettings | None = None, *, restore: bool = True) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QtCore.QSettings()
        self.setWindowTitle("resnet-viz")
        # the network explorer is a main window of its own (docks) in the first tab; the race is the second
        self.explorer = QtWidgets.QMainWindow()
        self.explorer.setWindowFlags(QtCore.Qt.WindowType.Widget)
        self.explorer.setDockOptions(
            QtWidgets.QMainWindow.DockOption.AnimatedDocks
            | QtWidgets.QMainWindow.DockOption.AllowNestedDocks
            | QtWidgets.QMainWindow.DockOption.AllowTabbedDocks
        )
        self.manager = RunManager(self)
        self.frame_ms: deque[float] = deque(maxlen=600)  # plot refresh + paint times, for the benchmark
        self._selected_id: int | None = None

        self.panels: list[PlotPanel] = [
            ErrorPlot(),
            LossPlot(),
            GradHeatmapPlot(),
            GradNormDepthPlot(),
            ActStdDepthPlot(),
            OutGradDepthPlot(),
            UpdateRatioDepthPlot(),
        ]
        self.panel = {p.key: p for p in self.panels}
        self._build_setup_dock()
        self._build_runs_dock()
        self._build_experiment_dock()
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        for p in self.panels:
            self._add_export_button(p)
            dock = QtWidgets.QDockWidget(p.title, self.explorer)
            dock.setObjectName(f"dock_{p.key}")
            dock.setWidget(p)
            dock.visibilityChanged.connect(lambda visible, p=p: visible and self._refresh_panel(p))
            self.docks[p.key] = dock
        self.race_tab = RaceTab(self.settings)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.explorer, "Networks")
        self.tabs.addTab(self.race_tab, "Optimiser race")
        self.tabs.setTabToolTip(0, "Train plain and residual networks and watch their gradients")
        self.tabs.setTabToolTip(1, "SGD, momentum, AdaGrad, RMSProp and Adam race on 2D loss surfaces")
        self.tabs.currentChanged.connect(
            lambda _i: self.race_tab.pause() if self.tabs.currentWidget() is not self.race_tab else None
        )
        self.setCentralWidget(self.tabs)
        self._build_menus()
        self._build_status_bar()
        self.resize(1400, 900)
        self.default_layout()

        m = self.manager
        m.runs_changed.connect(self._runs_changed)
        m.data_changed.connect(self._schedule_redraw)
        m.message.connect(lambda text: self.show_message(text, "error"))
        m.data_progress.connect(self._data_progress)
        self._checks_timer = QtCore.QTimer(self)  # the experiment's checks follow new records at most 1/s
        self._checks_timer.setSingleShot(True)
        self._checks_timer.setInterval(1000)
        self._checks_timer.timeout.connect(self._update_experiment)
        m.runs_changed.connect(self._update_experiment)
        m.data_changed.connect(lambda: self._checks_timer.isActive() or self._checks_timer.start())
        self._redraw_timer = QtCore.QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.timeout.connect(self._timed_redraw)
        self.redraw_interval_s = MIN_REDRAW_S
        self._last_redraw = 0.0
        self._cpu_mark = (time.thread_time(), time.monotonic())
        self._status_timer = QtCore.QTimer(self)
        self._status_timer.setInterval(500)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start()
        if restore:
            self._restore_settings()
        self._update_buttons()
        self._update_status()

    # --- building ---------------------------------------------------------------------------------
    def _build_setup_dock(self) -> None:
        self.config_panel = ConfigPanel()
        self.config_panel.set_config(starting_setup())
        self.config_panel.configChanged.connect(self._update_status)

        self.message_bar = MessageBar()
        self.mode_box = QtWidgets.QComboBox()
        for mode, label in TRAIN_MODE_LABELS.items():
            self.mode_box.addItem(label, mode)
        self.mode_box.setToolTip(
            "How several runs train: in turn (one after the other, in list order) or "
            "interleaved (all make progress, taking turns in short time slices)"
        )
        self.mode_box.currentIndexChanged.connect(lambda _i: self.manager.set_mode(self.mode_box.currentData()))

        def button(text: str, tip: str, slot, shortcut: str | None = None) -> QtWidgets.QPushButton:
            b = QtWidgets.QPushButton(text)
            b.setToolTip(tip + (f" ({shortcut})" if shortcut else ""))
            b.clicked.connect(slot)
            if shortcut:
                b.setShortcut(QtGui.QKeySequence(shortcut))
            return b

        self.start_button = button(
            "Start",
            "Train the queued runs; with none queued, queue the setup above and train it",
            self.start,
            "Ctrl+Return",
        )
        self.start_button.setDefault(True)
        font = self.start_button.font()
        font.setBold(True)
        self.start_button.setFont(font)
        self.add_button = button(
            "Add to comparison",
            "Queue the setup above as another run without starting it (Start trains all queued runs)",
            self.add_to_comparison,
            "Ctrl+D",
        )
        self.pause_button = button(
            "Pause", "Pause every training run between two steps; press again to resume", self.toggle_pause, "Ctrl+P"
        )
        self.stop_button = button(
            "Stop",
            "Stop every run after its current step (a last evaluation follows); everything recorded is kept",
            self.stop,
            "Ctrl+.",
        )
        self.reset_button = button("Reset", "Stop and remove every run and clear the plots", self.reset)

        grid = QtWidgets.QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        mode_row = QtWidgets.QHBoxLayout()
        mode_label = QtWidgets.QLabel("Train runs")
        mode_label.setToolTip(self.mode_box.toolTip())
        mode_row.addWidget(mode_label)
        mode_row.addWidget(self.mode_box, 1)
        grid.addLayout(mode_row, 0, 0, 1, 3)
        grid.addWidget(self.add_button, 1, 0, 1, 2)
        grid.addWidget(self.start_button, 1, 2)
        grid.addWidget(self.pause_button, 2, 0)
        grid.addWidget(self.stop_button, 2, 1)
        grid.addWidget(self.reset_button, 2, 2)

        body = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.config_panel, 1)  # it scrolls itself; its error line stays in view
        layout.addLayout(grid)
        self.setup_dock = QtWidgets.QDockWidget("Run setup", self.explorer)
        self.setup_dock.setObjectName("dock_setup")
        self.setup_dock.setWidget(body)
        body.setMinimumWidth(max(330, self.config_panel.sizeHint().width()))
        self.setup_dock.setFeatures(
            QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )

    def _build_runs_dock(self) -> None:
        self.run_list = RunListWidget()
        rl = self.run_list
        rl.visibility_toggled.connect(self._set_visible)
        rl.remove_requested.connect(self._remove_run)
        rl.config_requested.connect(self._load_run_config)
        rl.pause_requested.connect(self._toggle_pause_run)
        rl.stop_requested.connect(lambda rid: self._with_entry(rid, self.manager.stop))
        rl.colour_requested.connect(self._choose_colour)
        rl.selection_changed.connect(self._selection_changed)
        remove = QtWidgets.QPushButton("Remove")
        remove.setToolTip("Remove the selected run (Delete); a training run is stopped first")
        remove.clicked.connect(lambda: rl.selected_id() is not None and self._remove_run(rl.selected_id()))
        show_all = QtWidgets.QPushButton("Show all")
        show_all.setToolTip("Tick every run")
        show_all.clicked.connect(lambda: [self._set_visible(e.run_id, True) for e in self.manager.entries])
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(show_all)
        row.addStretch(1)
        row.addWidget(remove)
        body = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(rl, 1)
        layout.addLayout(row)
        self.runs_dock = QtWidgets.QDockWidget("Runs", self.explorer)
        self.runs_dock.setObjectName("dock_runs")
        self.runs_dock.setWidget(body)

    def _build_experiment_dock(self) -> None:
        self.experiment: tuple[Preset, str] | None = None  # the loaded preset and its size
        self._experiment_ids: dict[str, int] = {}  # its run names -> the run ids it created
        self.gallery: PresetGallery | None = None
        try:
            self.presets: dict[str, Preset] = load_presets()
            self._presets_error = ""
        except PresetError as exc:
            self.presets, self._presets_error = {}, str(exc)
        self.experiment_panel = ExperimentPanel()
        self.experiment_panel.race_requested.connect(self.open_race)
        self.experiment_panel.details_requested.connect(self.open_gallery)
        self.experiment_dock = QtWidgets.QDockWidget("Experiment", self.explorer)
        self.experiment_dock.setObjectName("dock_experiment")
        self.experiment_dock.setWidget(self.experiment_panel)

    def _add_export_button(self, panel: PlotPanel) -> None:
        tool = QtWidgets.QToolButton()
        tool.setText("Export")
        tool.setToolTip(f"Export “{panel.title}”: PNG at a chosen width, SVG, its data as CSV, or copy")
        tool.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        tool.setAutoRaise(True)
        menu = QtWidgets.QMenu(tool)
        menu.addAction("PNG image…", lambda: self.export_panel(panel, "png"))
        menu.addAction("SVG (vector)…", lambda: self.export_panel(panel, "svg"))
        menu.addAction("Data as CSV…", lambda: self.export_panel(panel, "csv"))
        menu.addSeparator()
        menu.addAction("Copy image", lambda: self._copy_panel(panel))
        tool.setMenu(menu)
        if panel.toolbar.count() == 0:
            panel.toolbar.addStretch(1)
        panel.toolbar.addWidget(tool)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction("&Open session…", self.open_session_dialog, QtGui.QKeySequence.StandardKey.Open)
        file_menu.addAction("&Save session…", self.save_session_dialog, QtGui.QKeySequence.StandardKey.Save)
        file_menu.addAction("Open run &folder…", self.open_run_folder_dialog, QtGui.QKeySequence("Ctrl+Shift+O"))
        file_menu.addSeparator()
        file_menu.addAction("&Export all…", self.export_all_dialog, QtGui.QKeySequence("Ctrl+Shift+E"))
        file_menu.addSeparator()
        file_menu.addAction("&Quit", self.close, QtGui.QKeySequence.StandardKey.Quit)
        runs_menu = bar.addMenu("&Runs")
        runs_menu.addAction("Start", self.start)
        runs_menu.addAction("Add to comparison", self.add_to_comparison)
        runs_menu.addAction("Pause / resume", self.toggle_pause)
        runs_menu.addAction("Stop", self.stop)
        runs_menu.addAction("Reset", self.reset)
        runs_menu.addSeparator()
        runs_menu.addAction(
            "Setup to the starting ResNet-20 recipe", lambda: self.config_panel.set_config(starting_setup())
        )
        self._build_experiments_menu(bar.addMenu("&Experiments"))
        view = bar.addMenu("&View")
        for dock in (self.setup_dock, self.runs_dock, self.experiment_dock, *self.docks.values()):
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        view.addAction("Reset layout", self.reset_layout)
        view.addSeparator()
        view.addAction("Networks", lambda: self.tabs.setCurrentIndex(0), QtGui.QKeySequence("Ctrl+1"))
        view.addAction("Optimiser race", lambda: self.tabs.setCurrentIndex(1), QtGui.QKeySequence("Ctrl+2"))
        help_menu = bar.addMenu("&Help")
        help_menu.addAction("About resnet-viz", self._about)

    def _build_experiments_menu(self, menu: QtWidgets.QMenu) -> None:
        menu.setToolTipsVisible(True)
        menu.addAction("&Guided experiments…", self.open_gallery, QtGui.QKeySequence("Ctrl+E"))
        menu.addSeparator()
        for preset in self.presets.values():
            action = menu.addAction(preset.title.replace("&", "&&"), lambda p=preset: self.open_gallery(p.name))
            action.setToolTip(preset.summary)
        if self._presets_error:
            menu.addAction("(no presets: see the message)").setEnabled(False)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.device_label = QtWidgets.QLabel()
        self.device_label.setToolTip("Where the next run trains (runs in the list show their own device)")
        self.speed_label = QtWidgets.QLabel()
        self.speed_label.setToolTip(
            "Training steps per second (all runs), and time left for the running and queued runs at that speed"
        )
        self.data_bar = QtWidgets.QProgressBar()
        self.data_bar.setMaximumWidth(220)
        self.data_bar.setRange(0, 1000)
        self.data_bar.setFormat("data %p%")
        self.data_bar.setToolTip("Dataset generation, loading or download")
        self.data_bar.hide()
        self.run_bar = QtWidgets.QProgressBar()
        self.run_bar.setMaximumWidth(260)
        self.run_bar.setRange(0, 1000)
        self.run_bar.setToolTip("Progress of the selected (or training) run")
        self.run_bar.hide()
        sb.addWidget(self.device_label)
        sb.addWidget(self.speed_label, 1)
        sb.addPermanentWidget(self.data_bar)
        sb.addPermanentWidget(self.run_bar)
        self._data_done_at = 0.0

    # --- layout -----------------------------------------------------------------------------------
    def default_layout(self, compact: bool | None = None) -> None:
        """Setup and runs on the left, plots on the right.

        Compact (windows under 1000 px high, e.g. 1280x800): two rows of two plots, the others in
        tabs (loss behind error; backward signal and update ratio behind activation std). Otherwise
        three rows: error | loss, heatmap | gradient norm vs depth, activation std | backward signal
        (update ratio in a tab).
        """
        if compact is None:
            compact = self.height() < 1000
        left = QtCore.Qt.DockWidgetArea.LeftDockWidgetArea
        right = QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        h, v = QtCore.Qt.Orientation.Horizontal, QtCore.Qt.Orientation.Vertical
        everything = (self.setup_dock, self.runs_dock, self.experiment_dock, *self.docks.values())
        for dock in everything:
            dock.setFloating(False)
            self.explorer.removeDockWidget(dock)
        self.explorer.addDockWidget(left, self.setup_dock)
        self.explorer.addDockWidget(left, self.runs_dock)
        self.explorer.splitDockWidget(self.setup_dock, self.runs_dock, v)
        self.explorer.tabifyDockWidget(self.runs_dock, self.experiment_dock)
        d = self.docks
        self.explorer.addDockWidget(right, d["error"])
        if compact:
            self.explorer.splitDockWidget(d["error"], d["grad_heatmap"], v)
            self.explorer.splitDockWidget(d["error"], d["grad_norm_depth"], h)
            self.explorer.splitDockWidget(d["grad_heatmap"], d["act_std_depth"], h)
            self.explorer.tabifyDockWidget(d["error"], d["loss"])
            self.explorer.tabifyDockWidget(d["act_std_depth"], d["out_grad_depth"])
            self.explorer.tabifyDockWidget(d["out_grad_depth"], d["update_ratio_depth"])
            rows = [d["error"], d["grad_heatmap"]]
        else:
            self.explorer.splitDockWidget(d["error"], d["grad_heatmap"], v)
            self.explorer.splitDockWidget(d["grad_heatmap"], d["act_std_depth"], v)
            self.explorer.splitDockWidget(d["error"], d["loss"], h)
            self.explorer.splitDockWidget(d["grad_heatmap"], d["grad_norm_depth"], h)
            self.explorer.splitDockWidget(d["act_std_depth"], d["out_grad_depth"], h)
            self.explorer.tabifyDockWidget(d["out_grad_depth"], d["update_ratio_depth"])
            rows = [d["error"], d["grad_heatmap"], d["act_std_depth"]]
        for dock in everything:
            dock.show()
        self.experiment_dock.setVisible(self.experiment is not None)
        (self.experiment_dock if self.experiment is not None else self.runs_dock).raise_()
        d["error"].raise_()
        d["act_std_depth"].raise_() if compact else d["out_grad_depth"].raise_()
        self.explorer.resizeDocks([self.setup_dock, d["error"]], [340, max(600, self.width() - 340)], h)
        self.explorer.resizeDocks([self.setup_dock, self.runs_dock], [max(300, self.height() - 300), 200], v)
        self.explorer.resizeDocks(rows, [1000] * len(rows), v)

    def reset_layout(self) -> None:
        self.default_layout()
        if self.experiment is not None:
            self.arrange_plots(self.experiment[0].plots)

    def arrange_plots(self, keys: tuple[str, ...] | list[str]) -> None:
        """The first four plots of ``keys`` in a 2×2 grid on the right (first top-left, second top-right,
        third bottom-left, fourth bottom-right); every other plot in tabs behind the fourth."""
        order = list(dict.fromkeys(k for k in keys if k in self.docks))
        order += [k for k in self.docks if k not in order]
        d = [self.docks[k] for k in order]
        right = QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        h, v = QtCore.Qt.Orientation.Horizontal, QtCore.Qt.Orientation.Vertical
        for dock in d:
            dock.setFloating(False)
            self.explorer.removeDockWidget(dock)
        self.explorer.addDockWidget(right, d[0])
        self.explorer.splitDockWidget(d[0], d[2], v)
        self.explorer.splitDockWidget(d[0], d[1], h)
        self.explorer.splitDockWidget(d[2], d[3], h)
        for dock in d[4:]:
            self.explorer.tabifyDockWidget(d[3], dock)
        for dock in d:
            dock.show()
        d[3].raise_()
        left = max(340, min(440, self.explorer.width() // 4))  # room for the Experiment dock's checks
        width = max(600, self.explorer.width() - left)
        self.explorer.resizeDocks([self.setup_dock, d[0]], [left, width], h)
        self.explorer.resizeDocks([d[0], d[1]], [width // 2, width // 2], h)
        self.explorer.resizeDocks([d[2], d[3]], [width // 2, width // 2], h)
        self.explorer.resizeDocks([d[0], d[2]], [1000, 1000], v)

    # --- settings -------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            screen = QtGui.QGuiApplication.primaryScreen()
            if screen is not None:  # first launch: fill most of the screen, plots laid out for that size
                avail = screen.availableGeometry()
                self.resize(min(1600, avail.width() - 40), min(1000, avail.height() - 60))
                self.default_layout()
        state = s.value("window/state")
        if state is not None:
            self.explorer.restoreState(state, SETTINGS_LAYOUT_VERSION)
        text = s.value("config/last")
        if text:
            try:
                self.config_panel.set_config(RunConfig.from_dict(json.loads(text)))
            except (ConfigError, ValueError, TypeError) as exc:
                self.show_message(f"The last setup could not be restored ({exc}); showing the defaults.", "warning")
        self.race_tab.restore_settings()
        tab = s.value("window/tab")
        if tab in ("0", "1", 0, 1):
            self.tabs.setCurrentIndex(int(tab))
        mode = s.value("train/mode")
        index = self.mode_box.findData(mode)
        if index >= 0:
            self.mode_box.setCurrentIndex(index)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.explorer.saveState(SETTINGS_LAYOUT_VERSION))
        try:
            s.setValue("config/last", json.dumps(self.config_panel.config().to_dict()))
        except ConfigError:
            pass  # an unfinished edit: keep the last good one
        s.setValue("train/mode", self.mode_box.currentData())
        self.race_tab.save_settings()
        s.setValue("window/tab", self.tabs.currentIndex())
        s.sync()

    # --- messages -------------------------------------------------------------------------------
    def show_message(self, text: str, level: str = "error") -> None:
        self.message_bar.show_message(text, level)

    def _about(self) -> None:
        QtWidgets.QMessageBox.about(
            self,
            "About resnet-viz",
            f"<b>resnet-viz {__version__}</b><p>Watch plain and residual networks train: error curves, "
            "per-layer gradient norms, activation statistics across depth.</p>"
            "<p>He, Zhang, Ren, Sun: Deep Residual Learning for Image Recognition (2016); "
            "Identity Mappings in Deep Residual Networks (2016); Delving Deep into Rectifiers (2015).</p>",
        )

    # --- guided experiments -----------------------------------------------------------------------
    def open_gallery(self, name: str | None = None) -> PresetGallery:
        """Open the Guided experiments gallery (window-modal, returns at once) showing preset ``name``."""
        if self._presets_error:
            self.show_message(f"The guided experiments could not be read: {self._presets_error}", "error")
        if self.gallery is not None:
            self.gallery.close()
        if not isinstance(name, str):
            name = self.experiment[0].name if self.experiment is not None else None
        size = self.settings.value("experiments/size", "quick")
        self.gallery = PresetGallery(self.presets, self, current=name, size=size if isinstance(size, str) else "quick")
        self.gallery.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        self.gallery.run_requested.connect(lambda preset, size: self.load_preset(preset, size))
        self.gallery.destroyed.connect(lambda *_a: setattr(self, "gallery", None))
        self.gallery.open()
        return self.gallery

    def load_preset(
        self,
        preset: Preset,
        size: str = "quick",
        start: bool = True,
        confirm: bool = True,
        runs: list[PresetRun] | tuple[PresetRun, ...] | None = None,
    ) -> bool:
        """Replace the runs with ``preset``'s at ``size`` (``runs``: instead of the size's, e.g. shortened),
        set its train mode, arrange its plots, show the Experiment dock and, if ``start``, train.

        With ``confirm``, asks first when runs are training or have recorded steps; False if declined."""
        if size not in preset.sizes:
            self.show_message(f"The experiment “{preset.title}” has no {size} size.", "error")
            return False
        m = self.manager
        if confirm and (m.busy or any(e.store.steps_done for e in m.entries)):
            text = (
                "Runs are training. Stop them and replace every run with this experiment's?"
                if m.busy
                else "Replace the current runs and their curves with this experiment's?"
            )
            answer = QtWidgets.QMessageBox.question(
                self, preset.title, text + "\n(Save the session or export first to keep them.)"
            )
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return False
        runs = list(runs) if runs is not None else list(preset.runs(size))
        m.clear()
        self._selected_id = None
        self.message_bar.hide()
        self._experiment_ids = {}
        self.experiment = (preset, size)
        self.experiment_panel.set_preset(preset, size, runs)
        for i, run in enumerate(runs):
            try:
                entry = m.add(run.config, name=run.name, color=PALETTE[i % len(PALETTE)])
            except ConfigError as exc:
                self.show_message(f"{preset.title}: run {run.name} is not valid: {exc}", "error")
                continue
            self._experiment_ids[run.name] = entry.run_id
        added = list(self.experiment_entries().values())
        if added:  # the Setup panel shows the experiment's first run, ready to vary and add
            self.config_panel.set_config(added[0].config)
        index = self.mode_box.findData(preset.mode)
        if index >= 0:
            self.mode_box.setCurrentIndex(index)
        m.set_mode(preset.mode)
        self.tabs.setCurrentIndex(0)
        self.arrange_plots(preset.plots)
        self.experiment_dock.show()
        self.experiment_dock.raise_()
        self.explorer.resizeDocks([self.setup_dock, self.runs_dock], [35, 65], QtCore.Qt.Orientation.Vertical)
        self.settings.setValue("experiments/size", size)
        text = f"Experiment: {preset.title} — {size_summary(preset, size)}"
        if size == "paper" and not cuda_available():
            self.show_message(
                f"{preset.title}: the paper size needs a GPU (no CUDA device here: it would take "
                "days) and CIFAR-10 on disk.",
                "warning",
            )
        self.statusBar().showMessage(text, 15000)
        self._update_experiment()
        if start and m.queued:
            m.start()
        self._update_buttons()
        self.refresh_plots()
        return True

    def experiment_entries(self) -> dict[str, RunEntry]:
        """The loaded experiment's runs that still exist: run name -> RunEntry."""
        out = {}
        for name, run_id in self._experiment_ids.items():
            entry = self.manager.entry(run_id)
            if entry is not None:
                out[name] = entry
        return out

    def _update_experiment(self) -> None:
        """Re-evaluate the loaded experiment's checks on its runs' records."""
        if self.experiment is None:
            return
        entries = self.experiment_entries()
        finished = all(e.status not in ("queued", *ACTIVE_STATUSES) for e in entries.values())
        self.experiment_panel.update_checks({n: e.store for n, e in entries.items()}, finished)

    def open_race(self, setup: RaceSetup) -> None:
        """Set the Optimiser race tab to ``setup`` (surface, start, steps, racers) and switch to it."""
        try:
            state = race_state(setup)
        except ConfigError as exc:
            self.show_message(f"The experiment's race could not be set up: {exc}", "error")
            return
        self.race_tab.pause()
        self.race_tab.set_state(state)
        self.tabs.setCurrentWidget(self.race_tab)

    # --- runs -------------------------------------------------------------------------------------
    def _setup_config(self) -> RunConfig | None:
        """The setup panel's config, or None after showing why it is not valid."""
        try:
            return self.config_panel.config()
        except ConfigError as exc:
            self.show_message(f"The setup is not valid: {exc}", "error")
            return None

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
        self._update_buttons()

    def toggle_pause(self) -> None:
        if self.manager.all_paused:
            self.manager.resume_all()
        else:
            self.manager.pause_all()
        self._update_buttons()

    def stop(self) -> None:
        self.manager.stop_all()
        self._update_buttons()

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
        self._selected_id = None
        self.message_bar.hide()

    def _with_entry(self, run_id: int, action) -> None:
        entry = self.manager.entry(run_id)
        if entry is not None:
            action(entry)

    def _toggle_pause_run(self, run_id: int) -> None:
        entry = self.manager.entry(run_id)
        if entry is None:
            return
        if entry.status == "paused":
            self.manager.resume(entry)
        else:
            self.manager.pause(entry)

    def _remove_run(self, run_id: int) -> None:
        self._with_entry(run_id, self.manager.remove)
        if self._selected_id == run_id:
            self._selected_id = None

    def _set_visible(self, run_id: int, visible: bool) -> None:
        entry = self.manager.entry(run_id)
        if entry is not None and entry.visible != visible:
            entry.visible = visible
            self.run_list.sync(self.manager.entries)
            self.refresh_plots()

    def _choose_colour(self, run_id: int) -> None:
        entry = self.manager.entry(run_id)
        if entry is None:
            return
        colour = QtWidgets.QColorDialog.getColor(QtGui.QColor(entry.color), self, f"Colour of {entry.name}")
        if colour.isValid():
            entry.color = colour.name()
            self.run_list.sync(self.manager.entries)
            self.refresh_plots()

    def _load_run_config(self, run_id: int) -> None:
        entry = self.manager.entry(run_id)
        if entry is not None:
            self.config_panel.set_config(entry.config)
            self.statusBar().showMessage(f"setup loaded from {entry.name}", 3000)

    def _selection_changed(self) -> None:
        self._selected_id = self.run_list.selected_id()
        self._refresh_panel(self.panel["grad_heatmap"])
        self._update_status()

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
        self._update_buttons()
        self.refresh_plots()

    def _update_buttons(self) -> None:
        m = self.manager
        busy = m.busy
        self.pause_button.setEnabled(busy)
        self.pause_button.setText("Resume" if m.all_paused else "Pause")
        self.stop_button.setEnabled(busy or bool(m.queued))
        self.reset_button.setEnabled(bool(m.entries))

    # --- drawing ----------------------------------------------------------------------------------
    def _schedule_redraw(self) -> None:
        """New records: redraw at the next allowed time (at most 30 Hz, less when drawing is costly)."""
        if not self._redraw_timer.isActive():
            wait = self._last_redraw + self.redraw_interval_s - time.monotonic()
            self._redraw_timer.start(max(0, int(1000 * wait)))

    def _timed_redraw(self) -> None:
        self.refresh_plots()
        now = time.monotonic()
        self._last_redraw = now
        cpu0, wall0 = self._cpu_mark
        if now - wall0 >= 1.0:  # adapt the interval to the GUI thread's CPU use (paint included)
            busy = (time.thread_time() - cpu0) / (now - wall0)
            if busy > GUI_CPU_BUDGET:
                self.redraw_interval_s = min(MAX_REDRAW_S, self.redraw_interval_s * 1.5)
            elif busy < GUI_CPU_BUDGET / 2:
                self.redraw_interval_s = max(MIN_REDRAW_S, self.redraw_interval_s / 1.5)
            self._cpu_mark = (time.thread_time(), now)

    def refresh_plots(self) -> None:
        """Redraw every plot on screen. A plot in a tab behind another is skipped (Qt still calls it
        visible, but its visible region is empty) and redrawn when its tab comes to the front."""
        t0 = time.perf_counter()
        for panel in self.panels:
            if panel.isVisible() and not panel.visibleRegion().isEmpty():
                self._refresh_panel(panel)
        self.run_list.sync(self.manager.entries)
        self.frame_ms.append(1000 * (time.perf_counter() - t0))

    def _refresh_panel(self, panel: PlotPanel) -> None:
        try:
            panel.refresh(self.manager.entries, self.selected_entry())
        except Exception as exc:  # noqa: BLE001 - a drawing bug must not take the window down
            self.show_message(f"Could not draw “{panel.title}”: {type(exc).__name__}: {exc}", "error")

    # --- status bar -------------------------------------------------------------------------------
    def _data_progress(self, text: str, fraction: float) -> None:
        self.data_bar.setValue(int(1000 * max(0.0, min(1.0, fraction))))
        self.data_bar.setFormat(f"{text} %p%")
        self.data_bar.setToolTip(text)
        self.data_bar.show()
        if fraction >= 1.0:
            self._data_done_at = time.monotonic()

    def _update_status(self) -> None:
        m = self.manager
        running = [e for e in m.entries if e.status in ACTIVE_STATUSES]
        if running and running[0].store.started is not None:
            self.device_label.setText(f"Device: {running[0].store.started.device}")
        else:
            try:
                device = self.config_panel.config().train.device
                self.device_label.setText(f"Device: {device_label(resolve_device(device))}")
            except ConfigError as exc:
                self.device_label.setText(f"Device: {exc.value} (not available)")
        rate = m.steps_per_s() if m.busy else 0.0
        if m.busy and rate > 0:
            eta = m.remaining_steps() / rate
            self.speed_label.setText(f"{rate:,.1f} steps/s · {len(running)} training · ETA {_fmt_duration(eta)}")
        elif m.busy:
            self.speed_label.setText("starting…" if not m.all_paused else "paused")
        else:
            done = sum(1 for e in m.entries if e.store.finished is not None)
            self.speed_label.setText(
                f"{len(m.entries)} runs, {done} ended" if m.entries else "Pick a network on the left and press Start"
            )
        entry = m.entry(self._selected_id) if self._selected_id else (running[0] if running else None)
        if entry is not None and entry.store.started is not None:
            total = max(1, entry.store.started.total_steps)
            self.run_bar.setValue(int(1000 * entry.store.steps_done / total))
            self.run_bar.setFormat(f"{entry.name.split(' · ')[0]}: %p%")
            self.run_bar.show()
        else:
            self.run_bar.hide()
        if self.data_bar.isVisible() and self._data_done_at and time.monotonic() - self._data_done_at > 1.5:
            self.data_bar.hide()
            self._data_done_at = 0.0

    # --- export -----------------------------------------------------------------------------------
    def export_panel(self, panel: PlotPanel, kind: str, path: str | None = None, width: int | None = None) -> None:
        """Export one plot as PNG / SVG / CSV (asks for the file, and the PNG width, when not given)."""
        if path is None:
            filters = {"png": "PNG image (*.png)", "svg": "SVG image (*.svg)", "csv": "CSV data (*.csv)"}
            start = str(Path(self.settings.value("export/dir", str(Path.home()))) / f"{panel.key}.{kind}")
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self, f"Export {panel.title}", start, filters[kind])
            if not path:
                return
            self.settings.setValue("export/dir", str(Path(path).parent))
        if kind == "png" and width is None:
            width, ok = QtWidgets.QInputDialog.getInt(
                self,
                "PNG width",
                "Width in pixels (height keeps the aspect ratio):",
                int(self.settings.value("export/png_width", figure_export.DEFAULT_PNG_WIDTH)),
                200,
                10000,
                100,
            )
            if not ok:
                return
            self.settings.setValue("export/png_width", width)
        try:
            if kind == "png":
                written = figure_export.export_png(panel, path, width)
            elif kind == "svg":
                written = figure_export.export_svg(panel, path)
            else:
                written = figure_export.export_csv(panel, path)
        except figure_export.WriteError as exc:  # names the path and why: permission, disk full, a folder, ...
            self.show_message(f"Could not export “{panel.title}”: {exc}", "error")
            return
        except Exception as exc:  # noqa: BLE001 - too large, no data, ...: say so in the window
            self.show_message(f"Could not export “{panel.title}” to {path}: {exc}", "error")
            return
        self.show_message(f"Wrote {written}", "info")

    def _copy_panel(self, panel: PlotPanel) -> None:
        try:
            figure_export.copy_image(panel)
        except Exception as exc:  # noqa: BLE001 - no clipboard, image too large: say so in the window
            self.show_message(f"Could not copy “{panel.title}”: {exc}", "error")
            return
        self.statusBar().showMessage(f"copied {panel.title} to the clipboard", 3000)

    def export_all(self, folder: str | Path, png_width: int = figure_export.DEFAULT_PNG_WIDTH) -> list[Path]:
        """Every plot (PNG, SVG, CSV), the window, and each run's folder into ``folder``."""
        for panel in self.panels:
            self._refresh_panel(panel)  # hidden tabs too
        return figure_export.export_all(folder, self.panels, self.manager.entries, self, png_width)

    def export_all_dialog(self) -> None:
        if not any(e.store.started is not None for e in self.manager.entries):
            self.show_message(
                "Nothing to export yet: no run has recorded data (start a run, or open a session or a run folder)",
                "warning",
            )
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Export all into folder", self.settings.value("export/dir", str(Path.home()))
        )
        if not folder:
            return
        self.settings.setValue("export/dir", folder)
        try:
            written = self.export_all(folder)
        except figure_export.WriteError as exc:  # names the file, why, and how many were written before it
            self.show_message(f"Export to {folder} failed: {exc}", "error")
            return
        except Exception as exc:  # noqa: BLE001
            self.show_message(f"Export to {folder} failed: {type(exc).__name__}: {exc}", "error")
            return
        self.show_message(f"Exported {len(written)} files to {folder}", "info")

    # --- sessions ---------------------------------------------------------------------------------
    def session(self) -> Session:
        runs = [
            SessionRun(
                name=e.name,
                color=e.color,
                visible=e.visible,
                status=e.status,
                message=e.message,
                config=e.config,
                store=e.store if e.store.started is not None else None,
            )
            for e in self.manager.entries
        ]
        return Session(
            runs=runs,
            settings={"train_mode": self.mode_box.currentData(), "selected": self._index_of(self._selected_id)},
        )

    def _index_of(self, run_id: int | None) -> int | None:
        ids = [e.run_id for e in self.manager.entries]
        return ids.index(run_id) if run_id in ids else None

    def save_session(self, path: str | Path) -> Path:
        return save_session(path, self.session())

    def open_session(self, path: str | Path, session: Session | None = None) -> None:
        """Replace the runs with a saved session's: ``session`` when given (already read from ``path``),
        else the file's. Raises SessionError (one line) for a bad file, before any run is replaced."""
        if session is None:
            session = load_session(path)
        self.manager.clear()
        self.experiment, self._experiment_ids = None, {}
        self.experiment_panel.set_preset(None)
        for run in session.runs:
            status = run.status if run.status not in ACTIVE_STATUSES else "stopped"
            entry = RunEntry(
                run_id=0,
                config=run.config,
                name=run.name,
                color=run.color,
                status=status,
                visible=run.visible,
                message=run.message,
            )
            if run.store is not None:
                entry.store = run.store
            entry.version = 1
            self.manager.adopt(entry)
        index = self.mode_box.findData(session.settings.get("train_mode"))
        if index >= 0:
            self.mode_box.setCurrentIndex(index)
        selected = session.settings.get("selected")
        if isinstance(selected, int) and 0 <= selected < len(self.manager.entries):
            self.run_list.select(self.manager.entries[selected].run_id)
        self.setWindowTitle(f"resnet-viz — {Path(path).name}")
        self.refresh_plots()

    def save_session_dialog(self) -> None:
        start = self.settings.value("session/dir", str(Path.home()))
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save session", str(Path(start) / "session.rvsession"), SESSION_FILTER
        )
        if not path:
            return
        self.settings.setValue("session/dir", str(Path(path).parent))
        try:
            written = self.save_session(path)
        except figure_export.WriteError as exc:  # names the file and why; a previous file there is kept
            self.show_message(f"Could not save the session: {exc}", "error")
            return
        except (OSError, ValueError, TypeError) as exc:
            self.show_message(f"Could not save the session to {path}: {exc}", "error")
            return
        self.setWindowTitle(f"resnet-viz — {written.name}")
        self.statusBar().showMessage(f"saved {written}", 4000)

    def open_session_dialog(self) -> None:
        if self.manager.busy:
            answer = QtWidgets.QMessageBox.question(
                self, "Open session", "Runs are training. Stop them and open another session?"
            )
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return
        start = self.settings.value("session/dir", str(Path.home()))
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open session", start, SESSION_FILTER)
        if not path:
            return
        self.settings.setValue("session/dir", str(Path(path).parent))
        try:
            self.open_session(path)
        except SessionError as exc:
            self.show_message(str(exc), "error")

    # --- run folders ------------------------------------------------------------------------------
    def open_run_folder(self, path: str | Path) -> RunEntry | None:
        """Add the run of a run folder (``resnet-viz run``'s output) to the runs, selected; None (and a
        message in the window) when the folder cannot be read. A run whose process was killed shows as
        ``interrupted at step k`` with everything on disk; one another process still writes, as it was
        when read."""
        from resnet_viz.export.replay import store_from_run_folder
        from resnet_viz.export.run_folder import RUNNING, read_run_folder

        try:
            folder = read_run_folder(path)
            store = store_from_run_folder(folder)
            config = RunConfig.from_dict(folder.run.get("config"))
        except FileNotFoundError as exc:
            self.show_message(f"{path} is not a run folder: {exc.filename or exc} is missing", "error")
            return None
        except Exception as exc:  # noqa: BLE001 - damaged or foreign files: say so in the window
            self.show_message(f"Could not open the run folder {path}: {type(exc).__name__}: {exc}", "error")
            return None
        status = folder.status
        if status == RUNNING:  # not trained by this window: no live updates
            status = (
                f"running elsewhere (step {folder.last_step} when opened)"
                if folder.live
                else f"saved while running (step {folder.last_step})"
            )
        used = {e.color for e in self.manager.entries}
        color = next((c for c in PALETTE if c not in used), PALETTE[len(self.manager.entries) % len(PALETTE)])
        name = str(folder.run.get("label") or config.label())
        entry = RunEntry(
            run_id=0,
            config=config,
            name=name,
            color=color,
            store=store,
            status=status,
            message=folder.message,
            version=1,
        )
        self.manager.adopt(entry)
        self.run_list.select(entry.run_id)
        self.refresh_plots()
        if folder.interrupted:
            self.show_message(f"{Path(path).name}: {status}: {folder.message}", "warning")
        return entry

    def open_run_folder_dialog(self) -> None:
        start = self.settings.value("runfolder/dir", str(Path.cwd()))
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open run folder", start)
        if not path:
            return
        self.settings.setValue("runfolder/dir", str(Path(path).parent))
        self.open_run_folder(path)

    # --- closing ----------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Save the layout and the last setup, then stop every run without a final evaluation and join
        the workers for at most ``RunManager.close_join_s`` (each ends within one step, evaluation batch
        or loading chunk). A worker still busy after that is left to ``app.run_app``'s exit."""
        self.race_tab.pause()
        self.save_settings()
        self.manager.shutdown(timeout_s=self.manager.close_join_s)
        super().closeEvent(event)
