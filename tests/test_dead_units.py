"""Dead units (issue 18): which ReLU follows each weight layer, and the fraction of its units that never
fired on the batch: 1 for a layer fed only negative inputs, a count of our own for the others, NaN for
layers followed by no ReLU (heads, shortcut projections, tanh nets)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnet_viz.config import ModelConfig
from resnet_viz.metrics.records import LAYER_QUANTITIES
from resnet_viz.models import build_model, layer_table
from resnet_viz.train.probes import LayerProbes, dead_fraction


def relus(cfg: ModelConfig, shape: tuple[int, int, int] = (3, 8, 8)) -> dict[str, str | None]:
    return {li.name: li.relu_name for li in layer_table(build_model(cfg, shape[0], shape[1], 10), shape)}


def test_the_relu_after_each_layer_in_every_kind_of_net():
    mlp = relus(ModelConfig(arch="mlp", depth=3, width=8))
    assert mlp == {"input.fc": "input.act", "hidden1.fc": "hidden1.act", "fc": None}
    basic = relus(ModelConfig(arch="resnet", depth=8, width=4, shortcut="C"))  # post-activation, projections
    assert basic["stem.conv"] == "stem.act" and basic["fc"] is None
    assert basic["stage1.block0.conv1"] == "stage1.block0.act1"
    assert basic["stage1.block0.conv2"] == "stage1.block0.act_out"  # after the addition, not the shortcut's
    assert basic["stage1.block0.shortcut.conv"] is None
    bottleneck = relus(ModelConfig(arch="resnet", depth=11, width=4, block="bottleneck"))
    assert [bottleneck[f"stage2.block0.conv{i}"] for i in (1, 2, 3)] == [
        "stage2.block0.act1",
        "stage2.block0.act2",
        "stage2.block0.act_out",
    ]
    assert bottleneck["stage2.block0.shortcut.conv"] is None
    preact = relus(ModelConfig(arch="resnet", depth=8, width=4, block="preact", shortcut="B"))
    assert preact["stem.conv"] == "stage1.block0.act1"  # the next unit's leading BN-ReLU
    assert preact["stage1.block0.conv1"] == "stage1.block0.act2"
    assert preact["stage1.block0.conv2"] == "stage2.block0.act1"
    assert preact["stage3.block0.conv2"] == "final.act" and preact["fc"] is None
    assert preact["stage2.block0.shortcut.conv"] is None
    plain = relus(ModelConfig(arch="plain", depth=8, width=4, activation="leaky_relu"))
    assert plain["stage1.block0.conv2"] == "stage1.block0.act_out" and plain["fc"] is None
    assert set(relus(ModelConfig(arch="plain", depth=8, width=4, activation="tanh")).values()) == {None}


def test_dead_fraction_of_a_tensor_in_any_layout_and_precision():
    x = torch.randn(4, 6, 3, 3)
    x[:, 1] = -x[:, 1].abs()  # channel 1 never fires
    x[:, 2] = -x[:, 2].abs()
    x[0, 2, 1, 1] = 0.5  # channel 2 fires once
    x[:, 3] = 0.0  # an input of exactly 0 does not fire either
    expected = np.mean([np.all(x[:, c].numpy() <= 0) for c in range(6)])
    assert expected == pytest.approx(2 / 6)
    for t in (x, x.contiguous(memory_format=torch.channels_last), x.bfloat16()):
        assert dead_fraction(t).item() == pytest.approx(expected)
    assert dead_fraction(torch.tensor([[-1.0, 2.0, -3.0], [-1.0, -2.0, 0.0]])).item() == pytest.approx(2 / 3)


def probed_step(model: torch.nn.Module, x: torch.Tensor, autocast: bool = False):
    """One probed SGD step; returns (dead_fraction [L], {layer: our own count}, layer table)."""
    table = layer_table(model, tuple(x.shape[1:]))
    modules = dict(model.named_modules())
    probes = LayerProbes(
        model, [li.name for li in table], [li.norm_name for li in table], x.device, [li.relu_name for li in table]
    )
    ours: dict[str, float] = {}

    def count(name: str, inputs: tuple[torch.Tensor, ...]) -> None:
        values = inputs[0].detach().float().numpy()
        ours[name] = float(np.mean([np.all(values[:, c] <= 0) for c in range(values.shape[1])]))

    for li in table:
        if li.relu_name is not None:
            modules[li.relu_name].register_forward_pre_hook(lambda m, i, n=li.name: count(n, i))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    y = torch.arange(x.shape[0]) % 10
    probes.begin_step()
    with torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext():
        loss = F.cross_entropy(model(x), y)
    probes.end_forward()
    loss.backward()
    probes.before_update()
    opt.step()
    stats = probes.collect().numpy()
    probes.remove()
    return stats[LAYER_QUANTITIES.index("dead_fraction")], ours, table


def test_an_mlp_layer_fed_only_negative_inputs_is_all_dead():
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="mlp", depth=3, width=16, batch_norm=False), 3, 8, 10)
    with torch.no_grad():
        model.hidden1.fc.bias.fill_(-100.0)
    dead, ours, table = probed_step(model, torch.randn(16, 3, 8, 8))
    assert [li.name for li in table] == ["input.fc", "hidden1.fc", "fc"]
    assert dead[1] == 1.0 and ours["hidden1.fc"] == 1.0
    assert 0.0 <= dead[0] < 1.0 and dead[0] == pytest.approx(ours["input.fc"])
    assert np.isnan(dead[2])  # the head


@pytest.mark.parametrize(
    ("arch", "block", "norm", "autocast"),
    [
        ("resnet", "basic", "bn1", False),
        ("resnet", "basic", "bn1", True),  # channels_last and bf16 autocast
        ("resnet", "bottleneck", "bn1", False),
        ("resnet", "preact", "bn2", False),
        ("plain", "basic", "bn1", False),
    ],
)
def test_conv_nets_with_a_very_negative_bn_bias(arch, block, norm, autocast):
    torch.manual_seed(0)
    depth = 11 if block == "bottleneck" else 8
    model = build_model(ModelConfig(arch=arch, depth=depth, width=4, block=block, shortcut="B"), 3, 8, 10)
    with torch.no_grad():
        getattr(model.stage2.block0, norm).bias.fill_(-100.0)  # the BN between conv1 and its ReLU
    x = torch.randn(8, 3, 8, 8)
    if autocast:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    dead, ours, table = probed_step(model, x, autocast)
    for i, li in enumerate(table):
        if li.name == "stage2.block0.conv1":
            assert dead[i] == 1.0 and ours[li.name] == 1.0
        elif li.relu_name is None:
            assert li.role in ("head", "shortcut") and np.isnan(dead[i]), li.name
        else:
            assert 0.0 <= dead[i] <= 1.0 and dead[i] == pytest.approx(ours[li.name]), li.name
    assert {li.role for li in table if li.relu_name is None} == ({"head"} if arch == "plain" else {"head", "shortcut"})
