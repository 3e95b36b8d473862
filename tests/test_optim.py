"""Optimisers come from torch.optim with its defaults; schedules from torch.optim.lr_scheduler."""

import math

import pytest
import torch

from resnet_viz.config import ConfigError, OptimConfig
from resnet_viz.train.optim import (
    OPTIMIZER_CLASSES,
    OPTIMIZER_TITLES,
    build_optimizer,
    build_scheduler,
    milestone_steps,
    resolved_hyperparameters,
    torch_default,
)


def params():
    return [torch.nn.Parameter(torch.ones(3))]


@pytest.mark.parametrize(
    "name,klass",
    [
        ("sgd", torch.optim.SGD),
        ("adagrad", torch.optim.Adagrad),
        ("rmsprop", torch.optim.RMSprop),
        ("adam", torch.optim.Adam),
        ("adamw", torch.optim.AdamW),
    ],
)
def test_unset_hyperparameters_take_torch_defaults(name, klass):
    opt = build_optimizer(params(), OptimConfig(name=name))
    assert type(opt) is klass
    reference = klass(params())
    assert resolved_hyperparameters(opt)["lr"] == reference.defaults["lr"]
    for key, value in resolved_hyperparameters(opt).items():
        ref = reference.defaults[key]
        assert value == (list(ref) if isinstance(ref, tuple) else ref)


def test_set_hyperparameters_are_passed():
    opt = build_optimizer(params(), OptimConfig(name="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4))
    hp = resolved_hyperparameters(opt)
    assert (hp["lr"], hp["momentum"], hp["nesterov"], hp["weight_decay"]) == (0.1, 0.9, True, 1e-4)
    opt = build_optimizer(params(), OptimConfig(name="adam", lr=0.01, betas=(0.8, 0.9), eps=1e-6))
    hp = resolved_hyperparameters(opt)
    assert hp["betas"] == [0.8, 0.9] and hp["eps"] == 1e-6


def test_sgd_momentum_matches_update_rule():
    """science.md §7: m = beta*m + g; w -= lr*m."""
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = build_optimizer([w], OptimConfig(name="sgd", lr=0.1, momentum=0.9))
    expected, m = w.detach().clone(), torch.zeros(2)
    for _ in range(3):
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        g = 2 * expected
        m = 0.9 * m + g
        expected = expected - 0.1 * m
        opt.step()
    assert torch.allclose(w.detach(), expected)


def lrs(cfg, total):
    opt = build_optimizer(params(), cfg)
    sched = build_scheduler(opt, cfg, total)
    out = []
    for _ in range(total):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return out


def test_step_schedule_divides_by_ten_at_milestones():
    cfg = OptimConfig(lr=0.1, schedule="step")
    assert milestone_steps(cfg, 64000) == [32000, 48000]
    seq = lrs(cfg, 100)
    assert seq[0] == pytest.approx(0.1) and seq[49] == pytest.approx(0.1)
    assert seq[50] == pytest.approx(0.01) and seq[74] == pytest.approx(0.01)
    assert seq[75] == pytest.approx(0.001) and seq[99] == pytest.approx(0.001)


def test_cosine_and_warmup():
    seq = lrs(OptimConfig(lr=0.1, schedule="cosine"), 100)
    assert seq[0] == pytest.approx(0.1) and seq[50] == pytest.approx(0.05, rel=0.05) and seq[-1] < 1e-3
    seq = lrs(OptimConfig(lr=0.1, schedule="constant", warmup_steps=10), 30)
    assert seq[0] == pytest.approx(0.01) and seq[5] == pytest.approx(0.01 + 0.09 * 5 / 10)
    assert all(v == pytest.approx(0.1) for v in seq[10:])
    seq = lrs(OptimConfig(lr=0.1, schedule="step", warmup_steps=10), 100)
    assert seq[0] == pytest.approx(0.01) and seq[20] == pytest.approx(0.1)
    assert seq[49] == pytest.approx(0.1) and seq[50] == pytest.approx(0.01) and seq[75] == pytest.approx(0.001)
    assert all(math.isfinite(v) for v in seq)


def test_torch_rejections_become_config_errors():
    with pytest.raises(ConfigError):
        build_optimizer(params(), OptimConfig(name="sgd", lr=0.1, momentum=0.0, nesterov=True))


def test_torch_default_reads_the_torch_optim_signature():
    assert torch_default("sgd", "lr") == 0.001 and torch_default("sgd", "momentum") == 0
    assert torch_default("adam", "betas") == (0.9, 0.999) and torch_default("adam", "amsgrad") is False
    assert torch_default("adagrad", "eps") == 1e-10 and torch_default("rmsprop", "alpha") == 0.99
    assert torch_default("adamw", "weight_decay") == 0.01
    assert torch_default("sgd", "betas") is None  # SGD has no betas
    assert isinstance(torch_default("adam", "lr"), float)


def test_optimizer_tables_name_the_same_optimizers():
    assert list(OPTIMIZER_TITLES) == list(OPTIMIZER_CLASSES)
    assert OPTIMIZER_TITLES["rmsprop"] == "RMSProp" and OPTIMIZER_TITLES["adagrad"] == "AdaGrad"
