"""A 2D landscape as a race surface: the grid's values at its nodes, bilinear in between, an autograd
gradient that matches finite differences, and a wall that turns racers back at the edge."""

import numpy as np
import pytest
import torch

from resnet_viz.landscape import LandscapeSpec
from resnet_viz.landscape.result import LandscapeResult
from resnet_viz.landscape.surface import landscape_surface


def _result(directions="random", path=False):
    alpha = np.linspace(-1.0, 1.0, 5)
    beta = np.linspace(-2.0, 1.0, 4)
    a, b = np.meshgrid(alpha, beta)
    loss = 0.3 + (a - 0.2) ** 2 + 0.5 * (b + 0.4) ** 2 + 0.1 * np.sin(3 * a * b)  # [4, 5]: rows = beta
    return LandscapeResult(
        spec=LandscapeSpec(directions=directions, grid=5),
        label="toy",
        source="toy",
        alpha=alpha,
        beta=beta,
        loss=loss,
        error=np.zeros_like(loss),
        path_alpha=np.array([0.7, 0.3, 0.0]) if path else None,
        path_beta=np.array([-1.5, -0.5, 0.0]) if path else None,
    )


def test_the_surface_is_the_grid_at_its_nodes_and_bilinear_between():
    result = _result()
    s = landscape_surface(result)
    for i, y in enumerate(result.beta):
        for j, x in enumerate(result.alpha):
            assert s.value(x, y) == pytest.approx(result.loss[i, j], rel=1e-12)
    x, y = 0.1, -1.25  # inside the cell alpha [0, 0.5] x beta [-2, -1]
    fu, fv = 0.1 / 0.5, 0.75
    z = result.loss
    want = (1 - fv) * ((1 - fu) * z[0, 2] + fu * z[0, 3]) + fv * ((1 - fu) * z[1, 2] + fu * z[1, 3])
    assert s.value(x, y) == pytest.approx(want, rel=1e-12)
    xs, ys, grid = s.grid(9, 7)  # broadcasting as the views sample it: grid[i, j] = f(xs[i], ys[j])
    assert grid.shape == (9, 7) and grid[0, 0] == pytest.approx(z[0, 0]) and grid[-1, -1] == pytest.approx(z[-1, -1])


def test_the_gradient_matches_finite_differences_inside_the_cells():
    s = landscape_surface(_result())
    rng = np.random.default_rng(0)
    h = 1e-6
    for x, y in rng.uniform([-0.95, -1.95], [0.95, 0.95], size=(20, 2)):
        gx, gy = s.gradient(x, y)
        fx = (s.value(x + h, y) - s.value(x - h, y)) / (2 * h)
        fy = (s.value(x, y + h) - s.value(x, y - h)) / (2 * h)
        assert gx == pytest.approx(fx, rel=1e-5, abs=1e-7) and gy == pytest.approx(fy, rel=1e-5, abs=1e-7)


def test_outside_the_grid_a_wall_turns_racers_back():
    s = landscape_surface(_result())
    edge = s.value(1.0, 0.0)
    assert s.value(1.3, 0.0) > edge + 1.0
    gx, _ = s.gradient(1.3, 0.0)
    assert gx > 0  # descent goes back towards the grid
    gx, gy = s.gradient(-1.5, -3.0)
    assert gx < 0 and gy < 0
    x = torch.tensor([1.3], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        s(x, torch.zeros(1, dtype=torch.float64)).sum().backward()
        opt.step()
    assert x.item() < 1.05


def test_start_minimum_and_view_come_from_the_result():
    s = landscape_surface(_result(directions="pca", path=True))
    assert s.start == (0.7, -1.5) and s.log_view and s.x_range == (-1.0, 1.0) and s.y_range == (-2.0, 1.0)
    r = _result()
    i, j = np.unravel_index(np.argmin(r.loss), r.loss.shape)
    plain = landscape_surface(r)
    assert plain.minima == ((r.alpha[j], r.beta[i]),) and plain.min_value == pytest.approx(r.loss.min())
    assert plain.start == (-1.0, 1.0)
    r.loss[0, 0] = np.inf  # a diverged point: the largest finite loss instead
    assert np.isfinite(landscape_surface(r).value(-1.0, -2.0))
    line = _result()
    line.beta = None
    with pytest.raises(ValueError, match="a line, not a surface"):
        landscape_surface(line)
