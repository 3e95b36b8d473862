"""The Loss landscape tab in the window (issue 16): sources, results, compare, messages, 3D, race hand-over."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from test_gui_landscape import hand_result

from resnet_viz.surfaces.functions import SurfaceConfig, build_surface


@pytest.fixture
def tab(window):
    """The landscape tab, in front (its message bar is visible only then)."""
    window.tabs.setCurrentWidget(window.landscape_tab)
    return window.landscape_tab


def test_the_tab_sits_beside_the_race(window):
    tabs = window.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Networks", "Optimiser race", "Loss landscape"]
    assert tabs.widget(2) is window.landscape_tab


def test_finished_runs_are_offered_as_networks(window, recorded_runs):
    box = window.landscape_tab.controls.source_box
    assert box.currentData() is None  # nothing to slice yet
    for entry in recorded_runs:
        window.manager.adopt(copy.copy(entry))
    names = [box.itemText(i) for i in range(box.count())]
    assert names == ["run: plain-8", "run: resnet-14"]  # the diverged run has no final weights
    window.landscape_tab.add_source("/somewhere/checkpoint.pt")
    assert box.currentText() == "file: checkpoint.pt"
    assert box.currentData() == "path:/somewhere/checkpoint.pt"


def test_compute_without_a_network_says_so_in_one_line(tab):
    assert tab.controls.device.itemText(0) == "cpu"
    tab.compute()
    assert not tab.runner.running
    assert tab.message_bar.isVisible()
    assert "Choose the network" in tab.message_bar.text and "\n" not in tab.message_bar.text


def test_a_bad_result_file_shows_one_error_line(tab, tmp_path):
    bad = tmp_path / "landscape.npz"
    bad.write_bytes(b"this is not an npz archive\n" * 10)
    assert tab.files.open_result(bad) is False
    text = tab.message_bar.text
    assert text.startswith("Could not open the landscape: ") and str(tmp_path) in text
    assert "\n" not in text and "Traceback" not in text
    assert tab.results == []


def test_a_result_saved_and_opened_again_is_the_same(tab, tmp_path):
    tab.add_result(hand_result("resnet-8"))
    written = tab.files.save_result(tmp_path / "saved")
    assert sorted(p.name for p in written) == ["landscape.json", "landscape.npz"]
    assert tab.files.open_result(tmp_path / "saved" / "landscape.npz") is True
    again = tab.results[-1]
    assert tab.result is again and again.label == "resnet-8"
    np.testing.assert_array_equal(again.loss, tab.results[0].loss)
    np.testing.assert_array_equal(again.path_steps, tab.results[0].path_steps)


def test_results_are_shown_and_compared_on_one_scale(tab):
    tab.add_result(hand_result("plain-8", scale=20.0))
    tab.add_result(hand_result("resnet-8"))
    assert tab.result is not None and tab.result.label == "resnet-8"
    assert len(tab.figure.plots2d) == 1
    tab.controls.compare_box.setCurrentIndex(tab.controls.compare_box.findData(0))
    assert [p.result.label for p in tab.figure.plots2d] == ["resnet-8", "plain-8"]
    levels = {tuple(p.image.levels) for p in tab.figure.plots2d}
    assert len(levels) == 1 and levels.pop()[1] > np.log10(20.0)  # both on the plain net's (higher) range
    tab.add_result(hand_result("resnet-8", kind="interpolate"))
    tab.controls.compare_box.setCurrentIndex(tab.controls.compare_box.findData(0))
    assert tab.message_bar.level == "warning"  # a line beside a plane: the line alone
    assert len(tab.figure.plots1d) == 1 and tab.figure.plots2d == []
    assert not tab.controls.race_button.isEnabled()  # only a plane can be raced on


def test_3d_view_is_offered_only_with_opengl(tab):
    tab.add_result(hand_result())
    button = tab.controls.view3d_button
    assert not button.isEnabled()  # offscreen: no OpenGL context
    assert "OpenGL" in button.toolTip()
    tab.show_3d()  # called anyway: one line, no exception
    assert "OpenGL" in tab.message_bar.text


def test_race_request_moves_the_race_onto_the_surface(window):
    surface = build_surface(SurfaceConfig(name="himmelblau"))
    window.landscape_tab.race_requested.emit(surface)
    assert window.tabs.currentWidget() is window.race_tab
    assert window.race_tab.surface is surface
    assert window.race_tab.race is not None and window.race_tab.race.surface is surface
    assert window.race_tab.start() == surface.start


def test_race_optimisers_on_the_shown_landscape(window, tab):
    result = hand_result("resnet-8")
    tab.add_result(result)
    assert tab.controls.race_button.isEnabled()
    tab.controls.race_button.click()
    race_tab = window.race_tab
    assert window.tabs.currentWidget() is race_tab
    assert race_tab.surface is not None and race_tab.surface.name == "landscape"
    assert race_tab.start() == (float(result.path_alpha[0]), float(result.path_beta[0]))  # the path's first snapshot
    race_tab.step(5)
    assert race_tab.race is not None and race_tab.race.steps == 5


def test_the_landscape_stays_in_the_race_surface_list(window, tab):
    tab.add_result(hand_result("resnet-8"))
    tab.race_here()
    race_tab, box = window.race_tab, window.race_tab.controls.surface_box
    assert box.currentText() == "Loss landscape of resnet-8"
    landscape = race_tab.surface
    box.setCurrentIndex(box.findData("rosenbrock"))
    assert race_tab.surface is not None and race_tab.surface.name == "rosenbrock"
    box.setCurrentIndex(box.findData("given"))
    assert race_tab.surface is landscape and race_tab.race is not None and race_tab.race.surface is landscape
