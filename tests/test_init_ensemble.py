"""K fresh initialisations at step 0: the theory holds on average, one network scatters (science.md §4, §10)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from resnet_viz.config import InitConfig, ModelConfig, RunConfig
from resnet_viz.models import build_model, init_weights, layer_table
from resnet_viz.train.init_ensemble import (
    SamplingCancelled,
    fresh_network,
    init_seeds,
    measure_init_ensemble,
    sampling_refusal,
)


def gaussian_batch(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def mlp30() -> RunConfig:
    return RunConfig(model=ModelConfig(arch="mlp", depth=30, width=256, batch_norm=False), init=InitConfig(scheme="he"))


def test_k_init_average_of_a_30_layer_relu_mlp_lands_on_theory_while_one_init_scatters():
    ens = measure_init_ensemble(mlp30(), gaussian_batch(128), 32, seed=1)
    assert ens.k == 32 and ens.act_std.shape == (32, 30) and ens.ratio.shape == (32, 30)
    np.testing.assert_allclose(ens.theory_rel, 1.0)  # He init, no BN: every layer keeps layer 0's std
    last = -1
    assert 0.9 <= ens.rms_ratio[last] <= 1.1  # the average the theory predicts: within 10 %
    assert 0.85 <= ens.mean_ratio[last] <= 1.1  # the plain mean sits a little lower (log-normal scatter)
    lo, hi = ens.ratio_band()
    assert lo[last] < 0.9 and hi[last] > 1.1  # one network: wider than +-10 % around the theory
    assert 0.08 < ens.spread_decades[last] < 0.4
    assert ens.spread_decades[1] < ens.spread_decades[last]  # the scatter grows with depth
    np.testing.assert_allclose(ens.ratio[:, 0], 1.0)
    lo_abs, hi_abs = ens.theory_band(2.0)
    np.testing.assert_allclose(lo_abs, 2.0 * ens.theory_rel * lo)
    np.testing.assert_allclose(hi_abs, 2.0 * ens.theory_rel * hi)


def test_plain20_without_bn_scatters_by_tenths_of_a_decade_at_the_last_conv():
    cfg = RunConfig(model=ModelConfig(arch="plain", depth=20, batch_norm=False), init=InitConfig(scheme="he"))
    ens = measure_init_ensemble(cfg, gaussian_batch(16), 20, seed=3)
    assert ens.act_std.shape == (20, 20) and len(ens.layer_names) == 20
    assert ens.layer_names[-1] == "fc" and np.isnan(ens.theory_rel[-1])  # no theory after pooling
    assert np.isnan(ens.ratio[:, -1]).all() and np.isnan(ens.spread_decades[-1])
    assert np.isfinite(ens.act_std).all()  # the head is measured all the same
    assert 0.1 <= ens.spread_decades[-2] <= 0.4


def test_seeded_sampling_is_deterministic_and_differs_from_the_runs_init():
    cfg = RunConfig(model=ModelConfig(arch="resnet", depth=8, width=4))
    x = gaussian_batch(8)
    a = measure_init_ensemble(cfg, x, 3, seed=7)
    b = measure_init_ensemble(cfg, x, 3, seed=7)
    c = measure_init_ensemble(cfg, x, 3, seed=8)
    np.testing.assert_array_equal(a.act_std, b.act_std)
    assert a.seeds == b.seeds and len(set(a.seeds)) == 3 and not set(a.seeds) & set(c.seeds)
    assert not np.array_equal(a.act_std[:, 1:], c.act_std[:, 1:])
    assert cfg.train.seed not in init_seeds(7, 50, avoid=cfg.train.seed)
    assert init_seeds(7, 3, avoid=cfg.train.seed) == a.seeds


def test_sampling_leaves_the_global_rng_alone():
    """A run training in the same process (thread backend) must draw the same numbers with or without sampling."""
    state = torch.random.get_rng_state()
    measure_init_ensemble(RunConfig(model=ModelConfig(arch="plain", depth=8, width=4)), gaussian_batch(4), 2, seed=0)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize(
    ("model", "init"),
    [
        (ModelConfig(arch="plain", depth=8, width=4), InitConfig(scheme="he")),
        (
            ModelConfig(arch="resnet", depth=8, width=4, shortcut="B"),
            InitConfig(scheme="xavier", distribution="uniform"),
        ),
        (ModelConfig(arch="resnet", depth=8, width=4), InitConfig(scheme="lecun", zero_init_residual=True)),
        (ModelConfig(arch="resnet", depth=8, width=4, shortcut_variant="exclusive_gate"), InitConfig(scheme="he")),
        (ModelConfig(arch="mlp", depth=4, width=8, residual=True, batch_norm=True), InitConfig(scheme="orthogonal")),
        (ModelConfig(arch="mlp", depth=4, width=8, activation="tanh"), InitConfig(scheme="normal", std=0.3)),
    ],
)
def test_fresh_network_is_init_weights_with_its_own_generator(model, init):
    """The private-generator init equals init_weights after torch.manual_seed of the same seed, and the
    meta-built network computes what a normally built one with those weights computes."""
    cfg = RunConfig(model=model, init=init).resolved()
    seed = 1234
    fresh = fresh_network(cfg, (3, 32, 32), 10, seed, torch.device("cpu"))
    with torch.device("meta"):
        ref = build_model(cfg.model, 3, 32, 10)
    ref = ref.to_empty(device="cpu")
    torch.manual_seed(seed)
    init_weights(ref, cfg.init, cfg.model)
    got, want = fresh.state_dict(), ref.state_dict()
    assert list(got) == list(want)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=0, msg=name)
    normal = build_model(cfg.model, 3, 32, 10)
    normal.load_state_dict(got)
    x = gaussian_batch(4)
    with torch.no_grad():
        torch.testing.assert_close(fresh.train()(x), normal.train()(x), rtol=0, atol=0)
    assert [i.name for i in layer_table(fresh, (3, 32, 32))] == [i.name for i in layer_table(normal, (3, 32, 32))]


def test_checkpoint_loaded_config_is_refused_in_one_line(tmp_path):
    cfg = RunConfig(model=ModelConfig(arch="plain", depth=8, width=4))
    assert sampling_refusal(cfg) is None
    if not any(f.name == "from_file" for f in dataclasses.fields(InitConfig)):
        pytest.skip("init.from_file does not exist yet")
    from resnet_viz.models.checkpoint import save_checkpoint

    plain = RunConfig(model=ModelConfig(arch="plain", depth=8, width=4, batch_norm=False)).resolved()
    path = save_checkpoint(tmp_path / "ck.pt", plain.to_dict(), 0, build_model(plain.model, 3, 32, 10).state_dict())
    loaded = dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, from_file=str(path)))
    with pytest.raises(ValueError, match=r"init\.from_file .*checkpoint") as exc:
        measure_init_ensemble(loaded, gaussian_batch(2), 2, seed=0)
    assert "\n" not in str(exc.value)
    with pytest.raises(ValueError, match="k 0"):
        measure_init_ensemble(cfg, gaussian_batch(2), 0, seed=0)


def test_cancel_stops_between_and_within_inits():
    cfg = RunConfig(model=ModelConfig(arch="plain", depth=8, width=4))
    done: list[int] = []
    with pytest.raises(SamplingCancelled):
        measure_init_ensemble(
            cfg, gaussian_batch(2), 5, seed=0, cancel=lambda: len(done) >= 2, progress=lambda i, _k: done.append(i)
        )
    assert done == [1, 2]
    calls = iter(range(100))
    with pytest.raises(SamplingCancelled):  # true from the 4th question on: inside the first forward
        measure_init_ensemble(cfg, gaussian_batch(2), 5, seed=0, cancel=lambda: next(calls) >= 3)


def test_describe_init_average_prints_theory_and_the_scatter_of_fresh_inits(capsys, tmp_path):
    from resnet_viz.cli import main

    args = ["describe", "--arch", "plain", "--depth", "8", "--width", "4", "--no-bn", "--subset", "200"]
    assert main([*args, "--init-average", "3", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(out) if line.startswith("sampled from 3 fresh initialisations"))
    assert "one batch of embedded" in out[start] and "8 training images" in out[start]
    assert out[start + 1].split() == ["layer", "name", "theory", "mean", "rms", "10%", "90%", "spread"]
    rows = out[start + 2 : start + 2 + 8]
    assert rows[0].split()[1:] == ["stem.conv", "1", "1.00", "1.00", "1.00", "1.00", "0.000", "dec"]
    assert rows[-1].split()[1:] == ["fc", "—", "—", "—", "—", "—", "—", "dec"]  # no theory after pooling
    lo, hi = float(rows[-2].split()[5]), float(rows[-2].split()[6])
    assert 0 < lo <= hi
    from resnet_viz.models.checkpoint import save_checkpoint

    plain = RunConfig(model=ModelConfig(arch="plain", depth=8, width=4, batch_norm=False)).resolved()
    path = save_checkpoint(tmp_path / "ck.pt", plain.to_dict(), 0, build_model(plain.model, 3, 32, 10).state_dict())
    assert main([*args, "--init-average", "3", "--init-from", str(path)]) == 2
    err = capsys.readouterr().err
    assert "--init-average: --init-from" in err and "checkpoint" in err and err.count("\n") == 1
    assert main([*args, "--init-average", "0"]) == 2
    assert "--init-average 0" in capsys.readouterr().err
