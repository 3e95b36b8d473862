"""Guided experiments in the window (offscreen): the gallery, loading a preset, its plots, its checks, its race."""

from __future__ import annotations

import html

import pytest
from PySide6 import QtCore, QtWidgets

from resnet_viz.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from resnet_viz.gui.main_window import MainWindow
from resnet_viz.gui.presets_dialog import PresetGallery, cuda_available, fmt_minutes, size_summary
from resnet_viz.gui.runs import PALETTE
from resnet_viz.presets import load_presets
from resnet_viz.presets.runner import adapt_runs

WAIT_MS = 120_000


@pytest.fixture(scope="module")
def presets():
    return load_presets()


@pytest.fixture
def gallery(qtbot, presets):
    dialog = PresetGallery(presets, cuda=False)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_gallery_lists_every_preset_in_order(gallery, presets):
    assert list(presets) == [
        "degradation",
        "residual",
        "init",
        "vanishing",
        "shortcuts",
        "after-add",
        "batchnorm",
        "optimisers",
        "landscape",
    ]
    titles = [gallery.list.item(i).text() for i in range(gallery.list.count())]
    assert titles == [p.title for p in presets.values()]
    assert gallery.preset() is presets["degradation"]
    assert gallery.run_button.isDefault()


def test_choosing_a_preset_shows_its_explanation_and_size_note(gallery, presets):
    gallery.list.setCurrentRow(list(presets).index("residual"))
    p = presets["residual"]
    text = gallery.text.toPlainText()
    for part in (p.title, p.look_for[0], p.published[0].value, "plain-56", p.runs("quick")[1].config.label()):
        assert part in text
    assert p.formula[:30] in text
    quick, paper = (fmt_minutes(p.sizes[s].minutes) for s in ("quick", "paper"))
    assert "Quick size" in gallery.note.text() and f"{quick} on a 2-core cpu" in gallery.note.text().lower()
    assert html.escape(p.sizes["quick"].note) in gallery.note.text()  # it says what the quick size reduces
    assert gallery.warning.isHidden()

    gallery.size_buttons["paper"].click()
    assert gallery.selected_size() == "paper"
    assert "Paper size" in gallery.note.text() and f"{paper} on a gpu" in gallery.note.text().lower()
    assert gallery.warning.isVisible() and "GPU" in gallery.warning.text() and "CIFAR-10" in gallery.warning.text()
    gallery.size_buttons["quick"].click()
    assert gallery.warning.isHidden()


def test_run_emits_the_chosen_preset_and_size(qtbot, gallery, presets):
    gallery.select("batchnorm")
    gallery.set_size("paper")
    with qtbot.waitSignal(gallery.run_requested) as blocker:
        gallery.run_button.click()
    assert blocker.args == [presets["batchnorm"], "paper"]
    assert gallery.chosen == (presets["batchnorm"], "paper")
    assert gallery.result() == QtWidgets.QDialog.DialogCode.Accepted


def _front_plots(win: MainWindow) -> list[str]:
    """The plots on screen (Qt moves docks in background tabs out of view rather than hiding them)."""
    QtWidgets.QApplication.processEvents()
    return [k for k, d in win.docks.items() if d.isVisible() and not d.visibleRegion().isEmpty()]


def test_load_preset_creates_its_runs_mode_plots_and_experiment_dock(window, presets):
    p = presets["residual"]
    window.mode_box.setCurrentIndex(window.mode_box.findData("sequential"))
    assert window.load_preset(p, "quick", start=False)
    entries = window.manager.entries
    assert [e.name for e in entries] == [r.name for r in p.runs("quick")]
    assert [e.config for e in entries] == [r.config for r in p.runs("quick")]
    assert [e.color for e in entries] == list(PALETTE[: len(entries)])
    assert all(e.status == "queued" for e in entries)
    assert window.manager.mode == p.mode == window.mode_box.currentData()
    shown = window.config_panel.config()  # the Setup panel shows the first run (plain-20), not the last manual one
    assert (shown.model, shown.optim, shown.train.steps) == (entries[0].config.model, entries[0].config.optim, 600)

    ex = window.explorer
    docks = window.docks
    first = [docks[k] for k in p.plots[:4]]
    assert sorted(_front_plots(window)) == sorted(p.plots[:4])  # the fourth in front of its tabs
    for dock in first[:3]:
        assert ex.tabifiedDockWidgets(dock) == []
    behind = set(ex.tabifiedDockWidgets(first[3]))
    assert behind == {d for k, d in docks.items() if k not in p.plots[:4]} | {window.sweeps.dock}
    # the 2×2 grid: first top-left, second top-right, third bottom-left, fourth bottom-right
    g = [d.geometry() for d in first]
    assert g[0].left() < g[1].left() and abs(g[0].top() - g[1].top()) < 5
    assert g[2].top() > g[0].bottom() - 5 and abs(g[0].left() - g[2].left()) < 5
    assert g[3].left() > g[2].left() and g[3].top() > g[1].bottom() - 5

    assert window.experiment_dock.isVisible() and not window.experiment_dock.visibleRegion().isEmpty()
    panel = window.experiment_panel
    assert p.title in panel.title.text()
    assert fmt_minutes(p.sizes["quick"].minutes) in panel.size_note.text()
    assert "embedded data" in panel.size_note.text()
    assert "What to look for" in panel.body.text()
    assert panel.table.rowCount() == len(p.checks_for("quick"))
    assert panel.verdicts() == ["– waiting"] * len(p.checks_for("quick"))
    assert panel.table.item(0, 0).text() == p.checks[0].claim
    assert not panel.race_button.isVisible()
    assert "Experiment: " + p.title in window.statusBar().currentMessage()
    assert size_summary(p, "quick") in window.statusBar().currentMessage()
    assert "on a 2-core CPU" in size_summary(p, "quick")
    assert window.settings.value("experiments/size") == "quick"
    assert not window.manager.busy


def test_plots_in_background_tabs_are_redrawn_only_when_brought_to_the_front(window, presets, monkeypatch):
    p = presets["residual"]
    window.load_preset(p, "quick", start=False)
    calls = []
    for panel in window.panels:
        monkeypatch.setattr(panel, "refresh", lambda *a, key=panel.key: calls.append(key))
    window.refresh_plots()
    assert sorted(calls) == sorted(p.plots[:4])  # the three in back tabs are skipped
    calls.clear()
    window.docks["act_std_depth"].raise_()  # its tab comes to the front
    QtWidgets.QApplication.processEvents()
    assert "act_std_depth" in calls
    calls.clear()
    window.refresh_plots()
    assert "act_std_depth" in calls and p.plots[3] not in calls  # it took the place of the fourth


def test_loading_another_preset_replaces_the_runs_and_rearranges(window, presets):
    window.load_preset(presets["residual"], start=False)
    p = presets["init"]
    assert window.load_preset(p, "paper", start=False)
    assert [e.name for e in window.manager.entries] == [r.name for r in p.runs("paper")]
    assert [e.config for e in window.manager.entries] == [r.config for r in p.runs("paper")]
    assert sorted(_front_plots(window)) == sorted(p.plots[:4])
    assert window.experiment == (p, "paper")
    if not cuda_available():
        assert window.message_bar.level == "warning" and "needs a GPU" in window.message_bar.text


def test_declining_the_question_leaves_training_runs_alone(qtbot, window, presets, monkeypatch):
    config = RunConfig(
        model=ModelConfig(arch="plain", depth=20, width=4),
        optim=OptimConfig(name="sgd", lr=0.05, momentum=0.9),
        data=DataConfig(subset=1000),
        train=TrainConfig(batch_size=32, steps=100_000, eval_every=1000, eval_train_samples=200),
    )
    entry = window.manager.add(config, name="mine")
    window.manager.start()
    qtbot.waitUntil(lambda: window.manager.busy, timeout=5000)
    asked = []

    def no(*args, **kwargs):
        asked.append(args)
        return QtWidgets.QMessageBox.StandardButton.No

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", no)
    assert window.load_preset(presets["degradation"], start=False) is False
    assert len(asked) == 1
    assert window.manager.entries == [entry] and window.manager.busy
    assert window.experiment is None and window.experiment_dock.isHidden()
    window.manager.shutdown()


def test_optimisers_race_button_sets_up_the_race_tab(qtbot, window, presets):
    p = presets["optimisers"]
    window.load_preset(p, start=False)
    panel = window.experiment_panel
    assert panel.race_button.isVisible()
    qtbot.mouseClick(panel.race_button, QtCore.Qt.MouseButton.LeftButton)
    race = window.race_tab
    assert window.tabs.currentWidget() is race
    assert race.controls.surface_box.currentData() == "rosenbrock"
    ticked = [k for k, b in race.table.checks.items() if b.isChecked()]
    assert ticked == ["sgd", "momentum", "adagrad", "rmsprop", "adam"]
    assert race.table.fields["adagrad"]["lr"].text() == "0.5"
    assert race.table.fields["adam"]["lr"].text() == "0.05"
    assert race.start() == (-1.5, 2.0)
    assert race.controls.max_steps.value() == p.race.steps
    assert race.race is not None and len(race.race.trajectories) == 5


def test_menu_lists_the_experiments_and_opens_the_gallery(qtbot, window, presets):
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus.index("&Experiments") == menus.index("&Runs") + 1 == menus.index("&View") - 1
    menu = window.menuBar().actions()[menus.index("&Experiments")].menu()
    actions = [a for a in menu.actions() if not a.isSeparator()]
    assert actions[0].shortcut().toString() == "Ctrl+E"
    assert [a.text().replace("&&", "&") for a in actions[1:]] == [p.title for p in presets.values()]
    actions[1 + list(presets).index("vanishing")].trigger()
    gallery = window.gallery
    assert gallery is not None and gallery.isVisible() and gallery.preset().name == "vanishing"
    gallery.run_button.click()  # loads and starts the preset: stop it at once
    assert [e.name for e in window.manager.entries] == [r.name for r in presets["vanishing"].runs("quick")]
    window.manager.shutdown()


def test_a_shortened_preset_trains_and_its_checks_get_verdicts(qtbot, window, presets):
    p = presets["degradation"]
    runs = adapt_runs(p.runs("quick"), steps=3)
    assert window.load_preset(p, "quick", start=True, runs=runs)
    assert window.manager.busy or window.manager.queued
    qtbot.waitUntil(lambda: not window.manager.busy and not window.manager.queued, timeout=WAIT_MS)
    window.manager.drain()
    assert all(e.status == "finished" for e in window.manager.entries)
    verdicts = window.experiment_panel.verdicts()
    assert verdicts and all(v in ("✓ held", "✗ did not hold") for v in verdicts)
    assert "n/a" not in window.experiment_panel.table.item(0, 1).text()


def test_a_presets_landscape_button_computes_each_trained_run_and_compares_them(qtbot, window):
    from resnet_viz.presets import preset_from_dict

    tiny = preset_from_dict(
        {
            "name": "tiny-landscape",
            "title": "Two tiny MLPs and their landscapes",
            "base": {
                "model": {"arch": "mlp", "width": 16, "depth": 3},
                "train": {"steps": 3, "eval_every": 3, "eval_train_samples": 100, "batch_size": 16},
                "data": {"subset": 300},
            },
            "runs": [{"name": "relu", "config": {}}, {"name": "tanh", "config": {"model": {"activation": "tanh"}}}],
            "sizes": {"quick": {"note": "quick: tiny", "minutes": 1}},
            "landscape": {"quick": {"grid": 3, "samples": 32}},
        }
    )
    assert window.load_preset(tiny, "quick", start=False, confirm=False)
    panel, tab = window.experiment_panel, window.landscape_tab
    assert panel.landscape_button.isVisible() and not panel.race_button.isVisible()
    panel.landscape_button.click()  # nothing trained yet: one line, nothing computed
    assert "wait until relu, tanh finished" in window.message_bar.text and not tab.runner.running
    window.manager.start()
    qtbot.waitUntil(lambda: not window.manager.busy and not window.manager.queued, timeout=WAIT_MS)
    window.manager.drain()
    panel.landscape_button.click()
    assert window.tabs.currentWidget() is tab and tab.runner.running
    qtbot.waitUntil(lambda: len(tab.results) == 2 and not tab.runner.running, timeout=WAIT_MS)
    assert [r.loss.shape for r in tab.results] == [(3, 3), (3, 3)]
    assert [r.label for r in tab.figure.results] == [r.label for r in tab.results]  # side by side
    assert tab.figure.colorbar is not None
