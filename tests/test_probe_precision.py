"""The probes measure tiny and huge statistics exactly on every device (issue 15: precision).

The accelerator code path is forced on the CPU by patching ``probes.accelerator_path``. On the CPU a
float32 ``torch.dot`` / ``torch._foreach_norm`` of values around 1e-23 reads 0 (their squares are below
float32's smallest subnormal), so dropping the float64 accumulation of the accelerator path fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from resnet_viz.config import RunConfig
from resnet_viz.metrics.records import RunStarted, TrainChunk
from resnet_viz.presets import load_presets
from resnet_viz.train import probes
from resnet_viz.train.engine import Engine
from resnet_viz.train.probes import safe_norms, std_mean


@pytest.fixture
def accelerator_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "accelerator_path", lambda device: True)


def test_float32_squares_of_tiny_values_underflow_on_the_cpu() -> None:
    """The hazard itself: without float64 accumulation, the squares of 1e-23 values are wrong by far, and
    those of 1e-25 values sum to 0."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10_000, generator=g) * 1e-23
    exact = torch.dot(x.double(), x.double()).item()
    assert abs(torch.dot(x, x).item() - exact) > 0.5 * exact
    tiny = torch.randn(10_000, generator=g) * 1e-25
    assert torch.dot(tiny, tiny).item() == 0.0
    assert torch._foreach_norm([tiny])[0].item() == 0.0


@pytest.mark.usefixtures("accelerator_on_cpu")
@pytest.mark.parametrize(
    "scale,offset", [(1.0, 0.0), (1e-23, 0.0), (1e-25, 0.0), (1e-30, 0.0), (1e25, 0.0), (1.0, 1e3), (0.0, 0.0)]
)
def test_accelerator_path_std_and_norms_are_exact(scale: float, offset: float) -> None:
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(32, 8, 8, 8, generator=g) * scale + offset).float()
    std, mean = std_mean(x).tolist()
    ref_std, ref_mean = torch.std_mean(x.double())
    assert std == pytest.approx(ref_std.item(), rel=1e-6, abs=0.0)
    assert mean == pytest.approx(ref_mean.item(), rel=1e-6, abs=1e-6 * ref_std.item())
    half = x[:2].half() if scale == 1.0 else x[:2]
    norms = safe_norms([x, half, torch.zeros(5)])
    assert norms.dtype == torch.float32
    assert norms[0].item() == pytest.approx(torch.linalg.vector_norm(x.double()).item(), rel=1e-6)
    assert norms[1].item() == pytest.approx(torch.linalg.vector_norm(half.double()).item(), rel=1e-3)
    assert norms[2].item() == 0.0


def _normal_001_run() -> RunConfig:
    """The init preset's N(0, 0.01^2) run (30-layer ReLU MLP, no BN) at its quick size, 2 steps."""
    run = next(r for r in load_presets(with_user=False)["init"].runs("quick") if r.name == "normal-0.01")
    config = run.config
    config.train.steps = 2
    config.train.eval_every = 2
    config.train.eval_train_samples = 200
    return config


def _step0_statistics(config: RunConfig) -> tuple[RunStarted, TrainChunk]:
    records: list[object] = []
    Engine(config, records.append).run()
    started = next(r for r in records if isinstance(r, RunStarted))
    chunk = next(r for r in records if isinstance(r, TrainChunk))
    return started, chunk


def test_normal_001_curve_is_identical_on_the_accelerator_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The init preset's normal(0.01) curve: activations reach ~1e-29 at the last layers; the accelerator
    path measures the same per-layer std and gradient norms as the CPU path (neither reads 0)."""
    config = _normal_001_run()
    cpu_started, cpu_chunk = _step0_statistics(config)
    monkeypatch.setattr(probes, "accelerator_path", lambda device: True)
    acc_started, acc_chunk = _step0_statistics(config)
    cpu_std, acc_std = cpu_started.act_std_init, acc_started.act_std_init
    assert cpu_std[-2] < 1e-20, "the net of the init preset should collapse its signal"
    assert np.all(cpu_std > 0) and np.all(acc_std > 0)
    np.testing.assert_allclose(acc_std, cpu_std, rtol=1e-5)
    for name in ("grad_norm_init", "out_grad_norm_init"):
        cpu, acc = getattr(cpu_started, name), getattr(acc_started, name)
        assert np.all(cpu > 0), name
        np.testing.assert_allclose(acc, cpu, rtol=1e-5, err_msg=name)
    assert cpu_chunk.layers is not None and acc_chunk.layers is not None
    np.testing.assert_allclose(acc_chunk.layers.act_std, cpu_chunk.layers.act_std, rtol=1e-5)
