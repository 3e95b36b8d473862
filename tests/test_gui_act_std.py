"""The activation-std panel's sampled band around the theory and its "Average over K initialisations" button."""

from __future__ import annotations

import csv
import dataclasses
import time
import weakref

import numpy as np
import pytest

from resnet_viz.config import RunConfig
from resnet_viz.data import load_dataset
from resnet_viz.gui.init_ensembles import default_splits_source
from resnet_viz.gui.plots.act_std import AVERAGE_SEED, BAND_K, BAND_LEGEND, BAND_SEED, ActStdDepthPlot
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.store import RunStore
from resnet_viz.train.init_ensemble import first_training_batch, measure_init_ensemble

WAIT_MS = 120_000


def core_ensemble(config: RunConfig, k: int, seed: int):
    """What the panel must show, computed here without the GUI: seed 0's first batch of the run's data."""
    splits = load_dataset(config.data)
    seed0 = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=0))
    batch = first_training_batch(seed0, splits)
    return measure_init_ensemble(config, batch, k, seed=seed, num_classes=splits.num_classes)


def make_panel(qtbot) -> ActStdDepthPlot:
    panel = ActStdDepthPlot()
    qtbot.addWidget(panel)
    return panel


def y_of(item) -> np.ndarray:
    return np.asarray(item.getOriginalDataset()[1], dtype=np.float64)


def test_band_appears_after_sampling_and_equals_the_core_ensemble(qtbot, recorded_runs):
    entry = recorded_runs[0]
    panel = make_panel(qtbot)
    panel.refresh([entry], None)
    assert panel.fill(entry.run_id, "band") is None  # sampling in the background; the window is not kept waiting
    assert BAND_LEGEND not in panel.legend_text()
    qtbot.waitUntil(lambda: panel.fill(entry.run_id, "band") is not None, timeout=WAIT_MS)
    ens = core_ensemble(entry.config, BAND_K, BAND_SEED)
    s = entry.store.started
    lo, hi = ens.theory_band(s.act_std_init[0])
    np.testing.assert_allclose(ens.theory_rel, s.theory_act_std_init)
    np.testing.assert_allclose(y_of(panel.curve(entry.run_id, "band low")), lo, rtol=1e-6)
    np.testing.assert_allclose(y_of(panel.curve(entry.run_id, "band high")), hi, rtol=1e-6)
    theory = y_of(panel.curve(entry.run_id, "theory"))
    finite = np.isfinite(theory)
    assert (y_of(panel.curve(entry.run_id, "band low"))[finite] <= theory[finite] * 1.0001).sum() >= 1
    assert BAND_LEGEND in panel.legend_text() and "sampled" in BAND_LEGEND
    assert "band: where one network falls (10–90 % of 16 fresh initialisations, sampled)" in panel.graphics.toolTip()
    assert "sampled" in panel.curve(entry.run_id, "band low").name()
    assert "compare seeds, not runs" in panel.graphics.toolTip() and "0.65–0.82" in panel.graphics.toolTip()
    fill = panel.fill(entry.run_id, "band")
    assert fill.brush().color().name() == entry.color.lower() and 0 < fill.brush().color().alpha() < 255
    panel.refresh([dataclasses.replace(entry, visible=False)], None)
    assert panel.fill(entry.run_id, "band") is None and fill not in panel.plot.items  # hidden run: fill goes too


def test_button_draws_the_average_of_k_fresh_inits_per_visible_run(qtbot, recorded_runs, tmp_path):
    runs = recorded_runs[:2]
    panel = make_panel(qtbot)
    panel.refresh(runs, None)
    assert panel.average_button.isEnabled() and panel.average_button.text() == "Average over K initialisations"
    assert panel.k_box.value() == 20 and (panel.k_box.minimum(), panel.k_box.maximum()) == (2, 500)
    panel.k_box.setValue(3)
    panel.average_button.click()
    assert panel.average_button.text() == "Cancel averaging" and "sampling 3 inits" in panel.average_status.text()
    qtbot.waitUntil(lambda: all(panel.average_curve(r.run_id) is not None for r in runs), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.average_button.text() == "Average over K initialisations", timeout=WAIT_MS)
    for entry in runs:
        ens = core_ensemble(entry.config, 3, AVERAGE_SEED)
        np.testing.assert_allclose(y_of(panel.average_curve(entry.run_id)), ens.rms_act_std, rtol=1e-6)
        lo, hi = ens.act_std_band()
        np.testing.assert_allclose(y_of(panel.curve(entry.run_id, "average low")), lo, rtol=1e-6)
        np.testing.assert_allclose(y_of(panel.curve(entry.run_id, "average high")), hi, rtol=1e-6)
        assert panel.fill(entry.run_id, "average") is not None
        assert panel.average_curve(entry.run_id).opts["pen"].color().name() == entry.color.lower()
    assert {"rms of 3 fresh inits (step 0)", "10–90 % of those inits"} <= set(panel.legend_text())
    path = tmp_path / "act_std.csv"
    panel.export_csv(path)
    header = next(csv.reader(path.open()))
    assert f"{runs[0].name}: act_std (rms of 3 fresh inits, step 0)_y" in header
    assert f"{runs[0].name}: act_std (band: one network, 90 % of 16 fresh inits (sampled))_y" in header
    rows = list(csv.reader(path.open()))
    col = header.index(f"{runs[1].name}: act_std (rms of 3 fresh inits, step 0)_y")
    assert float(rows[1][col]) == pytest.approx(y_of(panel.average_curve(runs[1].run_id))[0], rel=1e-6)


def test_checkpoint_loaded_run_disables_the_button_with_the_reason(qtbot, recorded_runs, tmp_path):
    source = recorded_runs[0]
    path = tmp_path / "trained.pt"
    path.write_bytes(b"x")
    config = dataclasses.replace(source.config, init=dataclasses.replace(source.config.init, from_file=str(path)))
    store = RunStore()
    store.add(source.store.started)
    entry = RunEntry(
        run_id=42, config=config, name="loaded", color="#009E73", store=store, status="finished", version=1
    )
    panel = make_panel(qtbot)
    panel.refresh([entry], None)
    assert not panel.average_button.isEnabled()
    assert "checkpoint" in panel.average_button.toolTip() and "init.from_file" in panel.average_button.toolTip()
    assert panel.jobs.worker is None and panel.fill(42, "band") is None  # nothing is sampled for it
    panel.refresh([entry, recorded_runs[1]], None)
    assert panel.average_button.isEnabled() and "Skipped: loaded" in panel.average_button.toolTip()


def test_closing_the_window_mid_job_leaves_no_thread_running(window, recorded_runs, qtbot):
    panel = window.panel["act_std_depth"]
    assert panel.jobs.splits_source is not default_splits_source  # the window's backend cache
    big = dataclasses.replace(
        recorded_runs[0].config, model=dataclasses.replace(recorded_runs[0].config.model, width=16)
    )
    progress = []
    panel.jobs.progressed.connect(lambda key, done, k: progress.append(done))
    panel.jobs.request(big, 500, 0)
    qtbot.waitUntil(lambda: len(progress) >= 1, timeout=WAIT_MS)
    worker = panel.jobs.worker
    assert worker is not None and worker.is_alive()
    t0 = time.perf_counter()
    window.close()
    assert not worker.is_alive() and panel.jobs.worker is None
    assert time.perf_counter() - t0 < 5.0


def test_cancel_averaging_stops_the_jobs_and_draws_nothing(qtbot, recorded_runs):
    entry = recorded_runs[1]
    panel = make_panel(qtbot)
    panel.refresh([entry], None)
    panel.k_box.setValue(500)
    panel.average_button.click()
    qtbot.waitUntil(lambda: "sampling 500 inits of 1 network: " in panel.average_status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not panel.average_status.text().endswith(" 0/500…"), timeout=WAIT_MS)  # it has begun
    t0 = time.perf_counter()
    panel.refresh([entry], None)
    assert time.perf_counter() - t0 < 0.5  # the panel draws on while sampling runs
    panel.average_button.click()  # now "Cancel averaging"
    qtbot.waitUntil(lambda: panel.average_button.text() == "Average over K initialisations", timeout=WAIT_MS)
    assert panel.average_curve(entry.run_id) is None and panel.average_status.text() == ""
    qtbot.waitUntil(lambda: panel.jobs.worker is None, timeout=WAIT_MS)


def test_the_interpreters_exit_waits_for_a_worker_still_loading_data(qtbot, recorded_runs, monkeypatch):
    """A window closed while a sample's data is loading (not cancellable mid-load) waits 2 s, and the exit
    hook waits for the load to end: a thread inside torch at interpreter finalisation aborts the process."""
    from resnet_viz.gui import init_ensembles

    loading = []

    def slow_source(data):
        loading.append(True)
        time.sleep(5.0)  # longer than close()'s 2 s and then 2 s more
        return default_splits_source(data)

    jobs = init_ensembles.InitEnsembleJobs(splits_source=slow_source)
    monkeypatch.setattr(init_ensembles, "_live", weakref.WeakSet([jobs]))  # other tests' jobs stay open
    jobs.request(recorded_runs[0].config, 20, 0)
    qtbot.waitUntil(lambda: bool(loading), timeout=WAIT_MS)
    worker = jobs.worker
    assert not jobs.close() and worker.is_alive()  # the window's close gives up after 2 s
    init_ensembles._stop_all()  # what atexit runs
    assert not worker.is_alive() and jobs.worker is None
