"""ErrorPlot / LossPlot: curve data, incremental updates, visibility, divergence marker, CSV, hover."""

from __future__ import annotations

import csv
import dataclasses
import math

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui

from resnet_viz.config import RunConfig
from resnet_viz.gui.plots.curves import ErrorPlot, LossPlot
from resnet_viz.gui.plots.decimation import PeakBins, peak_decimate
from resnet_viz.gui.plots.running_mean import RunningMean
from resnet_viz.gui.runs import RunEntry
from resnet_viz.metrics.records import EvalRecord, TrainChunk


def running_mean_reference(values: np.ndarray, valid: np.ndarray, window: int) -> np.ndarray:
    """Independent O(N·w) reference: mean of the valid samples among the last ``window`` steps."""
    out = np.full(len(values), np.nan)
    for i in range(len(values)):
        lo = max(0, i + 1 - window)
        sel = values[lo : i + 1][valid[lo : i + 1]]
        if valid[i] and len(sel):
            out[i] = sel.mean()
    return out


def expected_train(entry, scalar: str, scale: float, window: int) -> np.ndarray:
    store = entry.store
    values = store.scalar(scalar).astype(np.float64)
    valid = np.isfinite(values) & np.isfinite(store.scalar("loss"))
    return running_mean_reference(values, valid, window) * scale


def copies(runs, **changes):
    return [dataclasses.replace(r, **changes) for r in runs]


@pytest.fixture
def error_plot(qtbot):
    panel = ErrorPlot()
    qtbot.addWidget(panel)
    return panel


@pytest.fixture
def loss_plot(qtbot):
    panel = LossPlot()
    qtbot.addWidget(panel)
    return panel


def test_running_mean_incremental_matches_reference() -> None:
    rng = np.random.default_rng(0)
    values = rng.random(500)
    values[[17, 18, 250]] = [np.nan, np.inf, np.nan]
    mean = RunningMean(window=7, scale=100.0)
    for a, b in [(0, 1), (1, 40), (40, 41), (41, 300), (300, 500)]:  # arbitrary chunking
        mean.extend(values[a:b])
    ref = running_mean_reference(values, np.isfinite(values), 7) * 100
    np.testing.assert_allclose(mean.values, ref, rtol=1e-10, equal_nan=True)
    assert np.isnan(mean.values[[17, 18, 250]]).all()
    mean.set_window(1)
    np.testing.assert_allclose(mean.values, np.where(np.isfinite(values), values, np.nan) * 100, equal_nan=True)
    mean.set_window(1000)  # window longer than the series: mean of everything so far
    np.testing.assert_allclose(mean.values[-1], np.nanmean(values[np.isfinite(values)]) * 100, rtol=1e-10)


def test_error_curves_match_records(error_plot, recorded_runs) -> None:
    error_plot.refresh(recorded_runs, None)
    for entry in recorded_runs:
        rc = error_plot.run_curves(entry.run_id)
        x, y = rc.train.getOriginalDataset()
        np.testing.assert_array_equal(x, entry.store.scalar("step"))
        np.testing.assert_allclose(y, expected_train(entry, "batch_error", 100.0, 20), rtol=1e-10, equal_nan=True)
        tx, ty = rc.test.getOriginalDataset()
        evals = entry.store.evals
        if evals:
            np.testing.assert_array_equal(tx, [e.step for e in evals])
            np.testing.assert_allclose(ty, [e.test_error * 100 for e in evals], rtol=1e-12)
        else:
            assert tx is None and ty is None
        assert rc.train.opts["pen"].width() == 1
        assert rc.test.opts["pen"].width() == 3 and rc.test.opts["symbol"] == "o"
        assert rc.train.isVisible() and rc.test.isVisible()
    # real, plausible numbers: errors of a 10-class problem in percent
    y = error_plot.run_curves(recorded_runs[0].run_id).train.getOriginalDataset()[1]
    assert np.nanmin(y) >= 0 and np.nanmax(y) <= 100 and np.nanmean(y) > 30


def test_smoothing_one_gives_raw_series(error_plot, recorded_runs) -> None:
    error_plot.refresh(recorded_runs, None)
    error_plot.set_smoothing(1)  # redraws right away with the last runs
    entry = recorded_runs[1]
    _, y = error_plot.run_curves(entry.run_id).train.getOriginalDataset()
    np.testing.assert_allclose(y, entry.store.scalar("batch_error") * 100, rtol=1e-12)
    error_plot.set_smoothing(5)
    _, y = error_plot.run_curves(entry.run_id).train.getOriginalDataset()
    np.testing.assert_allclose(y, expected_train(entry, "batch_error", 100.0, 5), rtol=1e-10)
    key = [label.text for _, label in error_plot.legend.items][-2]
    assert "mean of 5 steps" in key


def test_loss_plot_log_mode_positive_or_nan(loss_plot, recorded_runs) -> None:
    assert loss_plot.plot.getAxis("left").logMode
    loss_plot.refresh(recorded_runs, None)
    for entry in recorded_runs:
        rc = loss_plot.run_curves(entry.run_id)
        _, y = rc.train.getOriginalDataset()
        assert np.all(np.isnan(y) | (y > 0))
        np.testing.assert_allclose(y, expected_train(entry, "loss", 1.0, 20), rtol=1e-10, equal_nan=True)
        if entry.store.evals:
            _, ty = rc.test.getOriginalDataset()
            np.testing.assert_allclose(ty, [e.test_loss for e in entry.store.evals], rtol=1e-12)
            assert np.all(ty > 0)
    assert loss_plot.plot.getAxis("left").labelText == "cross-entropy loss (nats)"


def test_visibility_and_removal(error_plot, recorded_runs) -> None:
    error_plot.refresh(recorded_runs, None)
    hidden = copies(recorded_runs[:1], visible=False) + list(recorded_runs[1:])
    error_plot.refresh(hidden, None)
    rc0 = error_plot.run_curves(recorded_runs[0].run_id)
    assert not rc0.train.isVisible() and not rc0.test.isVisible()
    assert rc0.train in error_plot.plot.items  # hidden, not deleted
    labels = [label.text for _, label in error_plot.legend.items]
    assert not any(t == "plain-8" for t in labels) and "resnet-14" in labels
    error_plot.refresh(recorded_runs, None)
    assert rc0.train.isVisible() and "plain-8" in [label.text for _, label in error_plot.legend.items]
    # a run no longer in the list loses its items
    error_plot.refresh(recorded_runs[1:], None)
    assert error_plot.run_curves(recorded_runs[0].run_id) is None
    assert rc0.train not in error_plot.plot.items and rc0.test not in error_plot.plot.items
    assert "plain-8" not in [label.text for _, label in error_plot.legend.items]


def test_no_setdata_without_changes(error_plot, recorded_runs, monkeypatch) -> None:
    calls = []
    original = pg.PlotDataItem.setData

    def counting(self, *args, **kwargs):
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pg.PlotDataItem, "setData", counting)
    error_plot.refresh(recorded_runs, None)
    assert len(calls) >= 2 * len(recorded_runs)
    calls.clear()
    error_plot.refresh(recorded_runs, recorded_runs[0])
    error_plot.refresh(recorded_runs, recorded_runs[0])
    assert calls == []
    # a version bump redraws that run only (its training curve; evaluations unchanged)
    bumped = list(recorded_runs)
    bumped[1] = dataclasses.replace(recorded_runs[1], version=recorded_runs[1].version + 1)
    error_plot.refresh(bumped, None)
    assert calls == [error_plot.run_curves(recorded_runs[1].run_id).train]
    calls.clear()
    # a colour change restyles without new data
    recoloured = [dataclasses.replace(bumped[0], color="#FF0000")] + bumped[1:]
    error_plot.refresh(recoloured, None)
    assert calls == []
    assert error_plot.run_curves(recorded_runs[0].run_id).train.opts["pen"].color().name() == "#ff0000"


def test_incremental_growth_matches_full(error_plot) -> None:
    """Records arriving chunk by chunk give the same curve as all at once."""
    rng = np.random.default_rng(1)
    err = rng.random(1000)
    entry = RunEntry(run_id=7, config=RunConfig(), name="grow", color="#0072B2")
    for a in range(0, 1000, 137):
        b = min(a + 137, 1000)
        entry.store.add(_chunk(a, b, err[a:b]))
        entry.version += 1
        error_plot.refresh([entry], None)
    _, y = error_plot.run_curves(7).train.getOriginalDataset()
    np.testing.assert_allclose(y, running_mean_reference(err, np.ones(1000, bool), 20) * 100, rtol=1e-10)


def _chunk(a: int, b: int, batch_error: np.ndarray) -> TrainChunk:
    k = b - a
    return TrainChunk(
        step=np.arange(a + 1, b + 1, dtype=np.int64),
        loss=np.full(k, 2.0),
        batch_error=batch_error,
        lr=np.full(k, 0.1),
        step_time_s=np.full(k, 0.01),
    )


def test_diverged_run_stops_with_marker(error_plot, loss_plot, recorded_runs) -> None:
    diverged = recorded_runs[2]
    assert diverged.diverged and not np.isfinite(diverged.store.scalar("loss")[-1])
    steps = diverged.store.scalar("step")
    for panel in (error_plot, loss_plot):
        panel.refresh(recorded_runs, None)
        rc = panel.run_curves(diverged.run_id)
        _, y = rc.train.getOriginalDataset()
        assert np.isnan(y[-1]) and np.isfinite(y[-2])  # the line stops at the last finite value
        assert rc.marker.isVisible() and rc.marker_text.isVisible()
        assert rc.marker.opts["symbol"] == "x"
        mx, my = rc.marker.getOriginalDataset()
        assert mx[0] == steps[-1]
        if panel is error_plot:
            assert my[0] == pytest.approx(y[-2])
            assert rc.marker_text.textItem.toPlainText() == "diverged"
        else:  # the loss exploded (~1e25 nats): the marker sits at the auto-range cap and says how far
            assert y[-2] > 1e20 and my[0] == panel.autorange_max
            assert rc.marker_text.textItem.toPlainText() == f"diverged ({y[-2]:.4g})"
            panel.plot.vb.updateAutoRange()  # normally done before the next paint
            y_lo, y_hi = panel.plot.vb.viewRange()[1]  # log10 nats: the view is not stretched to 1e25
            assert 0 < y_lo < math.log10(2) and math.log10(panel.autorange_max) <= y_hi < 2.5
        for entry in recorded_runs[:2]:
            assert not panel.run_curves(entry.run_id).marker.isVisible()
    # hiding the diverged run hides its marker too
    error_plot.refresh(recorded_runs[:2] + copies(recorded_runs[2:], visible=False), None)
    assert not error_plot.run_curves(diverged.run_id).marker.isVisible()


def test_csv_export(error_plot, recorded_runs, tmp_path) -> None:
    error_plot.refresh(recorded_runs, None)
    path = tmp_path / "error.csv"
    error_plot.export_csv(path)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    for entry in recorded_runs:
        assert f"{entry.name} training error % (mean of 20 steps)_x" in header
        assert f"{entry.name} training error % (mean of 20 steps)_y" in header
    assert "plain-8 test error %_y" in header and "plain-8 diverging test error %_y" not in header  # no evals
    assert not any("diverged" in h and "diverging" not in h for h in header)  # the marker is not data
    assert len(body) == max(e.store.steps_done for e in recorded_runs)

    def column(name: str) -> np.ndarray:
        j = header.index(name)
        return np.array([float(r[j]) for r in body if r[j] != ""])

    for entry in recorded_runs:
        stem = f"{entry.name} training error % (mean of 20 steps)"
        np.testing.assert_array_equal(column(stem + "_x"), entry.store.scalar("step"))
        np.testing.assert_allclose(
            column(stem + "_y"), expected_train(entry, "batch_error", 100.0, 20), rtol=1e-8, equal_nan=True
        )
    entry = recorded_runs[1]
    np.testing.assert_allclose(
        column(f"{entry.name} test error %_y"), [e.test_error * 100 for e in entry.store.evals], rtol=1e-8
    )
    # hidden runs are left out
    error_plot.refresh(copies(recorded_runs[:1], visible=False) + list(recorded_runs[1:]), None)
    error_plot.export_csv(path)
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    assert not any(h.startswith("plain-8 training") or h.startswith("plain-8 test") for h in header)


def test_hover_readout(error_plot, loss_plot, recorded_runs) -> None:
    for panel in (error_plot, loss_plot):
        panel.refresh(recorded_runs, None)
    entry = recorded_runs[1]
    rc = error_plot.run_curves(entry.run_id)
    x, y = rc.train.getOriginalDataset()
    step = 27
    i = int(np.flatnonzero(x == step)[0])
    error_plot.on_hover(QtCore.QPointF(step + 0.2, y[i]))
    text = error_plot.readout.text()
    assert text.startswith("resnet-14") and "step 27:" in text
    assert f"training {y[i]:.1f}% (mean of 20)" in text
    assert f"test {entry.store.evals[2].test_error * 100:.1f}% (at step 30)" in text
    # log axis: view y is log10 of the value
    rc = loss_plot.run_curves(entry.run_id)
    _, ly = rc.train.getOriginalDataset()
    loss_plot.on_hover(QtCore.QPointF(step, math.log10(ly[i])))
    assert loss_plot.readout.text().startswith("resnet-14") and f"training {ly[i]:.4g}" in loss_plot.readout.text()
    # far from every run's steps: nothing to read
    error_plot.on_hover(QtCore.QPointF(10_000, 50))
    assert error_plot.readout.text().strip() == ""


def test_hover_picks_nearest_run(error_plot) -> None:
    runs = []
    for run_id, level in [(1, 0.2), (2, 0.6)]:
        entry = RunEntry(run_id=run_id, config=RunConfig(), name=f"run{run_id}", color="#000000")
        entry.store.add(EvalRecord(step=50, train_error=level, train_loss=1.0, test_error=level, test_loss=1.0))
        entry.store.add(_chunk(0, 100, np.full(100, level)))
        entry.version = 1
        runs.append(entry)
    error_plot.refresh(runs, None)
    assert error_plot.hover_text(QtCore.QPointF(40, 25)).startswith("run1")
    assert error_plot.hover_text(QtCore.QPointF(40, 55)).startswith("run2")
    assert "training 60.0% (mean of 20), test 60.0% (at step 50)" in error_plot.hover_text(QtCore.QPointF(40, 55))


def test_render_png(qtbot, recorded_runs) -> None:
    for cls, name in [(ErrorPlot, "error"), (LossPlot, "loss")]:
        panel = cls()
        qtbot.addWidget(panel)
        panel.refresh(recorded_runs, recorded_runs[1])
        panel.resize(900, 550)
        panel.show()
        qtbot.waitExposed(panel)
        image = panel.grab().toImage()
        assert image.width() >= 900 and image.height() >= 550
        image.save(f"/tmp/curves_{name}.png")
        pixels = _rgb(image)
        for entry in recorded_runs:  # every run's curves are drawn, in its colour
            colour = QtGui.QColor(entry.color).rgb() & 0xFFFFFF
            assert np.count_nonzero(pixels == colour) > 200, (name, entry.name)


def _rgb(image: QtGui.QImage) -> np.ndarray:
    """The pixels of ``image`` as 0xRRGGBB uint32 [H, W]."""
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    h, w, stride = image.height(), image.width(), image.bytesPerLine() // 4
    return np.frombuffer(image.constBits(), np.uint32, count=h * stride).reshape(h, stride)[:, :w] & 0xFFFFFF


def test_peak_bins_extended_in_chunks_equal_a_fresh_decimation() -> None:
    rng = np.random.default_rng(3)
    x = np.arange(1, 10_001, dtype=np.int64)
    y = rng.random(10_000)
    y[[5, 6, 4000]] = np.nan  # a bin holding NaN shows NaN (the line breaks there)
    bins = PeakBins(16)
    for stop in (1, 15, 16, 17, 999, 5000, 5001, 10_000):
        bins.extend(x[:stop], y[:stop])
        fx, fy = peak_decimate(x[:stop], y[:stop], 16)
        np.testing.assert_array_equal(bins.x.values, fx)
        np.testing.assert_array_equal(bins.y.values, fy)
    assert bins.samples == 10_000 // 16 * 16
    body = y[: bins.samples].reshape(-1, 16)
    np.testing.assert_array_equal(fy[0::2], body.max(axis=1))
    np.testing.assert_array_equal(fy[1::2], body.min(axis=1))
    np.testing.assert_array_equal(fx[0::2], x[: bins.samples : 16])
    np.testing.assert_array_equal(fx[1::2], x[15 : bins.samples : 16])
    assert np.isnan(fy[0]) and np.isnan(fy[2 * (4000 // 16)])


def _long_run(error_plot, n: int, status: str = "running") -> RunEntry:
    rng = np.random.default_rng(4)
    entry = RunEntry(run_id=8, config=RunConfig(), name="long", color="#0072B2", status=status)
    for a in range(0, n, 4096):
        b = min(a + 4096, n)
        entry.store.add(_chunk(a, b, rng.random(b - a)))
    entry.version += 1
    error_plot.resize(700, 400)
    error_plot.show()
    error_plot.refresh([entry], None)
    return entry


def test_long_run_is_drawn_from_cached_bins(error_plot) -> None:
    """100k steps: pyqtgraph gets 1-2 peak bins per pixel (a cached level) and the raw tail; the item's
    original dataset stays the full running mean, and a new chunk adds bins without rebinning the history."""
    entry = _long_run(error_plot, 100_000)
    curve = error_plot.run_curves(8).train
    x, y = curve.getOriginalDataset()
    assert len(x) == len(y) == 100_000
    ds, first, stop = curve._window
    assert (first, stop) == (0, 100_000) and ds > 1 and ds & (ds - 1) == 0  # a power of two
    width = error_plot.plot.vb.width()
    shown_x, shown_y = curve.getData()
    assert width <= len(shown_x) / 2 <= 2 * width + ds
    bins = curve.levels[ds]
    fx, fy = peak_decimate(x, y, ds)
    np.testing.assert_array_equal(shown_x[: len(fx)], fx)
    np.testing.assert_array_equal(shown_y[: len(fy)], fy)
    np.testing.assert_array_equal(shown_y[len(fy) :], y[bins.samples :])  # the last, incomplete bin: raw
    before = bins.x.values.copy()
    entry.store.add(_chunk(100_000, 100_030, np.full(30, 0.5)))
    entry.version += 1
    error_plot.refresh([entry], None)
    assert curve.levels[ds] is bins and np.array_equal(bins.x.values[: len(before)], before)
    assert curve.getOriginalDataset()[0][-1] == 100_030


def test_zoomed_in_view_gets_the_finer_level_clipped(error_plot) -> None:
    _long_run(error_plot, 100_000)
    curve = error_plot.run_curves(8).train
    error_plot.plot.vb.setXRange(50_000, 51_000, padding=0)  # a user zoom: x auto-range off
    ds, first, stop = curve._window
    assert ds == 1 and first <= 50_000 and stop >= 51_000 and stop - first < 5_000
    shown_x, _ = curve.getData()
    assert shown_x[0] <= 50_000 and shown_x[-1] >= 51_000 and len(shown_x) < 5_000
    error_plot.plot.vb.setXRange(50_100, 51_100, padding=0)  # a small pan stays inside the drawn margin
    assert curve._window == (ds, first, stop)


def test_x_range_grows_in_steps_while_a_run_trains(error_plot) -> None:
    """Appending 30 steps a frame moves the x range only when the run passes the next nice bound; a plot
    whose runs did not change does no work; once the run has finished the range fits its steps."""
    entry = _long_run(error_plot, 1_000)
    vb = error_plot.plot.vb
    ranges = []
    for a in range(1_000, 2_320, 30):  # 44 chunks, to step 2,320
        entry.store.add(_chunk(a, a + 30, np.full(30, 0.3)))
        entry.version += 1
        error_plot.refresh([entry], None)
        ranges.append(tuple(vb.viewRange()[0]))
        assert ranges[-1][1] >= a + 30
    distinct = sorted(set(ranges), key=lambda r: r[1])
    assert len(distinct) == 4 and len(ranges) == 44  # 1,200 → 1,500 → 2,000 → 2,500: nice bounds only
    for (_, right), bound in zip(distinct, (1200, 1500, 2000, 2500)):
        assert bound < right < bound * 1.05  # the bound and the view's padding
    axis = error_plot.plot.getAxis("bottom")
    error_plot.grab()
    picture = axis.picture
    error_plot.refresh([entry], None)  # nothing changed: no new data, no range or axis work
    error_plot.grab()
    assert axis.picture is picture and tuple(vb.viewRange()[0]) == ranges[-1]
    finished = dataclasses.replace(entry, status="finished", version=entry.version + 1)
    error_plot.refresh([finished], None)
    right = vb.viewRange()[0][1]
    assert 2_320 < right < 2_320 * 1.05  # the last step and the padding (no longer 2,500)


def test_evaluation_dots_only_when_few_in_view(error_plot) -> None:
    """A bold curve carries dots while at most MAX_DOTS (150) of its evaluations lie in the x view: 400 evaluations
    over the whole run are a line alone; zoomed in on 101 of them, or a run with 40, the dots are back."""
    many = RunEntry(run_id=1, config=RunConfig(), name="many", color="#0072B2")
    few = RunEntry(run_id=2, config=RunConfig(), name="few", color="#D55E00")
    for entry, n_evals in [(many, 400), (few, 40)]:
        entry.store.add(_chunk(0, 4000, np.full(4000, 0.5)))
        for step in np.linspace(10, 4000, n_evals).astype(int):
            entry.store.add(EvalRecord(step=int(step), train_error=0.4, train_loss=1.0, test_error=0.4, test_loss=1.0))
        entry.version = 1
    error_plot.resize(600, 400)
    error_plot.show()
    error_plot.refresh([many, few], None)
    error_plot.plot.vb.prepareForPaint()
    dots = {e.name: error_plot.run_curves(e.run_id).test for e in (many, few)}
    assert dots["many"].opts["symbol"] is None and not dots["many"].scatter.isVisible()
    assert dots["few"].opts["symbol"] == "o" and len(dots["few"].scatter.getData()[0]) == 40
    assert len(dots["many"].getOriginalDataset()[0]) == 400  # the line keeps every evaluation
    error_plot.plot.setXRange(1000, 2000, padding=0)  # ~100 of the 400 in view
    assert dots["many"].opts["symbol"] == "o" and dots["many"].scatter.isVisible()
    error_plot.plot.setXRange(0, 4000, padding=0)
    assert dots["many"].opts["symbol"] is None
    error_plot.plot.setLogMode(x=True)  # view x in log10 units: log10(2000..4000) holds ~200 evaluations
    error_plot.plot.setXRange(math.log10(2000), math.log10(4000), padding=0)
    assert dots["many"].opts["symbol"] is None
    error_plot.plot.setXRange(math.log10(3000), math.log10(4000), padding=0)  # ~100
    assert dots["many"].opts["symbol"] == "o"
