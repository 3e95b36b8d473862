"""Depth-profile panels and the gradient heatmap, checked against the store's numbers."""

from __future__ import annotations

import csv
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
import pytest
from pyqtgraph.exporters import CSVExporter
from PySide6 import QtCore

from resnet_viz.config import RunConfig
from resnet_viz.gui.plots.act_std import ActStdDepthPlot
from resnet_viz.gui.plots.depth import (
    DepthProfilePlot,
    GradNormDepthPlot,
    OutGradDepthPlot,
    UpdateRatioDepthPlot,
)
from resnet_viz.gui.plots.depth_profile import recent_mean
from resnet_viz.gui.plots.heatmap import GradHeatmapPlot
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.records import LAYER_QUANTITIES, LayerInfoRecord, LayerStats, RunStarted, TrainChunk
from resnet_viz.metrics.store import RunStore

PROFILE_PANELS = (GradNormDepthPlot, ActStdDepthPlot, OutGradDepthPlot, UpdateRatioDepthPlot)


# --- helpers -----------------------------------------------------------------------------------
def layer_info(blocks_per_stage: int) -> LayerInfoRecord:
    """A ResNet-like layer table: stem, 3 stages × blocks × 2 convs, fc."""
    names, roles, stages, blocks = ["stem.conv"], ["stem"], [0], [-1]
    b = 0
    for s in (1, 2, 3):
        for j in range(blocks_per_stage):
            for c in (1, 2):
                names.append(f"stage{s}.block{j}.conv{c}")
                roles.append("branch")
                stages.append(s)
                blocks.append(b)
            b += 1
    names.append("fc")
    roles.append("head")
    stages.append(4)
    blocks.append(-1)
    n = len(names)
    return LayerInfoRecord(
        names=names,
        kinds=["conv"] * (n - 1) + ["linear"],
        roles=roles,
        stages=np.array(stages),
        blocks=np.array(blocks),
        fan_in=np.ones(n, np.int64),
        params=np.ones(n, np.int64),
    )


def started_record(info: LayerInfoRecord) -> RunStarted:
    ones = np.ones(len(info.names))
    return RunStarted(
        label="synthetic",
        config={},
        resolved={},
        device="cpu",
        versions={},
        layers=info,
        params=len(ones),
        total_steps=0,
        act_mean_init=0 * ones,
        act_std_init=ones,
        out_grad_norm_init=ones,
        grad_norm_init=ones,
        theory_act_std_init=ones,
    )


def train_chunk(first_step: int, values: np.ndarray) -> TrainChunk:
    """K steps from ``first_step`` with every layer quantity = ``values`` [K, L]."""
    k = values.shape[0]
    steps = np.arange(first_step, first_step + k, dtype=np.int64)
    zeros = np.zeros(k)
    stats = LayerStats(**{q: values.astype(np.float32) for q in LAYER_QUANTITIES})
    return TrainChunk(
        step=steps, loss=zeros, batch_error=zeros, lr=zeros, step_time_s=zeros, layers=stats, layer_step=steps
    )


def synthetic_values(n_steps: int, n_layers: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.logspace(-4, -1, n_layers) * np.exp(rng.normal(0, 0.5, (n_steps, n_layers)))).astype(np.float32)


def synthetic_entry(values: np.ndarray, info: LayerInfoRecord, chunk: int = 500, name: str = "synthetic") -> RunEntry:
    store = RunStore()
    store.add(started_record(info))
    for s in range(0, values.shape[0], chunk):
        store.add(train_chunk(s + 1, values[s : s + chunk]))
    return RunEntry(run_id=99, config=RunConfig(), name=name, color="#0072B2", store=store, status="running", version=1)


def expected_now(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` rows that are entirely finite (independent of the panel's code)."""
    good = [i for i in range(values.shape[0]) if np.isfinite(values[i]).all()]
    rows = good[-window:]
    if not rows:
        return np.full(values.shape[1], np.nan)
    return values[rows].astype(np.float64).mean(axis=0)


@pytest.fixture
def two_runs(recorded_runs):
    return recorded_runs[:2]


def make(qtbot, cls, **kwargs):
    panel = cls(**kwargs)
    qtbot.addWidget(panel)
    return panel


# --- profiles ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", PROFILE_PANELS)
@pytest.mark.parametrize("window", [10, 1, 3])
def test_profile_is_mean_of_last_rows(qtbot, two_runs, cls, window):
    panel = make(qtbot, cls)
    panel.set_window(window)
    panel.refresh(two_runs, None)
    for entry in two_runs:
        values = entry.store.layer(cls.quantity)
        x, y = panel.curve(entry.run_id).getOriginalDataset()
        n_layers = values.shape[1]
        np.testing.assert_array_equal(x, np.arange(1, n_layers + 1))
        np.testing.assert_allclose(y, values[-window:].astype(np.float64).mean(axis=0), rtol=1e-6)
    steps = two_runs[0].store.layer_step
    first = f"{steps[-window]:,}"
    expected = f"step {steps[-1]:,}" if window == 1 else f"steps {first}–{steps[-1]:,}"
    assert expected in panel.curve(two_runs[0].run_id).name()  # the curve (and CSV column) says which steps
    assert two_runs[0].name in panel.legend_text()
    assert panel.plot.getAxis("left").logMode and panel.plot.getAxis("bottom").labelText == "layer (forward order)"


def test_act_std_init_and_theory_curves(qtbot, two_runs):
    panel = make(qtbot, ActStdDepthPlot)
    panel.refresh(two_runs, None)
    for entry in two_runs:
        s = entry.store.started
        _, init = panel.curve(entry.run_id, "at init").getOriginalDataset()
        _, theory = panel.curve(entry.run_id, "theory").getOriginalDataset()
        np.testing.assert_allclose(init, s.act_std_init)
        want = s.theory_act_std_init * s.act_std_init[0]
        np.testing.assert_allclose(theory, want)  # NaN where the theory has none (after pooling)
        assert np.isnan(theory[-1]) and np.isnan(want[-1])
        assert theory[0] == pytest.approx(s.act_std_init[0])
    assert panel.legend_text()[:3] == ["now", "at init (step 0)", "theory for the init"]


@pytest.mark.parametrize("cls", PROFILE_PANELS)
def test_diverged_run_shows_last_finite_rows(qtbot, recorded_runs, cls):
    entry = recorded_runs[2]
    assert entry.diverged
    panel = make(qtbot, cls)
    panel.refresh(recorded_runs, None)
    values = entry.store.layer(cls.quantity)
    _, y = panel.curve(entry.run_id).getOriginalDataset()
    want = expected_now(values, 10)
    want[~(np.isfinite(want) & (want > 0))] = np.nan
    np.testing.assert_allclose(y, want, rtol=1e-6)
    assert not np.isinf(y).any() and not (y <= 0).any()
    assert any("diverged" in t for t in panel.legend_text())
    panel.grab()  # draws without error on the log axis


def test_recent_mean_skips_bad_rows_and_ignores_nan_entries():
    v = np.array(
        [[1, 2, 1], [3, np.nan, 1], [np.inf, 1, 1], [np.nan, np.nan, np.nan], [5, 6, 1], [7, 8, np.nan]],
        dtype=np.float32,
    )
    mean, rows = recent_mean(v, 2)
    np.testing.assert_array_equal(rows, [1, 4])  # inf row, all-NaN row and NaN-head row skipped
    np.testing.assert_allclose(mean, [4.0, 6.0, 1.0])  # layer 2's NaN (a dropped layer) is left out
    mean, rows = recent_mean(v[2:4], 5)
    assert rows.size == 0 and np.isnan(mean).all()
    mean, rows = recent_mean(np.ones((300, 3)), 250)
    assert rows.tolist() == list(range(50, 300))


def test_hidden_and_removed_runs(qtbot, two_runs):
    panel = make(qtbot, GradNormDepthPlot)
    panel.refresh(two_runs, None)
    assert len(panel.plot.listDataItems()) == 2
    a, b = two_runs
    hidden = replace(b, visible=False)
    panel.refresh([a, hidden], None)
    assert panel.curve(b.run_id) is None and len(panel.plot.listDataItems()) == 1
    assert not any(b.name in t for t in panel.legend_text())
    panel.refresh([a, b], None)
    assert panel.curve(b.run_id) is not None and len(panel.plot.listDataItems()) == 2
    panel.refresh([b], None)  # a removed from the window
    assert panel.curve(a.run_id) is None and [i.name() for i in panel.plot.listDataItems()][0].startswith(b.name)
    assert len(panel.legend_text()) == 1


def test_no_redraw_when_nothing_changed(qtbot, two_runs, monkeypatch):
    panel = make(qtbot, ActStdDepthPlot)
    panel.refresh(two_runs, None)
    calls = []
    original = pg.PlotDataItem.setData
    monkeypatch.setattr(pg.PlotDataItem, "setData", lambda self, *a, **k: (calls.append(self), original(self, *a, **k)))
    panel.refresh(two_runs, None)
    panel.refresh(list(two_runs), None)
    assert calls == []
    newer = replace(two_runs[1], version=two_runs[1].version + 1)
    panel.refresh([two_runs[0], newer], None)
    assert calls == []  # a new version with the same last rows: every curve is as drawn
    calls.clear()
    recoloured = replace(newer, color="#000000")
    panel.refresh([two_runs[0], recoloured], None)
    assert len(calls) == 3
    assert panel.curve(newer.run_id).opts["pen"].color().name() == "#000000"
    calls.clear()
    panel.set_window(1)  # redraws every run's "now" at once (init and theory stay), relabels the legend in place
    assert calls == [panel.curve(r.run_id) for r in (two_runs[0], recoloured)]
    assert panel.legend_text()[3:] == [r.name for r in two_runs]
    assert panel.curve(two_runs[0].run_id).name().endswith(f"(step {two_runs[0].store.layer_step[-1]:,})")


def test_new_rows_redraw_the_now_curve_only(qtbot, monkeypatch):
    """While a run trains, its "at init" and "theory" lines are constant: new rows re-set "now" alone."""
    info = layer_info(2)
    values = synthetic_values(40, len(info.names))
    entry = synthetic_entry(values[:30], info, chunk=10)
    panel = make(qtbot, ActStdDepthPlot)
    panel.refresh([entry], None)
    calls = []
    original = pg.PlotDataItem.setData
    monkeypatch.setattr(pg.PlotDataItem, "setData", lambda self, *a, **k: (calls.append(self), original(self, *a, **k)))
    entry.store.add(train_chunk(31, values[30:]))
    entry.version += 1
    panel.refresh([entry], None)
    assert calls == [panel.curve(entry.run_id)]
    np.testing.assert_allclose(panel.curve(entry.run_id).getOriginalDataset()[1], expected_now(values, 10), rtol=1e-6)


@pytest.mark.parametrize("end", ["paused", "finished", "stopped", "diverged at step 30"])
def test_now_curve_has_layer_markers_unless_the_run_trains(qtbot, end):
    """A training run's "now" curve is a line only (no symbols re-set every redraw); once the run pauses or ends
    the same data get a marker per layer in the run's colour, and they go again when it trains on."""
    info = layer_info(2)
    values = synthetic_values(30, len(info.names))
    entry = synthetic_entry(values, info, chunk=10)
    panel = make(qtbot, ActStdDepthPlot)
    panel.refresh([entry], None)
    curve = panel.curve(entry.run_id)
    assert curve.opts["symbol"] is None and not curve.scatter.isVisible()
    x, y = curve.getOriginalDataset()
    entry.status = end
    panel.refresh([entry], None)
    assert panel.curve(entry.run_id) is curve and curve.opts["symbol"] == "o"
    sx, sy = curve.scatter.getData()
    np.testing.assert_array_equal(sx, x)
    np.testing.assert_allclose(sy, np.log10(y))  # log y axis: the scatter holds log10 values
    assert curve.opts["symbolBrush"].color().name() == entry.color.lower() and curve.scatter.isVisible()
    assert all(panel.curve(entry.run_id, s).opts["symbol"] is None for s in ("at init", "theory"))
    if end == "paused":
        entry.status = "running"
        panel.refresh([entry], None)
        assert curve.opts["symbol"] is None and not curve.scatter.isVisible()


def test_y_range_grows_in_steps_while_a_run_trains(qtbot):
    """While the run is active the y bounds are rounded outwards, so a small change in the data keeps the range;
    once it has ended the range fits the data exactly."""
    info = layer_info(2)
    growth = 1.0 + 0.002 * np.arange(60)[:, None]  # each row 0.2 % above the last: < 0.01 decade in all
    values = (np.logspace(-4.05, -1.05, len(info.names))[None, :] * growth).astype(np.float32)
    entry = synthetic_entry(values[:50], info, chunk=10)
    panel = make(qtbot, GradNormDepthPlot)
    panel.resize(500, 350)
    panel.show()
    panel.refresh([entry], None)
    vb = panel.plot.getViewBox()
    vb.prepareForPaint()
    y_range = vb.viewRange()[1]
    lo, hi = panel.curve(entry.run_id).dataBounds(1)
    assert lo == pytest.approx(round(lo, 1)) and hi == pytest.approx(round(hi, 1))  # 0.1 decade steps
    for k in range(50, 60):  # ten new rows, each a little different
        entry.store.add(train_chunk(k + 1, values[k : k + 1]))
        entry.version += 1
        panel.refresh([entry], None)
        vb.prepareForPaint()
        assert vb.viewRange()[1] == y_range
    entry.status = "finished"
    entry.version += 1
    panel.refresh([entry], None)
    vb.prepareForPaint()
    y = np.log10(panel.curve(entry.run_id).getOriginalDataset()[1])
    assert panel.curve(entry.run_id).dataBounds(1) == pytest.approx((y.min(), y.max()))
    lo, hi = vb.viewRange()[1]
    assert y_range[0] < lo < y.min() and y.max() < hi < y_range[1]  # tighter: the exact data and padding


def test_profile_hover_names_layer_and_step(qtbot, two_runs):
    panel = make(qtbot, GradNormDepthPlot)
    panel.resize(900, 550)
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh(two_runs, None)
    entry = two_runs[1]
    _, y = panel.curve(entry.run_id).getOriginalDataset()
    panel.on_hover(QtCore.QPointF(3.0, float(np.log10(y[2]))))
    text = panel.readout.text()
    steps = entry.store.layer_step
    assert text.startswith(f"{entry.name} — layer 3 {entry.store.started.layers.names[2]} (branch)")
    assert f"steps {steps[-10]:,}–{steps[-1]:,}" in text and f"{y[2]:.2e}" in text
    assert panel.describe_point(QtCore.QPointF(3.0, 40.0)) == ""  # far from every point


def test_profile_csv_real_values(qtbot, two_runs, tmp_path):
    panel = make(qtbot, GradNormDepthPlot)
    panel.refresh(two_runs, None)
    assert panel.csv_item() is panel.plot
    # pyqtgraph's CSVExporter: original (not log10) data; shorter curves padded with ""
    path = tmp_path / "pg.csv"
    CSVExporter(panel.csv_item()).export(str(path))
    rows = list(csv.reader(path.open()))
    header, body = rows[0], rows[1:]
    assert header[0].startswith("plain-8: grad_norm") and header[0].endswith("_x")
    assert len(body) == 14 and body[-1][:2] == ["", ""]  # plain-8 has 8 layers, resnet-14 has 14
    for col, entry in ((1, two_runs[0]), (3, two_runs[1])):
        got = np.array([float(r[col]) for r in body if r[col] != ""])
        want = entry.store.layer("grad_norm")[-10:].astype(np.float64).mean(axis=0)
        np.testing.assert_allclose(got, want, rtol=1e-6)
    # the panel's own export: same layout, values at float32 precision
    path = tmp_path / "panel.csv"
    panel.export_csv(path)
    rows = list(csv.reader(path.open()))
    assert rows[0] == header and len(rows) == 15
    got = np.array([float(r[3]) for r in rows[1:]])
    np.testing.assert_allclose(got, two_runs[1].store.layer("grad_norm")[-10:].mean(axis=0), rtol=1e-6)


def test_profile_csv_keeps_vanished_gradients(qtbot, tmp_path):
    info = layer_info(1)
    values = np.full((4, len(info.names)), 1e-3, dtype=np.float32)
    values[:, 1] = 2.5e-20  # a vanished gradient
    panel = make(qtbot, GradNormDepthPlot)
    panel.refresh([synthetic_entry(values, info)], None)
    path = tmp_path / "pg.csv"
    CSVExporter(panel.csv_item()).export(str(path))
    assert float(list(csv.reader(path.open()))[2][1]) == 0.0  # pyqtgraph's fixed-point formatting loses it
    panel.export_csv(tmp_path / "panel.csv")
    assert float(list(csv.reader((tmp_path / "panel.csv").open()))[2][1]) == pytest.approx(2.5e-20, rel=1e-6)


# --- heatmap -------------------------------------------------------------------------------------
def test_heatmap_image_equals_log10_grad_norm(qtbot, recorded_runs):
    panel = make(qtbot, GradHeatmapPlot)
    panel.refresh(recorded_runs, None)  # no selection: the first visible run
    entry = recorded_runs[0]
    g = entry.store.layer("grad_norm")
    assert panel.entry is entry and panel.bin == 1
    assert panel.log_image.shape == g.T.shape
    assert panel.image.image.shape == g.shape  # col-major: [column (step), layer]
    np.testing.assert_allclose(panel.log_image, np.log10(g).T, rtol=1e-6)
    assert panel.plot.titleLabel.text == entry.name
    lo, hi = panel.levels
    p1, p99 = np.percentile(np.log10(g), [1, 99])
    assert lo <= p1 and hi >= p99 and hi - lo < (p99 - p1) + 0.51
    assert panel.image.getLevels() == pytest.approx([lo, hi]) and panel.colorbar.levels() == pytest.approx((lo, hi))
    # columns map to steps: layer 1 at the top, step s at x = s
    rect = panel.image.mapRectToParent(panel.image.boundingRect())
    steps = entry.store.layer_step
    assert rect.left() == pytest.approx(steps[0] - 0.5) and rect.right() == pytest.approx(steps[-1] + 0.5)
    assert rect.top() == pytest.approx(0.5) and rect.bottom() == pytest.approx(g.shape[1] + 0.5)
    assert panel.plot.getViewBox().yInverted()


def test_heatmap_selection_and_visibility(qtbot, recorded_runs):
    panel = make(qtbot, GradHeatmapPlot)
    plain, resnet, diverged = recorded_runs
    panel.refresh(recorded_runs, resnet)
    assert panel.entry is resnet and panel.log_image.shape == (14, 40)
    copy = replace(resnet, version=resnet.version + 1)  # same run and store: nothing to convert again
    panel.refresh(recorded_runs, copy)
    assert panel.entry is copy and panel.log_image.shape == (14, 40)
    assert panel.plot.titleLabel.text.endswith("resnet-14")
    panel.refresh(recorded_runs, diverged)
    assert panel.log_image.shape == (8, 3)
    assert np.isnan(panel.log_image[:, -1]).all()  # the diverged step: no colour
    panel.refresh([replace(plain, visible=False), resnet], None)
    assert panel.entry is resnet
    panel.refresh([], None)
    assert panel.entry is None and panel.hint.textItem.toPlainText().startswith("No run")
    assert not panel.plot.titleLabel.isVisible() or panel.plot.titleLabel.text == ""
    with pytest.raises(ValueError):
        panel.export_csv("unused.csv")


def test_heatmap_unchanged_run_is_not_redrawn(qtbot, recorded_runs, monkeypatch):
    panel = make(qtbot, GradHeatmapPlot)
    panel.refresh(recorded_runs, None)
    calls = []
    original = pg.ImageItem.setImage
    monkeypatch.setattr(pg.ImageItem, "setImage", lambda self, *a, **k: (calls.append(1), original(self, *a, **k)))
    panel.refresh(recorded_runs, None)
    assert calls == []


def test_heatmap_boundaries_and_ticks(qtbot, recorded_runs):
    panel = make(qtbot, GradHeatmapPlot)
    panel.resize(900, 550)
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh(recorded_runs, recorded_runs[1])  # resnet-14: stem | 2+2 | 2+2 | 2+2 | fc
    qtbot.wait(20)
    _, thick_y = panel.stage_lines.getData()
    _, thin_y = panel.block_lines.getData()
    np.testing.assert_array_equal(np.unique(thick_y), [1.5, 5.5, 9.5, 13.5])
    np.testing.assert_array_equal(np.unique(thin_y), [3.5, 7.5, 11.5])
    assert panel.block_lines.isVisible()
    labels = [label for _, label in panel.plot.getAxis("left")._tickLevels[0]]
    assert labels == ["stem", "stage1", "stage2", "stage3", "fc"]


def test_heatmap_binning_beyond_cap(qtbot):
    info = layer_info(3)  # 20 layers
    n_layers = len(info.names)
    values = synthetic_values(10_000, n_layers)
    values[5000:5003, 4] = np.nan  # a few dropped-layer entries: left out of their bin's mean
    entry = synthetic_entry(values[:3000], info)
    panel = make(qtbot, GradHeatmapPlot, max_columns=4096)
    panel.refresh([entry], None)
    assert panel.bin == 1 and panel.log_image.shape == (n_layers, 3000)
    for s in range(3000, 10_000, 700):  # live growth, crossing the cap on the way
        entry.store.add(train_chunk(s + 1, values[s : s + 700]))
        entry.version += 1
        panel.refresh([entry], None)
    assert panel.bin == 4 and panel.log_image.shape == (n_layers, 2500)
    logs = np.log10(values.astype(np.float64))
    want = np.nanmean(logs.reshape(2500, 4, n_layers), axis=1)  # log of each 4-step geometric mean
    np.testing.assert_allclose(panel.log_image, want.T, rtol=1e-5, atol=1e-5)
    # incremental result == one-shot result
    fresh = make(qtbot, GradHeatmapPlot, max_columns=4096)
    fresh.refresh([synthetic_entry(values, info)], None)
    np.testing.assert_allclose(fresh.log_image, panel.log_image, rtol=1e-6, atol=1e-6)
    # a partial last bin, then one more row that crosses to the next doubling
    entry.store.add(train_chunk(10_001, values[:2]))
    entry.version += 1
    panel.refresh([entry], None)
    assert panel.log_image.shape == (n_layers, 2501)
    np.testing.assert_allclose(panel.log_image[:, -1], logs[:2].mean(axis=0), rtol=1e-5)
    small = make(qtbot, GradHeatmapPlot, max_columns=100)
    small.refresh([synthetic_entry(values[:401], info)], None)
    assert small.bin == 8 and small.log_image.shape == (n_layers, 51)


def test_heatmap_levels_only_widen(qtbot):
    info = layer_info(1)
    n_layers = len(info.names)
    values = np.full((50, n_layers), 1e-2, dtype=np.float32) * np.linspace(1, 10, n_layers, dtype=np.float32)
    entry = synthetic_entry(values, info)
    panel = make(qtbot, GradHeatmapPlot)
    panel.refresh([entry], None)
    first = panel.levels
    assert first[0] <= -2 and first[1] >= -1
    entry.store.add(train_chunk(51, values[:10] * 0.9))  # inside the levels: unchanged
    entry.version += 1
    panel.refresh([entry], None)
    assert panel.levels == first
    entry.store.add(train_chunk(61, values[:30] * 1e-3))  # far below: widened downwards only
    entry.version += 1
    panel.refresh([entry], None)
    assert panel.levels[0] <= -5 and panel.levels[1] == first[1]


def test_heatmap_csv_is_full_resolution(qtbot, recorded_runs, tmp_path):
    panel = make(qtbot, GradHeatmapPlot)
    assert panel.csv_item() is None
    panel.refresh(recorded_runs, recorded_runs[1])
    path = tmp_path / "heat.csv"
    panel.export_csv(path)
    rows = list(csv.reader(path.open()))
    store = recorded_runs[1].store
    assert rows[0] == ["step", *store.started.layers.names]
    body = np.array(rows[1:], dtype=np.float64)
    np.testing.assert_array_equal(body[:, 0], store.layer_step)
    np.testing.assert_allclose(body[:, 1:], store.layer("grad_norm"), rtol=1e-6)
    # binned display, full-resolution file
    info = layer_info(3)
    values = synthetic_values(5000, len(info.names))
    binned = make(qtbot, GradHeatmapPlot, max_columns=1000)
    binned.refresh([synthetic_entry(values, info)], None)
    assert binned.bin == 8
    binned.export_csv(path)
    body = np.loadtxt(path, delimiter=",", skiprows=1)
    assert body.shape == (5000, len(info.names) + 1)
    np.testing.assert_allclose(body[:, 1:], values, rtol=1e-6)


def test_heatmap_hover(qtbot, recorded_runs):
    panel = make(qtbot, GradHeatmapPlot)
    entry = recorded_runs[1]
    panel.refresh(recorded_runs, entry)
    g = entry.store.layer("grad_norm")
    steps = entry.store.layer_step
    text = panel.describe_point(QtCore.QPointF(float(steps[20]) + 0.3, 6.2))
    assert text == f"stage2.block0.conv1 (layer 6) · step {steps[20]:,} · ‖∂L/∂W‖ = {g[20, 5]:.2e}"
    panel.on_hover(QtCore.QPointF(float(steps[0]), 1.0))
    assert panel.readout.text().startswith("stem.conv (layer 1) · step 1 ·")
    assert panel.describe_point(QtCore.QPointF(-50.0, 1.0)) == ""
    info = layer_info(3)
    values = synthetic_values(1000, len(info.names))
    binned = make(qtbot, GradHeatmapPlot, max_columns=300)
    binned.refresh([synthetic_entry(values, info)], None)
    assert binned.bin == 4
    text = binned.describe_point(QtCore.QPointF(6.0, 1.0))  # steps 5-8 form column 1
    geo = 10 ** np.log10(values[4:8, 0].astype(np.float64)).mean()
    assert text.startswith("stem.conv (layer 1) · steps 5–8 (geometric mean of 4) · ")
    assert float(text.split("= ")[1]) == pytest.approx(geo, rel=1e-2)


# --- rendering -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", (*PROFILE_PANELS, GradHeatmapPlot))
def test_render_png(qtbot, recorded_runs, cls, tmp_path):
    panel = make(qtbot, cls)
    panel.resize(900, 550)
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh(recorded_runs, recorded_runs[1] if cls is GradHeatmapPlot else None)
    qtbot.wait(30)  # let axes resize to their new tick labels
    image = panel.grab().toImage()
    assert image.width() >= 900 and image.height() >= 550
    path = tmp_path / f"{cls.key}.png"
    assert panel.grab().save(str(path)) and path.stat().st_size > 10_000
    panel.grab().save(f"/tmp/{cls.key}.png")  # for a look by eye
    assert isinstance(panel.export_item(), pg.GraphicsLayout)


def test_base_class_is_generic():
    assert all(issubclass(c, DepthProfilePlot) for c in PROFILE_PANELS)
    assert len({c.key for c in PROFILE_PANELS} | {GradHeatmapPlot.key}) == 5
