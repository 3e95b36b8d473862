"""SweepPanel: the Sweep dock: one row per config point of a sweep, mean ± std of the final training and
test errors over the seeds done, and the published test error beside it where a paper gives one.

The panel shows what the window's sweep controller hands it (:class:`SweepView`, one per sweep of this
session; a combo picks which) and asks it to stop a sweep (``stop_requested(key)``). It opens the
sweep's folder and exports the table as CSV itself; a failed export is a ``message(text, level)``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.export.written import WriteError, write_atomically
from resnet_viz.gui.export_dialogs import setting_text
from resnet_viz.sweeps.summary import SweepRow, pct_pm, summary_csv
from resnet_viz.sweeps.values import format_value

EMPTY_TEXT = (
    "<p><b>No sweep yet.</b></p><p><i>Runs ▸ New sweep…</i> trains configs × seeds: say which config fields "
    "to vary and over which values, and the seeds. The trials stream into the run list as they train, on "
    "local processes or on a Ray cluster, and this table shows mean ± std of their final errors per config, "
    "beside the published numbers where a paper gives them.</p><p>The same dialog resumes a sweep folder.</p>"
)
NUMBER_COLUMNS = ("Seeds", "Train error", "Test error", "Published")


@dataclass(frozen=True)
class SweepView:
    """What the panel shows of one sweep: its name, where it trains, its folder, progress and rows.
    ``state``: ``training``, ``stopping``, ``stopped`` or ``finished``; ``note``: a line to read (red)."""

    key: int
    name: str
    where: str
    folder: Path
    axes: tuple[str, ...]  # short names of the varied fields (the table's first columns)
    rows: list[SweepRow] = field(default_factory=list)
    done: int = 0
    total: int = 0
    training: int = 0
    failed: int = 0
    state: str = "training"
    note: str = ""

    @property
    def progress(self) -> str:
        """``7 of 20 trials done · 2 training`` (and failed ones, and the state once it ended)."""
        text = f"{self.done} of {self.total} trials done"
        if self.training:
            text += f" · {self.training} training"
        if self.failed:
            text += f" · {self.failed} failed"
        if self.state == "stopped":
            text += " · stopped: resume it with Runs ▸ New sweep… ▸ Resume a sweep…"
        elif self.state in ("stopping", "finished"):
            text += f" · {self.state}"
        return text


def seeds_text(row: SweepRow) -> str:
    """``2/5`` (``2/5 (1 failed)``)."""
    return f"{row.seeds_done}/{row.seeds_total}" + (f" ({row.failed} failed)" if row.failed else "")


def row_cells(view: SweepView, row: SweepRow) -> list[tuple[str, str]]:
    """The table's cells of ``row``: (text, tooltip)."""
    values = [(format_value(row.values[p]), p) for p in row.values] or [(row.label, "the base config")]
    source = (
        f"{row.published}: the CIFAR-10 test error {row.published_source} gives for this network (trained on the"
        " full data set with the paper's schedule)"
        if row.published
        else "no paper gives a number for this network"
    )
    return [
        *values,
        (seeds_text(row), "finished seeds of this config / its seeds (failed or diverged ones in brackets)"),
        (pct_pm(row.train_mean, row.train_std), "final training error: mean ± std over the finished seeds"),
        (pct_pm(row.test_mean, row.test_std), "final test error: mean ± std over the finished seeds"),
        (f"{row.published} — {row.published_source}" if row.published else "—", source),
    ]


class SweepPanel(QtWidgets.QWidget):
    """The Sweep dock's contents. Signals: ``stop_requested(int)`` (a view's key), ``message(str, str)``."""

    stop_requested = QtCore.Signal(int)
    message = QtCore.Signal(str, str)

    def __init__(self, settings: QtCore.QSettings, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.views: list[SweepView] = []
        self.empty = QtWidgets.QLabel(EMPTY_TEXT)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.empty.setContentsMargins(8, 8, 8, 8)
        self.sweep_box = QtWidgets.QComboBox()
        self.sweep_box.setToolTip("The sweep this table shows (the sweeps of this session)")
        self.sweep_box.currentIndexChanged.connect(lambda _i: self._show_current())
        self.header = QtWidgets.QLabel()
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QtWidgets.QTableWidget()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.stop_button = QtWidgets.QPushButton("Stop sweep")
        self.stop_button.setToolTip("Stop its trials (unfinished ones train again when the sweep is resumed)")
        self.folder_button = QtWidgets.QPushButton("Open folder")
        self.export_button = QtWidgets.QPushButton("Export table…")
        self.export_button.setToolTip("This table as CSV (errors as fractions)")
        self.stop_button.clicked.connect(self._stop_clicked)
        self.folder_button.clicked.connect(self.open_folder)
        self.export_button.clicked.connect(lambda: self.export_csv())
        self._layout()
        self.set_views([])

    def _layout(self) -> None:
        self.content = QtWidgets.QWidget()
        inner = QtWidgets.QVBoxLayout(self.content)
        inner.setContentsMargins(4, 4, 4, 4)
        inner.addWidget(self.sweep_box)
        inner.addWidget(self.header)
        inner.addWidget(self.table, 1)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.stop_button, self.folder_button, self.export_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        inner.addLayout(buttons)
        self.stack = QtWidgets.QStackedLayout(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.content)

    # --- showing ---------------------------------------------------------------------------------
    @property
    def current(self) -> SweepView | None:
        i = self.sweep_box.currentIndex()
        return self.views[i] if 0 <= i < len(self.views) else None

    def set_views(self, views: list[SweepView], show: int | None = None) -> None:
        """Show these sweeps; ``show``: the key of the one to bring up (None: keep the one shown)."""
        keep = self.current.key if self.current is not None else None
        target = show if show is not None else keep
        self.views = list(views)
        self.sweep_box.blockSignals(True)
        self.sweep_box.clear()
        for view in self.views:
            self.sweep_box.addItem(f"{view.name} — {view.folder}", view.key)
        index = next((i for i, v in enumerate(self.views) if v.key == target), len(self.views) - 1)
        self.sweep_box.setCurrentIndex(index)
        self.sweep_box.blockSignals(False)
        self.sweep_box.setVisible(len(self.views) > 1)
        self.stack.setCurrentWidget(self.content if self.views else self.empty)
        self._show_current()

    def _show_current(self) -> None:
        view = self.current
        if view is None:
            return
        name = html.escape(view.name or view.folder.name)
        note = f"<br><span style='color:#b3261e'>{html.escape(view.note)}</span>" if view.note else ""
        self.header.setText(
            f"<b>{name}</b> · {html.escape(view.where)}<br>{html.escape(str(view.folder))}<br>"
            f"{html.escape(view.progress)}{note}"
        )
        self.stop_button.setEnabled(view.state == "training")
        self._fill_table(view)

    def _fill_table(self, view: SweepView) -> None:
        heads = [*(view.axes or ("config",)), *NUMBER_COLUMNS]
        self.table.setColumnCount(len(heads))
        self.table.setHorizontalHeaderLabels(heads)
        self.table.setRowCount(len(view.rows))
        right = QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
        for r, row in enumerate(view.rows):
            cells = row_cells(view, row)
            for c, (text, tip) in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(tip)
                if c >= len(cells) - len(NUMBER_COLUMNS) and c < len(cells) - 1:
                    item.setTextAlignment(right)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)

    # --- actions ---------------------------------------------------------------------------------
    def _stop_clicked(self) -> None:
        if self.current is not None:
            self.stop_requested.emit(self.current.key)

    def open_folder(self) -> None:
        if self.current is not None:
            QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(self.current.folder)))

    def export_csv(self, path: str | Path | None = None) -> Path | None:
        """The table as CSV (the core's :func:`~resnet_viz.sweeps.summary.summary_csv`); asks for the file
        when ``path`` is None. The written path, or None (a message says why)."""
        view = self.current
        if view is None:
            return None
        if path is None:
            start = Path(setting_text(self.settings, "export/dir", str(view.folder))) / f"{view.folder.name}.csv"
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export sweep table", str(start), "CSV (*.csv)")
            if not path:
                return None
            self.settings.setValue("export/dir", str(Path(path).parent))
        text = summary_csv(view.rows)
        try:
            write_atomically(Path(path), lambda p: p.write_text(text, encoding="utf-8"))
        except (WriteError, OSError) as exc:
            self.message.emit(f"Could not export the sweep table: {exc}", "error")
            return None
        self.message.emit(f"Sweep table written to {path}", "info")
        return Path(path)
