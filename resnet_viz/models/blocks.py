"""Residual and plain blocks of the CIFAR family, one class per kind, in the torchvision manner: the base
:class:`Block` and the original (post-activation) blocks; the pre-activation ones are in
:mod:`resnet_viz.models.preact`.

A block computes ``y = f(h(x) + F(x))`` (He et al. 2016a) with the variants of *Identity Mappings*
(He et al. 2016b). As ``torchvision.models.resnet.BasicBlock`` / ``Bottleneck`` take ``norm_layer``,
each block class takes its normalisation and activation as factories (:class:`BlockParts`), its
shortcut settings as a :class:`ShortcutSpec` (None: the plain block, without shortcut and addition)
and builds its own layers; ``cifar.BLOCK_TYPES`` maps ``ModelConfig.block`` to the class. Every module
is a separate, non-inplace instance and is called exactly once per forward, so forward hooks observe
every layer; within a block the branch runs before the shortcut, so forward order is branch convs,
shortcut conv, gate conv.

Choices where the papers leave room (documented here, used everywhere):

* bottleneck: the stride sits on the 3x3 conv (fb.resnet.torch / torchvision), widths
  ``in -> w -> w -> 4w`` (``expansion = 4``).
* preact, preact_bottleneck: see :mod:`resnet_viz.models.preact`.
* shortcut variants and gate biases: see :mod:`resnet_viz.models.shortcuts`.
* stochastic depth (Huang et al. 2016): survival probability ``p_l`` (set by the network); in
  training the branch is multiplied by a Bernoulli(p_l) draw per batch (one ``torch.rand`` call;
  the branch is still computed so that every layer is called once), in eval by ``p_l``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from resnet_viz.models.parts import BlockParts
from resnet_viz.models.shortcuts import Shortcut, ShortcutSpec
from resnet_viz.models.theory import Component, Moments, TheoryContext, mixture_theory, sequence_theory

#: Named modules in registration (= forward) order.
NamedModules = list[tuple[str, nn.Module]]

AFTER_ADD = ("relu", "bn_relu", "none")
#: Batch norm and ReLU, the papers' parts.
BN_RELU = BlockParts()
#: Option A shortcut with the identity variant, the papers' default.
IDENTITY_SHORTCUT = ShortcutSpec()


def after_add_layers(after_add: str, channels: int, parts: BlockParts) -> NamedModules:
    """The mapping f after the addition: ``relu`` (act), ``bn_relu`` (norm, act) or ``none``."""
    if after_add not in AFTER_ADD:
        raise ValueError(f"after_add {after_add!r} is not one of {', '.join(AFTER_ADD)}")
    if after_add == "none":
        return []
    if after_add == "bn_relu" and not parts.has_norm:
        raise ValueError("after_add 'bn_relu' needs a normalisation layer (batch norm is off)")
    norm = parts.norm_layer("bn_out", channels) if after_add == "bn_relu" else []
    return [*norm, parts.act("act_out")]


class Block(nn.Module):
    """What every block kind shares: registration of its layers, forward, theory walk and summary.

    Subclasses build the layers and call ``Block.__init__`` with them. ``pre`` are leading
    pre-activation layers that the shortcut shares (see :class:`PreActUnit`),
    ``branch`` the residual branch F, ``after`` the mapping after the addition. Input
    ``[N, c_in, H, W]`` -> output ``[N, c_out, H/stride, W/stride]``.
    """

    kind: ClassVar[str]
    expansion: ClassVar[int] = 1  # c_out / planes

    def __init__(
        self,
        c_in: int,
        c_out: int,
        stride: int,
        layers: tuple[NamedModules, NamedModules, NamedModules],
        *,
        index: int,
        shortcut: Shortcut | None,
        branch_norm: str | None,
        survival_prob: float | None,
    ) -> None:
        super().__init__()
        pre, branch, after = layers
        self.index = index
        self.residual = shortcut is not None
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        self.survival_prob = survival_prob  # None: no stochastic depth
        for name, mod in [*pre, *branch]:
            self.add_module(name, mod)
        self.last_branch_norm: str | None = branch_norm if shortcut is not None else None
        self.shortcut: Shortcut | None = shortcut
        for name, mod in after:
            self.add_module(name, mod)
        self.pre_names: tuple[str, ...] = tuple(name for name, _ in pre)
        self.branch_names: tuple[str, ...] = tuple(name for name, _ in branch)
        self.after_names: tuple[str, ...] = tuple(name for name, _ in after)

    def _mods(self, names: tuple[str, ...]) -> Iterator[nn.Module]:
        return (getattr(self, n) for n in names)

    def forward(self, x: Tensor) -> Tensor:
        for mod in self._mods(self.pre_names):
            x = mod(x)
        f = x
        for mod in self._mods(self.branch_names):
            f = mod(f)
        if self.shortcut is None:
            out = f
        else:
            p = self.survival_prob
            if p is not None:
                if self.training:
                    keep = (torch.rand((), device=f.device) < p).to(f.dtype)
                    f = f * keep
                else:
                    f = f * p
            out = self.shortcut(x, f)
        for mod in self._mods(self.after_names):
            out = mod(out)
        return out

    def theory(self, s: Moments, ctx: TheoryContext) -> Moments:
        """Training-mode second-moment walk, in forward order.

        A stochastic-depth draw and a dropout shortcut are random on/off choices; their outcomes go
        separately through the after-add mapping (:func:`mixture_theory`).
        """
        s = sequence_theory(self._mods(self.pre_names), s, ctx)
        f = sequence_theory(self._mods(self.branch_names), s, ctx)
        after = list(self._mods(self.after_names))
        if self.shortcut is None:
            return sequence_theory(after, f, ctx)
        h, gate = self.shortcut.shortcut_theory(s, ctx)
        outcomes: list[Component] = [(w, 0, c) for w, c in self.shortcut.merge_theory(f, h, gate)]
        p = self.survival_prob
        if p is not None:
            dropped = Moments(np.zeros_like(f.m), np.zeros_like(f.mu), f.pooled, nonneg=True)
            outcomes = [(p * w, 0, c) for w, _, c in outcomes] + [
                ((1.0 - p) * w, 1, c) for w, c in self.shortcut.merge_theory(dropped, h, gate)
            ]
        return mixture_theory(after, outcomes, ctx)

    def branch_norm(self) -> nn.Module | None:
        """The last BN of the residual branch (zero_init_residual target), or None."""
        return getattr(self, self.last_branch_norm) if self.last_branch_norm else None

    def summary(self) -> str:
        """One line, e.g. ``basic, 16->32, stride 2, shortcut zeropad/identity``."""
        parts = [self.kind, f"{self.c_in}->{self.c_out}", f"stride {self.stride}"]
        if self.shortcut is not None:
            parts.append(f"shortcut {self.shortcut.projection}/{self.shortcut.variant}")
        else:
            parts.append("plain")
        if self.survival_prob is not None:
            parts.append(f"survival {self.survival_prob:.3f}")
        return ", ".join(parts)

    def extra_repr(self) -> str:
        return f"index={self.index}, " + self.summary()


class BasicBlock(Block):
    """3x3 conv, norm, act, 3x3 conv, norm (the stride on the first conv); ``c_out = planes``."""

    kind = "basic"

    def __init__(
        self,
        c_in: int,
        planes: int,
        stride: int = 1,
        *,
        index: int = 0,
        parts: BlockParts = BN_RELU,
        shortcut: ShortcutSpec | None = IDENTITY_SHORTCUT,
        after_add: str = "relu",
        survival_prob: float | None = None,
        first: bool = False,
    ) -> None:
        branch: NamedModules = [
            ("conv1", parts.conv(c_in, planes, 3, stride)),
            *parts.norm_layer("bn1", planes),
            parts.act("act1"),
            ("conv2", parts.conv(planes, planes, 3)),
            *parts.norm_layer("bn2", planes),
        ]
        sc = Shortcut(c_in, planes, stride, shortcut, norm=parts.norm, bias=not parts.has_norm) if shortcut else None
        after = after_add_layers(after_add, planes, parts)
        last_norm = "bn2" if parts.has_norm else None
        super().__init__(
            c_in,
            planes,
            stride,
            ([], branch, after),
            index=index,
            shortcut=sc,
            branch_norm=last_norm,
            survival_prob=survival_prob,
        )


class Bottleneck(Block):
    """1x1 conv ``c_in -> planes``, 3x3 ``planes -> planes`` (the stride), 1x1 ``planes -> 4 planes``,
    each followed by norm (and act but the last)."""

    kind = "bottleneck"
    expansion = 4

    def __init__(
        self,
        c_in: int,
        planes: int,
        stride: int = 1,
        *,
        index: int = 0,
        parts: BlockParts = BN_RELU,
        shortcut: ShortcutSpec | None = IDENTITY_SHORTCUT,
        after_add: str = "relu",
        survival_prob: float | None = None,
        first: bool = False,
    ) -> None:
        c_out = planes * self.expansion
        branch: NamedModules = [
            ("conv1", parts.conv(c_in, planes, 1)),
            *parts.norm_layer("bn1", planes),
            parts.act("act1"),
            ("conv2", parts.conv(planes, planes, 3, stride)),
            *parts.norm_layer("bn2", planes),
            parts.act("act2"),
            ("conv3", parts.conv(planes, c_out, 1)),
            *parts.norm_layer("bn3", c_out),
        ]
        sc = Shortcut(c_in, c_out, stride, shortcut, norm=parts.norm, bias=not parts.has_norm) if shortcut else None
        after = after_add_layers(after_add, c_out, parts)
        last_norm = "bn3" if parts.has_norm else None
        super().__init__(
            c_in,
            c_out,
            stride,
            ([], branch, after),
            index=index,
            shortcut=sc,
            branch_norm=last_norm,
            survival_prob=survival_prob,
        )


def huang_survival(num_blocks: int, last: float = 0.5) -> list[float]:
    """Stochastic-depth survival probabilities, Huang et al. 2016 Eq. (4): ``p_l = 1 - l/L (1 - p_L)``.

    ``l = 1..L`` over the residual blocks (``p_0 = 1`` is the input), so the first block keeps
    ``1 - (1 - p_L)/L`` and the last ``p_L``.
    """
    return [1.0 - (l / num_blocks) * (1.0 - last) for l in range(1, num_blocks + 1)]


__all__ = [
    "AFTER_ADD",
    "BN_RELU",
    "IDENTITY_SHORTCUT",
    "BasicBlock",
    "Block",
    "Bottleneck",
    "after_add_layers",
    "huang_survival",
]
