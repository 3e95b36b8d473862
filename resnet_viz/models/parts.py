"""The pieces networks are made of: convolutions, activations and normalisation, injected as factories.

As in ``torchvision.models.resnet`` (``norm_layer``), a block does not choose its normalisation or
activation: it receives a :class:`BlockParts` whose ``norm(channels)`` and ``activation()`` make a
fresh module each time they are called (every module is a separate, non-inplace instance).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import nn

#: Makes a normalisation module for ``channels`` channels, e.g. ``nn.BatchNorm2d``.
NormFactory = Callable[[int], nn.Module]
#: Makes a fresh activation module.
ActivationFactory = Callable[[], nn.Module]

ACTIVATION_NAMES = ("relu", "leaky_relu", "tanh", "sigmoid")
#: ``torch.nn.init``'s names of the activations (its ``nonlinearity`` argument), plus ``linear``.
Nonlinearity = Literal["relu", "leaky_relu", "tanh", "sigmoid", "linear"]
_NONLINEARITIES: dict[str, Nonlinearity] = {
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "linear": "linear",
}


def torch_nonlinearity(name: str) -> Nonlinearity:
    """``name`` as ``torch.nn.init.calculate_gain`` and ``kaiming_*_`` take it."""
    if name not in _NONLINEARITIES:
        raise ValueError(f"activation {name!r} is not one of {', '.join(_NONLINEARITIES)}")
    return _NONLINEARITIES[name]


def make_activation(name: str, slope: float = 0.01) -> nn.Module:
    """A fresh, non-inplace activation module: ``relu | leaky_relu | tanh | sigmoid`` (``slope``: leaky_relu's)."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    if name == "tanh":
        return nn.Tanh()
    if name == "sigmoid":
        return nn.Sigmoid()
    raise ValueError(f"activation {name!r} is not one of {', '.join(ACTIVATION_NAMES)}")


def activation_factory(name: str, slope: float = 0.01) -> ActivationFactory:
    """A factory of :func:`make_activation` modules (the name is checked now, not at the first call)."""
    if name not in ACTIVATION_NAMES:
        raise ValueError(f"activation {name!r} is not one of {', '.join(ACTIVATION_NAMES)}")
    return functools.partial(make_activation, name, slope)


def conv(c_in: int, c_out: int, k: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """k x k conv with 'same' padding (k // 2)."""
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=bias)


@dataclass(frozen=True)
class BlockParts:
    """How a network makes its layers: ``norm`` after convs (None: no normalisation, and then every
    conv has a bias) and ``activation``."""

    norm: NormFactory | None = nn.BatchNorm2d
    activation: ActivationFactory = nn.ReLU

    @property
    def has_norm(self) -> bool:
        return self.norm is not None

    def conv(self, c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Conv2d:
        """A k x k conv, with a bias exactly when there is no normalisation."""
        return conv(c_in, c_out, k, stride, bias=self.norm is None)

    def norm_layer(self, name: str, channels: int) -> list[tuple[str, nn.Module]]:
        """``[(name, norm(channels))]``, or ``[]`` without normalisation."""
        return [] if self.norm is None else [(name, self.norm(channels))]

    def act(self, name: str) -> tuple[str, nn.Module]:
        return name, self.activation()


__all__ = [
    "ACTIVATION_NAMES",
    "ActivationFactory",
    "BlockParts",
    "Nonlinearity",
    "NormFactory",
    "activation_factory",
    "conv",
    "make_activation",
    "torch_nonlinearity",
]
