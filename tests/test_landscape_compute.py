"""The landscape of a real (tiny, briefly trained) network: sources, the three kinds of slice, the grid's
numbers against the engine's evaluation and against a quadratic's closed form, and the result files."""

import shutil

import numpy as np
import pytest
import torch

from resnet_viz.cli import main
from resnet_viz.export.run_folder import read_run_folder
from resnet_viz.landscape import LandscapeCancelled, LandscapeError, LandscapeSpec
from resnet_viz.landscape.compute import compute_landscape, evaluate_grid
from resnet_viz.landscape.directions import filter_normalized_direction
from resnet_viz.landscape.evaluator import NetworkEvaluator
from resnet_viz.landscape.result import LandscapeResult
from resnet_viz.landscape.sample import training_sample
from resnet_viz.landscape.source import load_landscape_source

TINY = ["--arch", "resnet", "--depth", "8", "--width", "4", "--subset", "500", "--batch-size", "16", "--no-probes"]
SAMPLES = 64  # = the run's --eval-train-samples: the very sample of its train loss


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("landscape") / "run"
    args = ["run", *TINY, "--eval-train-samples", str(SAMPLES), "--steps", "40", "--snapshots", "5"]
    assert main([*args, "--lr", "0.05", "--quiet", "--out", str(out)]) == 0
    return out


def test_a_run_folder_gives_config_final_weights_and_snapshots(run_folder):
    src = load_landscape_source(run_folder)
    assert src.config.model.depth == 8 and src.config.model.width == 4 and src.step == 40
    assert [s.step for s in src.snapshots] == [0, 10, 20, 30, 40]
    assert "stage1.block0.bn1.running_var" in src.state and src.label.startswith("resnet-8")
    assert load_landscape_source(run_folder / "checkpoint.pt").path == run_folder  # the file means its folder


def test_sources_that_cannot_give_a_landscape_are_one_line(run_folder, tmp_path):
    cases = [
        (tmp_path / "nothing", "no such run folder or checkpoint file"),
        (tmp_path, "without run.json"),
    ]
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    cases.append((tmp_path / "junk.pt", "junk.pt"))
    for path, text in cases:
        with pytest.raises(LandscapeError) as info:
            load_landscape_source(path)
        assert text in str(info.value) and "\n" not in str(info.value)
    alone = tmp_path / "weights.pt"
    shutil.copy(run_folder / "checkpoint.pt", alone)
    src = load_landscape_source(alone)
    assert src.snapshots == [] and src.config.train.eval_train_samples == SAMPLES
    for directions in ("pca", "interpolate"):
        with pytest.raises(LandscapeError, match="needs the run's parameter snapshots.*a checkpoint file holds none"):
            compute_landscape(src, LandscapeSpec(directions=directions, grid=3, samples=8))


def test_random_slice_centre_is_the_engines_train_loss_and_no_higher_than_the_median(run_folder):
    src = load_landscape_source(run_folder)
    calls = []
    result = compute_landscape(
        src, LandscapeSpec(grid=5, samples=SAMPLES), progress=lambda done, total: calls.append((done, total))
    )
    assert result.loss.shape == (5, 5) and result.error.shape == (5, 5) and result.beta is not None
    np.testing.assert_allclose(result.alpha, [-1, -0.5, 0, 0.5, 1])
    centre = result.loss[2, 2]
    metrics = read_run_folder(run_folder).metrics
    last = np.flatnonzero(np.isfinite(metrics["train_loss"]))[-1]
    assert centre == pytest.approx(metrics["train_loss"][last], rel=1e-6)  # the same sample, the same loss
    assert result.error[2, 2] == pytest.approx(metrics["train_error"][last], abs=1e-9)
    assert centre <= np.median(result.loss) and np.isfinite(result.loss).all()
    assert ((result.error >= 0) & (result.error <= 1)).all()
    assert calls[-1] == (25, 25) and len(calls) == 25 and result.samples_used == SAMPLES
    assert result.path_alpha is None and result.explained_variance is None


def test_loop_and_vmap_give_the_same_numbers(run_folder):
    src = load_landscape_source(run_folder)
    spec = LandscapeSpec(grid=3, samples=32, seed=3)
    a = compute_landscape(src, spec, method="loop")
    b = compute_landscape(src, spec, method="vmap")
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-4)
    np.testing.assert_allclose(a.error, b.error, atol=1 / 32 + 1e-9)
    assert a.method == "loop" and b.method == "vmap" and a.precision == "fp32"  # the run's own precision
    c = compute_landscape(src, LandscapeSpec(grid=3, samples=32, seed=3, precision="bf16"))
    assert c.precision == "bf16" and not np.array_equal(c.loss, a.loss)  # autocast did run
    np.testing.assert_allclose(c.loss, a.loss, rtol=0.05)


def test_pca_slice_puts_the_path_on_the_grid_and_ends_at_the_origin(run_folder):
    src = load_landscape_source(run_folder)
    result = compute_landscape(src, LandscapeSpec(directions="pca", grid=4, samples=16))
    assert list(result.path_steps) == [0, 10, 20, 30, 40]
    assert result.path_alpha[-1] == 0.0 and result.path_beta[-1] == 0.0
    assert result.alpha[0] < result.path_alpha.min() and result.path_alpha.max() < result.alpha[-1]
    assert result.beta[0] < result.path_beta.min() and result.path_beta.max() < result.beta[-1]
    ev = result.explained_variance
    assert ev.shape == (2,) and 0 < ev[1] <= ev[0] and ev.sum() <= 1 + 1e-9


def test_interpolation_runs_from_the_initial_to_the_final_weights(run_folder):
    src = load_landscape_source(run_folder)
    spec = LandscapeSpec(directions="interpolate", grid=5, range=(0.0, 1.0), samples=SAMPLES)
    result = compute_landscape(src, spec)
    assert result.beta is None and result.loss.shape == (5,)
    final = compute_landscape(src, LandscapeSpec(grid=3, samples=SAMPLES)).loss[1, 1]
    assert result.loss[-1] == pytest.approx(final, rel=1e-5)
    assert result.loss[0] > result.loss[-1]  # the untrained network is worse on its training sample
    assert LandscapeSpec(directions="interpolate").resolved_range() == (-0.5, 1.5)


def test_cancel_stops_between_points(run_folder):
    src = load_landscape_source(run_folder)
    done = []
    with pytest.raises(LandscapeCancelled):
        compute_landscape(
            src,
            LandscapeSpec(grid=5, samples=8),
            progress=lambda d, t: done.append(d),
            cancelled=lambda: len(done) >= 3,
        )
    assert done == [1, 2, 3]


def test_the_evaluator_is_the_engines_evaluation(run_folder):
    from resnet_viz.data import DeviceDataset, load_dataset
    from resnet_viz.landscape.compute import _network
    from resnet_viz.train.evaluation import evaluate_model

    src = load_landscape_source(run_folder)
    sample = training_sample(src.config, 50, torch.device("cpu"))
    model = _network(src, sample.input_shape, sample.num_classes)
    data = DeviceDataset(load_dataset(src.config.data), "cpu", 1, augment=False, normalize=True, seed=0,
                         eval_train_samples=50)  # fmt: skip
    _, train_loss, _, _ = evaluate_model(model.eval(), data, torch.device("cpu"), lambda: False)
    point = {k: v.detach().clone() for k, v in model.named_parameters()}
    ((loss, _err),) = NetworkEvaluator(model, sample)([point])
    assert loss == pytest.approx(train_loss, rel=1e-6)


class Quadratic(torch.nn.Module):
    """A "network" whose loss is 0.5 wᵀAw over all its parameters flattened (A known, symmetric)."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = torch.nn.Parameter(torch.randn(3, 2, 2, generator=g, dtype=torch.float64))
        self.bias = torch.nn.Parameter(torch.randn(3, generator=g, dtype=torch.float64))
        m = torch.randn(15, 15, generator=g, dtype=torch.float64)
        self.a = m @ m.T + torch.eye(15, dtype=torch.float64)

    def loss(self, params):
        w = torch.cat([params["conv"].flatten(), params["bias"]])
        return float(0.5 * w @ self.a @ w)


def test_the_slice_of_a_quadratic_is_its_closed_form():
    q = Quadratic()
    center = {k: v.detach() for k, v in q.named_parameters()}
    gen = torch.Generator().manual_seed(1)
    d1 = filter_normalized_direction(center, gen, include_biasbn=True)
    d2 = filter_normalized_direction(center, gen)
    d1 = {k: v.double() for k, v in d1.items()}
    d2 = {k: v.double() for k, v in d2.items()}
    alphas, betas = np.linspace(-1, 1, 7), np.linspace(-2, 1, 4)
    loss, error = evaluate_grid(
        lambda points: [(q.loss(p), float("nan")) for p in points], center, d1, d2, alphas, betas, points_per_call=5
    )

    def flat(p):
        return torch.cat([p["conv"].flatten(), p["bias"]])

    c, u, v = flat(center), flat(d1), flat(d2)
    a = q.a
    want = np.array(
        [
            [float(0.5 * c @ a @ c + al * (c @ a @ u) + be * (c @ a @ v) + 0.5 * (al**2 * u @ a @ u
                   + 2 * al * be * u @ a @ v + be**2 * v @ a @ v)) for al in alphas]
            for be in betas
        ]
    )  # fmt: skip
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    assert loss.shape == (4, 7) and np.isnan(error).all()
    line, _ = evaluate_grid(lambda points: [(q.loss(p), 0.0) for p in points], center, d1, None, alphas, None)
    np.testing.assert_allclose(line, [float(0.5 * (c + al * u) @ a @ (c + al * u)) for al in alphas], rtol=1e-12)


def test_a_result_saves_and_loads(run_folder, tmp_path):
    src = load_landscape_source(run_folder)
    result = compute_landscape(src, LandscapeSpec(directions="pca", grid=3, samples=8, range=(-2.0, 2.0)))
    written = result.save(tmp_path / "out")
    assert [p.name for p in written] == ["landscape.npz", "landscape.json"]
    back = LandscapeResult.load(tmp_path / "out")
    assert back.spec == result.spec and back.label == result.label and back.step == 40
    for name in ("alpha", "beta", "loss", "error", "path_alpha", "path_beta", "path_steps", "explained_variance"):
        np.testing.assert_array_equal(getattr(back, name), getattr(result, name))
    with np.load(written[0]) as npz:
        assert {"alpha", "beta", "loss", "error", "path_alpha", "path_beta", "explained_variance"} <= set(npz.files)
    with pytest.raises(LandscapeError, match="not a readable landscape"):
        LandscapeResult.load(tmp_path)
