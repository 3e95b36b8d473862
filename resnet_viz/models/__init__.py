"""Networks (CIFAR-family plain/ResNet, MLP), initialisation, per-layer tables and signal-propagation theory."""

from resnet_viz.models.blocks import GATE_BIAS_INIT, Block, Shortcut, ZeroPadShortcut, huang_survival
from resnet_viz.models.build import build_model
from resnet_viz.models.cifar import CifarNet
from resnet_viz.models.describe import LayerInfo, describe_model, format_count, layer_table
from resnet_viz.models.init import init_weights
from resnet_viz.models.mlp import MLP, MLPLayer
from resnet_viz.models.theory import theory_act_std, weight_variance

__all__ = [
    "GATE_BIAS_INIT",
    "MLP",
    "Block",
    "CifarNet",
    "LayerInfo",
    "MLPLayer",
    "Shortcut",
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
