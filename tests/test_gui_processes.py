"""The window over the process backend: a run killed in its child process is one failed run (the
window and the other runs go on), and closing the window ends every child within 2 s."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
from conftest import tiny_run_config

from resnet_viz.gui.main_window import MainWindow

WAIT_MS = 60_000


@pytest.fixture
def process_window(qtbot, settings, monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_BACKEND", "process")
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1600, 1000)
    win.show()
    qtbot.waitExposed(win)
    assert win.manager.backend_name == "process"
    yield win
    win.manager.shutdown(timeout_s=2.0)


def _spawned_children() -> list[psutil.Process]:
    """This process's children made by multiprocessing's spawn (runs and the spare)."""
    return [p for p in psutil.Process().children() if "spawn_main" in " ".join(p.cmdline())]


def _child_pids(win: MainWindow) -> list[int]:
    return [win.manager.scheduler.handle(e).pid for e in win.manager.running]


def test_a_killed_child_is_a_failed_run_and_the_window_and_the_other_run_go_on(qtbot, process_window):
    win = process_window
    win.manager.set_mode("parallel")
    doomed = win.manager.add(tiny_run_config(steps=100_000), name="doomed")
    other = win.manager.add(tiny_run_config(steps=60), name="other")
    win.manager.start()
    qtbot.waitUntil(lambda: doomed.store.steps_done >= 2, timeout=WAIT_MS)
    pid = win.manager.scheduler.handle(doomed).pid
    os.kill(pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: doomed.status == "failed", timeout=WAIT_MS)
    assert "SIGKILL" in doomed.message
    kept = doomed.store.steps_done
    assert kept >= 2 and doomed.store.started is not None  # every record received is kept
    assert doomed.store.finished is not None and doomed.store.finished.status == "failed"
    qtbot.waitUntil(lambda: other.status == "finished", timeout=WAIT_MS)
    assert other.store.steps_done == 60 and other.store.evals
    assert win.isVisible()
    assert not psutil.pid_exists(pid)  # the parent reaped it
    assert "doomed" in win.message_bar.text  # the user is told, in the window


def test_closing_the_window_ends_four_training_children_within_2_s(qtbot, process_window):
    win = process_window
    win.manager.scheduler.set_mode("parallel", 4)
    entries = [win.manager.add(tiny_run_config(steps=100_000), name=f"r{i}") for i in range(4)]
    win.manager.start()
    qtbot.waitUntil(lambda: all(e.store.steps_done >= 1 for e in entries), timeout=WAIT_MS)
    pids = _child_pids(win)
    assert len(pids) == 4 and all(psutil.pid_exists(p) for p in pids)
    children = [psutil.Process(p) for p in pids] + _spawned_children()  # the spare child started ahead too
    t0 = time.monotonic()
    win.close()
    gone, alive = psutil.wait_procs(set(children), timeout=max(0.0, 2.0 - (time.monotonic() - t0)))
    assert not alive, f"still running 2 s after close: {[p.pid for p in alive]}"
    assert time.monotonic() - t0 < 2.5
    assert all(e.store.steps_done >= 1 for e in entries)  # what they recorded stays
