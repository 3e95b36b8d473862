"""Headless picture of the whole window: train runs offscreen, then save the window as a PNG.

Used by ``resnet-viz snapshot`` for the README, the docs and the tests.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from resnet_viz.config import ConfigError, RunConfig

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
    progress=None,
) -> Path:
    """Train ``configs`` (or open ``session``) in an offscreen window and save it as a PNG at ``size``.

    ``select`` (0-based) picks the run the heatmap shows (``ConfigError`` naming ``--select`` when there
    is no such run). Returns the PNG path, checked to be there.
    Checked before any work: ``session`` (``SessionError``), the picture's size (``ImageSizeError``)
    and that ``out`` can be written (``WriteError``, which also reports a failure at the end).
    Raises ``TimeoutError`` when training takes longer than ``timeout_s``.
    """
    from resnet_viz.export.image_limits import ImageSizeError, image_size_problem
    from resnet_viz.export.session import load_session
    from resnet_viz.export.written import check_writable

    width, height = max(size[0], MIN_SIZE[0]), max(size[1], MIN_SIZE[1])
    problem = image_size_problem(width, height)
    if problem is not None:
        raise ImageSizeError(problem)
    loaded = load_session(session) if session is not None else None
    runs = len(loaded.runs) if loaded is not None else len(configs)
    if select is not None and not 0 <= select < runs:
        raise ConfigError("--select", select + 1, f"a run number from 1 to {runs}" if runs else "no run to select")
    out = check_writable(out)

    from PySide6 import QtCore

    from resnet_viz.gui.qt_app import application, dispose

    app = application(offscreen=True)
    from resnet_viz.gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:  # a private QSettings: nothing of the user's is read or changed
        settings = QtCore.QSettings(str(Path(tmp) / "snapshot.ini"), QtCore.QSettings.Format.IniFormat)
        window = MainWindow(settings, restore=False)
        window.resize(width, height)
        window.default_layout()
        window.show()
        if session is not None:
            window.open_session(session, loaded)
        else:
            window.manager.set_mode(mode)
            for config in configs:
                window.manager.add(config)
            if configs:
                window.config_panel.set_config(configs[-1])
            window.manager.start()
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
        entries = window.manager.entries
        if select is not None and 0 <= select < len(entries):
            window.run_list.select(entries[select].run_id)
        for _ in range(5):
            app.processEvents()
        window.refresh_plots()
        app.processEvents()
        from resnet_viz.export.written import make_folder
        from resnet_viz.gui.figure_export import save_image

        try:
            make_folder(out.parent)
            save_image(window.grab(), out)
        finally:
            dispose(window)
    return out
