"""The model and initialisation sections of a run config, each field with its entry of the field table."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from resnet_viz.config.depth import BOTTLENECK_BLOCKS, PREACT_BLOCKS, check_depth
from resnet_viz.config.files import check_file_path
from resnet_viz.config.limits import DEFAULT_CONV_WIDTH, DEFAULT_MLP_WIDTH, MAX_DEPTH, MAX_WIDTH
from resnet_viz.config.spec import Option, Section, field_info, spec


def _check_depth(path: str, depth: int, model: Any) -> None:
    if model.arch in ARCHS and model.block in BLOCKS:  # else the arch or block check says what is wrong
        check_depth(path, depth, model.arch, model.block)


ARCH = "Architecture"
INIT = "Initialisation"


@dataclass
class ModelConfig(Section):
    """Network architecture. ``depth`` counts weight layers (convs + the final linear layer)."""

    SECTION = "model"

    arch: str = spec(
        "resnet", label="arch", group=ARCH, flag="--arch", widget="segmented",
        help="Network family.",
        options=(
            Option("plain", "plain", "plain: the same stack of conv layers as the ResNet, without shortcuts."),
            Option("resnet", "resnet", "resnet: residual network of He et al. (2016), CIFAR variant."),
            Option("mlp", "MLP", "MLP: fully connected layers on the flattened image."),
        ),
    )  # fmt: skip
    depth: int = spec(
        20, label="depth", group=ARCH, flag="--depth", widget="depth", lo=1, check=_check_depth,
        help="Weight layers (convs + the final linear layer): 6n+2 for basic/preact blocks (20, 32, 44, 56, 110, "
        f"1202), 9n+2 for the bottleneck blocks (164, 1001), any n ≥ 1 for an MLP; at most {MAX_DEPTH}.",
    )  # fmt: skip
    width: int | None = spec(
        None, label="width", group=ARCH, flag="--width", widget="doubling", lo=1, hi=MAX_WIDTH,
        help=f"Base width: conv channels of stage 1 (default {DEFAULT_CONV_WIDTH}) or hidden width of the MLP "
        f"(default {DEFAULT_MLP_WIDTH}).",
    )  # fmt: skip
    block: str = spec(
        "basic", label="block", group=ARCH, flag="--block", help="Residual block.",
        options=(
            Option("basic", "basic", "basic: two 3×3 convs."),
            Option("bottleneck", "bottleneck", "bottleneck: 1×1, 3×3, 1×1 convs (depth 9n+2)."),
            Option("preact", "pre-activation",
                   "pre-activation: BN-ReLU-conv, nothing after the addition (Identity Mappings, He et al. 2016)."),
            Option("preact_bottleneck", "pre-activation bottleneck",
                   "pre-activation bottleneck: BN-ReLU-conv 1×1, 3×3, 1×1, nothing after the addition (depth "
                   "9n+2: ResNet-164, ResNet-1001 of Identity Mappings)."),
        ),
    )  # fmt: skip
    shortcut: str | None = spec(
        None, label="shortcut", group=ARCH, flag="--shortcut", widget="segmented", parse=str.upper,
        help="Shortcut where dimensions change (He et al. 2016, options A, B, C). Default: A (B for the bottleneck "
        "blocks, as the papers' bottleneck nets use projections).",
        options=(
            Option("A", "A", "A: zero-padding identity (no parameters)."),
            Option("B", "B", "B: projection (1×1 conv) where dimensions change, identity elsewhere."),
            Option("C", "C", "C: projection on every shortcut."),
        ),
    )  # fmt: skip
    shortcut_variant: str = spec(
        "identity", label="variant", group=ARCH, flag="--shortcut-variant",
        help="Shortcut h(x) of Identity Mappings (He et al. 2016, Fig. 2).",
        options=(
            Option("identity", "identity", "identity: y = F(x) + x (the original ResNet)."),
            Option("scale", "scale λ", "constant scaling: y = (1−λ) F(x) + λ x."),
            Option("exclusive_gate", "exclusive gate",
                   "exclusive gating: y = g F(x) + (1−g) x, g = sigmoid(1×1 conv), gate bias −6."),
            Option("shortcut_gate", "shortcut-only gate",
                   "shortcut-only gating: y = F(x) + (1−g) x, g = sigmoid(1×1 conv), gate bias 0."),
            Option("conv1x1", "1×1 conv", "1×1 conv shortcut: y = F(x) + conv1×1(x)."),
            Option("dropout", "dropout", "dropout shortcut: y = F(x) + dropout_p(x)."),
        ),
    )  # fmt: skip
    shortcut_scale: float = spec(
        0.5, label="λ", group=ARCH, flag="--shortcut-scale", lo=0.0,
        help="λ of the constant-scaling shortcut variant 'scale' (default 0.5).",
    )  # fmt: skip
    shortcut_dropout: float = spec(
        0.5, label="p", group=ARCH, flag="--shortcut-dropout", lo=0.0, hi=1.0, hi_open=True,
        help="p of the dropout shortcut variant, in [0, 1) (default 0.5).",
    )  # fmt: skip
    after_add: str | None = spec(
        None, label="after add", group=ARCH, flag="--after-add",
        help="Mapping after the addition, f in y = f(h(x) + F(x)): ReLU (original ResNet), BN + ReLU, or none. "
        "Default: ReLU (none for pre-activation blocks).",
        options=(
            Option("relu", "ReLU (original)", "ReLU after the addition (He et al. 2016a)."),
            Option("bn_relu", "BN + ReLU", "BN, then ReLU after the addition."),
            Option("none", "none", "Nothing after the addition (identity)."),
        ),
    )  # fmt: skip
    batch_norm: bool | None = spec(
        None, label="batch norm", group=ARCH, switches=(("--no-bn", False), ("--bn", True)),
        help="Batch normalisation. Default: on for conv nets (plain / resnet), off for the MLP.",
    )  # fmt: skip
    activation: str = spec(
        "relu", label="activation", group=ARCH, flag="--activation",
        help="Nonlinearity everywhere the paper uses ReLU.",
        options=(Option("relu", "ReLU"), Option("leaky_relu", "leaky ReLU"), Option("tanh", "tanh"),
                 Option("sigmoid", "sigmoid")),
    )  # fmt: skip
    leaky_slope: float = spec(
        0.01, label="slope", group=ARCH, flag="--leaky-slope", lo=0.0, hi=1.0,
        help="Negative slope of leaky ReLU (default 0.01).",
    )  # fmt: skip
    stochastic_depth: bool = spec(
        False, label="", text="stochastic depth (1 → 0.5)", group=ARCH, switches=(("--stochastic-depth", True),),
        help="Stochastic depth (Huang et al. 2016): drop whole residual blocks while training; the survival "
        "probability falls linearly from 1 to 0.5 with depth.",
    )  # fmt: skip
    residual: bool = spec(
        False, label="", text="residual connections", group=ARCH, switches=(("--residual", True),),
        help="MLP: identity skip around every hidden layer.",
    )  # fmt: skip

    def resolved(self) -> ModelConfig:
        """A copy with every ``None`` default filled in."""
        conv = self.arch != "mlp"
        shortcut = "B" if self.block in BOTTLENECK_BLOCKS else "A"  # the papers' bottleneck nets project
        after_add = "none" if self.block in PREACT_BLOCKS else "relu"
        return dataclasses.replace(
            self,
            width=self.width if self.width is not None else (DEFAULT_CONV_WIDTH if conv else DEFAULT_MLP_WIDTH),
            shortcut=self.shortcut if self.shortcut is not None else shortcut,
            after_add=self.after_add if self.after_add is not None else after_add,
            batch_norm=self.batch_norm if self.batch_norm is not None else conv,
        )


@dataclass
class InitConfig(Section):
    """Weight initialisation through ``torch.nn.init``; biases start at zero, BN at gamma=1, beta=0."""

    SECTION = "init"

    scheme: str = spec(
        "he", label="scheme", group=INIT, flag="--init",
        help="Weight initialisation (torch.nn.init): He (MSRA), Xavier (Glorot), LeCun, normal N(0, std²), "
        "orthogonal. Biases start at 0, BN at γ = 1, β = 0.",
        options=(
            Option("he", "He (Kaiming)", "He et al. 2015: variance 2 / fan."),
            Option("xavier", "Xavier (Glorot)", "Glorot & Bengio 2010: variance 2 / (fan_in + fan_out)."),
            Option("lecun", "LeCun", "LeCun et al. 1998: variance 1 / fan."),
            Option("normal", "normal (std)", "N(0, std²) with a fixed std (init.std)."),
            Option("orthogonal", "orthogonal", "Orthogonal matrix (Saxe et al. 2014), gain from the activation."),
        ),
    )  # fmt: skip
    mode: str = spec(
        "fan_in", label="mode", group=INIT, flag="--init-mode",
        help="He / LeCun: keep the variance of fan_in (forward signal) or fan_out (backward gradient).",
        options=(Option("fan_in", "fan_in", "Keep the forward signal's variance."),
                 Option("fan_out", "fan_out", "Keep the backward gradient's variance.")),
    )  # fmt: skip
    distribution: str = spec(
        "normal", label="distribution", group=INIT, flag="--init-distribution",
        help="He / Xavier / LeCun: normal or uniform, with the same variance.",
        options=(Option("normal", "normal"), Option("uniform", "uniform")),
    )  # fmt: skip
    std: float = spec(
        0.01, label="std", group=INIT, flag="--init-std", lo=0.0, lo_open=True,
        help="Standard deviation of the normal init N(0, std²) (default 0.01).",
    )  # fmt: skip
    zero_init_residual: bool = spec(
        False, label="", text="zero-init last BN of branches", group=INIT, switches=(("--zero-init-residual", True),),
        help="The last BN of each residual branch starts at γ = 0, so every block starts as the identity.",
    )  # fmt: skip
    from_file: str | None = spec(
        None, label="from file", group=INIT, flag="--init-from", metavar="FILE", widget="file", check=check_file_path,
        help="Start from the weights of a checkpoint (this project's checkpoint.pt, or a state dict of the PyTorch "
        "CIFAR reproduction, akamaster/pytorch_resnet_cifar10) instead of initialising; the run evaluates them at "
        "step 0. Empty: initialise with init.scheme.",
    )  # fmt: skip


ARCHS: tuple[str, ...] = field_info(ModelConfig, "arch").spec.choices
BLOCKS: tuple[str, ...] = field_info(ModelConfig, "block").spec.choices
SHORTCUTS: tuple[str, ...] = field_info(ModelConfig, "shortcut").spec.choices
SHORTCUT_VARIANTS: tuple[str, ...] = field_info(ModelConfig, "shortcut_variant").spec.choices
AFTER_ADD: tuple[str, ...] = field_info(ModelConfig, "after_add").spec.choices
ACTIVATIONS: tuple[str, ...] = field_info(ModelConfig, "activation").spec.choices
INITS: tuple[str, ...] = field_info(InitConfig, "scheme").spec.choices
INIT_MODES: tuple[str, ...] = field_info(InitConfig, "mode").spec.choices
INIT_DISTRIBUTIONS: tuple[str, ...] = field_info(InitConfig, "distribution").spec.choices
