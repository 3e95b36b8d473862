"""Sweeps in the window: the New sweep dialog builds the core's spec (and shows the core's errors), a
sweep's trials stream into the run list and the Sweep panel shows mean ± std over seeds as numpy
computes them, closing the window mid-sweep leaves a sweep.json that resumes with only the rest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import tiny_run_config

from resnet_viz.config import ConfigError
from resnet_viz.gui import sweep_dialog
from resnet_viz.gui.sweep_dialog import SweepDialog, SweepRequest
from resnet_viz.gui.sweeps import SweepStartError
from resnet_viz.runs.ray_backend import RAY_EXTRA_MESSAGE
from resnet_viz.sweeps.folder import read_state
from resnet_viz.sweeps.spec import SweepSpec, parse_seeds, parse_vary
from resnet_viz.sweeps.summary import summary_csv

TIMEOUT_MS = 120_000


def mlp_spec(depths: str = "2,3", seeds: str = "0-1", steps: int = 40) -> SweepSpec:
    base = tiny_run_config("mlp", 3, steps=steps)
    return SweepSpec(base, (parse_vary(f"model.depth={depths}"),), parse_seeds(seeds), "t").validate()


def wait_ended(qtbot, window, sweep) -> None:
    qtbot.waitUntil(lambda: sweep.state != "training", timeout=TIMEOUT_MS)


@pytest.fixture
def dialog(qtbot, settings):
    d = SweepDialog(tiny_run_config("mlp", 3), settings, cores=8)
    qtbot.addWidget(d)
    return d


def test_the_dialog_builds_the_spec_typed(dialog, tmp_path):
    assert [r.path for r in dialog.rows] == ["model.depth"]
    assert dialog.rows[0].values_edit.text() == "3"  # the base config's value
    dialog.rows[0].values_edit.setText("2, 3")
    lr = dialog.add_axis("optim.lr", "0.1, 0.01")
    dialog.seeds_edit.setText("0-2")
    dialog.folder_edit.setText(str(tmp_path / "s"))
    assert dialog.count.text() == "4 configs × 3 seeds = 12 trials"
    assert dialog.start_button.isEnabled()
    request = dialog.request()
    assert request is not None and request.spec is not None
    assert request.spec.axes == (parse_vary("model.depth=2,3"), parse_vary("optim.lr=0.1,0.01"))
    assert request.spec.seeds == (0, 1, 2) and request.spec.base == dialog.base
    assert (request.ray, request.parallel, request.cpus_per_trial, request.folder) == (False, 8, 1, tmp_path / "s")
    dialog.cpus_spin.setValue(2)  # cores ÷ cores per trial, as the CLI picks --parallel
    assert dialog.request().parallel == 4
    emitted = []
    dialog.start_requested.connect(emitted.append)
    dialog.submit()
    assert emitted == [dialog.request()]
    # the field's own widget adds a value: a choice field's combo speaks config values
    lr.set_field("model.shortcut_variant", "")
    lr.control.widget.set_value("conv1x1")
    lr.add_value()
    lr.control.widget.set_value("scale")
    lr.add_value()
    assert lr.values_edit.text() == "conv1x1, scale"
    assert lr.axis() == parse_vary("model.shortcut_variant=conv1x1,scale")


def test_the_dialog_shows_the_cores_error_and_disables_start(dialog):
    dialog.rows[0].values_edit.setText("20, x")
    with pytest.raises(ConfigError) as core:
        parse_vary("model.depth=20, x")
    assert dialog.rows[0].error.text() == str(core.value)
    assert not dialog.rows[0].error.isHidden()
    assert not dialog.start_button.isEnabled() and dialog.request() is None
    dialog.rows[0].values_edit.setText("2")
    assert dialog.rows[0].error.isHidden() and dialog.start_button.isEnabled()
    dialog.seeds_edit.setText("5-2")
    assert "--seeds" in dialog.status.text() and not dialog.start_button.isEnabled()
    dialog.seeds_edit.setText("0")
    dialog.add_axis_button.click()  # a new axis starts on a field not varied yet
    assert [r.path for r in dialog.rows] == ["model.depth", "optim.lr"] and dialog.rows[1].values_edit.text() == "0.05"
    dialog.remove_axis(dialog.rows[1])
    dialog.add_axis("model.depth", "4")  # the same field twice: the spec's own error
    assert "each field once" in dialog.status.text() and not dialog.start_button.isEnabled()


def test_ray_is_disabled_with_the_extras_message_when_it_is_missing(qtbot, settings, monkeypatch):
    monkeypatch.setattr(sweep_dialog, "ray_available", lambda: False)
    d = SweepDialog(tiny_run_config("mlp", 3), settings)
    qtbot.addWidget(d)
    assert not d.ray_radio.isEnabled()
    assert d.ray_radio.toolTip() == RAY_EXTRA_MESSAGE and d.ray_note.text() == RAY_EXTRA_MESSAGE
    assert not d.ray_note.isHidden()
    assert d.request() is not None and d.request().ray is False
    monkeypatch.setattr(sweep_dialog, "ray_available", lambda: True)
    d2 = SweepDialog(tiny_run_config("mlp", 3), settings)
    qtbot.addWidget(d2)
    assert d2.ray_radio.isEnabled()
    d2.ray_radio.setChecked(True)
    assert d2.address_edit.isEnabled() and not d2.parallel_spin.isEnabled()
    assert d2.request().ray is True and d2.request().parallel == 0 and d2.request().address is None


def test_a_sweep_streams_into_the_run_list_and_the_panel_shows_numpys_numbers(window, qtbot, tmp_path):
    sweeps = window.sweeps
    assert sweeps.panel.stack.currentWidget() is sweeps.panel.empty  # the empty state says how to start
    sweep = sweeps.start(SweepRequest(mlp_spec(), tmp_path / "sw", parallel=2))
    entries = window.manager.entries
    assert len(entries) == 4 and all(e.pool == sweep.runner.pool for e in entries)
    assert window.run_list.topLevelItemCount() == 4  # streamed into the run list as they train
    assert entries[0].color == entries[1].color != entries[2].color == entries[3].color  # a point's seeds share it
    wait_ended(qtbot, window, sweep)
    assert sweep.state == "finished" and [e.status for e in entries] == ["finished"] * 4
    table = sweeps.panel.table
    assert table.rowCount() == 2 and table.horizontalHeaderItem(0).text() == "depth"
    for row, point in enumerate((entries[:2], entries[2:])):
        train = np.array([e.store.finished.final_train_error for e in point])
        test = np.array([e.store.finished.final_test_error for e in point])
        assert table.item(row, 0).text() == str(point[0].config.model.depth)
        assert table.item(row, 1).text() == "2/2"
        assert table.item(row, 2).text() == f"{100 * train.mean():.2f} ± {100 * train.std():.2f}%"
        assert table.item(row, 3).text() == f"{100 * test.mean():.2f} ± {100 * test.std():.2f}%"
        assert table.item(row, 4).text() == "—"  # no paper gives an MLP's error
    assert "4 of 4 trials done" in sweeps.panel.header.text() and "finished" in sweeps.panel.header.text()
    assert not sweeps.panel.stop_button.isEnabled()
    out = sweeps.panel.export_csv(tmp_path / "table.csv")
    assert out is not None and out.read_text() == summary_csv(sweep.runner.summary())
    state = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert [t["status"] for t in state["trials"]] == ["finished"] * 4


def test_a_bad_folder_is_one_line_in_the_dialog_which_stays_open(window, qtbot, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "other.txt").write_text("x")
    runs_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Runs")
    next(a for a in runs_menu.actions() if a.text() == "New s&weep…").trigger()  # the menu opens the dialog
    dialog = window.sweeps.dialog
    assert dialog is not None and dialog.isVisible() and dialog.base == window.config_panel.config()
    dialog.folder_edit.setText(str(tmp_path / "busy"))
    dialog.submit()
    assert "is not empty and holds no sweep" in dialog.status.text() and dialog.isVisible()
    assert window.manager.entries == [] and window.sweeps.sweeps == []
    with pytest.raises(SweepStartError, match="holds no sweep.json"):
        window.sweeps.start(SweepRequest(None, tmp_path / "nothing", parallel=1))
    assert dialog.choose_resume(tmp_path / "busy") is False and "not a sweep folder" in dialog.status.text()


def test_closing_mid_sweep_keeps_the_finished_trials_and_resume_trains_only_the_rest(window, qtbot, tmp_path, settings):
    from resnet_viz.gui.main_window import MainWindow

    folder = tmp_path / "sw"
    sweep = window.sweeps.start(SweepRequest(mlp_spec("3", "0-3"), folder, parallel=1))
    qtbot.waitUntil(lambda: sweep.counts[0] >= 1, timeout=TIMEOUT_MS)
    window.close()  # the window's close path: runs stopped, sweep.json saved, the sweep's backend closed
    assert sweep.state == "stopped"
    saved = read_state(folder)
    kept = [t.trial_id for t in saved.trials if t.has_result]
    assert 1 <= len(kept) < 4
    assert all(t.status in ("queued", "stopped", "interrupted", "running") for t in saved.trials if not t.has_result)

    second = MainWindow(settings, restore=False)
    qtbot.addWidget(second)
    try:
        dialog = second.sweeps.open_dialog()
        assert dialog.choose_resume(folder)
        assert dialog.start_button.text() == "Resume sweep" and not dialog.rows[0].values_edit.isEnabled()
        assert dialog.base_label.text() == f"the sweep's own: {saved.spec.base.label()}"
        assert dialog.count.text() == f"1 config × 4 seeds = 4 trials: {len(kept)} done, {4 - len(kept)} to train"
        request = dialog.request()
        assert request.spec is None and request.folder == folder
        dialog.parallel_spin.setValue(2)
        dialog.submit()
        assert not dialog.isVisible()
        resumed = second.sweeps.sweeps[0]
        assert sorted(resumed.runner.runs) == sorted(t.trial_id for t in saved.trials if t.trial_id not in kept)
        # every seed is in the run list: the kept trials read back from their run folders, the rest training
        assert len(second.manager.entries) == 4
        adopted = [
            e
            for e in second.manager.entries
            if e.config.train.seed in {t.seed for t in saved.trials if t.trial_id in kept}
        ]
        assert len(adopted) == len(kept) and all(
            e.status == "finished" and e.store.finished is not None for e in adopted
        )
        assert len({e.color for e in second.manager.entries}) == 1  # one config point: one colour
        wait_ended(qtbot, second, resumed)
        final = read_state(folder)
        assert [t.status for t in final.trials] == ["finished"] * 4
        assert [t.attempts for t in final.trials if t.trial_id in kept] == [1] * len(kept)  # not trained again
        assert second.sweeps.panel.table.item(0, 1).text() == "4/4"
    finally:
        second.manager.shutdown()


def test_the_panel_shows_the_published_number_and_picks_among_sweeps(qtbot, settings, tmp_path):
    from resnet_viz.config import ModelConfig, RunConfig
    from resnet_viz.gui.sweep_panel import SweepPanel, SweepView
    from resnet_viz.sweeps.folder import SweepFolder
    from resnet_viz.sweeps.summary import summarize

    spec = SweepSpec(RunConfig(model=ModelConfig(arch="resnet")), (parse_vary("model.depth=20,32"),), (0, 1), "t6")
    state = SweepFolder(tmp_path / "t6").open(spec.validate(), {}, {})
    for trial, (train, test) in zip(state.trials[:3], [(0.01, 0.09), (0.03, 0.07), (0.02, 0.08)]):
        trial.status, trial.final_train_error, trial.final_test_error = "finished", train, test
    state.trials[3].status = "failed"
    rows = summarize(state)
    panel = SweepPanel(settings)
    qtbot.addWidget(panel)
    first = SweepView(1, "t6", "local processes", tmp_path / "t6", ("depth",), rows, 3, 4, 0, 1, "stopped")
    second = SweepView(2, "other", "local processes", tmp_path / "o", ("depth",), rows[:1], 0, 2, 2, 0, "training")
    panel.set_views([first, second])
    assert not panel.sweep_box.isHidden() and panel.current is second and panel.table.rowCount() == 1
    assert "0 of 2 trials done · 2 training" in panel.header.text() and panel.stop_button.isEnabled()
    panel.sweep_box.setCurrentIndex(0)
    t = panel.table
    assert t.rowCount() == 2 and not panel.stop_button.isEnabled()
    assert [t.item(r, 1).text() for r in range(2)] == ["2/2", "1/2 (1 failed)"]
    assert t.item(0, 2).text() == "2.00 ± 1.00%" and t.item(0, 3).text() == "8.00 ± 1.00%"
    assert t.item(1, 3).text() == "8.00 ± 0.00%"  # one seed done: std 0 (ddof=0)
    assert t.item(0, 4).text() == "8.75% — He et al. 2016, Table 6" and "Table 6" in t.item(0, 4).toolTip()
    assert t.item(1, 4).text() == "7.51% — He et al. 2016, Table 6"
    assert "stopped: resume it" in panel.header.text() and "1 failed" in panel.header.text()
    panel.set_views([first, second])  # a refresh keeps the sweep shown
    assert panel.current is first
    emitted = []
    panel.stop_requested.connect(emitted.append)
    panel.sweep_box.setCurrentIndex(1)
    panel.stop_button.click()
    assert emitted == [2]


def test_stop_sweep_stops_its_trials_and_leaves_it_resumable(window, qtbot, tmp_path):
    sweep = window.sweeps.start(SweepRequest(mlp_spec("3", "0-2", steps=400), tmp_path / "sw", parallel=1))
    other = window.manager.add(tiny_run_config("mlp", 2))  # a run of the window's own is not the sweep's
    qtbot.waitUntil(lambda: sweep.counts[1] == 1, timeout=TIMEOUT_MS)  # one trial training
    assert window.sweeps.panel.stop_button.isEnabled()
    window.sweeps.panel.stop_button.click()
    wait_ended(qtbot, window, sweep)
    assert sweep.state == "stopped" and "stopped: resume it" in window.sweeps.panel.header.text()
    assert [e.status for e in window.manager.entries[:3]] == ["stopped"] * 3 and other.status == "queued"
    saved = read_state(tmp_path / "sw")
    assert [t.has_result for t in saved.trials] == [False] * 3 and "running" not in [t.status for t in saved.trials]
    assert not window.sweeps.panel.stop_button.isEnabled()


def test_a_sweep_on_a_local_ray_streams_into_the_window(window, qtbot, tmp_path):
    ray = pytest.importorskip("ray", reason='Ray is an optional extra: pip install "resnet-viz[ray]"')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        notes = []
        request = SweepRequest(mlp_spec("2", "0-1"), tmp_path / "ray", ray=True, parallel=0)
        sweep = window.sweeps.start(request, busy=notes.append)
        assert notes == ["Starting a local Ray…"]
        assert sweep.where == "local Ray, 2 CPUs, 0 GPUs, 2 trial(s) at a time" and sweep.runner.parallel == 2
        assert len(window.manager.entries) == 2
        wait_ended(qtbot, window, sweep)
        assert sweep.state == "finished" and [e.status for e in window.manager.entries] == ["finished"] * 2
        assert window.sweeps.panel.table.item(0, 1).text() == "2/2"
        assert read_state(tmp_path / "ray").backend["name"] == "ray"
        assert ray.is_initialized()  # a Ray this window did not start is left running
    finally:
        ray.shutdown()
