"""Seed bands in the window's plots: the mean curve and the band are numpy's mean and std (or min/max) over the
group's runs, switching back restores one curve per run, CSV has mean/lo/hi columns, the SVG has the band."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pyqtgraph as pg
import pytest

from resnet_viz.config import RunConfig
from resnet_viz.gui import figure_export
from resnet_viz.gui.plots.act_std import ActStdDepthPlot
from resnet_viz.gui.plots.curves import ErrorPlot, LossPlot
from resnet_viz.gui.plots.depth import GradNormDepthPlot, OutGradDepthPlot, UpdateRatioDepthPlot
from resnet_viz.gui.plots.running_mean import RunningMean
from resnet_viz.gui.plots.sharpness import SharpnessPlot
from resnet_viz.gui.runs import PALETTE, RunEntry
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    LayerInfoRecord,
    LayerStats,
    RunStarted,
    SharpnessRecord,
    TrainChunk,
)
from resnet_viz.metrics.store import RunStore

N_LAYERS = 6
STEPS = 200
EVAL_EVERY = 20


def seeded_config(seed: int, depth: int = 8) -> RunConfig:
    c = RunConfig()
    return dataclasses.replace(
        c, model=dataclasses.replace(c.model, depth=depth), train=dataclasses.replace(c.train, seed=seed)
    )


def layer_info() -> LayerInfoRecord:
    n = N_LAYERS
    return LayerInfoRecord(
        names=[f"layer{i}" for i in range(n)],
        kinds=["conv"] * (n - 1) + ["linear"],
        roles=["stem"] + ["branch"] * (n - 2) + ["head"],
        stages=np.arange(n),
        blocks=np.arange(n),
        fan_in=np.ones(n, np.int64),
        params=np.ones(n, np.int64),
    )


def synthetic_entry(run_id: int, seed: int, depth: int = 8, steps: int = STEPS, color: str | None = None) -> RunEntry:
    """A finished run with synthetic records that differ by seed: loss, batch error, per-layer stats, evals,
    sharpness probes."""
    rng = np.random.default_rng(seed + 100 * depth)
    info = layer_info()
    ones = np.ones(N_LAYERS)
    store = RunStore()
    store.add(
        RunStarted(
            label="synthetic",
            config={},
            resolved={},
            device="cpu",
            versions={},
            layers=info,
            params=N_LAYERS,
            total_steps=steps,
            act_mean_init=0 * ones,
            act_std_init=ones * (1 + 0.1 * seed),
            out_grad_norm_init=ones,
            grad_norm_init=ones,
            theory_act_std_init=ones,
        )
    )
    step = np.arange(1, steps + 1, dtype=np.int64)
    layers = np.logspace(-3, -1, N_LAYERS) * np.exp(rng.normal(0, 0.3, (steps, N_LAYERS)))
    stats = LayerStats(**{q: layers.astype(np.float32) for q in LAYER_QUANTITIES})
    loss = 2.3 * np.exp(-step / 80) + rng.uniform(0, 0.2, steps)
    store.add(
        TrainChunk(
            step=step,
            loss=loss,
            batch_error=np.clip(loss / 2.5 + rng.normal(0, 0.05, steps), 0, 1),
            lr=np.full(steps, 0.1),
            step_time_s=np.full(steps, 0.01),
            layers=stats,
            layer_step=step,
        )
    )
    for s in range(EVAL_EVERY, steps + 1, EVAL_EVERY):
        err = 0.9 * np.exp(-s / 100) + rng.uniform(0.05, 0.15)
        store.add(EvalRecord(step=s, train_error=err, train_loss=err * 3, test_error=err, test_loss=err * 3))
        store.add(
            SharpnessRecord(step=s, top_eigenvalue=10 + s / 10 + seed, trace=100.0 + seed, iterations=20, samples=256)
        )
    entry = RunEntry(
        run_id=run_id,
        config=seeded_config(seed, depth),
        name=f"plain-{depth} seed {seed}",
        color=color or PALETTE[run_id % len(PALETTE)],
        store=store,
        status="finished",
        version=1,
    )
    return entry


@pytest.fixture(scope="module")
def two_seeds() -> list[RunEntry]:
    return [synthetic_entry(1, 0), synthetic_entry(2, 1)]


@pytest.fixture(scope="module")
def sweep() -> list[RunEntry]:
    """3 seeds × 2 depths, in list order depth-major, plus nothing else."""
    return [
        synthetic_entry(i + 1, seed, depth) for i, (depth, seed) in enumerate((d, s) for d in (8, 14) for s in range(3))
    ]


def make(qtbot, cls):
    panel = cls()
    qtbot.addWidget(panel)
    return panel


def eval_arrays(entry: RunEntry, field: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([e.step for e in entry.store.evals], dtype=np.float64),
        np.array([getattr(e, field) for e in entry.store.evals]) * scale,
    )


# --- curves --------------------------------------------------------------------------------------------
def test_error_band_is_numpys_mean_and_std(qtbot, two_seeds) -> None:
    panel = make(qtbot, ErrorPlot)
    panel.set_band_mode("std")
    panel.refresh(two_seeds, None)
    assert len(panel.bands.bands) == 1
    band = next(iter(panel.bands.bands.values()))
    (x, a), (_, b) = (eval_arrays(e, "test_error", 100.0) for e in two_seeds)
    stacked = np.stack([a, b])
    mean, std = np.mean(stacked, axis=0), np.std(stacked, axis=0)
    bx, by = band.test.getOriginalDataset()
    np.testing.assert_array_equal(bx, x)
    np.testing.assert_array_equal(by, mean)
    lo_curve, hi_curve = band.fill.curves
    np.testing.assert_array_equal(lo_curve.getOriginalDataset()[1], mean - std)
    np.testing.assert_array_equal(hi_curve.getOriginalDataset()[1], mean + std)
    assert band.fill.brush().color().alpha() == 60 and band.fill.brush().color().name() == two_seeds[0].color.lower()
    assert not band.fill.path().isEmpty()
    # the runs' own curves are hidden; the legend names the group once
    for e in two_seeds:
        assert not panel.run_curves(e.run_id).test.isVisible()
    labels = [label.text for _, label in panel.legend.items]
    assert sum("2 seeds, mean ± std" in t for t in labels) == 1
    assert not any("seed 1" in t for t in labels)


def test_thin_curve_is_the_mean_of_the_running_means(qtbot, two_seeds) -> None:
    panel = make(qtbot, ErrorPlot)
    panel.set_smoothing(5)
    panel.set_band_mode("minmax")
    panel.refresh(two_seeds, None)
    band = next(iter(panel.bands.bands.values()))
    means = []
    for e in two_seeds:
        rm = RunningMean(5, scale=100.0)
        rm.extend(e.store.scalar("batch_error"), np.isfinite(e.store.scalar("loss")))
        means.append(rm.values)
    x, y = band.thin.getOriginalDataset()
    np.testing.assert_array_equal(x, np.arange(1, STEPS + 1))
    np.testing.assert_allclose(y, np.mean(np.stack(means), axis=0), rtol=1e-12)
    lo_curve, hi_curve = band.fill.curves
    a, b = (eval_arrays(e, "test_error", 100.0)[1] for e in two_seeds)
    np.testing.assert_array_equal(lo_curve.getOriginalDataset()[1], np.minimum(a, b))
    np.testing.assert_array_equal(hi_curve.getOriginalDataset()[1], np.maximum(a, b))


def test_switching_back_restores_one_curve_per_run(qtbot, sweep) -> None:
    panel = make(qtbot, LossPlot)
    panel.set_band_mode("std")
    panel.refresh(sweep, None)
    assert len(panel.bands.bands) == 2  # one per depth
    assert all(not panel.run_curves(e.run_id).test.isVisible() for e in sweep)
    panel.set_band_mode("runs")
    panel.refresh(sweep, None)
    assert panel.bands.bands == {}
    for e in sweep:
        rc = panel.run_curves(e.run_id)
        assert rc.test.isVisible() and rc.train.isVisible()
        np.testing.assert_allclose(rc.test.getOriginalDataset()[1], eval_arrays(e, "test_loss", 1.0)[1])
    labels = [label.text for _, label in panel.legend.items]
    assert not any("seeds" in t for t in labels)
    assert sum(t.startswith("plain-") for t in labels) == len(sweep)


def test_a_group_is_recomputed_only_when_a_run_changed(qtbot, two_seeds) -> None:
    panel = make(qtbot, ErrorPlot)
    panel.set_band_mode("std")
    runs = [dataclasses.replace(e) for e in two_seeds]
    panel.refresh(runs, None)
    band = next(iter(panel.bands.bands.values()))
    key = band.key
    panel.refresh(runs, None)
    assert not panel.bands.changed and band.key is key
    runs[1].version += 1
    panel.refresh(runs, None)
    assert panel.bands.changed and band.key != key


def test_curves_csv_has_mean_lo_hi_columns(qtbot, two_seeds, tmp_path) -> None:
    panel = make(qtbot, ErrorPlot)
    panel.set_band_mode("std")
    panel.refresh(two_seeds, None)
    path = tmp_path / "error.csv"
    panel.export_csv(path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    (x, a), (_, b) = (eval_arrays(e, "test_error", 100.0) for e in two_seeds)
    mean, std = np.mean([a, b], axis=0), np.std([a, b], axis=0)
    for suffix, expected in (("mean", mean), ("lo (mean − 1 std)", mean - std), ("hi (mean + 1 std)", mean + std)):
        name = f"plain-8 (2 seeds) test error % {suffix}_y"
        assert name in header, header
        col = header.index(name)
        got = np.array([float(r[col]) for r in rows[1:] if r[col] != ""])
        np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert not any("seed 0" in h or "seed 1" in h for h in header)  # no column per seed run


def test_svg_export_contains_the_band(qtbot, two_seeds, tmp_path) -> None:
    panel = make(qtbot, ErrorPlot)
    panel.resize(600, 400)
    panel.set_band_mode("std")
    panel.refresh(two_seeds, None)
    path = figure_export.export_svg(panel, tmp_path / "error.svg")
    text = path.read_text()
    color = two_seeds[0].color.lower()
    # the fill: pyqtgraph's FillBetweenItem, a path filled with the group's colour at alpha 60/255
    start = text.index('id="FillBetweenItem')
    group = text[start : text.index("</g>", start)]
    assert f'fill="{color}" fill-opacity="0.235294"' in group and "<path" in group, group


# --- depth plots ---------------------------------------------------------------------------------------
DEPTH_PANELS = (GradNormDepthPlot, ActStdDepthPlot, OutGradDepthPlot, UpdateRatioDepthPlot)


def now_profiles(panel, runs: list[RunEntry]) -> np.ndarray:
    """Each run's "now" profile [runs, L]: the mean of its last ``now_window`` probed steps (independently)."""
    return np.stack([e.store.layer(panel.quantity)[-panel.now_window :].astype(np.float64).mean(axis=0) for e in runs])


def group_drawing(panel):
    groups = [(i, d) for i, d in panel._drawn.items() if i < 0]
    assert len(groups) == 1, panel._drawn.keys()
    return groups[0]


@pytest.mark.parametrize("cls", DEPTH_PANELS)
def test_depth_band_is_numpys_mean_and_std_per_layer(qtbot, two_seeds, cls) -> None:
    panel = make(qtbot, cls)
    panel.set_band_mode("std")
    panel.refresh(two_seeds, None)
    group_id, drawn = group_drawing(panel)
    assert all(e.run_id not in panel._drawn for e in two_seeds)  # the runs are drawn as the group only
    profiles = now_profiles(panel, two_seeds)
    mean, std = np.mean(profiles, axis=0), np.std(profiles, axis=0)
    x, y = drawn.items[""].getOriginalDataset()
    np.testing.assert_array_equal(x, np.arange(1, N_LAYERS + 1))
    np.testing.assert_allclose(y, mean, rtol=1e-12)
    fill = panel.bands.fills[group_id]
    lo, hi = (c.getOriginalDataset()[1] for c in fill.curves)
    np.testing.assert_allclose(lo, mean - std, rtol=1e-12)
    np.testing.assert_allclose(hi, mean + std, rtol=1e-12)
    assert fill.brush().color().alpha() == 60 and fill.brush().color().name() == two_seeds[0].color.lower()
    labels = panel.legend_text()
    assert labels.count("plain-8 (2 seeds, mean ± std)") == 1 and not any("seed 0" in t for t in labels)


def test_act_std_group_draws_the_mean_init_and_theory_lines(qtbot, two_seeds) -> None:
    panel = make(qtbot, ActStdDepthPlot)
    panel.set_band_mode("minmax")
    panel.refresh(two_seeds, None)
    _, drawn = group_drawing(panel)
    inits = np.stack([e.store.started.act_std_init for e in two_seeds])
    np.testing.assert_allclose(drawn.items["at init"].getOriginalDataset()[1], inits.mean(axis=0))
    assert "theory" in drawn.items
    profiles = now_profiles(panel, two_seeds)
    lo, hi = drawn.items["seeds lo"], drawn.items["seeds hi"]
    np.testing.assert_allclose(lo.getOriginalDataset()[1], profiles.min(axis=0))
    np.testing.assert_allclose(hi.getOriginalDataset()[1], profiles.max(axis=0))


def test_depth_switching_back_and_groups_by_depth(qtbot, sweep, tmp_path) -> None:
    panel = make(qtbot, GradNormDepthPlot)
    panel.set_band_mode("std")
    panel.refresh(sweep, None)
    groups = {i: d for i, d in panel._drawn.items() if i < 0}
    assert len(groups) == 2 and len(panel.bands.fills) == 2 and len(panel._drawn) == 2
    redraws = panel.redraws
    panel.refresh(sweep, None)  # nothing changed: nothing drawn again
    assert panel.redraws == redraws
    path = tmp_path / "grad.csv"
    panel.export_csv(path)
    with open(path, newline="") as fh:
        header = next(csv.reader(fh))
    profiles = now_profiles(panel, sweep[3:])  # depth 14
    assert "plain-14 (3 seeds, mean ± std): grad_norm (lo = mean − 1 std over 3 seeds)_y" in header
    assert not any("seed 2" in h for h in header)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    got = [float(r["plain-14 (3 seeds, mean ± std): grad_norm (hi = mean + 1 std over 3 seeds)_y"]) for r in rows]
    np.testing.assert_allclose(got, profiles.mean(axis=0) + profiles.std(axis=0), rtol=1e-6)
    panel.set_band_mode("runs")
    panel.refresh(sweep, None)
    assert sorted(panel._drawn) == [e.run_id for e in sweep] and panel.bands.fills == {}
    assert not [i for i in panel.plot.items if isinstance(i, pg.FillBetweenItem)]


# --- sharpness -----------------------------------------------------------------------------------------
def test_sharpness_band_and_csv(qtbot, sweep, tmp_path) -> None:
    panel = make(qtbot, SharpnessPlot)
    panel.set_band_mode("std")
    panel.refresh(sweep, None)
    assert len(panel.bands.bands) == 2 and panel._curves == {}  # the runs leave; a band per depth
    assert not panel.empty.isVisible()
    band = panel.bands.bands[(1, 2, 3)]
    tops = np.stack([e.store.sharpness_arrays()["top_eigenvalue"] for e in sweep[:3]])
    mean, std = tops.mean(axis=0), tops.std(axis=0)
    np.testing.assert_allclose(band.top.getOriginalDataset()[1], mean)
    lo, hi = (c.getOriginalDataset()[1] for c in band.fill.curves)
    np.testing.assert_allclose(lo, mean - std)
    np.testing.assert_allclose(hi, mean + std)
    labels = [label.text for _, label in panel.legend.items]
    assert labels == ["plain-8 (3 seeds, mean ± std)", "plain-14 (3 seeds, mean ± std)"]
    path = tmp_path / "sharpness.csv"
    panel.export_csv(path)
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["run"] == "plain-8 (3 seeds, mean ± std)"]
    np.testing.assert_allclose([float(r["top_eigenvalue hi (mean + 1 std)"]) for r in rows], mean + std)
    assert {r["seeds"] for r in rows} == {"3"}
    panel.set_band_mode("runs")
    panel.refresh(sweep, None)
    assert panel.bands.bands == {} and sorted(panel._curves) == [e.run_id for e in sweep]
    assert len(panel.legend.items) == len(sweep)


# --- the window's choice -------------------------------------------------------------------------------
def test_view_menu_seeds_choice_sets_every_panel_and_is_remembered(qtbot, window, settings, two_seeds) -> None:
    from resnet_viz.gui.main_window import MainWindow

    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    seeds = next(a.menu() for a in view.actions() if a.text() == "&Seeds")
    entries = [a.text() for a in seeds.actions()]
    assert entries == ["Each run", "Mean ± 1 std over seeds", "Min–max over seeds"]
    assert window.seed_bands.mode == "runs" and all(p.band_mode == "runs" for p in window.panels)
    for entry in two_seeds:
        window.manager.adopt(dataclasses.replace(entry, store=entry.store))
    seeds.actions()[1].trigger()
    assert window.seed_bands.mode == "std" and all(p.band_mode == "std" for p in window.panels)
    error = window.panel["error"]
    qtbot.waitUntil(lambda: len(error.bands.bands) == 1)
    window.save_settings()
    assert settings.value("view/seed_bands") == "std"
    again = MainWindow(settings)
    qtbot.addWidget(again)
    assert again.seed_bands.mode == "std" and all(p.band_mode == "std" for p in again.panels)
    with pytest.raises(ValueError, match="seed band mode 'mean'"):
        window.seed_bands.set_mode("mean")


def grow(entry: RunEntry, source: RunEntry, stop: int) -> None:
    """Add ``source``'s training steps up to ``stop`` (and its evaluations up to there) to ``entry``'s store."""
    done = entry.store.steps_done
    s = source.store
    sl = slice(done, stop)
    layers = LayerStats(**{q: s.layer(q)[sl] for q in LAYER_QUANTITIES})
    step = s.scalar("step")[sl]
    entry.store.add(
        TrainChunk(
            step=step,
            loss=s.scalar("loss")[sl],
            batch_error=s.scalar("batch_error")[sl],
            lr=s.scalar("lr")[sl],
            step_time_s=s.scalar("step_time_s")[sl],
            layers=layers,
            layer_step=step,
        )
    )
    for ev in s.evals:
        if done < ev.step <= stop:
            entry.store.add(ev)
    entry.version += 1


def test_growing_runs_extend_the_thin_mean_to_their_common_steps(qtbot, two_seeds) -> None:
    runs = []
    for source in two_seeds:
        store = RunStore()
        store.add(source.store.started)
        runs.append(dataclasses.replace(source, store=store, status="running"))
    panel = make(qtbot, ErrorPlot)
    panel.set_band_mode("std")
    for stops in ((30, 50), (90, 70), (150, 160), (STEPS, STEPS)):
        for entry, source, stop in zip(runs, two_seeds, stops):
            grow(entry, source, stop)
        panel.refresh(runs, None)
        band = next(iter(panel.bands.bands.values()))
        m = min(stops)
        means = []
        for e in runs:
            rm = RunningMean(panel.smoothing, scale=100.0)
            rm.extend(e.store.scalar("batch_error")[:m], np.isfinite(e.store.scalar("loss")[:m]))
            means.append(rm.values)
        x, y = band.thin.getOriginalDataset()
        np.testing.assert_array_equal(x, np.arange(1, m + 1))  # the steps both runs have
        np.testing.assert_allclose(y, np.mean(means, axis=0), rtol=1e-12)
        evals = [eval_arrays(e, "test_error", 100.0) for e in runs]
        n_common = min(len(ex) for ex, _ in evals)
        np.testing.assert_array_equal(band.test.getOriginalDataset()[0], evals[0][0][:n_common])
    panel.set_smoothing(1)  # the thin mean is computed again for the new window
    band = next(iter(panel.bands.bands.values()))
    raw = np.mean([e.store.scalar("batch_error") * 100.0 for e in runs], axis=0)
    np.testing.assert_allclose(band.thin.getOriginalDataset()[1], raw, rtol=1e-12)


def test_log_axis_band_edge_stays_positive(qtbot) -> None:
    from resnet_viz.gui.plots.bands import display_band
    from resnet_viz.metrics.bands import seed_band

    x = np.arange(3.0)
    series = [(x, np.array([1.0, 1.0, 1.0])), (x, np.array([1.0, 1.0, 1.0])), (x, np.array([1.0, 1.0, 40.0]))]
    band = seed_band(series, "std")
    assert band.lo[2] < 0
    lo = display_band(band, series, log_y=True)
    np.testing.assert_array_equal(lo, [band.lo[0], band.lo[1], 1.0])  # the lowest run where mean − std ≤ 0
    np.testing.assert_array_equal(display_band(band, series, log_y=False), band.lo)


def test_refresh_without_changes_is_cheap(qtbot, sweep) -> None:
    import time

    panels = [make(qtbot, cls) for cls in (ErrorPlot, LossPlot, GradNormDepthPlot, ActStdDepthPlot, SharpnessPlot)]
    for p in panels:
        p.set_band_mode("std")
        p.refresh(sweep, None)
    t0 = time.perf_counter()
    for _ in range(20):
        for p in panels:
            p.refresh(sweep, None)
    per_frame_ms = (time.perf_counter() - t0) / 20 * 1000
    assert per_frame_ms < 15, per_frame_ms  # 5 panels, 6 runs in 2 groups, nothing changed
    assert all(not p.bands.changed for p in panels[:2])


def test_hover_names_the_group_and_its_numbers(qtbot, two_seeds) -> None:
    from PySide6 import QtCore

    panel = make(qtbot, ErrorPlot)
    panel.set_band_mode("std")
    panel.refresh(two_seeds, None)
    band = next(iter(panel.bands.bands.values()))
    x, mean = band.test.getOriginalDataset()
    panel.on_hover(QtCore.QPointF(x[2], mean[2]))
    text = panel.readout.text()
    assert text.startswith(f"plain-8 (2 seeds, mean ± std) — step {int(x[2])}: test {mean[2]:.1f}%"), text
    assert "training" in text
    depth = make(qtbot, GradNormDepthPlot)
    depth.set_band_mode("minmax")
    depth.refresh(two_seeds, None)
    _, drawn = group_drawing(depth)
    y = drawn.items[""].getOriginalDataset()[1]
    assert depth.describe_point(QtCore.QPointF(2.0, float(np.log10(y[1])))).startswith(
        "plain-8 (2 seeds, min–max) — layer 2"
    )


def test_png_export_shows_the_band(qtbot, two_seeds) -> None:
    panel = make(qtbot, ErrorPlot)
    panel.resize(600, 400)
    panel.set_band_mode("minmax")
    panel.refresh(two_seeds, None)
    band = next(iter(panel.bands.bands.values()))
    with_band = figure_export.render_image(panel, 600)
    band.fill.setVisible(False)
    without = figure_export.render_image(panel, 600)

    def pixels(image):
        image = image.convertToFormat(image.Format.Format_RGB32)
        return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.width(), 4)[..., :3].copy()

    a, b = pixels(with_band), pixels(without)
    changed = np.any(a != b, axis=-1)
    assert changed.sum() > 500  # the band covers an area
    # where only the band differs, white turned into a light tint of the group's colour (alpha 60/255)
    color = np.array([int(two_seeds[0].color[i : i + 2], 16) for i in (5, 3, 1)])  # BGR, as RGB32 lies in memory
    tint = np.round(255 + (color - 255) * 60 / 255)
    white = np.all(b == 255, axis=-1) & changed
    assert white.any()
    np.testing.assert_allclose(a[white].mean(axis=0), tint, atol=2)
