"""Networks (CIFAR-family plain/ResNet, MLP), initialisation, per-layer tables and signal-propagation theory."""

from resnet_viz.models.blocks import BasicBlock, Block, Bottleneck, huang_survival
from resnet_viz.models.build import build_model
from resnet_viz.models.cifar import BLOCK_TYPES, CifarNet
from resnet_viz.models.describe import LayerInfo, describe_model, format_count, layer_table
from resnet_viz.models.init import init_weights
from resnet_viz.models.mlp import MLP, MLPLayer
from resnet_viz.models.parts import BlockParts
from resnet_viz.models.preact import PreActBlock, PreActBottleneck
from resnet_viz.models.shortcuts import GATE_BIAS_INIT, Shortcut, ShortcutSpec, ZeroPadShortcut
from resnet_viz.models.theory import theory_act_std
from resnet_viz.models.variance import weight_variance

__all__ = [
    "BLOCK_TYPES",
    "GATE_BIAS_INIT",
    "MLP",
    "BasicBlock",
    "Block",
    "BlockParts",
    "Bottleneck",
    "CifarNet",
    "LayerInfo",
    "MLPLayer",
    "PreActBlock",
    "PreActBottleneck",
    "Shortcut",
    "ShortcutSpec",
    "ZeroPadShortcut",
    "build_model",
    "describe_model",
    "format_count",
    "huang_survival",
    "init_weights",
    "layer_table",
    "theory_act_std",
    "weight_variance",
]
