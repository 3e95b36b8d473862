"""The Landscape tab's background computation (issue 16): a real tiny landscape, cancel and window close
leave no process behind."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from resnet_viz.gui.landscape.runner import LandscapeRunner
from resnet_viz.landscape.spec import LandscapeSpec

pytest.importorskip("resnet_viz.landscape.job")


def landscape_children() -> list[int]:
    """Live (not zombie) child processes of this test computing a landscape."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == os.getpid() and state != "Z" and b"resnet_viz.landscape.job" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_a_tiny_landscape_is_computed_in_the_background(qtbot, recorded_runs):
    runner = LandscapeRunner()
    seen: list[tuple[int, int]] = []
    runner.progress.connect(lambda done, total: seen.append((done, total)))
    with qtbot.waitSignal(runner.finished, timeout=60_000) as done:
        runner.start_store(recorded_runs[0].store, LandscapeSpec(directions="random", grid=2, samples=32))
    result = done.args[0]
    assert result.loss.shape == (2, 2) and result.beta is not None
    assert seen and seen[-1] == (4, 4)
    assert not runner.running and not landscape_children()


def test_cancel_kills_the_computation(qtbot, recorded_runs):
    runner = LandscapeRunner()
    failed: list[str] = []
    runner.failed.connect(failed.append)
    runner.start_store(recorded_runs[1].store, LandscapeSpec(directions="random", grid=101, samples=1000))
    tmp = Path(runner._tmp.name) if runner._tmp is not None else None
    qtbot.waitUntil(lambda: bool(landscape_children()), timeout=10_000)
    runner.cancel()
    qtbot.waitUntil(lambda: not landscape_children(), timeout=3_000)
    assert not runner.running and failed == []
    assert tmp is not None and not tmp.exists()  # the run folder written for the job is gone too


def test_closing_the_window_mid_computation_cancels_it(qtbot, window, recorded_runs, capfd):
    tab = window.landscape_tab
    entry = window.manager.adopt(copy.copy(recorded_runs[1]))
    tab.controls.source_box.setCurrentIndex(tab.controls.source_box.findData(f"run:{entry.run_id}"))
    tab.controls.grid.setValue(101)
    tab.compute()
    assert tab.runner.running and tab.controls.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: bool(landscape_children()), timeout=10_000)
    window.close()
    qtbot.waitUntil(lambda: not landscape_children(), timeout=3_000)
    assert not tab.runner.running
    assert "Traceback" not in capfd.readouterr().err
