"""Variance of a weight layer at initialisation, as each scheme's formula gives it (:mod:`~resnet_viz.models.init`
samples the weights; :mod:`~resnet_viz.models.theory` propagates these variances)."""

from __future__ import annotations

from torch import nn

from resnet_viz.config import InitConfig, ModelConfig
from resnet_viz.models.parts import torch_nonlinearity


def activation_gain(model_cfg: ModelConfig) -> float:
    """``torch.nn.init.calculate_gain`` of the model's activation (ReLU sqrt 2, tanh 5/3, sigmoid 1)."""
    if model_cfg.activation == "leaky_relu":
        return nn.init.calculate_gain("leaky_relu", model_cfg.leaky_slope)
    return nn.init.calculate_gain(torch_nonlinearity(model_cfg.activation))


def weight_variance(
    init: InitConfig, model_cfg: ModelConfig, fan_in: int, fan_out: int, receptive_field: int = 1
) -> float:
    """Var[w] of one weight layer at initialisation, as the scheme's formula gives it.

    ``fan_in = k*k*C_in`` and ``fan_out = k*k*C_out`` for a conv, ``in/out_features`` for a linear
    layer; ``receptive_field = k*k`` only matters for ``orthogonal`` (its rows are the ``C_out``
    filters). Schemes: he ``gain^2 / fan`` (fan by ``init.mode``, gain of the activation),
    xavier ``2 / (fan_in + fan_out)``, lecun ``1 / fan`` (fan by ``init.mode``; ``fan_in`` is LeCun's),
    normal ``std^2``, orthogonal ``min(r, c) / (r c)`` for the ``r x c = C_out x k*k*C_in`` matrix
    (``min(fan_in, fan_out) / (fan_in fan_out)`` for a linear layer). Uniform variants have the same
    variance.
    """
    scheme = init.scheme
    fan = fan_in if init.mode == "fan_in" else fan_out
    if scheme == "he":
        return activation_gain(model_cfg) ** 2 / fan
    if scheme == "xavier":
        return 2.0 / (fan_in + fan_out)
    if scheme == "lecun":
        return 1.0 / fan
    if scheme == "normal":
        return float(init.std) ** 2
    if scheme == "orthogonal":
        rows, cols = fan_out // receptive_field, fan_in
        return min(rows, cols) / (rows * cols)
    raise ValueError(f"unknown init scheme {scheme!r}")


__all__ = ["activation_gain", "weight_variance"]
