"""Closing the window while a run evaluates: seconds from the close (or SIGTERM) until the process is gone.

The real window (``resnet-viz gui``) with the default ResNet-20 (evaluation every 5 steps, so one comes
soon: 10,000 training + 4,000 test images) is closed 1 s into an evaluation, by the close button
(``close``) or by SIGTERM (``sigterm``). Each mode runs in a fresh process with private settings; the
script prints the exit code, the time and the end of stderr (issue 12's goal: exit 0 within 2 s).

    python bench/close_time.py [close|sigterm ...]      (default: close sigterm close sigterm)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time


def child(mode: str) -> None:
    """Open the window, start the run, and close it (``close``) or wait for the signal (``sigterm``)."""
    import dataclasses
    import threading

    from PySide6 import QtCore, QtWidgets

    from resnet_viz import cli
    from resnet_viz.config import RunConfig
    from resnet_viz.data.device_loader import DeviceDataset
    from resnet_viz.gui.qt_app import application

    began = threading.Event()
    eval_batches = DeviceDataset.eval_batches

    def marked_eval_batches(self, split, *args, **kwargs):
        began.set()
        yield from eval_batches(self, split, *args, **kwargs)

    DeviceDataset.eval_batches = marked_eval_batches
    config = RunConfig()
    config.train = dataclasses.replace(config.train, eval_every=5)
    application()

    def setup() -> None:
        window = next(w for w in QtWidgets.QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow")
        window.manager.add(config)
        window.manager.start()

        def poll() -> None:
            if began.is_set():
                timer.stop()
                time.sleep(1.0)  # well inside the evaluation
                print("CLOSE", time.time(), flush=True)
                if mode == "close":
                    window.close()

        timer = QtCore.QTimer(window)
        timer.timeout.connect(poll)
        timer.start(10)

    QtCore.QTimer.singleShot(0, setup)
    sys.exit(cli.main(["gui"]))


def main(modes: list[str]) -> None:
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=home, XDG_DATA_HOME=home)
        for mode in modes:
            proc = subprocess.Popen(
                [sys.executable, __file__, "--child", mode],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            line = proc.stdout.readline()
            if mode == "sigterm":
                proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
            gone = time.time() - float(line.split()[1])
            print(
                f"{mode}: exit {proc.returncode}, process gone {gone:.2f} s after the close; "
                f"stderr: {err.strip()[-200:]!r}",
                flush=True,
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        main(sys.argv[1:] or ["close", "sigterm", "close", "sigterm"])
