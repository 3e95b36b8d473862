"""Filter-normalised directions (science.md §8), the PCA plane of the training path, and the spec's checks."""

import numpy as np
import pytest
import torch

from resnet_viz.config import ConfigError, ModelConfig
from resnet_viz.landscape import LandscapeError, LandscapeSpec
from resnet_viz.landscape.directions import filter_normalized_direction, random_directions
from resnet_viz.landscape.spec import path_span
from resnet_viz.landscape.trajectory import pca_path
from resnet_viz.models import build_model


def _weights():
    torch.manual_seed(1)
    model = build_model(ModelConfig(arch="resnet", depth=8, width=4), 3, 32, 10)
    return {k: v.detach() for k, v in model.named_parameters()}


def test_each_filter_of_the_direction_has_the_norm_of_its_weight_filter():
    w = _weights()
    d = filter_normalized_direction(w, torch.Generator().manual_seed(3))
    assert list(d) == list(w)
    checked = 0
    for name, t in w.items():
        if t.dim() <= 1:
            assert torch.count_nonzero(d[name]) == 0, name  # ignore biasbn: zero direction
            continue
        for j in range(t.shape[0]):  # every output filter (conv) or row (linear)
            want = t[j].norm().item()
            assert d[name][j].norm().item() == pytest.approx(want, rel=1e-5), (name, j)
            checked += 1
        # a direction, not a copy of the weights: the filters point elsewhere
        assert torch.nn.functional.cosine_similarity(d[name].flatten(), t.flatten(), dim=0).abs() < 0.5
    assert checked > 20
    assert w["fc.weight"].dim() == 2 and torch.allclose(d["fc.weight"].norm(dim=1), w["fc.weight"].norm(dim=1))


def test_include_biasbn_copies_the_one_dimensional_weights_and_the_seed_fixes_the_draw():
    w = _weights()
    d = filter_normalized_direction(w, torch.Generator().manual_seed(3), include_biasbn=True)
    bias_like = [k for k, t in w.items() if t.dim() <= 1]
    assert bias_like and all(torch.equal(d[k], w[k]) for k in bias_like)
    a1, a2 = random_directions(w, seed=5)
    b1, b2 = random_directions(w, seed=5)
    c1, _ = random_directions(w, seed=6)
    assert all(torch.equal(a1[k], b1[k]) and torch.equal(a2[k], b2[k]) for k in w)
    assert not torch.equal(a1["stem.conv.weight"], a2["stem.conv.weight"])
    assert not torch.equal(a1["stem.conv.weight"], c1["stem.conv.weight"])


def test_a_zero_filter_gets_a_zero_direction_not_nan():
    w = {"conv.weight": torch.zeros(2, 3, 3, 3)}
    w["conv.weight"][1] = 1.0
    d = filter_normalized_direction(w, torch.Generator().manual_seed(0))["conv.weight"]
    assert torch.isfinite(d).all() and d[0].norm() == 0 and d[1].norm().item() == pytest.approx(np.sqrt(27), rel=1e-6)


def _path(n=7, seed=0):
    rng = np.random.default_rng(seed)
    final = {"a.weight": rng.normal(size=(4, 3)), "a.bias": rng.normal(size=4), "b.weight": rng.normal(size=(2, 2, 2))}
    snaps = []
    for i in range(n):
        t = 1.0 - i / (n - 1)
        snaps.append({k: v + t * rng.normal(size=v.shape) * (1 + 2 * t) for k, v in final.items()})
    snaps[-1] = {k: v.copy() for k, v in final.items()}
    return snaps, final


def test_pca_path_matches_numpy_svd_and_ends_at_the_origin():
    snaps, final = _path()
    path = pca_path(snaps, final, steps=list(range(0, 70, 10)))
    names = ["a.weight", "b.weight"]  # dim >= 2 only; the bias is zeroed
    d = np.stack([np.concatenate([(s[k] - final[k]).ravel() for k in names]) for s in snaps])
    _, s, vt = np.linalg.svd(d - d.mean(0), full_matrices=False)
    ratio = s**2 / (s**2).sum()
    np.testing.assert_allclose(path.explained_variance, ratio[:2], rtol=1e-5)
    for k, pc in enumerate((path.pc1, path.pc2)):
        flat = np.concatenate([pc[n].ravel() for n in names])
        assert np.linalg.norm(flat) == pytest.approx(1.0, rel=1e-6)
        assert abs(flat @ vt[k]) == pytest.approx(1.0, rel=1e-5)  # the same axis, up to sign
        sign = np.sign(flat @ vt[k])
        np.testing.assert_allclose([path.path_alpha, path.path_beta][k], sign * d @ vt[k], rtol=1e-4, atol=1e-5)
        assert np.count_nonzero(pc["a.bias"]) == 0 and pc["a.weight"].shape == (4, 3)
    assert path.path_alpha[-1] == 0.0 and path.path_beta[-1] == 0.0
    assert list(path.steps) == list(range(0, 70, 10))
    assert 0 < path.explained_variance[1] <= path.explained_variance[0] < 1


def test_pca_path_refuses_a_path_without_a_plane():
    snaps, final = _path(n=2)
    with pytest.raises(LandscapeError, match="at least 3 snapshots; this run has 2"):
        pca_path(snaps, final, steps=[0, 1])
    line = [{k: v + t for k, v in final.items()} for t in (2.0, 1.0, 0.0)]
    with pytest.raises(LandscapeError, match="one line"):
        pca_path(line, final, steps=[0, 1, 2])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"directions": "hessian"}, "landscape.directions"),
        ({"grid": 1}, "landscape.grid"),
        ({"grid": 202}, "landscape.grid"),
        ({"samples": 0}, "landscape.samples"),
        ({"seed": -1}, "landscape.seed"),
        ({"range": (1.0, -1.0)}, "landscape.range"),
        ({"range": (0.0, float("nan"))}, "landscape.range"),
        ({"include_biasbn": "yes"}, "landscape.include_biasbn"),
    ],
)
def test_spec_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ConfigError) as info:
        LandscapeSpec(**kwargs)
    assert info.value.field == field and "\n" not in str(info.value)


def test_spec_defaults_and_ranges():
    assert LandscapeSpec().resolved_range() == (-1.0, 1.0) and LandscapeSpec().points == 441
    line = LandscapeSpec(directions="interpolate", grid=401)
    assert line.resolved_range() == (-0.5, 1.5) and line.points == 401 and line.one_dimensional
    assert LandscapeSpec(directions="pca").resolved_range() is None
    assert LandscapeSpec(directions="pca", range=(-2.0, 3.0)).resolved_range() == (-2.0, 3.0)
    assert path_span([-10.0, -5.0, 0.0]) == (-12.0, 2.0)
