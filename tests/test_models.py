"""Model construction: shapes, parameter counts, layer tables, shortcuts, variants, init."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools

import pytest
import torch
from torch import nn

from resnet_viz.config import ACTIVATIONS, SHORTCUT_VARIANTS, ConfigError, InitConfig, ModelConfig
from resnet_viz.models import (
    BLOCK_TYPES,
    GATE_BIAS_INIT,
    BasicBlock,
    BlockParts,
    Bottleneck,
    CifarNet,
    PreActBlock,
    PreActBottleneck,
    ShortcutSpec,
    build_model,
    describe_model,
    huang_survival,
    init_weights,
    layer_table,
    weight_variance,
)

CIFAR = (3, 32, 32)
MNIST = (1, 28, 28)


def make(
    cfg: ModelConfig,
    shape: tuple[int, int, int] = CIFAR,
    classes: int = 10,
    init: InitConfig | None = None,
    seed: int = 0,
) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(cfg, shape[0], shape[1], classes)
    init_weights(model, init or InitConfig(), cfg)
    return model


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------- shapes
def _conv_cases() -> list[tuple]:
    """Every block x shortcut x variant for resnet (plus plain per block), cycling after_add, activation,
    BN, stochastic depth, input and class count so that every option value appears many times."""
    cases = []
    blocks = ("basic", "bottleneck", "preact", "preact_bottleneck")
    combos = list(itertools.product(blocks, ("A", "B", "C"), SHORTCUT_VARIANTS))
    combos += [(b, "A", "identity") for b in blocks]  # plain
    for i, (block, shortcut, variant) in enumerate(combos):
        arch = "plain" if i >= len(combos) - len(blocks) else "resnet"
        after = "none" if block.startswith("preact") else ("relu", "bn_relu", "none")[i % 3]
        bn = after == "bn_relu" or i % 4 != 1
        cases.append(
            dict(
                arch=arch,
                block=block,
                shortcut=shortcut,
                shortcut_variant=variant,
                after_add=after,
                batch_norm=bn,
                activation=ACTIVATIONS[i % 4],
                stochastic_depth=arch == "resnet" and i % 5 == 0,
                depth=11 if block.endswith("bottleneck") else 8,
                shape=(MNIST, CIFAR)[i % 2],
                classes=(10, 100)[(i // 2) % 2],
            )
        )
    return cases


@pytest.mark.parametrize("case", _conv_cases(), ids=lambda c: "-".join(str(v) for k, v in c.items() if k != "shape"))
def test_conv_output_shapes(case: dict) -> None:
    case = dict(case)
    shape, classes = case.pop("shape"), case.pop("classes")
    cfg = ModelConfig(**case)
    model = make(cfg, shape, classes)
    x = torch.randn(2, *shape)
    model.train()
    y = model(x)
    assert y.shape == (2, classes) and torch.isfinite(y).all()
    y.sum().backward()
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, classes)
    side = shape[1]
    table = layer_table(model, shape)
    expect_width = {"bottleneck": 64, "preact_bottleneck": 64}.get(cfg.block, 16)
    assert table[0].out_shape == (16, side, side)
    last_conv = [t for t in table if t.kind == "conv"][-1]
    assert last_conv.out_shape == (expect_width * 4, (side + 3) // 4, (side + 3) // 4)
    assert table[-1].out_shape == (classes,)


def test_all_after_add_activation_bn_combinations_build_and_run() -> None:
    for after, act, bn in itertools.product(("relu", "bn_relu", "none"), ACTIVATIONS, (True, False)):
        if after == "bn_relu" and not bn:
            with pytest.raises(ConfigError):
                build_model(ModelConfig(depth=8, after_add=after, batch_norm=bn), 3, 8, 10)
            continue
        model = make(ModelConfig(depth=8, after_add=after, activation=act, batch_norm=bn), (3, 8, 8))
        assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize(
    "depth,residual,bn,act",
    [
        (1, False, False, "relu"),
        (2, False, True, "tanh"),
        (5, True, False, "sigmoid"),
        (5, True, True, "leaky_relu"),
        (4, False, False, "relu"),
    ],
)
@pytest.mark.parametrize("shape,classes", [(MNIST, 10), (CIFAR, 100)])
def test_mlp_shapes(depth: int, residual: bool, bn: bool, act: str, shape: tuple, classes: int) -> None:
    cfg = ModelConfig(arch="mlp", depth=depth, width=32, residual=residual, batch_norm=bn, activation=act)
    model = make(cfg, shape, classes)
    assert model(torch.randn(2, *shape)).shape == (2, classes)
    table = layer_table(model, shape)
    assert len(table) == depth
    assert [t.kind for t in table] == ["linear"] * depth
    assert table[-1].role == "head" and table[-1].out_shape == (classes,)
    if depth >= 2:
        assert table[0].role == "input" and table[0].fan_in == shape[0] * shape[1] * shape[2]
        assert [t.role for t in table[1:-1]] == ["hidden"] * (depth - 2)
        assert [t.block for t in table[1:-1]] == list(range(depth - 2))
        assert table[0].norm_name == ("input.bn" if bn else None)


def test_residual_mlp_adds_identity() -> None:
    cfg = ModelConfig(arch="mlp", depth=3, width=8, residual=True)
    model = make(cfg, (1, 2, 4))
    h = torch.randn(4, 8)
    layer = model.hidden1
    assert torch.allclose(layer(h), h + torch.relu(layer.fc(h)))


# -------------------------------------------------------------------------------------- param counts
@pytest.mark.parametrize("depth,published", [(20, 0.27e6), (56, 0.85e6), (110, 1.7e6), (1202, 19.4e6)])
def test_parameter_counts_match_he_et_al_table6(depth: int, published: float) -> None:
    model = build_model(ModelConfig(depth=depth), 3, 32, 10)
    assert abs(n_params(model) - published) / published < 0.02


def test_resnet20_exact_count() -> None:
    # stem 432+32, stage convs 13824+50688+202752, BN 1344, fc 650
    assert n_params(build_model(ModelConfig(depth=20), 3, 32, 10)) == 269_722


# ------------------------------------------------------------------------------------- plain vs resnet
@pytest.mark.parametrize("block,depth", [("basic", 20), ("bottleneck", 29), ("preact", 14), ("preact_bottleneck", 20)])
@pytest.mark.parametrize("shortcut,variant", [("A", "identity"), ("B", "identity"), ("C", "exclusive_gate")])
def test_plain_is_resnet_without_shortcuts(block: str, depth: int, shortcut: str, variant: str) -> None:
    res_cfg = ModelConfig(arch="resnet", depth=depth, block=block, shortcut=shortcut, shortcut_variant=variant)
    res = build_model(res_cfg, 3, 16, 10)
    # a plain net has no shortcuts: config refuses a shortcut variant for it (the A/B/C option is ignored)
    plain = build_model(dataclasses.replace(res_cfg, arch="plain", shortcut_variant="identity"), 3, 16, 10)

    def key(t):  # everything but the index (and, for preact, the BN fed: a plain conv2 feeds the next bn1)
        norm = None if block.startswith("preact") else t.norm_name
        return (t.name, t.kind, t.role, t.stage, t.block, t.fan_in, t.fan_out, t.params, t.out_shape, norm)

    res_layers = [key(t) for t in layer_table(res, (3, 16, 16)) if t.role not in ("shortcut", "gate")]
    plain_table = layer_table(plain, (3, 16, 16))
    assert [key(t) for t in plain_table] == res_layers
    assert not any(t.role in ("shortcut", "gate") for t in plain_table)
    # the non-shortcut modules (BN, activations, ...) agree too
    res_mods = {n: type(m) for n, m in res.named_modules() if ".shortcut" not in n}
    assert {n: type(m) for n, m in plain.named_modules()} == res_mods
    assert n_params(res) - n_params(plain) == sum(p.numel() for n, p in res.named_parameters() if ".shortcut." in n)


def test_plain_forward_has_no_addition() -> None:
    cfg = ModelConfig(arch="plain", depth=8)
    model = make(cfg, (3, 8, 8)).eval()
    block = model.stage1.block0
    x = torch.randn(2, 16, 8, 8)
    f = block.bn2(block.conv2(block.act1(block.bn1(block.conv1(x)))))
    assert torch.allclose(block(x), block.act_out(f))


# --------------------------------------------------------------------------------------------- shortcuts
def _shortcut_convs(model: nn.Module) -> list[str]:
    return [t.name for t in layer_table(model, (3, 16, 16)) if t.role == "shortcut"]


def test_shortcut_options_a_b_c() -> None:
    a = build_model(ModelConfig(depth=20, shortcut="A"), 3, 16, 10)
    b = build_model(ModelConfig(depth=20, shortcut="B"), 3, 16, 10)
    c = build_model(ModelConfig(depth=20, shortcut="C"), 3, 16, 10)
    plain = build_model(ModelConfig(arch="plain", depth=20), 3, 16, 10)
    assert n_params(a) == n_params(plain)  # option A has no parameters
    assert _shortcut_convs(a) == []
    assert _shortcut_convs(b) == ["stage2.block0.shortcut.conv", "stage3.block0.shortcut.conv"]
    # 1x1 conv + BN at the two stage changes
    assert n_params(b) - n_params(a) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert len(_shortcut_convs(c)) == 9
    assert len(layer_table(b, (3, 16, 16))) == 22  # depth + 2
    assert len(layer_table(c, (3, 16, 16))) == 29  # depth + 3n
    bott = build_model(ModelConfig(depth=29, block="bottleneck", shortcut="B"), 3, 16, 10)
    assert len(layer_table(bott, (3, 16, 16))) == 29 + 3  # 16->64 in stage 1 changes shape too


def test_zero_pad_shortcut_is_subsample_plus_zeros() -> None:
    model = make(ModelConfig(depth=8, shortcut="A"), (3, 8, 8))
    sc = model.stage2.block0.shortcut
    assert sc.projection == "zeropad" and sum(p.numel() for p in sc.parameters()) == 0
    x = torch.randn(2, 16, 8, 8)
    h = sc.pad(x)
    assert h.shape == (2, 32, 4, 4)
    assert torch.equal(h[:, :16], x[:, :, ::2, ::2]) and torch.equal(h[:, 16:], torch.zeros(2, 16, 4, 4))


@pytest.mark.parametrize("variant", SHORTCUT_VARIANTS)
def test_shortcut_variant_formulas(variant: str) -> None:
    """Identity Mappings Fig. 2 on a block without dimension change, eval mode, after-add none."""
    torch.manual_seed(0)
    block = BasicBlock(8, 8, 1, shortcut=ShortcutSpec("A", variant, scale=0.3, dropout=0.5), after_add="none")
    for bn in (block.bn1, block.bn2):  # make eval-mode BN non-trivial
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    block.eval()
    x = torch.randn(2, 8, 6, 6)
    f = block.bn2(block.conv2(block.act1(block.bn1(block.conv1(x)))))
    sc = block.shortcut
    if variant == "scale":
        expected = 0.7 * f + 0.3 * x
    elif variant == "exclusive_gate":
        g = torch.sigmoid(sc.gate_conv(x))
        expected = g * f + (1 - g) * x
    elif variant == "shortcut_gate":
        expected = f + (1 - torch.sigmoid(sc.gate_conv(x))) * x
    elif variant == "conv1x1":
        assert sc.projection == "conv"
        expected = f + sc.bn(sc.conv(x))
    else:  # identity; dropout is the identity in eval mode
        expected = f + x
    assert torch.allclose(block(x), expected, atol=1e-6)
    if variant == "dropout":
        block.train()
        torch.manual_seed(1)
        out = block(x)
        torch.manual_seed(1)
        f_train = block.bn2(block.conv2(block.act1(block.bn1(block.conv1(x)))))
        kept = (out - f_train) / x  # 0 or 1/(1-p) = 2
        vals = torch.unique(torch.round(kept * 1000) / 1000)
        assert set(vals.tolist()) <= {0.0, 2.0} and len(vals) == 2


def test_conv1x1_variant_projects_every_block() -> None:
    model = build_model(ModelConfig(depth=20, shortcut="A", shortcut_variant="conv1x1"), 3, 16, 10)
    assert len(_shortcut_convs(model)) == 9


def test_gated_blocks_order_branch_shortcut_gate() -> None:
    model = build_model(ModelConfig(depth=8, shortcut="B", shortcut_variant="exclusive_gate"), 3, 16, 10)
    names = [t.name for t in layer_table(model, (3, 16, 16))]
    i = names.index("stage2.block0.conv1")
    assert names[i : i + 4] == [
        "stage2.block0.conv1",
        "stage2.block0.conv2",
        "stage2.block0.shortcut.conv",
        "stage2.block0.shortcut.gate_conv",
    ]


# ------------------------------------------------------------------------------------------ layer table
def test_layer_table_order_and_shapes() -> None:
    model = make(ModelConfig(depth=20), CIFAR)
    table = layer_table(model, CIFAR)
    assert len(table) == 20
    assert [t.index for t in table] == list(range(20))
    assert table[0].name == "stem.conv" and table[0].role == "stem" and table[0].stage == 0
    assert table[-1].name == "fc" and table[-1].role == "head" and table[-1].stage == 4
    assert table[0].norm_name == "stem.bn" and table[-1].norm_name is None
    assert table[1].name == "stage1.block0.conv1" and table[1].norm_name == "stage1.block0.bn1"
    assert [t.block for t in table[1:-1]] == [i // 2 for i in range(18)]
    assert [t.stage for t in table[1:-1]] == [1] * 6 + [2] * 6 + [3] * 6
    assert table[7].name == "stage2.block0.conv1" and table[7].out_shape == (32, 16, 16)
    assert table[7].fan_in == 9 * 16 and table[7].fan_out == 9 * 32 and table[7].params == 9 * 16 * 32
    assert table[13].out_shape == (64, 8, 8)
    assert table[-1].fan_in == 64 and table[-1].params == 650
    mnist = layer_table(make(ModelConfig(depth=8), MNIST), MNIST)
    assert [t.out_shape for t in mnist] == [(16, 28, 28)] * 3 + [(32, 14, 14)] * 2 + [(64, 7, 7)] * 2 + [(10,)]


def test_layer_table_preact_norms_and_plain_depth() -> None:
    pre = layer_table(build_model(ModelConfig(depth=8, block="preact"), 3, 16, 10), (3, 16, 16))
    by_name = {t.name: t for t in pre}
    assert by_name["stem.conv"].norm_name == "stage1.block0.bn1"
    assert by_name["stage1.block0.conv1"].norm_name == "stage1.block0.bn2"
    assert by_name["stage1.block0.conv2"].norm_name is None  # feeds the addition
    for depth in (8, 14, 56):
        plain = build_model(ModelConfig(arch="plain", depth=depth), 3, 16, 10)
        assert len(layer_table(plain, (3, 16, 16))) == depth


def test_layer_table_leaves_model_untouched() -> None:
    model = make(ModelConfig(depth=14, stochastic_depth=True), (3, 8, 8))
    model.train()
    model.stage1.block0.eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    layer_table(model, (3, 8, 8))
    assert model.training and not model.stage1.block0.training and model.stage1.block1.training
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def test_observability_rules() -> None:
    """Separate, non-inplace modules; each weight layer called exactly once (also in training mode)."""
    cfg = ModelConfig(depth=14, shortcut="B", shortcut_variant="exclusive_gate", stochastic_depth=True)
    model = make(cfg, (3, 8, 8))
    assert len(list(model.named_modules(remove_duplicate=False))) == len(list(model.named_modules()))
    assert not any(getattr(m, "inplace", False) for m in model.modules())
    calls: dict[str, int] = {}
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear, nn.ReLU, nn.BatchNorm2d)):
            mod.register_forward_hook(lambda m, i, o, n=name: calls.__setitem__(n, calls.get(n, 0) + 1))
    model.train()
    for _ in range(5):  # some blocks are dropped: their branches still run
        calls.clear()
        model(torch.randn(2, 3, 8, 8))
        assert set(calls.values()) == {1} and len(calls) == len(
            [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.ReLU, nn.BatchNorm2d))]
        )


# -------------------------------------------------------------------------------------- stochastic depth
def test_stochastic_depth_survival_and_modes() -> None:
    model = make(ModelConfig(depth=20, stochastic_depth=True), (3, 8, 8))
    probs = model.survival_probs()
    assert probs == pytest.approx(huang_survival(9)) and probs[-1] == pytest.approx(0.5)
    assert probs[0] == pytest.approx(1 - 0.5 / 9) and all(a > b for a, b in zip(probs, probs[1:]))
    block = model.stage3.block2  # p = 0.5
    x = torch.randn(2, 64, 2, 2)
    block.eval()
    f = block.bn2(block.conv2(block.act1(block.bn1(block.conv1(x)))))
    assert torch.allclose(block(x), torch.relu(x + 0.5 * f), atol=1e-6)
    block.train()
    outs = set()
    for seed in range(20):
        torch.manual_seed(seed)
        y = block(x)
        f_tr = block.bn2(block.conv2(block.act1(block.bn1(block.conv1(x)))))
        if torch.allclose(y, torch.relu(x)):
            outs.add("dropped")
        elif torch.allclose(y, torch.relu(x + f_tr), atol=1e-6):
            outs.add("kept")
    assert outs == {"dropped", "kept"}
    assert all(p is None for p in make(ModelConfig(depth=8), (3, 8, 8)).survival_probs())


# ------------------------------------------------------------------------------------------------ init
@pytest.mark.parametrize(
    "scheme,mode,dist,act",
    [
        ("he", "fan_in", "normal", "relu"),
        ("he", "fan_out", "uniform", "relu"),
        ("he", "fan_in", "normal", "leaky_relu"),
        ("he", "fan_in", "uniform", "tanh"),
        ("he", "fan_out", "normal", "sigmoid"),
        ("xavier", "fan_in", "normal", "relu"),
        ("xavier", "fan_in", "uniform", "relu"),
        ("lecun", "fan_in", "normal", "relu"),
        ("lecun", "fan_in", "uniform", "tanh"),
        ("normal", "fan_in", "normal", "relu"),
        ("orthogonal", "fan_in", "normal", "relu"),
    ],
)
def test_init_variance_matches_formula(scheme: str, mode: str, dist: str, act: str) -> None:
    cfg = ModelConfig(depth=8, width=64, activation=act, leaky_slope=0.2)
    init = InitConfig(scheme=scheme, mode=mode, distribution=dist, std=0.03)
    model = build_model(cfg, 3, 8, 10)
    torch.manual_seed(0)
    init_weights(model, init, cfg)
    for layer in (model.stage3.block0.conv2, model.stage2.block0.conv1, model.fc):  # 256x256x3x3, 64->128, linear
        w = layer.weight
        if isinstance(layer, nn.Conv2d):
            k = w.shape[2] * w.shape[3]
            expected = weight_variance(init, cfg, k * w.shape[1], k * w.shape[0], k)
        else:
            expected = weight_variance(init, cfg, w.shape[1], w.shape[0])
        tol = 0.05 if w.numel() > 50_000 else 0.2
        assert w.var().item() == pytest.approx(expected, rel=tol), layer
    if scheme == "orthogonal":  # rows of the expanding conv are orthonormal: exact
        w = model.stage2.block0.conv1.weight.flatten(1)
        assert torch.allclose(w @ w.T, torch.eye(w.shape[0]), atol=1e-5)


def test_weight_variance_formulas() -> None:
    cfg = ModelConfig()
    assert weight_variance(InitConfig("he"), cfg, 144, 288) == pytest.approx(2 / 144)
    assert weight_variance(InitConfig("he", mode="fan_out"), cfg, 144, 288) == pytest.approx(2 / 288)
    assert weight_variance(InitConfig("he"), ModelConfig(activation="tanh"), 100, 10) == pytest.approx(
        (5 / 3) ** 2 / 100
    )
    assert weight_variance(
        InitConfig("he"), ModelConfig(activation="leaky_relu", leaky_slope=0.5), 100, 1
    ) == pytest.approx(2 / 1.25 / 100)
    assert weight_variance(InitConfig("xavier"), cfg, 144, 288) == pytest.approx(2 / 432)
    assert weight_variance(InitConfig("lecun"), cfg, 144, 288) == pytest.approx(1 / 144)
    assert weight_variance(InitConfig("lecun", mode="fan_out"), cfg, 144, 288) == pytest.approx(1 / 288)
    assert weight_variance(InitConfig("normal", std=0.01), cfg, 144, 288) == pytest.approx(1e-4)
    assert weight_variance(InitConfig("orthogonal"), cfg, 100, 30) == pytest.approx(30 / 3000)
    assert weight_variance(InitConfig("orthogonal"), cfg, 144, 288, 9) == pytest.approx(1 / 144)


def test_biases_bn_gates_and_zero_init_residual() -> None:
    for block, last in (("basic", "bn2"), ("bottleneck", "bn3"), ("preact", "bn2"), ("preact_bottleneck", "bn3")):
        depth = 11 if block.endswith("bottleneck") else 8
        cfg = ModelConfig(depth=depth, block=block, shortcut_variant="exclusive_gate")
        model = make(cfg, (3, 8, 8), init=InitConfig(zero_init_residual=True))
        zeroed = {f"{n}.weight" for n, _ in model.named_modules() if n.endswith(last) and ".block" in n}
        assert len(zeroed) == 3
        for name, p in model.named_parameters():
            if name in zeroed:
                assert torch.all(p == 0), name
            elif name.endswith("gate_conv.bias"):
                assert torch.all(p == GATE_BIAS_INIT["exclusive_gate"]) and GATE_BIAS_INIT["exclusive_gate"] == -6.0
            elif ".bn" in name or name.startswith(("stem.bn", "final.bn")):
                assert torch.all(p == (1.0 if name.endswith("weight") else 0.0)), name
            elif name.endswith("bias"):
                assert torch.all(p == 0), name
    gate = make(ModelConfig(depth=8, shortcut_variant="shortcut_gate"), (3, 8, 8))
    assert torch.all(gate.stage1.block0.shortcut.gate_conv.bias == 0)
    nobn = make(ModelConfig(arch="mlp", depth=3, width=16), MNIST, init=InitConfig("normal", std=0.1))
    assert nobn.input.fc.bias is not None and torch.all(nobn.input.fc.bias == 0)
    assert make(ModelConfig(depth=8), (3, 8, 8)).stage1.block0.conv1.bias is None  # conv followed by BN
    assert make(ModelConfig(depth=8, batch_norm=False), (3, 8, 8)).stage1.block0.conv1.bias is not None


# ------------------------------------------------------------------------------------------- describe
def test_describe_model() -> None:
    text = describe_model(build_model(ModelConfig(depth=20, shortcut="B"), 3, 32, 10), CIFAR, 10)
    assert "conv3x3 s2" in text and "conv1x1 s2 (shortcut)" in text and "linear" in text
    assert "weight layers: 22" in text and "0.27M" in text and "BN params: 1,568" in text
    assert "-- block 3: stage2.block0" in text
    assert "16x32x32" in text and "64x8x8" in text
    mlp = describe_model(build_model(ModelConfig(arch="mlp", depth=3, width=64), 1, 28, 10), MNIST, 10)
    assert "weight layers: 3" in mlp and "hidden1.fc" in mlp


def test_invalid_configs_raise() -> None:
    with pytest.raises(ConfigError):
        build_model(ModelConfig(depth=21), 3, 32, 10)
    with pytest.raises(ConfigError):
        build_model(ModelConfig(depth=14, block="bottleneck"), 3, 32, 10)
    with pytest.raises(ValueError):
        CifarNet(ModelConfig(depth=8), 3, 4, 10)


def test_depth_1202_builds_and_resnet110_trains_a_step() -> None:
    deep = build_model(ModelConfig(depth=1202), 3, 32, 10)
    assert sum(isinstance(m, nn.Conv2d) for m in deep.modules()) == 1201
    model = make(ModelConfig(depth=110), CIFAR)
    model.train()
    loss = nn.functional.cross_entropy(model(torch.randn(8, *CIFAR)), torch.randint(0, 10, (8,)))
    loss.backward()
    assert torch.isfinite(loss) and model.stem.conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "fields,n_entries,digest",
    [
        (dict(depth=20), 116, "1f2f045df85a8995"),
        (dict(depth=56), 332, "9ec25251d47c8df0"),
        (dict(depth=29, block="bottleneck", shortcut="B"), 188, "fc1097d3296167d1"),
        (dict(depth=20, block="preact", shortcut="B", shortcut_variant="exclusive_gate"), 136, "5b4d483222b47a57"),
        (dict(depth=20, shortcut="C", after_add="bn_relu"), 215, "a5391ee2cc1021a7"),
    ],
)
def test_state_dict_layout_is_unchanged(fields: dict, n_entries: int, digest: str) -> None:
    """Keys and shapes of the state_dict, recorded before the blocks were rebuilt from per-kind builders:
    saved weights and run folders keep loading, and probes keep their layer names."""
    model = build_model(ModelConfig(**fields), 3, 32, 10)
    pairs = sorted((key, tuple(value.shape)) for key, value in model.state_dict().items())
    assert len(pairs) == n_entries
    assert hashlib.sha256(repr(pairs).encode()).hexdigest()[:16] == digest


def test_blocks_take_norm_and_activation_as_factories() -> None:
    """torchvision's manner: one class per kind, normalisation and activation injected."""
    assert {
        "basic": BasicBlock,
        "bottleneck": Bottleneck,
        "preact": PreActBlock,
        "preact_bottleneck": PreActBottleneck,
    } == BLOCK_TYPES
    bare = Bottleneck(16, 8, 2, parts=BlockParts(norm=None, activation=nn.Tanh), shortcut=ShortcutSpec("B"))
    assert bare.c_out == 32 and type(bare.act1) is nn.Tanh and type(bare.act_out) is nn.Tanh
    assert not any(isinstance(m, nn.BatchNorm2d) for m in bare.modules()) and bare.branch_norm() is None
    assert all(m.bias is not None for m in bare.modules() if isinstance(m, nn.Conv2d))
    assert bare(torch.randn(2, 16, 8, 8)).shape == (2, 32, 4, 4)
    grouped = BasicBlock(8, 8, parts=BlockParts(norm=lambda c: nn.GroupNorm(2, c)))
    assert isinstance(grouped.bn1, nn.GroupNorm) and grouped.conv1.bias is None and grouped.branch_norm() is grouped.bn2
    plain = PreActBlock(8, 16, 2, shortcut=None)
    assert plain.shortcut is None and plain.branch_norm() is None and plain.pre_names == ()
    assert plain(torch.randn(2, 8, 8, 8)).shape == (2, 16, 4, 4)
    shared = PreActBlock(8, 16, 2, shortcut=ShortcutSpec("B"))  # a projection takes the pre-activated input
    assert shared.pre_names == ("bn1", "act1") and shared.shortcut is not None and shared.shortcut.bn is None
    with pytest.raises(ValueError, match="bn_relu"):
        BasicBlock(8, 8, parts=BlockParts(norm=None), after_add="bn_relu")
