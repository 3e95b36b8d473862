"""Speed options of a run: channels_last, mixed precision, and step times that count the device's work."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from resnet_viz.config import ConfigError, DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from resnet_viz.metrics.records import LAYER_QUANTITIES
from resnet_viz.metrics.store import RunStore
from resnet_viz.train import engine as engine_module
from resnet_viz.train.device import synchronize
from resnet_viz.train.engine import Engine
from resnet_viz.train.pending import PendingSteps
from resnet_viz.train.precision import Precision
from resnet_viz.train.probes import std_mean

STEPS = 4


def options_config(**train: object) -> RunConfig:
    """A few steps of a narrow resnet-8 on 512 embedded images, every probe every step."""
    return RunConfig(
        model=ModelConfig(arch="resnet", depth=8, width=8),
        optim=OptimConfig(name="sgd", lr=0.05, momentum=0.9),
        data=DataConfig(subset=512),
        train=TrainConfig(batch_size=32, steps=STEPS, eval_every=STEPS, eval_train_samples=64, device="cpu", **train),
    )


def recorded(config: RunConfig) -> RunStore:
    store = RunStore()
    result = Engine(config, store.add).run()
    assert result.status == "finished", result.message
    return store


@pytest.fixture(scope="module")
def reference() -> RunStore:
    return recorded(options_config())


def test_channels_last_leaves_every_probe_and_the_loss_unchanged_to_float_tolerance(reference):
    """Same arithmetic in another memory order: float32 rounding differs (measured: at most 0.2% in the
    stem's gradient norm at the first step, accumulated backwards through the BN layers), no more."""
    store = recorded(options_config(channels_last=True))
    assert store.started is not None and store.started.config["train"]["channels_last"] is True
    np.testing.assert_allclose(store.scalar("loss")[:2], reference.scalar("loss")[:2], rtol=1e-5)
    for q in LAYER_QUANTITIES:
        assert store.layer(q).shape == (STEPS, 8), q
        np.testing.assert_allclose(store.layer(q)[0], reference.layer(q)[0], rtol=5e-3, atol=1e-6, err_msg=q)
        np.testing.assert_allclose(store.layer(q), reference.layer(q), rtol=0.1, atol=1e-3, err_msg=q)


def test_channels_last_puts_the_conv_weights_in_that_format():
    engine = Engine(options_config(channels_last=True))
    engine.prepare()
    assert engine.prepared is not None
    convs = [m for m in engine.prepared.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    assert not convs[1].weight.is_contiguous()  # 3x3 convs with several channels: really another layout


def test_bf16_is_recorded_and_its_probes_are_close_to_fp32(reference):
    store = recorded(options_config(precision="bf16"))
    assert store.started is not None and store.started.config["train"]["precision"] == "bf16"
    assert store.finished is not None and store.finished.final_test_error is not None
    # the first step starts from the same weights: bf16 changes its numbers by well under 5%
    for q in ("grad_norm", "out_grad_norm", "act_std", "response_std"):
        first, ref = store.layer(q)[0], reference.layer(q)[0]
        np.testing.assert_allclose(first, ref, rtol=0.05, err_msg=q)
        assert not np.array_equal(first, ref), f"{q}: bf16 gave bit-identical numbers, so autocast did not act"


def test_fp16_scaler_unscales_the_gradients_the_probes_read(reference):
    """fp16 autocast with a GradScaler (on the CPU here; the config allows it with CUDA only): the loss is
    scaled by 65536, and every gradient probe must still read the gradient of the unscaled loss."""
    store = RunStore()
    engine = Engine(options_config(), store.add)
    engine.prepare()
    assert engine.prepared is not None  # the rule allows fp16 with CUDA only: swapped in past it
    engine.prepared = replace(engine.prepared, precision=Precision("fp16", torch.device("cpu")))
    assert engine.run().status == "finished"
    scaler = engine.prepared.precision.scaler
    assert scaler is not None and scaler.get_scale() >= 2.0**15  # the loss really was scaled
    for q in ("grad_norm", "out_grad_norm"):
        np.testing.assert_allclose(store.layer(q)[0], reference.layer(q)[0], rtol=0.05, err_msg=q)


def test_fp16_needs_cuda_and_precision_takes_the_listed_values():
    with pytest.raises(ConfigError, match="train.precision.*needs train.device cuda"):
        TrainConfig(precision="fp16", device="cpu").validate()
    with pytest.raises(ConfigError, match="train.precision.*fp32, bf16, fp16"):
        TrainConfig(precision="fp8").validate()
    TrainConfig(precision="fp16", device="cuda:0").validate()
    TrainConfig(precision="bf16", device="cpu").validate()
    assert TrainConfig().precision == "fp32" and TrainConfig().channels_last is False


def test_precision_scales_only_for_fp16():
    cpu = torch.device("cpu")
    assert Precision("fp32", cpu).scaler is None and Precision("bf16", cpu).scaler is None
    assert Precision("fp16", cpu).scaler is not None
    with pytest.raises(ValueError, match="precision 'fp64'"):
        Precision("fp64", cpu)


def test_std_mean_of_a_channels_last_tensor_equals_the_contiguous_one():
    y = torch.randn(4, 6, 5, 5) * 3 + 1
    np.testing.assert_allclose(
        std_mean(y.contiguous(memory_format=torch.channels_last)).numpy(), std_mean(y).numpy(), rtol=1e-5
    )


def test_pending_steps_spread_a_device_wait_evenly():
    pending = PendingSteps()
    for step in (1, 2, 3, 4):
        pending.append(step, torch.tensor([1.0, 0.5]), 0.1, 0.01 * step, None)
    pending.add_wait(0.2)
    taken = pending.take()
    assert taken is not None
    np.testing.assert_allclose(taken.chunk.step_time_s, [0.06, 0.07, 0.08, 0.09])


def test_synchronize_on_the_cpu_waits_for_nothing():
    assert synchronize(torch.device("cpu")) == 0.0


def test_the_wait_at_each_report_counts_in_step_times_and_steps_per_s(monkeypatch, reference):
    """On an accelerator the wait for the device at a report is training time: simulated here with a
    synchronize that takes 0.5 s per report."""
    waits = []

    def slow_device(device: torch.device) -> float:
        waits.append(device)
        return 0.5

    monkeypatch.setattr(engine_module, "synchronize", slow_device)
    store = RunStore()
    engine = Engine(options_config(snapshots=0), store.add, max_chunk=2)  # a snapshot step is a report too
    result = engine.run()
    assert len(waits) == STEPS // 2  # one per report of two steps
    times = store.scalar("step_time_s")
    assert times.min() >= 0.25  # 0.5 s spread over the two steps of each report
    assert result.steps_per_s == pytest.approx(STEPS / engine.train_time)
    assert engine.train_time >= 0.5 * len(waits)


@pytest.mark.parametrize(
    "train",
    [
        TrainConfig(precision="bf16", channels_last=True, device="cpu"),
        TrainConfig(precision="fp16", device="cuda:0"),
    ],
)
def test_the_setup_panel_round_trips_the_new_fields(qtbot, train):
    from resnet_viz.gui.controls import ConfigPanel

    panel = ConfigPanel()
    qtbot.addWidget(panel)
    cfg = RunConfig(train=train).validate()
    panel.set_config(cfg)
    assert panel.error_text() == ""
    assert panel.config() == cfg
