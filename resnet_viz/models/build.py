"""Build a network from a :class:`~resnet_viz.config.ModelConfig`."""

from __future__ import annotations

from torch import nn

from resnet_viz.config import ModelConfig
from resnet_viz.models.cifar import CifarNet
from resnet_viz.models.mlp import MLP


def build_model(cfg: ModelConfig, in_channels: int, image_size: int, num_classes: int) -> nn.Module:
    """A plain/resnet CIFAR-family net or an MLP for ``[N, in_channels, image_size, image_size]`` inputs.

    ``cfg`` may be unresolved (defaults are filled here) and is validated (``ConfigError``). For
    ``arch='plain'`` the shortcut fields are ignored. Weights are torch's defaults: call
    :func:`~resnet_viz.models.init.init_weights` next.
    """
    cfg = cfg.resolved()
    cfg.validate()
    if cfg.arch == "mlp":
        return MLP(cfg, in_channels * image_size * image_size, num_classes)
    return CifarNet(cfg, in_channels, image_size, num_classes)
