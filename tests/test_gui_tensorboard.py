"""The window's "TensorBoard logs" box: a run started while it is checked writes events (read back with
TensorBoard's reader, equal to float32 of the run's own records); a failed write is one message and the run
trains on; a missing package or a cancelled folder choice leaves the box unchecked."""

from __future__ import annotations

import sys

import numpy as np
from conftest import tiny_run_config
from PySide6 import QtWidgets
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from resnet_viz.export import tensorboard as tb
from resnet_viz.gui import tensorboard_logs

WAIT_MS = 120_000


def _train(qtbot, window, steps: int):
    window.config_panel.set_config(tiny_run_config(steps=steps))
    window.start()
    qtbot.waitUntil(lambda: not window.manager.busy and not window.manager.queued, timeout=WAIT_MS)
    window.manager.drain()
    return window.manager.entries[-1]


def test_a_run_started_with_the_box_checked_writes_its_events(qtbot, window, settings, tmp_path, monkeypatch):
    logs = window.tensorboard_logs
    assert logs.checkbox.text() == "TensorBoard logs" and not logs.enabled
    asked, folder = [], tmp_path / "tb"
    folder.mkdir()
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", lambda *a: asked.append(a) or str(folder))
    logs.checkbox.click()  # no folder yet: the box asks for one
    assert logs.enabled and logs.action.isChecked() and len(asked) == 1 and logs.folder == folder
    assert settings.value(tensorboard_logs.SETTINGS_FOLDER) == str(folder)
    assert settings.value(tensorboard_logs.SETTINGS_ENABLED, type=bool)
    entry = _train(qtbot, window, steps=12)
    assert entry.status == "finished" and not logs.runs.writers  # the writer closed with the run
    (log_dir,) = folder.iterdir()
    assert log_dir.name.startswith("plain-8-he-sgd") and len(tb.event_files(log_dir)) == 1
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    got = acc.Scalars("train/loss")
    assert [e.step for e in got] == list(range(1, 13))
    assert [e.value for e in got] == entry.store.scalar("loss")[:12].astype(np.float32).tolist()
    names = entry.store.started.layers.names
    grad = acc.Scalars(tb.layer_tag(tb.layer_labels(names)[0], "grad_norm"))
    assert [e.value for e in grad] == entry.store.layer("grad_norm")[:12, 0].tolist()
    assert [e.step for e in acc.Scalars("eval/test_error")] == [10, 12]


def test_a_failing_write_is_one_message_and_the_run_trains_on(qtbot, window, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    logs = window.tensorboard_logs
    logs.set_folder(blocker / "tb")  # under a file: nothing can be made there
    assert logs.set_enabled(True)
    entry = _train(qtbot, window, steps=3)
    assert entry.status == "finished" and entry.store.steps_done == 3
    shown = [text for _level, text in window.message_bar.history]
    assert len(shown) == 1 and shown[0].startswith(f"TensorBoard logs of {entry.name} stopped: {blocker / 'tb'}")
    assert shown[0].endswith("; the run trains on") and not logs.runs.writers


def test_without_the_package_or_a_folder_the_box_stays_unchecked(qtbot, window, monkeypatch):
    logs = window.tensorboard_logs
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", lambda *a: "")
    logs.checkbox.click()  # the folder dialog cancelled
    assert not logs.enabled and not logs.checkbox.isChecked() and logs.folder is None
    logs.set_folder("/tmp")
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    logs.action.trigger()  # the Runs menu entry
    assert not logs.enabled and not logs.action.isChecked()
    assert window.message_bar.history == [("error", tb.MISSING)]
