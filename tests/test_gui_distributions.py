"""The histogram panels (distributions over steps, histograms at a step) and the dead-units depth plot,
on synthetic stores whose histograms are known (no training: fast)."""

from __future__ import annotations

import csv

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore

from resnet_viz.config import RunConfig, TrainConfig
from resnet_viz.gui.plots.dead_units import DeadUnitsDepthPlot
from resnet_viz.gui.plots.distributions import BANDS, MEDIAN, DistributionsPlot
from resnet_viz.gui.plots.histogram_overlay import HistogramOverlayPlot
from resnet_viz.gui.plots.registry import PANEL_TYPES
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.distributions import density, histogram_series, percentiles
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    HistogramRecord,
    LayerInfoRecord,
    LayerStats,
    RunStarted,
    TrainChunk,
)
from resnet_viz.metrics.store import RunStore

NAMES = ["stem.conv", "stage1.block0.conv1", "stage1.block0.conv2", "stage2.block0.conv1", "fc"]
BINS = 16


def _info() -> LayerInfoRecord:
    n = len(NAMES)
    return LayerInfoRecord(
        names=NAMES,
        kinds=["conv"] * (n - 1) + ["linear"],
        roles=["stem", "branch", "branch", "branch", "head"],
        stages=np.array([0, 1, 1, 2, 3]),
        blocks=np.array([-1, 0, 0, 1, -1]),
        fan_in=np.ones(n, np.int64),
        params=np.ones(n, np.int64),
    )


def _started() -> RunStarted:
    ones = np.ones(len(NAMES))
    return RunStarted("synthetic", {}, {}, "cpu", {}, _info(), len(NAMES), 20, 0 * ones, ones, ones, ones, ones)


def _histograms(steps: range, seed: int) -> list[HistogramRecord]:
    """Per step and kind, layer l holds N(l, (1 + step/10)·scale) samples (kinds: other scales)."""
    rng = np.random.default_rng(seed)
    out = []
    for step in steps:
        for kind, scale in (("weight", 1.0), ("gradient", 0.01), ("activation", 3.0)):
            edges = np.empty((len(NAMES), BINS + 1))
            counts = np.empty((len(NAMES), BINS), np.int64)
            for layer in range(len(NAMES)):
                x = rng.normal(layer * scale, (1 + step / 10) * scale, 400)
                edges[layer] = np.linspace(x.min(), x.max(), BINS + 1)
                counts[layer] = np.histogram(x, edges[layer])[0]
            out.append(HistogramRecord(step, kind, edges, counts))
    return out


def _entry(run_id: int, color: str, steps: range, histogram_every: int = 5, seed: int = 0) -> RunEntry:
    store = RunStore()
    store.add(_started())
    k = 20
    dead = np.random.default_rng(seed).uniform(0, 1, (k, len(NAMES))).astype(np.float32)
    dead[:, -1] = np.nan  # the head: no ReLU after it
    stats = {q: np.ones((k, len(NAMES)), np.float32) for q in LAYER_QUANTITIES}
    stats["dead_fraction"] = dead
    step = np.arange(1, k + 1, dtype=np.int64)
    zeros = np.zeros(k)
    store.add(TrainChunk(step, zeros, zeros, zeros, zeros, layers=LayerStats(**stats), layer_step=step))
    for h in _histograms(steps, seed):
        store.add(h)
    config = RunConfig(train=TrainConfig(histogram_every=histogram_every))
    return RunEntry(run_id, config, f"run-{run_id}", store, "finished", 1, color=color)


@pytest.fixture(scope="module")
def runs():
    """Two runs in different colours: histograms every 5 steps (5..20) and every 4 steps (4..20)."""
    return [_entry(1, "#0072B2", range(5, 21, 5)), _entry(2, "#D55E00", range(4, 21, 4), 4, seed=1)]


@pytest.fixture
def make(qtbot):
    def create(cls):
        panel = cls()
        qtbot.addWidget(panel)
        panel.resize(700, 450)
        return panel

    return create


def _curve(item: pg.PlotCurveItem) -> tuple[np.ndarray, np.ndarray]:
    x, y = item.getData()
    return np.asarray(x), np.asarray(y)


def test_bands_are_the_percentiles_of_the_chosen_layer_and_the_picker_moves_through_depth(qtbot, make, runs):
    panel = make(DistributionsPlot)
    panel.refresh(runs, None)  # no selection: the first visible run
    assert panel.kind == "gradient" and panel.mode == "bands" and panel.layers.slider.maximum() == len(NAMES) - 1
    series = histogram_series(runs[0].store.histograms, "gradient")
    medians = []
    for layer in (0, 3):
        panel.layers.set_layer(layer)
        expected = percentiles(series, layer)
        for i, (lo, hi, _alpha) in enumerate(BANDS):
            x, y_lo = _curve(panel.band_edges[2 * i])
            assert x.tolist() == [5, 10, 15, 20] and np.array_equal(y_lo, expected[:, lo])
            assert np.array_equal(_curve(panel.band_edges[2 * i + 1])[1], expected[:, hi])
        medians.append(panel.median.getData()[1])
        assert np.array_equal(medians[-1], expected[:, MEDIAN])
        assert panel.fills[0].brush().color().name() == runs[0].color.lower()
        assert NAMES[layer] in panel.layers.name.text() and NAMES[layer] in panel.plot.titleLabel.text
    assert medians[1].mean() == pytest.approx(0.03, abs=0.005)  # layer 3 is centred on 3 × 0.01
    qtbot.keyClick(panel, QtCore.Qt.Key.Key_Down)  # arrow keys step through depth
    assert panel.layers.layer() == 4
    qtbot.keyClick(panel, QtCore.Qt.Key.Key_Up)
    assert panel.layers.layer() == 3
    panel.refresh(runs, runs[1])  # the selected run
    assert panel.median.getData()[0].tolist() == [4, 8, 12, 16, 20]


def test_refresh_redraws_only_when_something_changed(make, runs, monkeypatch):
    panel = make(DistributionsPlot)
    panel.refresh(runs, None)
    calls = []
    monkeypatch.setattr(panel, "_draw", lambda entry: calls.append(entry))
    panel.refresh(runs, None)
    panel.refresh(runs, None)
    assert calls == []
    panel.set_view(kind="weight")
    assert len(calls) == 1


def test_density_view_shows_each_steps_fractions_with_a_colour_bar(make, runs):
    panel = make(DistributionsPlot)
    panel.refresh(runs, None)
    panel.set_view(mode="density", kind="activation", log=True)
    panel.layers.set_layer(2)
    steps, edges, dens = density(histogram_series(runs[0].store.histograms, "activation"), 2, log=True)
    assert np.array_equal(panel.image.image, dens)
    assert np.all((dens.sum(axis=1) > 0.99) & (dens.sum(axis=1) <= 1.0))  # magnitudes below the axis left out
    assert np.array_equal(panel.value_edges, edges) and panel.colorbar in panel.graphics.ci.items
    assert panel.image.isVisible() and not panel.median.isVisible()
    assert "log₁₀" in panel.plot.getAxis("left").labelText
    panel.set_view(mode="bands")
    assert panel.colorbar not in panel.graphics.ci.items and not panel.image.isVisible()


def test_without_histograms_the_panels_say_how_to_get_them(make, runs):
    plain = _entry(3, "#009E73", range(0), histogram_every=0)
    for cls in (DistributionsPlot, HistogramOverlayPlot):
        panel = make(cls)
        panel.refresh([plain], None)
        assert panel.message.startswith("Histograms are off") and "--histogram-every" in panel.message
        assert panel.empty.isVisible()
        with pytest.raises(ValueError):
            panel.export_csv("unused.csv")
        panel.refresh([plain, *runs], None)  # the overlay draws the runs that have some; one-run panel: the first
        assert (panel.message == "") == (cls is HistogramOverlayPlot)
    panel = make(DistributionsPlot)
    panel.refresh([], None)
    assert panel.message.startswith("No run to show")


def test_overlay_draws_every_run_at_its_latest_step_in_its_colour(qtbot, make, runs):
    panel = make(HistogramOverlayPlot)
    panel.refresh(runs, None)
    assert panel.all_steps.tolist() == [4, 5, 8, 10, 12, 15, 16, 20] and panel.step == 20  # follows the latest
    panel.set_step(14)
    assert panel.step == 12
    qtbot.keyClick(panel, QtCore.Qt.Key.Key_Left)  # left/right: through the steps, up/down: through depth
    qtbot.keyClick(panel, QtCore.Qt.Key.Key_Down)
    assert panel.step == 10 and panel.layers.layer() == 1
    qtbot.keyClick(panel, QtCore.Qt.Key.Key_Right)
    qtbot.keyClick(panel, QtCore.Qt.Key.Key_Up)
    assert panel.step == 12 and panel.layers.layer() == 0
    assert {run_id: d.step for run_id, d in panel.drawn.items()} == {1: 10, 2: 12}
    assert [d.name for d in panel.drawn.values()] == ["run-1 (step 10)", "run-2"]  # the title names step 12
    for entry in runs:
        d = panel.drawn[entry.run_id]
        pen_color, fill = d.item.curve.opts["pen"].color(), pg.mkBrush(d.item.curve.opts["brush"]).color()
        assert pen_color.name() == fill.name() == entry.color.lower() and 0 < fill.alpha() < 255
        assert np.sum(d.heights * np.diff(d.edges)) == pytest.approx(1.0)  # a density
        assert any(entry.name in label.text for _, label in panel.legend.items)
    panel.log_box.setChecked(True)
    d = panel.drawn[1]
    assert np.sum(d.heights * np.diff(d.edges)) == pytest.approx(1.0, abs=0.01)
    assert "log₁₀" in panel.plot.getAxis("bottom").labelText
    hidden = [runs[0], _entry(2, "#D55E00", range(4, 21, 4), 4, seed=1)]
    hidden[1].visible = False
    panel.refresh(hidden, None)
    assert list(panel.drawn) == [1] and len(panel.legend.items) == 1


def test_dead_units_plot_shows_the_store_values_linearly_without_nan_layers(make, runs):
    panel = make(DeadUnitsDepthPlot)
    assert "dead_units" in PANEL_TYPES and "distributions" in PANEL_TYPES and "histogram_overlay" in PANEL_TYPES
    panel.set_window(1)
    panel.refresh(runs, None)
    for entry in runs:
        x, y = panel.curve(entry.run_id).getOriginalDataset()
        last = entry.store.layer("dead_fraction")[-1]
        assert x.tolist() == [1, 2, 3, 4] and np.allclose(y, last[:4])  # the head (NaN) is skipped
    assert not panel.plot.getAxis("left").logMode
    assert panel.plot.vb.viewRange()[1][0] <= 0.0 and panel.plot.vb.viewRange()[1][1] >= 1.0
    panel.set_window(5)
    y = panel.curve(1).getOriginalDataset()[1]
    assert np.allclose(y, runs[0].store.layer("dead_fraction")[-5:, :4].mean(axis=0))


def _rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_csv_export_writes_what_each_panel_shows(make, runs, tmp_path):
    dist = make(DistributionsPlot)
    dist.refresh(runs, None)
    dist.layers.set_layer(1)
    dist.export_csv(tmp_path / "bands.csv")
    rows = _rows(tmp_path / "bands.csv")
    assert rows[0][:5] == ["run", "kind", "layer", "step", "p0"] and rows[0][-1] == "p100"
    expected = percentiles(histogram_series(runs[0].store.histograms, "gradient"), 1)
    assert [r[:4] for r in rows[1:]] == [["run-1", "gradient", NAMES[1], str(s)] for s in (5, 10, 15, 20)]
    assert np.array_equal(np.array([r[4:] for r in rows[1:]], float), expected)
    dist.set_view(mode="density")
    dist.export_csv(tmp_path / "density.csv")
    rows = _rows(tmp_path / "density.csv")
    assert rows[0][4:] == ["value_low", "value_high", "fraction"] and len(rows) == 1 + 4 * dist.n_bins
    assert sum(float(r[6]) for r in rows[1:] if r[3] == "5") == pytest.approx(1.0)
    over = make(HistogramOverlayPlot)
    over.refresh(runs, None)
    over.export_csv(tmp_path / "overlay.csv")
    rows = _rows(tmp_path / "overlay.csv")
    assert rows[0] == ["run", "kind", "layer", "step", "value_low", "value_high", "density"]
    assert len(rows) == 1 + 2 * BINS and {r[0] for r in rows[1:]} == {"run-1", "run-2"}
    heights = np.array([float(r[6]) for r in rows[1:] if r[0] == "run-2"])
    assert np.array_equal(heights, over.drawn[2].heights)


def test_overlay_legend_goes_to_the_top_corner_over_fewer_bars(qtbot, make, runs):
    panel = make(HistogramOverlayPlot)
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh(runs, None)
    panel.plot.setRange(xRange=(0, 10), yRange=(0, 1), padding=0)
    edges = np.arange(11.0)
    tall_right = np.where(edges[:-1] >= 5, 1.0, 0.0)
    panel.legend.bars = [(edges, tall_right)]
    assert panel.place_legend() == (0, 0)  # top left: the bars stand on the right
    panel.legend.bars = [(edges, tall_right[::-1])]
    assert panel.place_legend() == (1, 0)


def test_the_window_docks_the_panels_in_tabs_and_draws_them_when_in_front(qtbot, window, runs):
    ex, docks = window.explorer, window.docks
    assert docks["distributions"] in ex.tabifiedDockWidgets(docks["grad_heatmap"])
    assert docks["histogram_overlay"] in ex.tabifiedDockWidgets(docks["grad_norm_depth"])
    assert docks["dead_units"] in ex.tabifiedDockWidgets(docks["update_ratio_depth"])
    entry = _entry(0, "#0072B2", range(5, 21, 5))
    window.manager.adopt(entry)
    docks["distributions"].raise_()
    qtbot.waitUntil(lambda: not window.panel["distributions"].visibleRegion().isEmpty())
    window.refresh_plots()
    panel = window.panel["distributions"]
    assert panel.entry is entry and panel.median.getData()[0].tolist() == [5, 10, 15, 20]
    assert "median" in panel.describe_point(QtCore.QPointF(11, 0))
