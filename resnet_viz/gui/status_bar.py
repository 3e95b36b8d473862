"""The window's status bar: the device, the training speed and time left, data loading, the run's progress.

It reads the run manager every half second (and when asked), so the figures need no signal per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from resnet_viz.config import ConfigError
from resnet_viz.gui.manager import RunManager
from resnet_viz.gui.runs import ACTIVE_STATUSES, RunEntry
from resnet_viz.train.device import device_label, resolve_device

#: Seconds the data bar stays after loading completed.
DATA_BAR_LINGER_S = 1.5
UPDATE_MS = 500


def fmt_duration(seconds: float) -> str:
    """``"1 h 05 min"``, ``"3 min 07 s"`` or ``"42 s"``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def _bar(width: int, tip: str) -> QtWidgets.QProgressBar:
    bar = QtWidgets.QProgressBar()
    bar.setMaximumWidth(width)
    bar.setRange(0, 1000)
    bar.setToolTip(tip)
    bar.hide()
    return bar


class StatusBar(QtCore.QObject):
    """Fills ``bar``. ``setup_device()`` is the device the setup asks for (raises ConfigError when not
    valid); ``selected_id()`` the selected run's id (None: none)."""

    def __init__(
        self,
        bar: QtWidgets.QStatusBar,
        manager: RunManager,
        setup_device: Callable[[], str],
        selected_id: Callable[[], int | None],
    ) -> None:
        super().__init__(bar)
        self.manager = manager
        self._setup_device = setup_device
        self._selected_id = selected_id
        self.device_label = QtWidgets.QLabel()
        self.device_label.setToolTip("Where the next run trains (runs in the list show their own device)")
        self.speed_label = QtWidgets.QLabel()
        self.speed_label.setToolTip(
            "Training steps per second (all runs), and time left for the running and queued runs at that speed"
        )
        self.data_bar = _bar(220, "Dataset generation, loading or download")
        self.data_bar.setFormat("data %p%")
        self.run_bar = _bar(260, "Progress of the selected (or training) run")
        bar.addWidget(self.device_label)
        bar.addWidget(self.speed_label, 1)
        bar.addPermanentWidget(self.data_bar)
        bar.addPermanentWidget(self.run_bar)
        self._data_done_at = 0.0
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(UPDATE_MS)
        self._timer.timeout.connect(self.update)
        self._timer.start()

    def data_progress(self, text: str, fraction: float) -> None:
        """Dataset loading progress, ``fraction`` in [0, 1]; the bar hides a moment after it completed."""
        self.data_bar.setValue(int(1000 * max(0.0, min(1.0, fraction))))
        self.data_bar.setFormat(f"{text} %p%")
        self.data_bar.setToolTip(text)
        self.data_bar.show()
        if fraction >= 1.0:
            self._data_done_at = time.monotonic()

    def update(self) -> None:
        running = [e for e in self.manager.entries if e.status in ACTIVE_STATUSES]
        self.device_label.setText(self._device_text(running))
        self.speed_label.setText(self._speed_text(running))
        self._show_run_progress(running)
        if (
            self.data_bar.isVisible()
            and self._data_done_at
            and time.monotonic() - self._data_done_at > DATA_BAR_LINGER_S
        ):
            self.data_bar.hide()
            self._data_done_at = 0.0

    def _device_text(self, running: list[RunEntry]) -> str:
        if running and running[0].store.started is not None:
            return f"Device: {running[0].store.started.device}"
        try:
            return f"Device: {device_label(resolve_device(self._setup_device()))}"
        except ConfigError as exc:
            return f"Device: {exc.value} (not available)"

    def _speed_text(self, running: list[RunEntry]) -> str:
        m = self.manager
        rate = m.steps_per_s() if m.busy else 0.0
        if m.busy and rate > 0:
            eta = m.remaining_steps() / rate
            return f"{rate:,.1f} steps/s · {len(running)} training · ETA {fmt_duration(eta)}"
        if m.busy:
            return "starting…" if not m.all_paused else "paused"
        done = sum(1 for e in m.entries if e.store.finished is not None)
        return f"{len(m.entries)} runs, {done} ended" if m.entries else "Pick a network on the left and press Start"

    def _show_run_progress(self, running: list[RunEntry]) -> None:
        """The selected run's progress, else the first training run's; hidden when neither has started."""
        selected = self._selected_id()
        entry = self.manager.entry(selected) if selected else (running[0] if running else None)
        if entry is not None and entry.store.started is not None:
            total = max(1, entry.store.started.total_steps)
            self.run_bar.setValue(int(1000 * entry.store.steps_done / total))
            self.run_bar.setFormat(f"{entry.name.split(' · ')[0]}: %p%")
            self.run_bar.show()
        else:
            self.run_bar.hide()
