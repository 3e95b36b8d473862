"""The window as a user drives it (offscreen): train, compare, stop, pause, close, export, sessions."""

from __future__ import annotations

import csv
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

from resnet_viz.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from resnet_viz.export.run_folder import read_run_folder
from resnet_viz.gui.main_window import MainWindow
from resnet_viz.train.engine import Engine

WAIT_MS = 120_000


def small_setup(steps: int = 30, **model) -> RunConfig:
    """What the tests type into the setup panel: a narrow net on 1,000 embedded images."""
    model = {"arch": "plain", "depth": 20, "width": 4, **model}
    return RunConfig(
        model=ModelConfig(**model),
        optim=OptimConfig(name="sgd", lr=0.05, momentum=0.9),
        data=DataConfig(subset=1000),
        train=TrainConfig(batch_size=32, steps=steps, eval_every=10, eval_train_samples=200),
    )


def wait_ended(qtbot, win: MainWindow, timeout: int = WAIT_MS) -> None:
    qtbot.waitUntil(lambda: not win.manager.busy and not win.manager.queued, timeout=timeout)
    win.manager.drain()


def colour_items(panel) -> dict[str, int]:
    """Number of data points drawn per pen/symbol colour (hex) in a panel's plots, visible items only."""
    counts: dict[str, int] = {}
    for item in panel.graphics.scene().items():
        if not item.isVisible():
            continue
        if isinstance(item, pg.PlotDataItem):
            x, y = item.getData()
            if x is None or not len(x) or not np.isfinite(np.asarray(y, dtype=float)).any():
                continue
            pen = item.opts.get("pen")
            colours = []
            if pen is not None:
                colours.append(pg.mkPen(pen).color().name())
            if item.opts.get("symbolBrush") is not None:
                colours.append(pg.mkBrush(item.opts["symbolBrush"]).color().name())
            for c in colours:
                counts[c.lower()] = counts.get(c.lower(), 0) + len(x)
    return counts


def test_pick_plain20_and_plain56_start_both_and_every_plot_holds_both(qtbot, window):
    panel = window.config_panel
    panel.set_config(small_setup(steps=30))
    panel.depth_buttons[20].click()
    window.add_button.click()
    panel.depth_buttons[56].click()
    window.add_button.click()
    names = [e.name for e in window.manager.entries]
    assert [n.split(" · ")[0] for n in names] == ["plain-20", "plain-56"]
    assert all(e.status == "queued" for e in window.manager.entries)
    window.start_button.click()
    wait_ended(qtbot, window)
    a, b = window.manager.entries
    assert a.status == b.status == "finished"
    assert a.store.steps_done == b.store.steps_done == 30
    window.refresh_plots()
    for key in ("error", "loss", "grad_norm_depth", "act_std_depth", "out_grad_depth"):
        window.docks[key].raise_()  # a plot in a back tab is drawn when it comes to the front
        qtbot.wait(20)
        counts = colour_items(window.panel[key])
        for e in (a, b):
            assert counts.get(e.color.lower(), 0) > 0, (key, e.name, counts)
    window.docks["update_ratio_depth"].raise_()
    qtbot.wait(50)
    counts = colour_items(window.panel["update_ratio_depth"])
    assert all(counts.get(e.color.lower(), 0) > 0 for e in (a, b)), counts
    # heatmap: the selected run, layers x steps
    window.run_list.select(b.run_id)
    image = window.panel["grad_heatmap"].image.image
    assert image is not None and 56 in image.shape
    # run list rows: name, status, steps
    rows = [window.run_list.topLevelItem(i) for i in range(2)]
    assert [r.text(1) for r in rows] == ["finished", "finished"]
    assert rows[1].text(2).startswith("30")


def test_stop_acts_within_a_step_and_keeps_everything(qtbot, window):
    window.config_panel.set_config(small_setup(steps=100_000))
    window.start_button.click()
    entry = window.manager.entries[0]
    qtbot.waitUntil(lambda: entry.store.steps_done >= 5, timeout=WAIT_MS)
    window.stop_button.click()
    wait_ended(qtbot, window, timeout=20_000)
    assert entry.status == "stopped"
    assert 5 <= entry.store.steps_done < 100_000
    assert entry.store.finished.steps == entry.store.steps_done
    assert entry.store.layer("grad_norm").shape[0] == entry.store.steps_done
    assert entry.store.evals[-1].step == entry.store.steps_done  # the final evaluation after a stop


def test_pause_and_resume(qtbot, window):
    window.config_panel.set_config(small_setup(steps=100_000))
    window.start_button.click()
    entry = window.manager.entries[0]
    qtbot.waitUntil(lambda: entry.store.steps_done >= 3, timeout=WAIT_MS)
    window.pause_button.click()
    assert window.pause_button.text().endswith("Resume")
    qtbot.waitUntil(lambda: entry.status == "paused", timeout=5000)
    qtbot.wait(400)  # the step under way and its records land
    paused_at = entry.store.steps_done
    qtbot.wait(600)
    assert entry.store.steps_done == paused_at
    window.pause_button.click()
    qtbot.waitUntil(lambda: entry.store.steps_done > paused_at + 2, timeout=20_000)
    assert entry.status == "running"
    window.stop_button.click()
    wait_ended(qtbot, window, timeout=20_000)


def test_close_while_training_stops_and_joins_the_worker(qtbot, settings):
    win = MainWindow(settings)
    win.show()
    win.config_panel.set_config(small_setup(steps=100_000))
    win.start_button.click()
    entry = win.manager.entries[0]
    qtbot.waitUntil(lambda: entry.store.steps_done >= 2, timeout=WAIT_MS)
    threads = [win.manager.scheduler.handle(e).thread for e in win.manager.running]  # the thread backend
    assert threads and all(t.is_alive() for t in threads)
    t0 = time.monotonic()
    win.close()
    assert time.monotonic() - t0 < 10
    assert not any(t.is_alive() for t in threads)
    assert not [t for t in threading.enumerate() if t.name.startswith("resnet-viz run")]
    assert entry.store.finished is not None and entry.store.finished.status == "stopped"
    # the last setup and layout were saved
    assert settings.value("config/last") and settings.value("window/state") is not None


def test_interleaved_runs_both_progress_before_either_ends(qtbot, window):
    window.mode_box.setCurrentIndex(window.mode_box.findData("interleaved"))
    window.manager.slice_s = 0.2
    for depth in (8, 14):
        window.config_panel.set_config(small_setup(steps=100_000, depth=depth))
        window.add_button.click()
    window.start_button.click()
    a, b = window.manager.entries
    qtbot.waitUntil(lambda: a.store.steps_done > 5 and b.store.steps_done > 5, timeout=WAIT_MS)
    assert a.status == b.status == "running"
    window.stop_button.click()
    wait_ended(qtbot, window, timeout=20_000)
    assert a.status == b.status == "stopped"


def test_a_diverging_run_is_marked_and_keeps_its_curves(qtbot, window):
    cfg = small_setup(steps=200, depth=8, batch_norm=False)
    cfg.optim = OptimConfig(name="sgd", lr=1e4)
    window.config_panel.set_config(cfg)
    window.start_button.click()
    wait_ended(qtbot, window)
    entry = window.manager.entries[0]
    assert entry.status.startswith("diverged at step"), entry.status
    row = window.run_list.topLevelItem(0)
    assert row.text(1).startswith("diverged")
    assert row.foreground(1).color().name() == "#c62828"
    assert "diverged" in window.message_bar.text
    assert entry.store.steps_done >= 1
    window.docks["loss"].raise_()  # the loss plot sits in a back tab of the default layout
    qtbot.wait(20)
    assert colour_items(window.panel["loss"]).get(entry.color.lower(), 0) > 0


def test_an_invalid_setup_is_refused_with_a_message_in_the_window(qtbot, window):
    window.config_panel.lr.setText("abc")
    window.start_button.click()
    assert window.manager.entries == []
    assert "optim.lr" in window.message_bar.text


def test_an_exception_in_the_worker_becomes_a_failed_run_and_a_message(qtbot, window, monkeypatch):
    def broken_prepare(self):
        raise RuntimeError("simulated failure while building")

    monkeypatch.setattr(Engine, "prepare", broken_prepare)
    window.config_panel.set_config(small_setup(steps=10))
    window.start_button.click()
    wait_ended(qtbot, window)
    entry = window.manager.entries[0]
    assert entry.status == "failed"
    assert "simulated failure" in window.message_bar.text


def test_export_all_writes_valid_images_data_and_run_folders(qtbot, window, tmp_path):
    for depth in (8, 14):
        config = small_setup(steps=20, depth=depth)
        window.config_panel.set_config(replace(config, train=replace(config.train, histogram_every=10)))
        window.add_button.click()
    window.start_button.click()
    wait_ended(qtbot, window)
    out = tmp_path / "export"
    written = window.export_all(out, png_width=1200)
    figures = out / "figures"
    for panel in window.panels:
        png = QtGui.QImage(str(figures / f"{panel.key}.png"))
        assert not png.isNull() and png.width() == 1200, panel.key
        assert (figures / f"{panel.key}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (figures / f"{panel.key}.pdf").read_bytes()[:5] == b"%PDF-"
        root = ET.parse(figures / f"{panel.key}.svg").getroot()
        assert root.tag.endswith("svg")
        with open(figures / f"{panel.key}.csv", newline="") as f:
            rows = list(csv.reader(f))
        assert (len(rows) > 2 or panel.key == "sharpness") and len(rows[0]) >= 2, panel.key  # no sharpness here
    # the error plot's CSV holds both runs' test errors
    with open(figures / "error.csv") as f:
        header = f.readline()
    assert all(e.name.split(" · ")[0] in header for e in window.manager.entries), header
    assert QtGui.QImage(str(out / "window.png")).width() >= 1280
    run_dirs = sorted((out / "runs").iterdir())
    assert len(run_dirs) == 2
    for run_dir, entry in zip(run_dirs, window.manager.entries):
        folder = read_run_folder(run_dir)
        assert folder.run["label"] == entry.store.started.label
        assert np.array_equal(folder.metrics["step"], entry.store.scalar("step"))
        assert np.array_equal(folder.layers["grad_norm"], entry.store.layer("grad_norm"))
        assert folder.summary["status"] == "finished"
    assert all(p.exists() for p in written)


def test_save_and_reopen_a_session_shows_the_same_runs(qtbot, window, settings, tmp_path):
    window.config_panel.set_config(small_setup(steps=20, depth=8))
    window.add_button.click()
    window.config_panel.set_config(small_setup(steps=20, depth=8, arch="resnet"))
    window.add_button.click()
    window.start_button.click()
    wait_ended(qtbot, window)
    window.manager.entries[1].visible = False
    path = window.save_session(tmp_path / "two-runs")
    assert path.suffix == ".rvsession"

    other = MainWindow(settings, restore=False)
    qtbot.addWidget(other)
    other.show()
    other.open_session(path)
    before, after = window.manager.entries, other.manager.entries
    assert [e.name for e in after] == [e.name for e in before]
    assert [e.color for e in after] == [e.color for e in before]
    assert [e.visible for e in after] == [True, False]
    assert [e.status for e in after] == ["finished", "finished"]
    for x, y in zip(before, after):
        np.testing.assert_allclose(y.store.scalar("loss"), x.store.scalar("loss"), rtol=1e-8)
        assert np.array_equal(y.store.layer("grad_norm"), x.store.layer("grad_norm"))
        assert [ev.step for ev in y.store.evals] == [ev.step for ev in x.store.evals]
    other.refresh_plots()
    counts = colour_items(other.panel["error"])
    assert counts.get(after[0].color.lower(), 0) > 0
    assert counts.get(after[1].color.lower(), 0) == 0  # hidden, as saved


def test_a_bad_session_file_is_a_message_not_a_crash(qtbot, window, tmp_path, monkeypatch):
    bad = tmp_path / "bad.rvsession"
    bad.write_bytes(b"not a session")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    window.open_session_dialog()
    assert "bad.rvsession" in window.message_bar.text


def test_last_setup_and_layout_persist_across_launches(qtbot, settings):
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.show()
    first.config_panel.set_config(small_setup(steps=77, depth=56, arch="resnet"))
    first.mode_box.setCurrentIndex(first.mode_box.findData("interleaved"))
    first.docks["loss"].hide()
    first.close()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    second.show()
    cfg = second.config_panel.config()
    assert (cfg.model.arch, cfg.model.depth, cfg.train.steps) == ("resnet", 56, 77)
    assert second.mode_box.currentData() == "interleaved"
    assert not second.docks["loss"].isVisible()


def test_records_are_coalesced_no_signal_per_step(qtbot, window):
    cfg = small_setup(steps=400, depth=8)
    cfg.model = ModelConfig(arch="mlp", depth=3, width=16)
    window.config_panel.set_config(cfg)
    emissions = []
    window.manager.data_changed.connect(lambda: emissions.append(time.monotonic()))
    t0 = time.monotonic()
    window.start_button.click()
    wait_ended(qtbot, window)
    elapsed = time.monotonic() - t0
    assert window.manager.entries[0].store.steps_done == 400
    assert len(emissions) < 400 / 4  # records arrive in chunks, drained at display rate
    assert len(emissions) <= 31 * elapsed + 5


def test_a_started_run_shows_preparing_at_once_not_queued(qtbot, window):
    window.config_panel.set_config(small_setup(steps=10, depth=8))
    window.start_button.click()
    assert window.run_list.topLevelItem(0).text(1) in ("preparing", "running")
    wait_ended(qtbot, window)


def test_one_table_of_actions_builds_the_menus_and_the_run_buttons(qtbot, window):
    from resnet_viz.gui.actions import ACTIONS, MENUS, ActionSpec

    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == list(MENUS)
    for spec in ACTIONS:
        if not isinstance(spec, ActionSpec):
            continue
        entries = {a.text(): a for a in menus[spec.menu].actions()}
        assert spec.text in entries, f"{spec.text} missing from {spec.menu}"
        if spec.button is None:  # a menu-only action carries its shortcut; a button's is on the button
            expected = QtGui.QKeySequence(spec.shortcut) if spec.shortcut is not None else QtGui.QKeySequence()
            assert entries[spec.text].shortcut() == expected, spec.text
        else:
            assert entries[spec.text].shortcut().isEmpty(), spec.text
            button = getattr(window, f"{spec.key}_button")
            assert button.text() == spec.button and button.toolTip().startswith(spec.tip)
    assert window.start_button.shortcut().toString() == "Ctrl+Return" and window.start_button.isDefault()
    assert not window.add_button.isDefault()
    view = {a.text(): a for a in menus["&View"].actions()}
    assert [a.text() for a in menus["&View"].actions()][:3] == ["Run setup", "Runs", "Experiment"]
    view["Optimiser race"].trigger()
    assert window.tabs.currentWidget() is window.race_tab
    view["Networks"].trigger()
    assert window.tabs.currentIndex() == 0
    runs = {a.text(): a for a in menus["&Runs"].actions()}
    window.config_panel.set_config(small_setup())
    runs["Add to comparison"].trigger()  # the menu entry and the button share one slot
    assert len(window.manager.entries) == 1 and window.manager.entries[0].status == "queued"
    window.add_button.click()
    assert len(window.manager.entries) == 2
