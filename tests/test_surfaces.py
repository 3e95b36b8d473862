"""The optimiser race (Qt-free): trajectories against torch.optim stepped by hand, the named surfaces,
optimiser settings and their parsing, divergence, optimiser state and the trajectories CSV."""

import csv
import math

import numpy as np
import pytest
import torch

from resnet_viz.config import ConfigError
from resnet_viz.export.trajectories import TRAJECTORY_COLUMNS, read_trajectories_csv, write_trajectories_csv
from resnet_viz.surfaces.functions import SURFACES, SurfaceConfig, build_surface
from resnet_viz.surfaces.race import (
    HYPERPARAMETERS,
    OPTIMIZER_TITLES,
    OPTIMIZERS,
    OptimizerRace,
    OptimizerSpec,
    RaceConfig,
    parse_optimizers,
    torch_default,
)
from resnet_viz.train.optim import OPTIMIZER_TITLES as ENGINE_TITLES

STEPS = 200
ROSENBROCK_START = (-1.5, 2.0)
FORMULA = "0.25*(x-1)^2 + 2*sin(y)^2 + 0.1*x*y + cos(x)/2"
FORMULA_START = (-1.5, 1.3)


def rosenbrock_by_hand(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def formula_by_hand(x, y):
    return 0.25 * (x - 1) ** 2 + 2 * torch.sin(y) ** 2 + 0.1 * x * y + torch.cos(x) / 2


TORCH_CLASSES = {
    "sgd": torch.optim.SGD,
    "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}


def torch_kwargs_by_hand(key, hyper):
    """What the race should hand torch.optim, spelled out independently of OptimizerSpec.torch_kwargs."""
    kw = {"momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9, "nesterov": True}}.get(key, {}).copy()
    kw.update({k: v for k, v in hyper.items() if k not in ("beta1", "beta2")})
    if "beta1" in hyper or "beta2" in hyper:
        kw["betas"] = (hyper.get("beta1", 0.9), hyper.get("beta2", 0.999))
    return kw


def reference_run(key, hyper, fn, start, steps):
    """torch.optim stepped directly: positions, losses, gradients and a copy of the state after each point."""
    p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = TORCH_CLASSES[key]([p], **torch_kwargs_by_hand(key, hyper))
    positions, losses, grads, states = [], [], [], []
    for k in range(steps + 1):
        opt.zero_grad()
        loss = fn(p[0], p[1])
        loss.backward()
        positions.append(p.detach().numpy().copy())
        losses.append(float(loss.detach()))
        grads.append(p.grad.detach().numpy().copy())
        states.append(
            {name: v.detach().clone() if isinstance(v, torch.Tensor) else v for name, v in opt.state[p].items()}
        )
        if k < steps:
            opt.step()
    return np.array(positions), np.array(losses), np.array(grads), states, opt


# Two settings per optimiser: mostly torch's defaults, and a set that changes every other knob.
HYPER_SETS = [
    ("sgd", {}),
    ("sgd", {"lr": 0.0007, "weight_decay": 0.01}),
    ("momentum", {"lr": 0.001}),
    ("momentum", {"lr": 0.0005, "momentum": 0.5, "dampening": 0.1, "weight_decay": 0.01}),
    ("nesterov", {"lr": 0.001}),
    ("nesterov", {"lr": 0.0008, "momentum": 0.8, "weight_decay": 0.001}),
    ("adagrad", {}),
    ("adagrad", {"lr": 0.3, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-8, "weight_decay": 0.01}),
    ("rmsprop", {}),
    ("rmsprop", {"lr": 0.005, "alpha": 0.9, "momentum": 0.5, "centered": True, "eps": 1e-6, "weight_decay": 0.01}),
    ("adam", {}),
    ("adam", {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "amsgrad": True, "weight_decay": 0.01}),
    ("adamw", {}),
    ("adamw", {"lr": 0.02, "beta1": 0.85, "weight_decay": 0.1, "amsgrad": True}),  # beta2 left to torch
    ("adamw", {"lr": 0.01, "beta2": 0.95, "eps": 1e-7}),  # beta1 left to torch
]
SURFACE_CASES = [
    ("rosenbrock", SurfaceConfig(name="rosenbrock"), rosenbrock_by_hand, ROSENBROCK_START),
    ("formula", SurfaceConfig(name="formula", formula=FORMULA), formula_by_hand, FORMULA_START),
]


def test_every_optimiser_is_covered_with_defaults_and_with_settings():
    assert {k for k, _ in HYPER_SETS} == set(OPTIMIZERS)
    for key in OPTIMIZERS:
        hypers = [h for k, h in HYPER_SETS if k == key]
        assert {} in hypers or hypers[0] == {"lr": 0.001}
        assert set().union(*hypers) == set(HYPERPARAMETERS[key]), key


@pytest.mark.parametrize("surface_name,surface_cfg,fn,start", SURFACE_CASES, ids=[c[0] for c in SURFACE_CASES])
@pytest.mark.parametrize("key,hyper", HYPER_SETS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(HYPER_SETS)])
def test_trajectory_equals_torch_optim_stepped_by_hand(surface_name, surface_cfg, fn, start, key, hyper):
    race = OptimizerRace(build_surface(surface_cfg), start, [OptimizerSpec(key, dict(hyper))])
    race.run(STEPS)
    (traj,) = race.trajectories
    pos, loss, grad, states, opt = reference_run(key, hyper, fn, start, STEPS)
    assert traj.diverged_at is None and traj.status == "running"
    assert traj.steps == STEPS and traj.positions.values.shape == (STEPS + 1, 2)
    assert np.isfinite(loss).all() and np.ptp(loss) > 1e-3  # the racer really moved
    np.testing.assert_allclose(traj.positions.values, pos, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(traj.losses.values, loss, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(traj.grads.values, grad, rtol=1e-10, atol=1e-13)
    assert traj.lr == opt.param_groups[0]["lr"]


def test_rosenbrock_trajectory_is_bit_identical_to_torch():
    race = OptimizerRace(
        build_surface(SurfaceConfig("rosenbrock")),
        ROSENBROCK_START,
        [OptimizerSpec("adam", {"lr": 0.02}), OptimizerSpec("momentum", {"lr": 0.001})],
    )
    race.run(STEPS)
    for traj, (key, hyper) in zip(race.trajectories, [("adam", {"lr": 0.02}), ("momentum", {"lr": 0.001})]):
        pos, loss, _, _, _ = reference_run(key, hyper, rosenbrock_by_hand, ROSENBROCK_START, STEPS)
        np.testing.assert_array_equal(traj.positions.values, pos)
        np.testing.assert_array_equal(traj.losses.values, loss)


def test_racers_do_not_influence_each_other():
    surface = build_surface(SurfaceConfig("rosenbrock"))
    specs = [OptimizerSpec(k, dict(h)) for k, h in HYPER_SETS[:6]]
    together = OptimizerRace(surface, ROSENBROCK_START, specs).run(50)
    for spec, traj in zip(specs, together.trajectories):
        alone = OptimizerRace(surface, ROSENBROCK_START, [OptimizerSpec(spec.key, dict(spec.hyper))]).run(50)
        np.testing.assert_array_equal(traj.positions.values, alone.trajectories[0].positions.values)


def test_reset_starts_the_same_race_again():
    race = OptimizerRace(
        build_surface(SurfaceConfig("rosenbrock")), ROSENBROCK_START, parse_optimizers("momentum:lr=0.001,adam:lr=0.02")
    )
    first = [t.positions.values.copy() for t in race.run(40).trajectories]
    race.reset()
    assert race.steps == 0 and all(t.steps == 0 for t in race.trajectories)
    again = [t.positions.values for t in race.run(40).trajectories]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    race.reset((0.5, 0.25))
    assert race.start == (0.5, 0.25)
    np.testing.assert_array_equal(race.trajectories[0].positions.values, [[0.5, 0.25]])


# --- defaults -----------------------------------------------------------------------------------------
def test_unset_hyperparameters_take_torch_defaults():
    surface = build_surface(SurfaceConfig("rosenbrock"))
    race = OptimizerRace(surface, ROSENBROCK_START, [OptimizerSpec(k) for k in OPTIMIZERS])
    for key, traj in zip(OPTIMIZERS, race.trajectories):
        p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
        reference = TORCH_CLASSES[key]([p], **torch_kwargs_by_hand(key, {}))
        built = OptimizerSpec(key).build([torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))])
        assert type(built) is type(reference)
        ref_group = {k: v for k, v in reference.param_groups[0].items() if k != "params"}
        got_group = {k: v for k, v in built.param_groups[0].items() if k != "params"}
        assert got_group == ref_group, key
        assert traj.lr == ref_group["lr"], key
    adam = race.trajectories[OPTIMIZERS.index("adam")]
    assert adam.lr == 0.001
    assert torch_default("adam", "lr") == 0.001
    assert torch_default("adam", "beta1") == 0.9 and torch_default("adam", "beta2") == 0.999
    assert torch_default("adam", "amsgrad") is False
    assert torch_default("adagrad", "eps") == 1e-10 and torch_default("adagrad", "lr") == 0.01
    assert torch_default("rmsprop", "alpha") == 0.99 and torch_default("rmsprop", "lr") == 0.01
    assert torch_default("momentum", "momentum") == 0.9 and torch_default("nesterov", "momentum") == 0.9
    assert torch_default("sgd", "lr") == 0.001
    assert torch_default("adamw", "weight_decay") == 0.01
    spec = OptimizerSpec("adam", {"beta2": 0.95})
    assert spec.setting("beta2") == 0.95 and spec.setting("beta1") == 0.9 and spec.setting("lr") == 0.001
    assert spec.torch_kwargs() == {"betas": (0.9, 0.95)}


def test_racers_are_titled_as_the_engine_titles_them():
    assert list(OPTIMIZER_TITLES) == list(OPTIMIZERS)
    assert {k: OPTIMIZER_TITLES[k] for k in ENGINE_TITLES} == ENGINE_TITLES
    assert OPTIMIZER_TITLES["rmsprop"] == "RMSProp" and OPTIMIZER_TITLES["nesterov"] == "Nesterov"
    assert OptimizerSpec("rmsprop", {"lr": 0.01}).describe().startswith("RMSProp")


def test_momentum_variants_have_their_presets_and_user_values_win():
    assert OptimizerSpec("sgd").torch_kwargs() == {}
    assert OptimizerSpec("momentum").torch_kwargs() == {"momentum": 0.9}
    assert OptimizerSpec("nesterov").torch_kwargs() == {"momentum": 0.9, "nesterov": True}
    assert OptimizerSpec("momentum", {"momentum": 0.5}).torch_kwargs() == {"momentum": 0.5}
    group = OptimizerSpec("nesterov", {"lr": 0.1}).build([torch.nn.Parameter(torch.zeros(2))]).param_groups[0]
    assert group["nesterov"] is True and group["momentum"] == 0.9 and group["lr"] == 0.1


def test_torch_rejections_become_config_errors():
    # nesterov with momentum 0 passes our ranges but torch refuses it
    spec = OptimizerSpec("nesterov", {"momentum": 0.0})
    spec.validate()
    with pytest.raises(ConfigError) as info:
        OptimizerRace(build_surface(SurfaceConfig()), (0.0, 0.0), [spec])
    assert info.value.field == "optimizers.nesterov" and "Nesterov" in str(info.value)


# --- what the optimisers are known to do -------------------------------------------------------------
def test_momentum_beats_sgd_on_an_ill_conditioned_bowl():
    surface = build_surface(SurfaceConfig(name="quadratic", condition=50.0))
    assert surface.minima == ((0.0, 0.0),) and surface.start == (-1.8, 0.6)
    race = OptimizerRace(surface, surface.start, parse_optimizers("sgd:lr=0.01,momentum:lr=0.01")).run(2000)
    assert [t.steps for t in race.trajectories] == [2000, 2000]
    sgd, momentum = (t.steps_to_reach((0.0, 0.0), 1e-3) for t in race.trajectories)
    print(f"steps to 1e-3 of the minimum: sgd {sgd}, momentum {momentum}")
    assert sgd is not None and momentum is not None
    # SGD on ½(x² + 50y²): y shrinks by 0.5 a step, x by 0.99, so x decides: 1.8·0.99^k ≤ 1e-3
    assert sgd == math.ceil(math.log(1e-3 / 1.8) / math.log(0.99))  # 746
    # heavy ball: both eigen-directions contract by √0.9 ≈ 0.949 a step (complex roots), ~150 steps
    assert momentum < 200 and 3 * momentum < sgd
    assert race.summary()[0]["steps_to_minimum_1e-3"] == sgd
    assert race.summary()[1]["steps_to_minimum_1e-3"] == momentum


def test_adagrad_steps_shrink_as_one_over_sqrt_k_on_a_plane():
    surface = build_surface(SurfaceConfig(name="formula", formula="0.5*x - 2*y"))
    lr, g = 0.1, np.array([0.5, -2.0])
    race = OptimizerRace(surface, (0.3, -0.2), [OptimizerSpec("adagrad", {"lr": lr})]).run(STEPS)
    (traj,) = race.trajectories
    np.testing.assert_array_equal(traj.grads.values, np.tile(g, (STEPS + 1, 1)))
    lengths = traj.step_lengths
    assert lengths.shape == (STEPS,)
    assert (np.diff(lengths) < 0).all()
    k = np.arange(1, STEPS + 1)[:, None]
    deltas = np.diff(traj.positions.values, axis=0)
    # every step goes straight downhill, -sign(g), by lr/√k per coordinate
    np.testing.assert_array_equal(np.sign(deltas), np.tile(-np.sign(g), (STEPS, 1)))
    np.testing.assert_allclose(np.abs(deltas), np.broadcast_to(lr / np.sqrt(k), (STEPS, 2)), rtol=1e-9)
    # exactly: s_k = k g², step = lr·g/(√(k g²) + eps)
    np.testing.assert_allclose(np.abs(deltas), lr * np.abs(g) / (np.sqrt(k * g**2) + 1e-10), rtol=1e-12)
    np.testing.assert_allclose(lengths, lr * math.sqrt(2) / np.sqrt(k[:, 0]), rtol=1e-9)


# --- optimiser state ---------------------------------------------------------------------------------
def test_momentum_velocity_is_torchs_momentum_buffer():
    hyper = {"lr": 0.001}
    traj = (
        OptimizerRace(build_surface(SurfaceConfig("rosenbrock")), ROSENBROCK_START, [OptimizerSpec("momentum", hyper)])
        .run(STEPS)
        .trajectories[0]
    )
    _, _, grads, states, _ = reference_run("momentum", hyper, rosenbrock_by_hand, ROSENBROCK_START, STEPS)
    assert np.isnan(traj.velocity.values[0]).all()  # no buffer before the first step
    buffers = np.array([s["momentum_buffer"].numpy() for s in states[1:]])
    np.testing.assert_allclose(traj.velocity.values[1:], buffers, rtol=1e-12, atol=1e-15)
    # and what a momentum buffer is: v_1 = g_0, v_k = 0.9 v_{k-1} + g_{k-1}
    v = grads[0]
    for k in range(2, STEPS + 1):
        v = 0.9 * v + grads[k - 1]
        np.testing.assert_allclose(traj.velocity.values[k], v, rtol=1e-9)
    assert np.isnan(traj.accum.values).all()


def test_adagrad_accumulator_is_the_sum_of_squared_gradients():
    traj = (
        OptimizerRace(
            build_surface(SurfaceConfig(name="formula", formula=FORMULA)),
            FORMULA_START,
            [OptimizerSpec("adagrad", {"lr": 0.3})],
        )
        .run(STEPS)
        .trajectories[0]
    )
    g = traj.grads.values
    expected = np.vstack([np.zeros((1, 2)), np.cumsum(g[:-1] ** 2, axis=0)])
    np.testing.assert_allclose(traj.accum.values, expected, rtol=1e-12, atol=0)
    assert (np.diff(traj.accum.values, axis=0) > 0).all()
    assert np.isnan(traj.velocity.values).all()


def test_rmsprop_and_adam_state():
    hyper_r = {"lr": 0.005, "momentum": 0.5}
    hyper_a = {"lr": 0.02, "beta1": 0.8, "beta2": 0.99}
    race = OptimizerRace(
        build_surface(SurfaceConfig("rosenbrock")),
        ROSENBROCK_START,
        [OptimizerSpec("rmsprop", hyper_r), OptimizerSpec("adam", hyper_a)],
    ).run(50)
    rms, adam = race.trajectories
    _, _, _, states, _ = reference_run("rmsprop", hyper_r, rosenbrock_by_hand, ROSENBROCK_START, 50)
    np.testing.assert_allclose(rms.velocity.values[1:], [s["momentum_buffer"].numpy() for s in states[1:]], rtol=1e-12)
    np.testing.assert_allclose(rms.accum.values[1:], [s["square_avg"].numpy() for s in states[1:]], rtol=1e-12)
    _, _, _, states, _ = reference_run("adam", hyper_a, rosenbrock_by_hand, ROSENBROCK_START, 50)
    for k in range(1, 51):  # bias-corrected moments m̂, v̂
        np.testing.assert_allclose(adam.velocity.values[k], states[k]["exp_avg"].numpy() / (1 - 0.8**k), rtol=1e-12)
        np.testing.assert_allclose(adam.accum.values[k], states[k]["exp_avg_sq"].numpy() / (1 - 0.99**k), rtol=1e-12)
    # at step 1 the bias-corrected moments are g_0 and g_0²
    np.testing.assert_allclose(adam.velocity.values[1], adam.grads.values[0], rtol=1e-12)
    np.testing.assert_allclose(adam.accum.values[1], adam.grads.values[0] ** 2, rtol=1e-12)
    for t in race.trajectories:
        assert np.isnan(t.velocity.values[0]).all() and np.isnan(t.accum.values[0]).all()


def test_plain_sgd_has_no_state():
    traj = (
        OptimizerRace(build_surface(SurfaceConfig("rosenbrock")), ROSENBROCK_START, [OptimizerSpec("sgd")])
        .run(20)
        .trajectories[0]
    )
    assert traj.velocity.values.shape == (21, 2) and traj.accum.values.shape == (21, 2)
    assert np.isnan(traj.velocity.values).all() and np.isnan(traj.accum.values).all()


# --- divergence and non-finite values ----------------------------------------------------------------
def test_a_diverging_racer_stops_and_the_others_go_on(tmp_path):
    race = OptimizerRace(
        build_surface(SurfaceConfig("rosenbrock")),
        ROSENBROCK_START,
        parse_optimizers("sgd:lr=10,adam:lr=0.02,momentum:lr=0.001"),
    )
    race.run(100)
    bad, adam, momentum = race.trajectories
    k = bad.diverged_at
    assert k is not None and 1 <= k < 100
    assert bad.status == f"diverged at step {k}"
    assert bad.steps == k and len(bad.positions) == k + 1 and len(bad.losses) == k + 1
    last = np.append(bad.positions.values[-1], bad.losses.values[-1])
    assert not np.isfinite(last).all()
    assert np.isfinite(bad.positions.values[:-1]).all() and np.isfinite(bad.losses.values[:-1]).all()
    race.step(5)  # a diverged racer takes no more steps
    assert bad.steps == k and len(bad.grads) == k + 1
    if not np.isfinite(bad.losses.values[-1]):
        assert np.isnan(bad.grads.values[-1]).all()  # no gradient there: NaN, not a made-up 0
    for t in (adam, momentum):
        assert t.diverged_at is None and t.status == "running" and t.steps == 105
        assert np.isfinite(t.positions.values).all()
    assert race.running and race.steps == 105
    summary = {row["optimizer"]: row for row in race.summary()}
    assert summary["sgd"]["status"] == f"diverged at step {k}" and summary["sgd"]["steps"] == k

    path = write_trajectories_csv(tmp_path / "t.csv", race.trajectories)
    text = path.read_text()
    assert "inf" in text or "nan" in text
    back = read_trajectories_csv(path)
    assert list(back) == ["sgd", "adam", "momentum"]
    assert back["sgd"].shape == (k + 1, 4) and back["adam"].shape == (106, 4)
    np.testing.assert_array_equal(back["sgd"][:, 1:3], bad.positions.values)
    np.testing.assert_array_equal(back["sgd"][:, 3], bad.losses.values)


def test_all_racers_diverged_means_not_running():
    race = OptimizerRace(
        build_surface(SurfaceConfig("rosenbrock")), ROSENBROCK_START, parse_optimizers("sgd:lr=10,momentum:lr=10")
    ).run(100)
    assert not race.running
    assert all(t.diverged_at is not None and t.steps == t.diverged_at for t in race.trajectories)


def test_non_finite_loss_at_the_start_does_not_crash(tmp_path):
    surface = build_surface(SurfaceConfig(name="formula", formula="log(x)"))
    race = OptimizerRace(surface, (-1.0, 0.5), parse_optimizers("sgd,adam,adagrad"))
    race.run(10)
    for t in race.trajectories:
        assert t.diverged_at == 0 and t.status == "diverged at step 0" and t.steps == 0
        assert math.isnan(t.losses.values[0])
        np.testing.assert_array_equal(t.positions.values, [[-1.0, 0.5]])
    assert not race.running
    assert [row["status"] for row in race.summary()] == ["diverged at step 0"] * 3
    back = read_trajectories_csv(write_trajectories_csv(tmp_path / "t.csv", race.trajectories))
    assert math.isnan(back["adam"][0, 3]) and back["adam"].shape == (1, 4)


def test_a_finite_start_that_runs_into_nan_is_caught():
    # sqrt(x) walks left under SGD until x < 0, where f is NaN
    surface = build_surface(SurfaceConfig(name="formula", formula="sqrt(x) + y^2"))
    race = OptimizerRace(surface, (1.0, 0.5), [OptimizerSpec("sgd", {"lr": 0.5})]).run(50)
    (t,) = race.trajectories
    assert t.diverged_at is not None and t.steps == t.diverged_at
    assert math.isnan(t.losses.values[-1]) and np.isfinite(t.losses.values[:-1]).all()


# --- the named surfaces ------------------------------------------------------------------------------
NAMED = [n for n in SURFACES if n != "formula"]


def test_seven_named_surfaces():
    assert NAMED == ["quadratic", "rosenbrock", "beale", "himmelblau", "saddle", "two_minima", "plateau"]


@pytest.mark.parametrize("name", NAMED)
def test_known_minima_are_stationary_with_the_stated_value(name):
    s = build_surface(SurfaceConfig(name=name))
    assert s.name == name and s.minima and s.min_value is not None
    for x, y in s.minima + s.local_minima:
        gx, gy = s.gradient(x, y)
        assert abs(gx) < 1e-6 and abs(gy) < 1e-6, (name, x, y, gx, gy)
    for x, y in s.minima:
        assert s.value(x, y) == pytest.approx(s.min_value, abs=1e-6)
        # a true minimum: nothing nearby is lower
        for dx, dy in ((1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3), (7e-4, 7e-4), (-7e-4, 7e-4)):
            assert s.value(x + dx, y + dy) > s.value(x, y)
    assert s.value(*s.start) > s.min_value + 1e-3


def test_two_minima_local_is_above_global():
    s = build_surface(SurfaceConfig(name="two_minima"))
    (glob,), (loc,) = s.minima, s.local_minima
    assert glob[0] < 0 < loc[0] and glob[1] == loc[1] == 0.0
    assert s.value(*loc) > s.value(*glob) + 0.5
    assert s.value(*glob) == pytest.approx(s.min_value, abs=1e-12)
    assert s.min_value < s.value(*loc)
    # the local minimum really traps gradient descent started on its side
    race = OptimizerRace(s, s.start, [OptimizerSpec("sgd", {"lr": 0.01})]).run(2000)
    assert race.trajectories[0].steps_to_reach(loc, 1e-3) is not None


def test_saddle_has_a_saddle_at_the_origin():
    s = build_surface(SurfaceConfig(name="saddle"))
    assert s.gradient(0.0, 0.0) == (0.0, 0.0)
    assert s.value(0.0, 0.1) < s.value(0.0, 0.0) < s.value(0.1, 0.0)
    assert s.min_value == -0.25


def test_condition_and_angle_only_matter_for_the_quadratic():
    SurfaceConfig("rosenbrock", condition=0.1, angle=500).validate()  # ignored: not the bowl's parameters
    with pytest.raises(ConfigError) as info:
        SurfaceConfig("quadratic", condition=0.1).validate()
    assert info.value.field == "surface.condition"


def test_quadratic_condition_and_angle():
    s = build_surface(SurfaceConfig(name="quadratic", condition=100.0, angle=30.0))
    a = math.radians(30.0)
    u, v = (math.cos(a), math.sin(a)), (-math.sin(a), math.cos(a))
    assert s.value(*u) == pytest.approx(0.5, rel=1e-12)
    assert s.value(*v) == pytest.approx(50.0, rel=1e-12)
    assert "100" in s.title and "30" in s.text


@pytest.mark.parametrize("name", SURFACES)
def test_grid_shape_and_orientation(name):
    s = build_surface(SurfaceConfig(name=name, formula="x^2 - 3*y + x*y^3"))
    xs, ys, z = s.grid(7, 5)
    assert xs.shape == (7,) and ys.shape == (5,) and z.shape == (7, 5)
    assert (xs[0], xs[-1]) == s.x_range and (ys[0], ys[-1]) == s.y_range
    for i in range(7):
        for j in range(5):
            assert z[i, j] == pytest.approx(s.value(xs[i], ys[j]), rel=1e-12, abs=1e-12)
    xs, ys, z = s.grid(4, 9, x_range=(0.0, 3.0), y_range=(-1.0, 1.0))
    np.testing.assert_array_equal(xs, [0.0, 1.0, 2.0, 3.0])
    assert ys[0] == -1.0 and ys[-1] == 1.0 and z.shape == (4, 9)


def test_grid_of_an_x_only_formula_is_full():
    s = build_surface(SurfaceConfig(name="formula", formula="x^2"))
    xs, ys, z = s.grid(6, 3)
    assert z.shape == (6, 3)
    np.testing.assert_array_equal(z, np.repeat((xs**2)[:, None], 3, axis=1))


def test_view_containing_widens_only_when_needed():
    s = build_surface(SurfaceConfig("rosenbrock"))  # x -2..2, y -1..3
    assert s.view_containing((0.0, 1.0)) == (s.x_range, s.y_range)
    (x0, x1), (y0, y1) = s.view_containing((10.0, -7.0))
    assert (x0, x1) == (-2.0, pytest.approx(10.4)) and (y0, y1) == (pytest.approx(-7.4), 3.0)
    assert x0 < 10.0 < x1 and y0 < -7.0 < y1
    assert s.view_containing((math.nan, math.inf)) == (s.x_range, s.y_range)


def test_default_starts_are_in_view_and_not_at_a_minimum():
    for name in SURFACES:
        s = build_surface(SurfaceConfig(name=name))
        (x0, x1), (y0, y1) = s.x_range, s.y_range
        assert x0 < s.start[0] < x1 and y0 < s.start[1] < y1, name
        assert all(math.dist(s.start, m) > 0.1 for m in s.minima), name


# --- configuration errors ----------------------------------------------------------------------------
def test_bad_formula_is_a_config_error_on_surface_formula():
    cfg = SurfaceConfig(name="formula", formula="x +* y")
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    assert info.value.field == "surface.formula" and info.value.value == "x +* y"
    with pytest.raises(ConfigError) as info:
        build_surface(cfg)
    assert info.value.field == "surface.formula"
    SurfaceConfig(name="rosenbrock", formula="x +* y").validate()  # the formula only counts for "formula"


@pytest.mark.parametrize(
    "cfg,field",
    [
        (SurfaceConfig(name="banana"), "surface.name"),
        (SurfaceConfig(name="quadratic", condition=0.5), "surface.condition"),
        (SurfaceConfig(name="quadratic", angle=120.0), "surface.angle"),
        (SurfaceConfig(name="formula", formula=""), "surface.formula"),
        (SurfaceConfig(name="formula", formula="z + 1"), "surface.formula"),
    ],
)
def test_bad_surface_configs(cfg, field):
    with pytest.raises(ConfigError) as info:
        build_surface(cfg)
    assert info.value.field == field


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"optimizers": []}, "optimizers"),
        ({"start": (1.0, 2.0, 3.0)}, "start"),
        ({"start": (math.nan, 0.0)}, "start"),
        ({"steps": -1}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"surface": SurfaceConfig(name="nope")}, "surface.name"),
    ],
)
def test_bad_race_configs(kwargs, field):
    cfg = RaceConfig(**{"optimizers": [OptimizerSpec("sgd")], **kwargs})
    with pytest.raises(ConfigError) as info:
        OptimizerRace.from_config(cfg)
    assert info.value.field == field


def test_race_from_config_uses_the_surface_start_by_default():
    race = OptimizerRace.from_config(RaceConfig(SurfaceConfig("beale"), [OptimizerSpec("adam")], None, 3))
    assert race.start == (1.0, 1.5) and race.steps == 0
    race = OptimizerRace.from_config(RaceConfig(SurfaceConfig("beale"), [OptimizerSpec("adam")], (0.5, -1), 3))
    assert race.start == (0.5, -1.0)


# --- parse_optimizers --------------------------------------------------------------------------------
def test_parse_the_issue_example():
    specs = parse_optimizers("sgd:lr=0.001,momentum:lr=0.001,adam:lr=0.02")
    assert [(s.key, s.label, s.hyper) for s in specs] == [
        ("sgd", "sgd", {"lr": 0.001}),
        ("momentum", "momentum", {"lr": 0.001}),
        ("adam", "adam", {"lr": 0.02}),
    ]
    assert specs[1].torch_kwargs() == {"momentum": 0.9, "lr": 0.001}
    assert specs[2].describe() == "Adam lr=0.02"


def test_parse_betas_and_following_settings():
    (spec,) = parse_optimizers("adam:lr=0.02,betas=0.9/0.99,eps=1e-6")
    assert spec.hyper == {"lr": 0.02, "beta1": 0.9, "beta2": 0.99, "eps": 1e-6}
    assert spec.torch_kwargs() == {"lr": 0.02, "eps": 1e-6, "betas": (0.9, 0.99)}
    group = spec.build([torch.nn.Parameter(torch.zeros(2))]).param_groups[0]
    assert group["betas"] == (0.9, 0.99) and group["eps"] == 1e-6 and group["lr"] == 0.02


def test_parse_names_alone_booleans_and_spacing():
    specs = parse_optimizers(" SGD , rmsprop: lr = 0.01, momentum=0.5, centered=true ,adamw:amsgrad=0,")
    assert [s.key for s in specs] == ["sgd", "rmsprop", "adamw"]
    assert specs[0].hyper == {}
    assert specs[1].hyper == {"lr": 0.01, "momentum": 0.5, "centered": True}
    assert specs[2].hyper == {"amsgrad": False}


def test_parse_repeated_keys_get_distinct_labels():
    specs = parse_optimizers("sgd:lr=0.1,sgd:lr=0.01,adam")
    labels = [s.label for s in specs]
    assert len(set(labels)) == 3 and labels[2] == "adam"
    assert "0.1" in labels[0] and "0.01" in labels[1]
    same = [s.label for s in parse_optimizers("adam,adam,adam")]
    assert same == ["adam", "adam#2", "adam#3"]
    race = OptimizerRace(build_surface(SurfaceConfig()), ROSENBROCK_START, parse_optimizers("sgd:lr=0.1,sgd:lr=0.01"))
    assert [t.label for t in race.trajectories] == labels[:2]


@pytest.mark.parametrize(
    "text,field,fragment",
    [
        ("lbfgs:lr=0.1", "optims", "adam"),
        ("lr=0.1,sgd", "optims", "start with an optimiser"),
        ("", "optims", "at least one"),
        ("sgd:betas=0.9/0.99", "optims.sgd.betas", "sgd takes lr, weight_decay"),
        ("sgd:momentum=0.9", "optims.sgd.momentum", "sgd takes"),
        ("adam:lr=fast", "optims.adam.lr", "a number"),
        ("sgd:lr=-0.1", "optims.sgd.lr", "> 0"),
        ("sgd:lr=0", "optims.sgd.lr", "> 0"),
        ("sgd:lr=nan", "optims.sgd.lr", "a number"),
        ("adam:betas=0.9", "optims.adam.betas", "b1/b2"),
        ("adam:beta2=1", "optims.adam.beta2", "< 1"),
        ("momentum:momentum=1.5", "optims.momentum.momentum", "< 1"),
        ("rmsprop:centered=maybe", "optims.rmsprop.centered", "true or false"),
        ("adagrad:eps=0", "optims.adagrad.eps", "> 0"),
    ],
)
def test_parse_errors_name_the_field(text, field, fragment):
    with pytest.raises(ConfigError) as info:
        parse_optimizers(text)
    assert info.value.field == field, str(info.value)
    assert fragment in str(info.value)


def test_spec_validate_rejects_a_number_for_a_boolean():
    with pytest.raises(ConfigError) as info:
        OptimizerSpec("adam", {"amsgrad": 1.0}).validate()
    assert info.value.field == "optimizer.amsgrad"


# --- CSV -----------------------------------------------------------------------------------------------
def test_csv_columns_start_row_and_exact_round_trip(tmp_path):
    race = OptimizerRace(
        build_surface(SurfaceConfig(name="formula", formula=FORMULA)),
        FORMULA_START,
        parse_optimizers("sgd:lr=0.1,adam:lr=0.05,adam:lr=0.01"),
    ).run(30)
    path = write_trajectories_csv(tmp_path / "trajectories.csv", race.trajectories)
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == TRAJECTORY_COLUMNS == ("optimizer", "step", "x", "y", "loss")
    assert len(rows) == 1 + 3 * 31
    assert rows[1][:4] == [race.trajectories[0].label, "0", "-1.5", "1.3"]
    assert [int(r[1]) for r in rows[1:32]] == list(range(31))
    back = read_trajectories_csv(path)
    assert list(back) == [t.label for t in race.trajectories]
    for t in race.trajectories:
        arr = back[t.label]
        np.testing.assert_array_equal(arr[:, 0], np.arange(31))
        np.testing.assert_array_equal(arr[:, 1:3], t.positions.values)
        np.testing.assert_array_equal(arr[:, 3], t.losses.values)
        np.testing.assert_array_equal(arr[0, 1:3], FORMULA_START)


def test_reading_a_csv_with_other_columns_fails(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("optimizer,step,x,y\nsgd,0,1,2\n")
    with pytest.raises(ValueError, match="expected columns"):
        read_trajectories_csv(path)
