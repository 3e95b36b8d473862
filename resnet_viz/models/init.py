"""Weight initialisation with ``torch.nn.init`` (LeCun 1998; Glorot & Bengio 2010; He et al. 2015).

Every Conv2d and Linear weight (stem, branch, shortcut, gate and head alike) gets the scheme:

* ``he``: ``kaiming_normal_`` / ``kaiming_uniform_`` with ``mode = init.mode`` and the gain of the
  model's activation from ``torch.nn.init.calculate_gain`` (relu sqrt 2, leaky_relu
  sqrt(2 / (1 + a^2)), tanh 5/3, sigmoid 1): ``Var[w] = gain^2 / fan``.
* ``xavier``: ``xavier_normal_`` / ``xavier_uniform_`` with gain 1 (Glorot's ``2 / (fan_in + fan_out)``).
* ``lecun``: ``kaiming_*`` with ``nonlinearity='linear'`` (``Var[w] = 1 / fan``; ``init.mode`` picks the
  fan, the default ``fan_in`` is LeCun's).
* ``normal``: ``normal_(0, init.std)``; ``orthogonal``: ``orthogonal_`` with gain 1.

Biases are 0 except gate convs (``Shortcut.gate_bias``: -6 exclusive, 0 shortcut-only gating);
BN weight 1, bias 0; ``zero_init_residual`` sets the weight of the last BN of every residual
branch to 0. :func:`resnet_viz.models.variance.weight_variance` gives the matching variance.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from resnet_viz.config import InitConfig, ModelConfig
from resnet_viz.models.parts import torch_nonlinearity
from resnet_viz.models.shortcuts import Shortcut


def _fan_mode(mode: str) -> Literal["fan_in", "fan_out"]:
    if mode == "fan_in":
        return "fan_in"
    if mode == "fan_out":
        return "fan_out"
    raise ValueError(f"init.mode {mode!r} is not fan_in or fan_out")


def _init_weight(weight: Tensor, init: InitConfig, model_cfg: ModelConfig, gen: torch.Generator | None) -> None:
    uniform = init.distribution == "uniform"
    scheme = init.scheme
    if scheme == "he":
        nonlinearity = torch_nonlinearity(model_cfg.activation)
        a = model_cfg.leaky_slope if nonlinearity == "leaky_relu" else 0.0
        fn = nn.init.kaiming_uniform_ if uniform else nn.init.kaiming_normal_
        fn(weight, a=a, mode=_fan_mode(init.mode), nonlinearity=nonlinearity, generator=gen)
    elif scheme == "lecun":
        fn = nn.init.kaiming_uniform_ if uniform else nn.init.kaiming_normal_
        fn(weight, mode=_fan_mode(init.mode), nonlinearity="linear", generator=gen)
    elif scheme == "xavier":
        (nn.init.xavier_uniform_ if uniform else nn.init.xavier_normal_)(weight, gain=1.0, generator=gen)
    elif scheme == "normal":
        nn.init.normal_(weight, 0.0, init.std, generator=gen)
    elif scheme == "orthogonal":
        nn.init.orthogonal_(weight, gain=1.0, generator=gen)
    else:
        raise ValueError(f"unknown init scheme {scheme!r}")


@torch.no_grad()
def init_weights(
    model: nn.Module, init: InitConfig, model_cfg: ModelConfig, *, generator: torch.Generator | None = None
) -> None:
    """Initialise ``model`` in place, drawing from ``generator`` (None: torch's global generator; the same
    values for a generator seeded like the global one); BN running statistics are reset."""
    cfg = model_cfg.resolved()
    for mod in model.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            _init_weight(mod.weight, init, cfg, generator)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
        elif isinstance(mod, nn.modules.batchnorm._BatchNorm):
            if mod.weight is not None:
                nn.init.ones_(mod.weight)
                nn.init.zeros_(mod.bias)
            if mod.running_mean is not None:
                mod.reset_running_stats()
    for mod in model.modules():
        if isinstance(mod, Shortcut) and mod.gate_conv is not None and mod.gate_conv.bias is not None:
            nn.init.constant_(mod.gate_conv.bias, mod.gate_bias)
    if init.zero_init_residual:
        targets = getattr(model, "zero_init_norms", None)
        for bn in targets() if callable(targets) else []:
            nn.init.zeros_(bn.weight)
