"""The "Optimiser race" tab: playback, start by click, formulas, divergence, arrows, plots, export, settings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtTest import QTest

from resnet_viz.export.trajectories import read_trajectories_csv
from resnet_viz.gui.race.race_tab import RaceTab
from resnet_viz.surfaces.functions import SurfaceConfig, build_surface
from resnet_viz.surfaces.race import OPTIMIZERS, OptimizerRace, OptimizerSpec


@pytest.fixture
def tab(qtbot, settings):
    t = RaceTab(settings)
    qtbot.addWidget(t)
    t.resize(1400, 900)
    t.show()
    qtbot.waitExposed(t)
    return t


def choose(tab: RaceTab, surface: str) -> None:
    tab.controls.surface_box.setCurrentIndex(tab.controls.surface_box.findData(surface))


def test_starts_on_rosenbrock_with_seven_racers_at_the_start(tab):
    assert tab.surface.name == "rosenbrock"
    assert [t.spec.key for t in tab.race.trajectories] == list(OPTIMIZERS)
    assert tab.race.steps == 0
    assert tab.start() == (-1.5, 2.0)
    for racer in tab.figure._racers:
        x, y = racer.path.getData()
        assert list(x) == [-1.5] and list(y) == [2.0]


def test_steps_equal_the_core_race_with_the_same_settings(tab, qtbot):
    qtbot.mouseClick(tab.controls.step_button, QtCore.Qt.MouseButton.LeftButton)
    tab.step(24)
    assert tab.race.steps == 25
    s = build_surface(SurfaceConfig("rosenbrock"))
    ref = OptimizerRace(s, s.start, [OptimizerSpec(k, dict(s.suggested[k])) for k in OPTIMIZERS]).run(25)
    for racer, got, want in zip(tab.figure._racers, tab.race.trajectories, ref.trajectories):
        np.testing.assert_array_equal(got.positions.values, want.positions.values)
        x, y = racer.path.getData()
        np.testing.assert_array_equal(np.column_stack([x, y]), want.positions.values)
        steps, loss = racer.loss.xData, racer.loss.yData  # data as given (getData is log10 on a log axis)
        np.testing.assert_array_equal(steps, np.arange(26))
        np.testing.assert_allclose(loss, np.maximum(want.losses.values, 1e-16))


def test_play_pause_reset_and_stop_at_max_steps(tab, qtbot):
    tab.controls.speed.setValue(tab.controls.speed.maximum())  # 1000 steps/s
    tab.controls.max_steps.setValue(40)
    qtbot.mouseClick(tab.controls.play_button, QtCore.Qt.MouseButton.LeftButton)
    assert tab.playing and "Pause" in tab.controls.play_button.text()
    qtbot.waitUntil(lambda: not tab.playing, timeout=10_000)
    assert tab.race.steps == 40
    assert "Play" in tab.controls.play_button.text()
    qtbot.mouseClick(tab.controls.reset_button, QtCore.Qt.MouseButton.LeftButton)
    assert tab.race.steps == 0
    tab.controls.max_steps.setValue(100_000)
    tab.controls.speed.setValue(0)  # 1 step/s
    tab.play()
    qtbot.wait(300)
    tab.pause()
    done = tab.race.steps
    assert done <= 2
    qtbot.wait(300)
    assert tab.race.steps == done  # paused: no more steps


def test_click_on_the_surface_sets_the_start(tab, qtbot):
    vb = tab.figure.surface_plot.vb
    scene_pos = vb.mapViewToScene(QtCore.QPointF(1.0, 0.5))
    widget_pos = tab.figure.graphics.mapFromScene(scene_pos)
    QTest.mouseClick(
        tab.figure.graphics.viewport(),
        QtCore.Qt.MouseButton.LeftButton,
        QtCore.Qt.KeyboardModifier.NoModifier,
        widget_pos,
    )
    qtbot.waitUntil(lambda: abs(tab.start()[0] - 1.0) < 0.05, timeout=3000)
    x, y = tab.start()
    assert abs(y - 0.5) < 0.05
    assert tab.race.start == (x, y) and tab.race.steps == 0
    np.testing.assert_allclose(tab.figure.start_mark.getData()[0], [x])


def test_bad_formula_is_shown_at_the_field_and_a_good_one_races(tab, qtbot):
    choose(tab, "formula")
    assert tab.controls.formula.isVisible()
    previous = tab.surface
    tab.controls.formula.setText("x^2 + 3*z")
    tab.controls.formula.editingFinished.emit()
    assert tab.controls.formula_error.isVisible()
    assert "unknown name 'z'" in tab.controls.formula_error.text()
    assert tab.surface is previous  # the last good surface stays drawn
    tab.controls.formula.setText("x^2 + 3*y^2")
    tab.controls.formula.editingFinished.emit()
    assert not tab.controls.formula_error.isVisible()
    assert tab.surface.name == "formula" and tab.surface.text == "x^2 + 3*y^2"
    tab.step(5)
    t = tab.race.trajectories[0]
    x, y = t.positions.values[-1]
    assert t.losses.values[-1] == pytest.approx(x * x + 3 * y * y)


def test_divergence_is_marked_and_the_others_keep_racing(tab, qtbot):
    tab.table.fields["sgd"]["lr"].setText("1000")
    tab.table.fields["sgd"]["lr"].editingFinished.emit()
    assert tab.race.trajectories[0].spec.hyper["lr"] == 1000.0
    tab.step(30)
    sgd = tab.race.trajectories[0]
    assert sgd.diverged_at is not None and sgd.diverged_at <= 30
    assert f"sgd: diverged at step {sgd.diverged_at}" in tab.controls.status.text()
    assert len(tab.figure._racers[0].cross.getData()[0]) == 1  # the ✕ at its last finite point
    assert all(t.steps == 30 for t in tab.race.trajectories[1:])


def test_invalid_hyperparameter_and_no_racer_show_a_message(tab):
    tab.table.fields["adam"]["lr"].setText("-1")
    tab.table.fields["adam"]["lr"].editingFinished.emit()
    assert "optimizers.adam.lr" in tab.message_bar.text
    tab.table.fields["adam"]["lr"].setText("0.05")
    tab.table.fields["adam"]["lr"].editingFinished.emit()
    assert tab.message_bar.text == ""
    for key in OPTIMIZERS:
        tab.table.set_enabled(key, key == "adagrad")
    tab.rebuild_race()
    assert [t.spec.key for t in tab.race.trajectories] == ["adagrad"]
    tab.table.set_enabled("adagrad", False)
    tab.rebuild_race()
    assert "at least one optimiser" in tab.message_bar.text


def test_arrows_show_the_gradient_step_and_velocity(tab):
    choose(tab, "quadratic")
    for box in tab.controls.arrow_boxes.values():
        box.setChecked(True)
    tab.step(3)
    k = 1  # momentum
    traj, racer = tab.race.trajectories[k], tab.figure._racers[k]
    p = traj.positions.values[3]
    xs, ys = racer.arrows["gradient"][0].getData()
    np.testing.assert_allclose([xs[1] - xs[0], ys[1] - ys[0]], -traj.lr * traj.grads.values[3])
    np.testing.assert_allclose([xs[0], ys[0]], p)
    xs, ys = racer.arrows["step"][0].getData()
    np.testing.assert_allclose([xs[1] - xs[0], ys[1] - ys[0]], p - traj.positions.values[2])
    xs, ys = racer.arrows["velocity"][0].getData()
    np.testing.assert_allclose([xs[1] - xs[0], ys[1] - ys[0]], -traj.lr * traj.velocity.values[3])
    sgd_line, _head = tab.figure._racers[0].arrows["velocity"]
    assert len(sgd_line.getData()[0] or []) == 0  # plain SGD has no velocity
    tab.controls.arrow_scale.setCurrentIndex(tab.controls.arrow_scale.findData(10.0))
    xs, ys = racer.arrows["step"][0].getData()
    np.testing.assert_allclose([xs[1] - xs[0], ys[1] - ys[0]], 10 * (p - traj.positions.values[2]))


def test_adaptive_scaling_plot_shows_the_accumulators(tab):
    tab.step(10)
    i = OPTIMIZERS.index("adagrad")
    traj, racer = tab.race.trajectories[i], tab.figure._racers[i]
    sx = racer.acc_x.yData
    assert np.isnan(sx[0])  # Σg² is 0 before the first step: no point on a log axis
    np.testing.assert_allclose(sx[1:], traj.accum.values[1:, 0])
    g = traj.grads.values[:10]
    np.testing.assert_allclose(traj.accum.values[10], (g**2).sum(axis=0))
    sgd = tab.figure._racers[0]
    assert sgd.acc_x.yData is None or len(sgd.acc_x.yData) == 0  # SGD has no accumulator


def test_quadratic_condition_changes_the_bowl_and_the_suggested_rates(tab):
    choose(tab, "quadratic")
    assert tab.controls.condition.isVisible() and not tab.controls.formula.isVisible()
    tab.controls.condition.setValue(100.0)
    assert tab.surface.value(0.0, 1.0) == pytest.approx(50.0)
    assert tab.table.fields["sgd"]["lr"].text() == "0.018"  # 1.8 / κ
    assert tab.controls.log_box.isChecked() is True  # the bowl's ellipses show on a log scale


def test_export_png_svg_csv_gif(tab, tmp_path):
    tab.step(12)
    png = tab.export("png", tmp_path / "race.png")
    image = QtGui.QImage(str(png))
    assert image.width() >= 1000
    assert len({image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 37)}) > 20
    ET.parse(tab.export("svg", tmp_path / "race.svg"))
    assert tab.export("pdf", tmp_path / "race.pdf").read_bytes()[:5] == b"%PDF-"
    data = read_trajectories_csv(tab.export("csv", tmp_path / "race.csv"))
    assert list(data) == [t.label for t in tab.race.trajectories]
    for t in tab.race.trajectories:
        np.testing.assert_array_equal(data[t.label][:, 1:3], t.positions.values)
    seen = []
    gif = tab.export("gif", tmp_path / "race.gif", progress=lambda done, total: seen.append((done, total)) or True)
    with Image.open(gif) as im:
        assert im.n_frames == 13 and im.info.get("loop") == 0
    assert seen[-1] == (13, 13)
    assert tab.figure._racers[0].path.getData()[0].size == 13  # the whole race is shown again afterwards


def test_gif_and_mp4_exports_can_be_cancelled(tab, tmp_path, monkeypatch):
    tab.step(5)
    with pytest.raises(InterruptedError):
        tab.export("gif", tmp_path / "c.gif", progress=lambda done, total: done < 3)
    assert not (tmp_path / "c.gif").exists()
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "c.mp4"), ""))
    monkeypatch.setattr(QtWidgets.QProgressDialog, "wasCanceled", lambda self: True)  # Cancel pressed at once
    tab.export_dialog("mp4")
    assert tab.message_bar.text == "MP4 export cancelled; nothing was written."
    assert not any(p.suffix in (".mp4", ".tmp") for p in tmp_path.iterdir())


def test_export_failure_names_the_path_once_and_keeps_the_old_file(tab, tmp_path, monkeypatch):
    tab.step(3)
    old = tmp_path / "race.csv"
    old.write_text("old")
    monkeypatch.setattr("resnet_viz.gui.race.race_export.write_trajectories_csv", _failing_write)
    with pytest.raises(OSError):
        tab.export("csv", old)
    assert old.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["race.csv"]  # no half file, no temp
    target = tmp_path / "missing" / "race.csv"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    tab.export_dialog("csv")
    text = tab.message_bar.text
    assert text.startswith(f"Could not write {target}: ") and text.count(str(target)) == 1, text


def _failing_write(path, trajectories):
    with open(path, "w") as fh:
        fh.write("optimizer,step")
    raise OSError(28, "No space left on device")


def test_settings_round_trip(tab, settings, qtbot):
    choose(tab, "himmelblau")
    tab.set_start(0.5, -1.25)
    tab.table.set_enabled("rmsprop", False)
    tab.table.fields["adam"]["lr"].setText("0.3")
    tab.table.fields["adam"]["lr"].editingFinished.emit()
    tab.controls.arrow_boxes["step"].setChecked(True)
    tab.controls.view_box.setCurrentIndex(tab.controls.view_box.findData("heatmap"))
    tab.save_settings()
    other = RaceTab(settings)
    qtbot.addWidget(other)
    other.restore_settings()
    assert other.surface.name == "himmelblau"
    assert other.start() == (0.5, -1.25)
    assert other.state() == tab.state()
    assert [t.spec.key for t in other.race.trajectories] == [k for k in OPTIMIZERS if k != "rmsprop"]
    assert other.race.trajectories[-2].spec.hyper["lr"] == 0.3


def test_window_has_the_race_tab_and_pauses_it_when_leaving(qtbot, settings):
    from resnet_viz.gui.main_window import MainWindow

    window = MainWindow(settings, restore=False)
    qtbot.addWidget(window)
    window.show()
    assert window.tabs.tabText(1) == "Optimiser race"
    window.tabs.setCurrentIndex(1)
    window.race_tab.play()
    qtbot.waitUntil(lambda: window.race_tab.race.steps > 0, timeout=5000)
    window.tabs.setCurrentIndex(0)
    assert not window.race_tab.playing
    window.tabs.setCurrentIndex(1)
    window.save_settings()
    state = json.loads(settings.value("race/state"))
    assert state["surface"] == "rosenbrock"
    assert settings.value("window/tab") in (1, "1")
