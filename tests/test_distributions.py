"""Distributions over time from histograms (resnet_viz.metrics.distributions), checked against numpy."""

import numpy as np
import pytest

from resnet_viz.metrics.distributions import (
    BASIS_POINTS,
    density,
    histogram_at,
    histogram_series,
    percentiles,
)
from resnet_viz.metrics.records import HistogramRecord

BINS = 32


def _record(step: int, kind: str, samples: list[np.ndarray | None]) -> HistogramRecord:
    """A record binned as the engine bins: edges = linspace(min, max), counts = np.histogram."""
    edges = np.full((len(samples), BINS + 1), np.nan)
    counts = np.zeros((len(samples), BINS), np.int64)
    for i, x in enumerate(samples):
        if x is not None:
            edges[i] = np.linspace(x.min(), x.max(), BINS + 1)
            counts[i] = np.histogram(x, bins=edges[i])[0]
    return HistogramRecord(step=step, kind=kind, edges=edges, counts=counts)


@pytest.fixture(scope="module")
def samples():
    """Per step (10, 20, 30) two layers: a normal whose scale shrinks, and a skewed exponential."""
    rng = np.random.default_rng(0)
    return {
        step: [rng.normal(0.5, scale, 5000), rng.exponential(1.0 + step / 10, 3000)]
        for step, scale in ((10, 1.0), (20, 0.1), (30, 0.01))
    }


@pytest.fixture(scope="module")
def series(samples):
    # recorded out of order and mixed with another kind: the series sorts by step and keeps its kind
    records = [_record(s, "gradient", x) for s, x in reversed(samples.items())]
    records.insert(1, _record(15, "activation", [np.ones(3), np.ones(3)]))
    return histogram_series(records, "gradient")


def test_series_stacks_one_kind_by_increasing_step(series):
    assert series.kind == "gradient" and series.steps.tolist() == [10, 20, 30]
    assert series.edges.shape == (3, 2, BINS + 1) and series.counts.shape == (3, 2, BINS)
    assert series.counts.dtype == np.int64 and series.counts[0, 0].sum() == 5000


def test_percentiles_lie_within_one_bin_of_numpys_and_min_max_are_exact(samples, series):
    for layer in (0, 1):
        got = percentiles(series, layer)
        assert got.shape == (3, len(BASIS_POINTS))
        for t, step in enumerate((10, 20, 30)):
            x = samples[step][layer]
            width = (x.max() - x.min()) / BINS
            expected = np.percentile(x, np.array(BASIS_POINTS) / 100)
            assert np.all(np.abs(got[t] - expected) <= width), (layer, step)
            assert got[t, 0] == x.min() and got[t, -1] == x.max()
            assert np.all(np.diff(got[t]) >= 0)


def test_percentiles_interpolate_inside_a_bin():
    # 10 values in [0, 1), 30 in [1, 2): the median (20th of 40) lies a third into the second bin
    rec = HistogramRecord(1, "weight", np.array([[0.0, 1.0, 2.0, 3.0]]), np.array([[10, 30, 0]]))
    got = percentiles(histogram_series([rec], "weight"), 0, (0, 2500, 5000, 10000))
    assert got[0] == pytest.approx([0.0, 1.0, 1.0 + 1 / 3, 2.0])  # max: the right edge of the last non-empty bin


def test_min_is_the_first_non_empty_bin_and_a_layer_without_data_is_nan():
    rec = HistogramRecord(5, "weight", np.array([[0.0, 1.0, 2.0, 3.0], [np.nan] * 4]), np.array([[0, 4, 4], [0, 0, 0]]))
    s = histogram_series([rec], "weight")
    assert percentiles(s, 0, (0, 10000))[0].tolist() == [1.0, 3.0]
    assert np.isnan(percentiles(s, 1)).all()
    assert histogram_at(s, 1, 5) is None
    assert np.isnan(density(s, 1)[2]).all()


def test_density_rows_sum_to_one_on_common_edges_spanning_every_step(samples, series):
    steps, edges, dens = density(series, 0, n_bins=50)
    assert steps.tolist() == [10, 20, 30] and edges.shape == (51,) and dens.shape == (3, 50)
    assert np.allclose(dens.sum(axis=1), 1.0)
    assert edges[0] == min(x[0].min() for x in samples.values())
    assert edges[-1] == max(x[0].max() for x in samples.values())
    # the widest step's re-binned mass follows the samples: compare with numpy on the same edges
    expected = np.histogram(samples[10][0], bins=edges)[0] / 5000
    assert np.abs(dens[0] - expected).max() < 0.01


def test_log_density_moves_with_the_scale_of_the_values(samples, series):
    _steps, edges, dens = density(series, 0, n_bins=60, log=True)
    # magnitudes far below the narrowest bin are left out: a bin of N(0.5, σ) straddles 0
    assert 0.9999 < dens[0].sum() < 1.0 and np.allclose(dens[1:].sum(axis=1), 1.0)  # σ = 0.1, 0.01: all > 0
    assert np.allclose(density(series, 1, log=True)[2].sum(axis=1), 1.0)  # exponential: all > 0, none left out
    centres = (edges[:-1] + edges[1:]) / 2
    mean_log = (dens * centres).sum(axis=1)
    # magnitudes of N(0.5, σ) with σ = 1, 0.1, 0.01: from ~0.75 down to 0.5, log10 ~ -0.1 ... -0.3
    assert mean_log[0] == pytest.approx(np.log10(np.abs(samples[10][0])).mean(), abs=0.15)
    assert edges[-1] == pytest.approx(np.log10(np.abs(samples[10][0]).max()))


def test_histogram_at_picks_the_latest_step_at_or_before(series):
    assert histogram_at(series, 0, 9) is None
    assert histogram_at(series, 0, 10)[0] == 10
    step, edges, counts = histogram_at(series, 1, 29)
    assert step == 20 and np.array_equal(counts, series.counts[1, 1]) and np.array_equal(edges, series.edges[1, 1])
    assert histogram_at(series, 1, 10_000)[0] == 30


def test_no_histograms_give_an_empty_series_and_bad_input_is_named():
    empty = histogram_series([], "gradient")
    assert empty.steps.shape == (0,) and percentiles(empty, 0).shape == (0, len(BASIS_POINTS))
    assert histogram_at(empty, 0, 5) is None and density(empty, 0)[2].shape == (0, 100)
    rec = HistogramRecord(1, "weight", np.array([[0.0, 1.0]]), np.array([[3]]))
    with pytest.raises(ValueError, match="layer 2 is out of range"):
        percentiles(histogram_series([rec], "weight"), 2)
    other = HistogramRecord(2, "weight", np.zeros((1, 3)), np.zeros((1, 2), np.int64))
    with pytest.raises(ValueError, match="different shapes"):
        histogram_series([rec, other], "weight")
