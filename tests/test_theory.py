"""Signal-propagation theory (science.md section 4) against the rules and against measurement at init.

Measurement: forward hooks record the std of every weight layer's output for a batch of N(0, 1)
inputs, training mode, at initialisation; compared with :func:`theory_act_std` as log10 ratios.

What is true, and the tolerances used here: the theory is the expectation over the random weights.
A single narrow ReLU net without BN scatters log-normally around it, because its post-ReLU inputs
share a large common (mean) direction, so each layer's gain is an average over only C_out
chi-square(1) terms. For width-16 convs this scatter reaches ~0.3 decades (1 sd) at layer 31 and the
geometric mean over seeds sits ~0.3 decades *below* the expectation (Jensen). The arithmetic mean
over many nets does match (test below). Zero-mean activations (tanh) and BN nets scatter far less and
get tight tolerances.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from resnet_viz.config import InitConfig, ModelConfig
from resnet_viz.models import build_model, init_weights, layer_table, theory_act_std
from resnet_viz.models.theory import Moments, TheoryContext, activation_moments, conv_moments, norm_moments

MNIST = (1, 28, 28)
CIFAR = (3, 32, 32)


def measured_q(
    cfg: ModelConfig, init: InitConfig, shape: tuple[int, int, int], batch: int, seed: int
) -> tuple[np.ndarray, nn.Module]:
    """Measured output variance of every weight layer (layer_table order), training mode, at init."""
    torch.manual_seed(seed)
    model = build_model(cfg, shape[0], shape[1], 10)
    init_weights(model, init, cfg)
    model.train()
    table = layer_table(model, shape)
    modules = dict(model.named_modules())
    q: dict[str, float] = {}
    hooks = [
        modules[t.name].register_forward_hook(
            lambda m, i, o, n=t.name: q.__setitem__(n, o.detach().double().var().item())
        )
        for t in table
    ]
    with torch.no_grad():
        model(torch.randn(batch, *shape))
    for h in hooks:
        h.remove()
    return np.array([q[t.name] for t in table]), model


def log_ratios(
    cfg: ModelConfig, init: InitConfig, shape: tuple[int, int, int], batch: int, seeds: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-seed log10 measured/theory [S, L], measured relative std (geometric mean) [L], theory [L])."""
    rel = []
    for seed in seeds:
        q, model = measured_q(cfg, init, shape, batch, seed)
        with np.errstate(divide="ignore"):
            rel.append(0.5 * np.log10(q / q[0]))
    theory = theory_act_std(model, cfg, init, shape)
    rel_arr = np.array(rel)
    with np.errstate(divide="ignore"):
        return rel_arr - np.log10(theory), 10 ** rel_arr.mean(0), theory


def assert_close(dev: np.ndarray, tol: float, valid: np.ndarray | None = None) -> None:
    dev = dev if valid is None else dev[..., valid]
    worst = float(np.nanmax(np.abs(dev)))
    assert worst <= tol, f"max |log10(measured/theory)| = {worst:.3f} > {tol}"


# ----------------------------------------------------------------------------------------------- rules
def test_activation_rules_match_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal(2_000_000)
    for mu, sd in ((0.0, 1.0), (0.7, 1.3), (-1.0, 0.5), (3.0, 2.0)):
        x = mu + sd * z
        s = Moments(np.array([[mu**2 + sd**2]]), np.array([[mu]]))
        for kind, fn in (
            ("relu", lambda v: np.maximum(v, 0)),
            ("leaky_relu", lambda v: np.where(v > 0, v, 0.1 * v)),
            ("tanh", np.tanh),
            ("sigmoid", lambda v: 1 / (1 + np.exp(-v))),
        ):
            out = activation_moments(kind, s, slope=0.1)
            y = fn(x)
            assert out.m.item() == pytest.approx(np.mean(y**2), rel=3e-3, abs=1e-4), (kind, mu, sd)
            assert out.mu.item() == pytest.approx(np.mean(y), rel=3e-3, abs=2e-3), (kind, mu, sd)
    unit = Moments(np.full((2, 2), 3.0), np.zeros((2, 2)))
    assert np.allclose(activation_moments("relu", unit).m, 1.5)  # m / 2
    assert np.allclose(activation_moments("leaky_relu", unit, 0.2).m, 3.0 * 1.04 / 2)  # m (1 + a^2) / 2


def test_conv_rule_counts_padded_positions() -> None:
    ctx = TheoryContext(init=InitConfig("normal", std=0.1), model_cfg=ModelConfig())
    conv = nn.Conv2d(5, 7, 3, padding=1, bias=False)
    out = conv_moments(conv, Moments.unit((6, 6)), ctx)
    per_tap = 0.01 * 5  # Var[w] * C_in
    assert out.m[0, 0] == pytest.approx(4 * per_tap) and out.m[0, 3] == pytest.approx(6 * per_tap)
    assert out.m[3, 3] == pytest.approx(9 * per_tap)
    assert ctx.q[id(conv)] == pytest.approx(per_tap * (4 * 4 + 16 * 6 + 16 * 9) / 36)
    strided = conv_moments(nn.Conv2d(5, 7, 3, stride=2, padding=1), Moments.unit((6, 6)), ctx)
    assert strided.m.shape == (3, 3) and strided.m[0, 0] == pytest.approx(4 * per_tap)
    bn = norm_moments(nn.BatchNorm2d(7), out, ctx)
    assert bn.m.mean() == pytest.approx(1.0) and bn.m[0, 0] == pytest.approx(4 / (256 / 36))


def test_exact_layer_conv_border_profile() -> None:
    """One conv on N(0,1) input: the measured per-position variance follows the padded-tap count."""
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 64, 3, padding=1, bias=False)
    nn.init.normal_(conv.weight, 0.0, 0.1)
    with torch.no_grad():
        y = conv(torch.randn(256, 16, 6, 6))
    measured = y.pow(2).mean(dim=(0, 1)).numpy()
    ctx = TheoryContext(init=InitConfig("normal", std=0.1), model_cfg=ModelConfig())
    predicted = conv_moments(conv, Moments.unit((6, 6)), ctx).m
    assert np.allclose(measured, predicted, rtol=0.06)


# ---------------------------------------------------------------------------------- deep nets, measured
@pytest.mark.parametrize("scheme", ["he", "xavier", "normal"])
def test_mlp30_relu_theory_matches_measurement(scheme: str) -> None:
    """He et al. 2015 Sec. 2.2: MLP depth 30, width 512, ReLU, no BN; std 0.01 for 'normal'."""
    cfg = ModelConfig(arch="mlp", depth=30, width=512, batch_norm=False)
    init = InitConfig(scheme=scheme, std=0.01)
    dev, measured, theory = log_ratios(cfg, init, MNIST, 256, seeds=(0, 1, 2))
    assert theory[0] == 1.0 and len(theory) == 30
    assert_close(dev.mean(0)[:-1], 0.1)  # hidden layers: 3-seed mean within 0.1 decades
    assert_close(dev.mean(0), 0.25)  # the 10-unit head scatters more
    assert_close(dev, 0.4)  # every single net
    if scheme == "he":  # n Var[w] / 2 = 1: flat
        assert np.all(np.abs(np.log2(theory)) < 1) and np.all(np.abs(np.log2(measured)) < 1)
    if scheme == "xavier":  # each ReLU layer halves the second moment: 2^(-29/2) at the end
        assert abs(math.log2(theory[-1] / 2**-14.5)) < 1 and abs(math.log2(measured[-1] / 2**-14.5)) < 1
    if scheme == "normal":  # collapses: 0.16x per layer (512 * 1e-4 / 2)
        assert theory[-1] < 1e-20 and measured[-1] < 1e-20


@pytest.mark.parametrize("scheme", ["he", "xavier", "normal"])
def test_plain32_conv_relu_theory_matches_measurement(scheme: str) -> None:
    """Plain CIFAR net, depth 32, width 16, ReLU, no BN (see the module docstring for the tolerance)."""
    cfg = ModelConfig(arch="plain", depth=32, batch_norm=False)
    init = InitConfig(scheme=scheme, std=0.01)
    dev, measured, theory = log_ratios(cfg, init, CIFAR, 8, seeds=(0, 1, 2, 3))
    assert np.isnan(theory[-1]) and len(theory) == 32  # head after global average pooling
    valid = np.isfinite(theory) & (measured > 1e-30)  # normal(0.01): float32 underflows past ~1e-30
    assert valid.sum() >= (16 if scheme == "normal" else 31)
    mean_dev = dev.mean(0)[valid]  # expected: about -0.3 +- 0.15 deep in the net, nearer 0 early
    assert np.all(mean_dev < 0.2) and np.all(mean_dev > -0.7)
    assert_close(dev, 1.2, valid)  # single nets: ~4 sd of the log-normal scatter
    if scheme == "xavier":
        assert 1e-6 < theory[-2] < 3e-5  # ~2^-15 times the border attenuation
    if scheme == "normal":
        assert theory[-2] < 1e-25


def test_conv_theory_is_the_expectation_over_weights() -> None:
    """Arithmetic mean of the second moment over 64 nets: plain depth 14, ReLU, no BN, 8x8 input, where
    3x3 zero padding dominates (a 2x2 map keeps 4 of 9 taps): predicted std falls to ~0.13 of layer 0."""
    cfg = ModelConfig(arch="plain", depth=14, batch_norm=False)
    init = InitConfig("he")
    qs = []
    for seed in range(64):
        q, model = measured_q(cfg, init, (3, 8, 8), 4, seed)
        qs.append(q)
    qs_arr = np.array(qs)
    measured = np.sqrt(qs_arr.mean(0) / qs_arr[:, 0].mean())
    theory = theory_act_std(model, cfg, init, (3, 8, 8))
    assert theory[-2] < 0.2
    assert_close(np.log10(measured / theory)[:-1], 0.06)


@pytest.mark.parametrize("scheme", ["he", "xavier"])
def test_plain32_conv_tanh_theory_tight(scheme: str) -> None:
    """Zero-mean activations scatter little: every single net within 0.12 decades at every layer."""
    cfg = ModelConfig(arch="plain", depth=32, batch_norm=False, activation="tanh")
    dev, _, theory = log_ratios(cfg, InitConfig(scheme), CIFAR, 4, seeds=(0, 1))
    assert theory[-2] < 0.7  # borders (and for xavier tanh's contraction) shrink the signal
    assert_close(dev[:, :-1], 0.12)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
@pytest.mark.parametrize(
    "init", [InitConfig("he"), InitConfig("xavier"), InitConfig("normal", std=0.1)], ids=["he", "xavier", "normal0.1"]
)
def test_mlp10_saturating_theory_matches(act: str, init: InitConfig) -> None:
    cfg = ModelConfig(arch="mlp", depth=10, width=512, activation=act)
    dev, _, _ = log_ratios(cfg, init, MNIST, 256, seeds=(0,))
    assert_close(dev[:, :-1], 0.05)
    # the head averages only 10 units whose inputs share the sigmoid's mean 0.5: ~0.1 decades sd
    assert_close(dev, 0.3)


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(depth=20),
        ModelConfig(depth=20, shortcut="B", after_add="bn_relu"),
        ModelConfig(depth=20, block="preact", shortcut="B"),
        ModelConfig(depth=29, block="bottleneck", shortcut="A"),
        ModelConfig(depth=20, shortcut="C", shortcut_variant="exclusive_gate"),
        ModelConfig(depth=20, shortcut_variant="shortcut_gate"),
        ModelConfig(depth=20, shortcut_variant="scale", shortcut_scale=0.5),
        ModelConfig(depth=20, shortcut="B", shortcut_variant="dropout"),
        ModelConfig(depth=20, stochastic_depth=True),
        ModelConfig(depth=20, activation="sigmoid"),
        ModelConfig(depth=20, block="preact", batch_norm=False, activation="tanh"),
    ],
    ids=lambda c: (
        f"{c.block}-{c.shortcut}-{c.shortcut_variant}-{c.after_add}-{c.activation}-sd{int(c.stochastic_depth)}"
    ),
)
def test_resnet_theory_matches_measurement(cfg: ModelConfig) -> None:
    """Residual sums are closed as Gaussians (mean and variance matched). Sigmoid after the add of an
    option-A stream (zero-padded channels averaged with the rest) is the least exact case."""
    dev, _, theory = log_ratios(cfg, InitConfig("he"), (3, 16, 16), 16, seeds=(0, 1))
    assert np.isnan(theory[-1]) and theory[0] == 1.0
    assert_close(dev[:, :-1], 0.25 if cfg.activation == "sigmoid" else 0.15)


def test_zero_init_residual_theory() -> None:
    cfg = ModelConfig(depth=20)
    dev, _, theory = log_ratios(cfg, InitConfig("he", zero_init_residual=True), (3, 16, 16), 16, seeds=(0, 1))
    assert_close(dev[:, :-1], 0.15)
    # every block is the identity at init: the stream stays the stem's BN-ReLU output
    assert theory[1] == pytest.approx(theory[3]) == pytest.approx(theory[5])


def test_residual_mlp_needs_the_mean_cross_term() -> None:
    """h <- h + relu(W h): both terms are non-negative, so E[(h + b)^2] = m_h + m_b + 2 E[h] E[b].
    Summing second moments alone would give 2^14 at the end instead of the measured ~2.8e6."""
    cfg = ModelConfig(arch="mlp", depth=30, width=512, residual=True)
    dev, measured, theory = log_ratios(cfg, InitConfig("he"), MNIST, 256, seeds=(0, 1, 2))
    assert_close(dev.mean(0), 0.1)
    assert_close(dev, 0.25)
    assert measured[-2] > 30 * 2**14


def test_theory_layer_alignment_and_nan_after_pooling() -> None:
    cfg = ModelConfig(depth=20, shortcut="B", shortcut_variant="exclusive_gate")
    model = build_model(cfg, 3, 16, 10)
    theory = theory_act_std(model, cfg, InitConfig(), (3, 16, 16))
    table = layer_table(model, (3, 16, 16))
    assert len(theory) == len(table) == 20 + 2 + 9 and theory.dtype == np.float64
    assert np.isnan(theory[-1]) and np.all(np.isfinite(theory[:-1]))
    mlp_cfg = ModelConfig(arch="mlp", depth=3, width=16)
    assert np.all(np.isfinite(theory_act_std(build_model(mlp_cfg, 1, 8, 10), mlp_cfg, InitConfig(), (1, 8, 8))))
