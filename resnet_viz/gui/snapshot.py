"""Headless picture of the whole window: train runs offscreen, then save the window as a PNG.

Used by ``resnet-viz snapshot`` for the README, the docs and the tests.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.export.image_limits import ImageSizeError, image_size_problem
from resnet_viz.export.session import Session, load_session
from resnet_viz.export.written import check_writable, make_folder

if TYPE_CHECKING:  # Qt and the window are imported when a snapshot is taken, not with the CLI
    from PySide6 import QtWidgets

    from resnet_viz.gui.main_window import MainWindow
    from resnet_viz.gui.runs import RunEntry

#: ``progress(entries)``: called every 2 s while the runs train.
Progress = Callable[[Sequence["RunEntry"]], object]

MIN_SIZE = (1280, 800)


def take_snapshot(
    configs: Sequence[RunConfig],
    out: str | Path,
    *,
    size: tuple[int, int] = (1600, 1000),
    mode: str = "sequential",
    select: int | None = None,
    session: str | Path | None = None,
    timeout_s: float = 3600.0,
    progress: Progress | None = None,
) -> Path:
    """Train ``configs`` (or open ``session``) in an offscreen window and save it as a PNG at ``size``.

    ``select`` (0-based) picks the run the heatmap shows (``ConfigError`` naming ``--select`` when there
    is no such run). Returns the PNG path, checked to be there.
    Checked before any work: ``session`` (``SessionError``), the picture's size (``ImageSizeError``)
    and that ``out`` can be written (``WriteError``, which also reports a failure at the end).
    Raises ``TimeoutError`` when training takes longer than ``timeout_s``.
    """
    width, height = max(size[0], MIN_SIZE[0]), max(size[1], MIN_SIZE[1])
    loaded, out = _check_request(width, height, configs, select, session, out)

    from PySide6 import QtCore

    from resnet_viz.gui.qt_app import application, dispose

    app = application(offscreen=True)
    from resnet_viz.gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:  # a private QSettings: nothing of the user's is read or changed
        settings = QtCore.QSettings(str(Path(tmp) / "snapshot.ini"), QtCore.QSettings.Format.IniFormat)
        window = MainWindow(settings, restore=False)
        try:
            window.resize(width, height)
            window.default_layout()
            window.show()
            if session is not None:
                window.open_session(session, loaded)
            else:
                _start_runs(window, configs, mode)
            _wait_for_runs(window, app, timeout_s, progress)
            _save_window(window, app, select, out)
        finally:
            dispose(window)
    return out


def _check_request(
    width: int,
    height: int,
    configs: Sequence[RunConfig],
    select: int | None,
    session: str | Path | None,
    out: str | Path,
) -> tuple[Session | None, Path]:
    """Everything checked before any work: the picture's size, the session (read here), ``select`` and ``out``.
    Returns the loaded session (None without one) and the checked output path."""
    problem = image_size_problem(width, height)
    if problem is not None:
        raise ImageSizeError(problem)
    loaded = load_session(session) if session is not None else None
    runs = len(loaded.runs) if loaded is not None else len(configs)
    if select is not None and not 0 <= select < runs:
        raise ConfigError("--select", select + 1, f"a run number from 1 to {runs}" if runs else "no run to select")
    return loaded, check_writable(out)


def _start_runs(window: MainWindow, configs: Sequence[RunConfig], mode: str) -> None:
    window.manager.set_mode(mode)
    for config in configs:
        window.manager.add(config)
    if configs:
        window.config_panel.set_config(configs[-1])
    window.manager.start()


def _wait_for_runs(
    window: MainWindow, app: QtWidgets.QApplication, timeout_s: float, progress: Progress | None
) -> None:
    """Process events until every run has ended (``progress(entries)`` every 2 s); ``TimeoutError`` after
    ``timeout_s``, with the runs stopped."""
    deadline = time.monotonic() + timeout_s
    last_report = 0.0
    while window.manager.busy or window.manager.queued:
        app.processEvents()
        time.sleep(0.02)
        if progress is not None and time.monotonic() - last_report > 2.0:
            last_report = time.monotonic()
            progress(window.manager.entries)
        if time.monotonic() > deadline:
            window.manager.shutdown()
            raise TimeoutError(f"training did not end within {timeout_s:.0f} s")
    window.manager.drain()


def _save_window(window: MainWindow, app: QtWidgets.QApplication, select: int | None, out: Path) -> None:
    """Select run ``select`` (0-based; the heatmap shows it), draw every plot once more and save the window."""
    from resnet_viz.gui.figure_export import save_image

    entries = window.manager.entries
    if select is not None and 0 <= select < len(entries):
        window.run_list.select(entries[select].run_id)
    for _ in range(5):
        app.processEvents()
    window.refresh_plots()
    app.processEvents()
    make_folder(out.parent)
    save_image(window.grab(), out)
