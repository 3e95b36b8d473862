"""Bands over seeds (resnet_viz.metrics.bands): grouping by config without the seed, and the band's numbers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from resnet_viz.config import RunConfig
from resnet_viz.metrics.bands import Band, seed_band, seed_groups, seed_key
from resnet_viz.runs.run import Run


def config(depth: int = 20, seed: int = 0, lr: float = 0.1) -> RunConfig:
    c = RunConfig()
    c = dataclasses.replace(c, model=dataclasses.replace(c.model, depth=depth))
    c = dataclasses.replace(c, optim=dataclasses.replace(c.optim, lr=lr))
    return dataclasses.replace(c, train=dataclasses.replace(c.train, seed=seed))


def test_band_of_two_seeds_is_numpys_mean_and_std() -> None:
    rng = np.random.default_rng(3)
    x = np.arange(1, 101, dtype=np.float64)
    a, b = rng.normal(50, 10, 100), rng.normal(40, 5, 100)
    band = seed_band([(x, a), (x, b)], "std")
    stacked = np.stack([a, b])
    mean, std = np.mean(stacked, axis=0), np.std(stacked, axis=0)
    np.testing.assert_array_equal(band.x, x)
    np.testing.assert_array_equal(band.mean, mean)
    np.testing.assert_array_equal(band.lo, mean - std)
    np.testing.assert_array_equal(band.hi, mean + std)
    assert band.n == 2
    # two values: std (ddof 0) is half their distance, so the band spans exactly the two runs
    np.testing.assert_allclose(band.lo, np.minimum(a, b), rtol=1e-12)
    np.testing.assert_allclose(band.hi, np.maximum(a, b), rtol=1e-12)


def test_min_max_band() -> None:
    x = np.array([0.0, 10.0, 20.0])
    ys = [np.array([1.0, 5.0, 3.0]), np.array([2.0, 4.0, 9.0]), np.array([0.5, 6.0, 3.0])]
    band = seed_band([(x, y) for y in ys], "minmax")
    np.testing.assert_array_equal(band.mean, [3.5 / 3, 5.0, 5.0])
    np.testing.assert_array_equal(band.lo, [0.5, 4.0, 3.0])
    np.testing.assert_array_equal(band.hi, [2.0, 6.0, 9.0])
    assert band.n == 3


def test_runs_of_different_lengths_give_the_common_prefix() -> None:
    long_x, short_x = np.arange(1, 11, dtype=np.float64), np.arange(1, 7, dtype=np.float64)
    long_y, short_y = np.arange(10, dtype=np.float64), 2 * np.arange(6, dtype=np.float64)
    band = seed_band([(long_x, long_y), (short_x, short_y)], "std")
    np.testing.assert_array_equal(band.x, short_x)
    np.testing.assert_array_equal(band.mean, 1.5 * np.arange(6))
    np.testing.assert_array_equal(band.hi - band.lo, np.arange(6))  # 2 std = |a - b|


def test_x_values_not_shared_are_left_out() -> None:
    a = (np.array([0.0, 100.0, 200.0, 300.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    b = (np.array([0.0, 150.0, 200.0]), np.array([5.0, 6.0, 7.0]))  # evaluated at other steps
    band = seed_band([a, b], "minmax")
    np.testing.assert_array_equal(band.x, [0.0, 200.0])
    np.testing.assert_array_equal(band.mean, [3.0, 5.0])
    np.testing.assert_array_equal(band.lo, [1.0, 3.0])
    np.testing.assert_array_equal(band.hi, [5.0, 7.0])


def test_non_finite_values_are_ignored_per_x() -> None:
    x = np.arange(4, dtype=np.float64)
    ys = [np.array([1.0, np.nan, 3.0, np.nan]), np.array([3.0, 2.0, np.inf, np.nan]), np.array([5.0, 4.0, 7.0, np.nan])]
    band = seed_band([(x, y) for y in ys], "std")
    np.testing.assert_allclose(band.mean[:3], [3.0, 3.0, 5.0])
    np.testing.assert_allclose(band.hi[:3] - band.mean[:3], [np.std([1, 3, 5]), 1.0, 2.0])
    assert np.isnan([band.mean[3], band.lo[3], band.hi[3]]).all()  # no run has a value there


def test_empty_input_and_bad_mode() -> None:
    band = seed_band([], "std")
    assert isinstance(band, Band) and band.n == 0 and band.x.size == band.mean.size == 0
    x = np.arange(3.0)
    assert seed_band([(x, x), (x + 10, x)], "minmax").x.size == 0  # nothing in common
    with pytest.raises(ValueError, match="band mode 'runs'"):
        seed_band([(x, x)], "runs")


def test_seed_key_ignores_only_the_seed() -> None:
    assert seed_key(config(seed=1)) == seed_key(config(seed=7))
    assert seed_key(config(depth=20)) != seed_key(config(depth=32))
    assert seed_key(config(lr=0.1)) != seed_key(config(lr=0.05))


def test_seed_groups_group_runs_differing_only_in_seed() -> None:
    runs = [
        Run(1, config(20, seed=0), "resnet-20 seed 0"),
        Run(2, config(32, seed=0), "resnet-32 seed 0"),
        Run(3, config(20, seed=1), "some other name"),  # the name does not matter
        Run(4, config(32, seed=5), "resnet-32 seed 5"),
        Run(5, config(20, seed=2, lr=0.05), "resnet-20 lr 0.05"),
        Run(6, config(20, seed=2), "resnet-20 seed 2"),
    ]
    groups = seed_groups(runs)
    assert [[r.run_id for r in g] for g in groups] == [[1, 3, 6], [2, 4], [5]]
