"""Where the network explorer's docks go: the default layout for the window's size, and a preset's plots.

The explorer is a QMainWindow of its own (the first tab of the window): the setup dock and the runs
dock (the Experiment dock in a tab with it) on the left, the plot docks on the right.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtCore, QtWidgets

LEFT = QtCore.Qt.DockWidgetArea.LeftDockWidgetArea
RIGHT = QtCore.Qt.DockWidgetArea.RightDockWidgetArea
H, V = QtCore.Qt.Orientation.Horizontal, QtCore.Qt.Orientation.Vertical
#: Windows lower than this (px) get the compact layout: two rows of plots instead of three.
COMPACT_BELOW_PX = 1000


def make_explorer() -> QtWidgets.QMainWindow:
    """The network explorer: a main window of its own (docks, nested and tabbed) inside the window's first tab."""
    explorer = QtWidgets.QMainWindow()
    explorer.setWindowFlags(QtCore.Qt.WindowType.Widget)
    explorer.setDockOptions(
        QtWidgets.QMainWindow.DockOption.AnimatedDocks
        | QtWidgets.QMainWindow.DockOption.AllowNestedDocks
        | QtWidgets.QMainWindow.DockOption.AllowTabbedDocks
    )
    return explorer


@dataclass
class ExplorerDocks:
    """The explorer and its docks: ``plots`` maps a plot key to its dock, in registry order."""

    explorer: QtWidgets.QMainWindow
    setup: QtWidgets.QDockWidget
    runs: QtWidgets.QDockWidget
    experiment: QtWidgets.QDockWidget
    plots: dict[str, QtWidgets.QDockWidget]
    sweep: QtWidgets.QDockWidget  # the Sweep table, in a tab behind the loss plot (behind the plots of a preset)

    def all(self) -> tuple[QtWidgets.QDockWidget, ...]:
        return (self.setup, self.runs, self.experiment, *self.plots.values(), self.sweep)

    def _detach(self, docks: tuple[QtWidgets.QDockWidget, ...] | list[QtWidgets.QDockWidget]) -> None:
        for dock in docks:
            dock.setFloating(False)
            self.explorer.removeDockWidget(dock)

    def default_layout(self, width: int, height: int, compact: bool, show_experiment: bool) -> None:
        """Setup and runs on the left, plots on the right, for a window of ``width`` x ``height`` px.

        Compact (windows under 1000 px high, e.g. 1280x800): two rows of two plots, the others in
        tabs (loss behind error; backward signal, update ratio and dead units behind activation std;
        distributions behind the heatmap, the histogram overlay behind gradient norm vs depth). Otherwise
        three rows: error | loss, heatmap | gradient norm vs depth, activation std | backward signal
        (update ratio and dead units in tabs), distributions behind the heatmap and the histogram
        overlay behind gradient norm vs depth. The Experiment dock shows (in front of the runs) only with
        ``show_experiment``.
        """
        ex, everything = self.explorer, self.all()
        self._detach(everything)
        ex.addDockWidget(LEFT, self.setup)
        ex.addDockWidget(LEFT, self.runs)
        ex.splitDockWidget(self.setup, self.runs, V)
        ex.tabifyDockWidget(self.runs, self.experiment)
        rows = self._compact_plots() if compact else self._three_rows_of_plots()
        for dock in everything:
            dock.show()
        self.experiment.setVisible(show_experiment)
        (self.experiment if show_experiment else self.runs).raise_()
        d = self.plots
        for key in ("error", "grad_heatmap", "grad_norm_depth", "act_std_depth" if compact else "out_grad_depth"):
            d[key].raise_()
        ex.resizeDocks([self.setup, d["error"]], [340, max(600, width - 340)], H)
        ex.resizeDocks([self.setup, self.runs], [max(300, height - 300), 200], V)
        ex.resizeDocks(rows, [1000] * len(rows), V)

    def _compact_plots(self) -> list[QtWidgets.QDockWidget]:
        ex, d = self.explorer, self.plots
        ex.addDockWidget(RIGHT, d["error"])
        ex.splitDockWidget(d["error"], d["grad_heatmap"], V)
        ex.splitDockWidget(d["error"], d["grad_norm_depth"], H)
        ex.splitDockWidget(d["grad_heatmap"], d["act_std_depth"], H)
        ex.tabifyDockWidget(d["error"], d["loss"])
        ex.tabifyDockWidget(d["loss"], d["sharpness"])
        ex.tabifyDockWidget(d["sharpness"], self.sweep)
        ex.tabifyDockWidget(d["act_std_depth"], d["out_grad_depth"])
        ex.tabifyDockWidget(d["out_grad_depth"], d["update_ratio_depth"])
        self._tab_histogram_plots()
        return [d["error"], d["grad_heatmap"]]

    def _three_rows_of_plots(self) -> list[QtWidgets.QDockWidget]:
        ex, d = self.explorer, self.plots
        ex.addDockWidget(RIGHT, d["error"])
        ex.splitDockWidget(d["error"], d["grad_heatmap"], V)
        ex.splitDockWidget(d["grad_heatmap"], d["act_std_depth"], V)
        ex.splitDockWidget(d["error"], d["loss"], H)
        ex.tabifyDockWidget(d["loss"], d["sharpness"])
        ex.tabifyDockWidget(d["sharpness"], self.sweep)
        ex.splitDockWidget(d["grad_heatmap"], d["grad_norm_depth"], H)
        ex.splitDockWidget(d["act_std_depth"], d["out_grad_depth"], H)
        ex.tabifyDockWidget(d["out_grad_depth"], d["update_ratio_depth"])
        self._tab_histogram_plots()
        return [d["error"], d["grad_heatmap"], d["act_std_depth"]]

    def _tab_histogram_plots(self) -> None:
        """Dead units behind the update ratio; distributions behind the heatmap (both: one run over steps);
        the histogram overlay behind gradient norm vs depth."""
        ex, d = self.explorer, self.plots
        ex.tabifyDockWidget(d["update_ratio_depth"], d["dead_units"])
        ex.tabifyDockWidget(d["grad_heatmap"], d["distributions"])
        ex.tabifyDockWidget(d["grad_norm_depth"], d["histogram_overlay"])

    def arrange_plots(self, keys: tuple[str, ...] | list[str]) -> None:
        """The first four plots of ``keys`` in a 2×2 grid on the right (first top-left, second top-right,
        third bottom-left, fourth bottom-right); every other plot (and the Sweep table) in tabs behind the fourth."""
        order = list(dict.fromkeys(k for k in keys if k in self.plots))
        order += [k for k in self.plots if k not in order]
        d = [self.plots[k] for k in order]
        ex = self.explorer
        self._detach([*d, self.sweep])
        ex.addDockWidget(RIGHT, d[0])
        ex.splitDockWidget(d[0], d[2], V)
        ex.splitDockWidget(d[0], d[1], H)
        ex.splitDockWidget(d[2], d[3], H)
        for dock in [*d[4:], self.sweep]:
            ex.tabifyDockWidget(d[3], dock)
        for dock in [*d, self.sweep]:
            dock.show()
        d[3].raise_()
        left = max(340, min(440, ex.width() // 4))  # room for the Experiment dock's checks
        width = max(600, ex.width() - left)
        ex.resizeDocks([self.setup, d[0]], [left, width], H)
        ex.resizeDocks([d[0], d[1]], [width // 2, width // 2], H)
        ex.resizeDocks([d[2], d[3]], [width // 2, width // 2], H)
        ex.resizeDocks([d[0], d[2]], [1000, 1000], V)
