"""The networks against the papers: references written here from the papers' text, in plain torch.

Each reference is independent of ``resnet_viz.models``: the CIFAR nets of He et al. 2016a (Sec. 4.2:
option A = subsample + zero channels appended, option B = 1x1 strided conv + BN where dimensions change,
BN after every conv, ReLU after the add) and the pre-activation nets of Identity Mappings (He et al.
2016b, Fig. 4e and appendix: BN-ReLU before every conv, nothing after the add, the first unit of every
stage pre-activating before the split, bare 1x1 projections, a final BN-ReLU before pooling). Weights are
copied in registration order (the state_dict values zipped, shapes checked), then outputs and gradients
must agree to 1e-10 in float64, in training mode (BN on batch statistics).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnet_viz.config import ModelConfig, RunConfig
from resnet_viz.models import build_model, describe_model

WIDTH = 16


def _conv(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False)


def _zero_pad(x: Tensor, c_out: int, stride: int) -> Tensor:
    """Option A: keep every ``stride``-th pixel, append ``c_out - C`` zero channels."""
    x = x[:, :, ::stride, ::stride]
    zeros = x.new_zeros(x.shape[0], c_out - x.shape[1], x.shape[2], x.shape[3])
    return torch.cat([x, zeros], dim=1)


class RefUnit(nn.Module):
    """One residual unit; ``option`` None: the plain unit (no shortcut, no addition)."""

    def __init__(self, c_in: int, c_out: int, stride: int, option: str | None) -> None:
        super().__init__()
        self.c_in, self.c_out, self.stride, self.option = c_in, c_out, stride, option
        self.changes = stride != 1 or c_in != c_out

    def shortcut(self, x: Tensor) -> Tensor:
        if getattr(self, "proj", None) is not None:
            return self.proj(x)
        return _zero_pad(x, self.c_out, self.stride) if self.changes else x


class RefBasic(RefUnit):
    """He et al. 2016a: conv3x3-BN-ReLU-conv3x3-BN, add, ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int, option: str | None, first: bool) -> None:
        super().__init__(c_in, c_out, stride, option)
        self.conv1, self.bn1 = _conv(c_in, c_out, 3, stride), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = _conv(c_out, c_out, 3), nn.BatchNorm2d(c_out)
        if option == "B" and self.changes:
            self.proj = nn.Sequential(_conv(c_in, c_out, 1, stride), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        f = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(f if self.option is None else f + self.shortcut(x))


class RefBottleneck(RefUnit):
    """He et al. 2016a, Fig. 5 right: 1x1 reduce, 3x3 (strided), 1x1 expand x4, each with BN; add, ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int, option: str | None, first: bool) -> None:
        super().__init__(c_in, c_out, stride, option)
        mid = c_out // 4
        self.conv1, self.bn1 = _conv(c_in, mid, 1), nn.BatchNorm2d(mid)
        self.conv2, self.bn2 = _conv(mid, mid, 3, stride), nn.BatchNorm2d(mid)
        self.conv3, self.bn3 = _conv(mid, c_out, 1), nn.BatchNorm2d(c_out)
        if option == "B" and self.changes:
            self.proj = nn.Sequential(_conv(c_in, c_out, 1, stride), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        f = F.relu(self.bn1(self.conv1(x)))
        f = F.relu(self.bn2(self.conv2(f)))
        f = self.bn3(self.conv3(f))
        return F.relu(f if self.option is None else f + self.shortcut(x))


class RefPreAct(RefUnit):
    """Identity Mappings, Fig. 4e: BN-ReLU-conv3x3-BN-ReLU-conv3x3, nothing after the add. The first unit
    of a stage splits after its BN-ReLU (appendix), every other unit before it."""

    def __init__(self, c_in: int, c_out: int, stride: int, option: str | None, first: bool) -> None:
        super().__init__(c_in, c_out, stride, option)
        self.first = first
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), _conv(c_in, c_out, 3, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), _conv(c_out, c_out, 3)
        if option == "B" and self.changes:
            self.proj = _conv(c_in, c_out, 1, stride)  # bare projection

    def branch(self, a: Tensor) -> Tensor:
        return self.conv2(F.relu(self.bn2(self.conv1(a))))

    def forward(self, x: Tensor) -> Tensor:
        a = F.relu(self.bn1(x))
        f = self.branch(a)
        if self.option is None:
            return f
        return f + self.shortcut(a if self.first else x)


class RefPreActBottleneck(RefPreAct):
    """Identity Mappings (ResNet-164/1001): BN-ReLU-conv1x1 (strided, as in the authors' code), BN-ReLU-conv3x3,
    BN-ReLU-conv1x1 x4."""

    def __init__(self, c_in: int, c_out: int, stride: int, option: str | None, first: bool) -> None:
        RefUnit.__init__(self, c_in, c_out, stride, option)
        self.first = first
        mid = c_out // 4
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), _conv(c_in, mid, 1, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), _conv(mid, mid, 3)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), _conv(mid, c_out, 1)
        if option == "B" and self.changes:
            self.proj = _conv(c_in, c_out, 1, stride)

    def branch(self, a: Tensor) -> Tensor:
        f = self.conv1(a)
        f = self.conv2(F.relu(self.bn2(f)))
        return self.conv3(F.relu(self.bn3(f)))


REF_UNITS = {
    "basic": RefBasic,
    "bottleneck": RefBottleneck,
    "preact": RefPreAct,
    "preact_bottleneck": RefPreActBottleneck,
}


class RefNet(nn.Module):
    """3x3 conv (16), three stages of n units on 16/32/64 planes (x4 outputs for bottlenecks), the first
    unit of stages 2 and 3 strided; pre-activation nets: bare stem conv, final BN-ReLU; global average
    pooling, linear."""

    def __init__(self, block: str, n: int, option: str | None, classes: int = 10) -> None:
        super().__init__()
        self.preact = block.startswith("preact")
        expansion = 4 if block.endswith("bottleneck") else 1
        self.conv = _conv(3, WIDTH, 3)
        if not self.preact:
            self.bn = nn.BatchNorm2d(WIDTH)
        units, c = [], WIDTH
        for s in range(3):
            planes = WIDTH * 2**s * expansion
            for i in range(n):
                units.append(REF_UNITS[block](c, planes, 2 if s > 0 and i == 0 else 1, option, i == 0))
                c = planes
        self.units = nn.Sequential(*units)
        if self.preact:
            self.final_bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if not self.preact:
            x = F.relu(self.bn(x))
        x = self.units(x)
        if self.preact:
            x = F.relu(self.final_bn(x))
        return self.fc(x.mean(dim=(2, 3)))


def copy_in_order(src: nn.Module, dst: nn.Module) -> None:
    """``dst`` takes ``src``'s state_dict values in registration order; every shape must agree."""
    src_values, dst_keys = list(src.state_dict().values()), list(dst.state_dict().keys())
    assert len(src_values) == len(dst_keys)
    dst_shapes = [v.shape for v in dst.state_dict().values()]
    assert [v.shape for v in src_values] == dst_shapes
    dst.load_state_dict(OrderedDict(zip(dst_keys, src_values)))


def randomise(model: nn.Module, seed: int) -> None:
    """Every parameter random (BN scales around 1), so that a misplaced layer cannot hide."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=p.dtype)
            is_scale = p.dim() == 1 and name.endswith("weight") and not name.startswith("fc")
            p.copy_(1.0 + 0.2 * noise if is_scale else 0.3 * noise)


def forward_backward(model: nn.Module, x: Tensor, weights: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
    x = x.clone().requires_grad_(True)
    model.train()
    out = model(x)
    (out * weights).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    assert x.grad is not None
    return out.detach(), x.grad.clone(), grads


CASES = [
    (block, arch, option)
    for block in ("basic", "bottleneck", "preact", "preact_bottleneck")
    for arch, option in (("plain", None), ("resnet", "A"), ("resnet", "B"))
]


@pytest.mark.parametrize("block,arch,option", CASES)
def test_every_block_type_equals_the_papers_reference(block: str, arch: str, option: str | None) -> None:
    depth = 20 if block.endswith("bottleneck") else 14  # n = 2: a first and a second unit per stage
    model = build_model(ModelConfig(arch=arch, depth=depth, block=block, shortcut=option or "A"), 3, 16, 10)
    ref = RefNet(block, 2, option)
    model.double()
    ref.double()
    randomise(model, seed=len(CASES))
    copy_in_order(model, ref)
    torch.manual_seed(0)
    x, weights = torch.randn(4, 3, 16, 16, dtype=torch.float64), torch.randn(4, 10, dtype=torch.float64)
    out, x_grad, grads = forward_backward(model, x, weights)
    ref_out, ref_x_grad, ref_grads = forward_backward(ref, x, weights)
    assert out.abs().max() > 1e-3  # not a trivially vanishing output
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-10)
    torch.testing.assert_close(x_grad, ref_x_grad, rtol=0, atol=1e-10)
    assert len(grads) == len(ref_grads)
    for g, ref_g in zip(grads, ref_grads):
        torch.testing.assert_close(g, ref_g, rtol=0, atol=1e-10)


def test_a_mistaken_first_unit_fails_the_reference() -> None:
    """The comparison can fail: a reference whose first units send the raw input down the shortcut (the
    rule before Identity Mappings' appendix was followed) differs from the network."""
    model = build_model(ModelConfig(depth=14, block="preact"), 3, 16, 10).double()
    ref = RefNet("preact", 2, "A").double()
    copy_in_order(model, ref)
    for unit in ref.units:
        unit.first = False
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64)
    model.train()
    ref.train()
    assert (model(x) - ref(x)).abs().max() > 1e-3


@pytest.mark.parametrize("block", ["preact", "preact_bottleneck"])
def test_first_preact_unit_shortcut_takes_the_preactivated_input(block: str) -> None:
    """Stage 1, block 0 with its branch zeroed: the unit's output is its shortcut, which must be
    ``relu(bn1(stem))`` (zero-padded to 64 channels for the bottleneck with option A), not the stem."""
    depth = 11 if block == "preact_bottleneck" else 8
    model = build_model(ModelConfig(depth=depth, block=block, shortcut="A"), 3, 16, 10).double()
    unit = model.stage1.block0
    last_conv = unit.conv3 if block == "preact_bottleneck" else unit.conv2
    with torch.no_grad():
        last_conv.weight.zero_()
        unit.bn1.weight.fill_(2.0)
        unit.bn1.bias.fill_(-0.5)
    model.train()
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64)
    stem = model.stem(x)
    out = unit(stem)
    bn = F.batch_norm(stem, None, None, unit.bn1.weight, unit.bn1.bias, training=True, eps=unit.bn1.eps)
    expected = F.relu(bn)
    if block == "preact_bottleneck":
        expected = _zero_pad(expected, 64, 1)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    assert (out[:, :16] - stem).abs().max() > 0.1
    # a later unit of the stage keeps the raw input on its identity path
    later = build_model(ModelConfig(depth=14, block="preact"), 3, 16, 10).double().stage1.block1
    with torch.no_grad():
        later.conv2.weight.zero_()
    later.train()
    torch.testing.assert_close(later(stem), stem, rtol=0, atol=0)


def _count(depth: int) -> tuple[int, int]:
    """(all parameters, conv + linear parameters) of the pre-activation bottleneck ResNet of ``depth``."""
    with torch.device("meta"):
        model = build_model(ModelConfig(depth=depth, block="preact_bottleneck"), 3, 32, 10)
    total = sum(p.numel() for p in model.parameters())
    weights = sum(p.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) for p in m.parameters())
    return total, weights


def test_resnet164_and_1001_have_the_papers_parameter_counts() -> None:
    """Identity Mappings: ResNet-164 1.7M, ResNet-1001 10.2M parameters; the authors' code (resnet-1k-layers)
    has 1,703,258 and 10,327,706 with its BN scales and shifts. The paper's 10.2M is the weight layers
    alone (10,178,490: without the 149,216 BN parameters); both round to 1.7M for ResNet-164."""
    total_164, weights_164 = _count(164)
    total_1001, weights_1001 = _count(1001)
    assert (total_164, total_1001) == (1_703_258, 10_327_706)
    assert (weights_164, weights_1001) == (1_679_034, 10_178_490)
    assert f"{total_164 / 1e6:.1f}M" == f"{weights_164 / 1e6:.1f}M" == "1.7M"
    assert f"{weights_1001 / 1e6:.1f}M" == "10.2M"
    assert math.isclose(total_1001 / 1e6, 10.2, abs_tol=0.15)


def test_bottleneck_nets_default_to_projection_shortcuts() -> None:
    for block, default in (("basic", "A"), ("preact", "A"), ("bottleneck", "B"), ("preact_bottleneck", "B")):
        assert ModelConfig(block=block).resolved().shortcut == default
    assert ModelConfig(block="bottleneck", shortcut="A").resolved().shortcut == "A"  # an explicit A stays
    model = build_model(ModelConfig(depth=20, block="preact_bottleneck"), 3, 16, 10)
    assert model.stage1.block0.shortcut.projection == "conv" and model.stage1.block1.shortcut.projection == "identity"


def test_preact_164_is_the_basic_net_only_when_asked_and_names_say_so() -> None:
    basic = RunConfig(model=ModelConfig(depth=164, block="preact"))
    bottle = RunConfig(model=ModelConfig(depth=164, block="preact_bottleneck"))
    assert basic.label().split(" · ")[0] == "resnet-164 preact"
    assert bottle.label().split(" · ")[0] == "resnet-164 preact-bottleneck"
    assert RunConfig(model=ModelConfig(depth=56, block="bottleneck")).label().startswith("resnet-56 bottleneck ·")
    assert (
        RunConfig(model=ModelConfig(depth=56, block="bottleneck", shortcut="A"))
        .label()
        .startswith("resnet-56 bottleneck A ·")
    )
    assert RunConfig(model=ModelConfig(depth=20, shortcut="B")).label().startswith("resnet-20 B ·")
    with torch.device("meta"):
        n_basic = sum(p.numel() for p in build_model(basic.model, 3, 32, 10).parameters())
        n_bottle = sum(p.numel() for p in build_model(bottle.model, 3, 32, 10).parameters())
    assert round(n_basic / 1e6, 1) == 2.6 and n_bottle == 1_703_258
    small = {b: build_model(ModelConfig(depth=20, block=b), 3, 16, 10) for b in ("preact", "preact_bottleneck")}
    titles = {b: describe_model(m, (3, 16, 16), 10).splitlines()[0] for b, m in small.items()}
    assert titles["preact"].startswith("resnet-20 pre-activation (CifarNet")
    assert titles["preact_bottleneck"].startswith("resnet-20 pre-activation bottleneck (CifarNet, shortcut B")


def test_after_add_preset_paper_size_is_table2s_resnet164() -> None:
    from resnet_viz.presets import load_presets

    preset = load_presets()["after-add"]
    paper = {r.name: r.config.model.resolved() for r in preset.runs("paper")}
    assert {(m.depth, m.block, m.after_add, m.shortcut) for m in paper.values()} == {
        (164, "bottleneck", "relu", "B"),
        (164, "bottleneck", "bn_relu", "B"),
        (164, "preact_bottleneck", "none", "B"),
    }
    quick = [r.config.model.resolved() for r in preset.runs("quick")]
    assert [(m.depth, m.block, m.shortcut) for m in quick] == [
        (32, "basic", "A"),
        (32, "basic", "A"),
        (32, "preact", "A"),
    ]
    tied = {p.run: (p.metric, p.number) for p in preset.published if p.run}
    assert tied == {
        "relu (original)": ("final_test_error", 0.0593),
        "bn+relu after add": ("final_test_error", 0.065),
        "pre-activation": ("final_test_error", 0.0546),
    }
    assert paper["pre-activation"].block == "preact_bottleneck" and paper["relu (original)"].after_add == "relu"


@pytest.mark.parametrize(
    "fields",
    [
        dict(block="preact_bottleneck", depth=20),
        dict(block="preact_bottleneck", depth=11, shortcut="A", batch_norm=False),
        dict(block="preact_bottleneck", depth=11, shortcut="C", shortcut_variant="exclusive_gate", width=4),
        dict(block="preact_bottleneck", depth=20, arch="plain", stochastic_depth=False),
        dict(block="bottleneck", depth=20),
        dict(block="preact", depth=14, shortcut_variant="conv1x1"),
    ],
)
def test_memory_budget_counts_the_parameters_exactly(fields: dict) -> None:
    from resnet_viz.models.budget import estimate_run_memory

    config = RunConfig(model=ModelConfig(**fields))
    built = build_model(config.model, 3, 32, 10)
    assert estimate_run_memory(config, (3, 32, 32), 10).params == sum(p.numel() for p in built.parameters())


def test_memory_budget_of_resnet164_and_1001() -> None:
    from resnet_viz.models.budget import estimate_run_memory

    for depth, params in ((164, 1_703_258), (1001, 10_327_706)):
        config = RunConfig(model=ModelConfig(depth=depth, block="preact_bottleneck"))
        assert estimate_run_memory(config, (3, 32, 32), 10).params == params


@pytest.mark.parametrize(
    "fields",
    [
        dict(depth=20, block="preact_bottleneck"),
        dict(depth=20, block="preact_bottleneck", shortcut="A", batch_norm=False, activation="tanh"),
        dict(depth=14, block="preact", batch_norm=False, activation="tanh"),
    ],
    ids=["preact_bottleneck-B", "preact_bottleneck-A-tanh-nobn", "preact-A-tanh-nobn"],
)
def test_theory_walk_follows_the_shared_pre_activation(fields: dict) -> None:
    """The second-moment walk (training mode, at init) against the measured layer outputs: within 0.15
    decades for every weight layer but the head, the first units' shortcuts included."""
    from resnet_viz.config import InitConfig
    from resnet_viz.models import init_weights, layer_table, theory_act_std

    cfg, init, shape = ModelConfig(**fields), InitConfig("he"), (3, 16, 16)
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = build_model(cfg, 3, 16, 10)
        init_weights(model, init, cfg)
        model.train()
        table, modules, var = layer_table(model, shape), dict(model.named_modules()), {}
        hooks = [
            modules[t.name].register_forward_hook(
                lambda m, i, o, n=t.name, v=var: v.__setitem__(n, o.double().var().item())
            )
            for t in table
        ]
        with torch.no_grad():
            model(torch.randn(16, *shape))
        for hook in hooks:
            hook.remove()
        measured = torch.tensor([var[t.name] for t in table]).sqrt()
        theory = torch.from_numpy(theory_act_std(model, cfg, init, shape))
        dev = (measured / measured[0]).log10() - theory.log10()
        assert dev[:-1].abs().max() < 0.15, (seed, dev)
