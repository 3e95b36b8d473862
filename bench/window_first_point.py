"""Start -> first live point in the window exactly as a user gets it (default backend: each run a child
process, one spare child started when the window opens). Press 1 also waits for the embedded set;
press 2 has the data and a fresh spare child.

    python bench/window_first_point.py [--idle 8]

Runs offscreen unless QT_QPA_PLATFORM is set (e.g. xvfb-run for a real X server).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=8.0, help="seconds the window is open before Start")
    args = parser.parse_args()
    from PySide6 import QtCore

    from resnet_viz.gui.qt_app import application

    app = application()
    from resnet_viz.gui.app import prefetch_setup_data
    from resnet_viz.gui.main_window import MainWindow

    settings = QtCore.QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1600, 1000)
    window.show()
    prefetch_setup_data(window)  # as `resnet-viz gui` does

    def wait(done: Callable[[], bool], limit_s: float = 120.0) -> None:
        t0 = time.monotonic()
        while not done() and time.monotonic() - t0 < limit_s:
            app.processEvents()
            time.sleep(0.005)

    print(f"backend {window.manager.backend_name}; load average {os.getloadavg()}", flush=True)
    t_open = time.monotonic()
    wait(lambda: time.monotonic() - t_open >= args.idle)
    for press in (1, 2):
        n = len(window.manager.entries)
        t0 = time.monotonic()
        window.start_button.click()
        entry = window.manager.entries[n]
        wait(lambda: entry.store.started is not None)  # noqa: B023 - waited on at once
        t1 = time.monotonic()
        wait(lambda: entry.store.steps_done > 0)  # noqa: B023
        t2 = time.monotonic()
        print(f"press {press}: RunStarted {t1 - t0:.2f} s, first TrainChunk {t2 - t0:.2f} s", flush=True)
        window.manager.stop(entry)
        wait(lambda: not window.manager.busy)
        t_idle = time.monotonic()
        wait(lambda: time.monotonic() - t_idle >= 6.0)  # noqa: B023 - a new spare child starts
    print(f"load average {os.getloadavg()}")
    window.close()


if __name__ == "__main__":
    main()
