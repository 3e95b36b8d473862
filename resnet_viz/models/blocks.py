"""Residual and plain blocks of the CIFAR family, their shortcuts and the shortcut variants.

A block computes ``y = f(h(x) + F(x))`` (He et al. 2016a) with the variants of *Identity Mappings*
(He et al. 2016b). Every module is a separate, non-inplace instance and is called exactly once per
forward, so forward hooks observe every layer; within a block the branch runs before the shortcut,
so forward order is branch convs, shortcut conv, gate conv.

Choices where the papers leave room (documented here, used everywhere):

* bottleneck: the stride sits on the 3x3 conv (fb.resnet.torch / torchvision), widths
  ``in -> w -> w -> 4w``.
* preact: BN-act-conv, BN-act-conv, nothing after the add. When the shortcut is not the identity
  (zero-pad or a projection) it takes the pre-activated input, like the branch (the ``both_preact``
  units of the authors' code); an identity shortcut takes the raw input, keeping the path clean.
  Projections in preact blocks are bare 1x1 convs (no BN), as in that code.
* shortcut variants act on ``x' = P(x)``, the input after the A/B/C projection ``P`` (identity where
  shapes agree): identity ``F + x'``; scale ``(1 - lam) F + lam x'`` (Fig. 2b, both scaled);
  exclusive_gate ``g F + (1 - g) x'``, shortcut_gate ``F + (1 - g) x'`` with ``g = sigmoid(W_g x' +
  b_g)``, ``W_g`` a 1x1 conv with bias; dropout ``F + dropout_p(x')``; conv1x1 replaces the identity by
  a 1x1 conv (+BN) on every block, which the paper identifies with option C, so on a dimension change
  that conv is itself the projection (the A/B/C choice then has no further effect).
* gate bias at init (Table 1): -6 for exclusive gating (8.70 %; b_g in 0..-5 failed) and 0 for
  shortcut-only gating (12.86 %); see :data:`GATE_BIAS_INIT`.
* stochastic depth (Huang et al. 2016): survival probability ``p_l`` (set by the network); in
  training the branch is multiplied by a Bernoulli(p_l) draw per batch (one ``torch.rand`` call;
  the branch is still computed so that every layer is called once), in eval by ``p_l``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnet_viz.models.theory import (
    Component,
    Moments,
    TheoryContext,
    add_scaled,
    combine,
    conv_moments,
    gate_moments,
    mixture_theory,
    module_theory,
    sequence_theory,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Initial bias of the gate conv, per variant (Identity Mappings, Table 1).
GATE_BIAS_INIT: dict[str, float] = {"exclusive_gate": -6.0, "shortcut_gate": 0.0}


def make_activation(name: str, slope: float = 0.01) -> nn.Module:
    """A fresh, non-inplace activation module: ``relu | leaky_relu | tanh | sigmoid``."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    if name == "tanh":
        return nn.Tanh()
    if name == "sigmoid":
        return nn.Sigmoid()
    raise ValueError(f"unknown activation {name!r}")


def conv(c_in: int, c_out: int, k: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """k x k conv with 'same' padding (k // 2)."""
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=bias)


class ZeroPadShortcut(nn.Module):
    """Option A: subsample by ``stride`` and append zero channels up to ``c_out``. No parameters."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        if c_out < c_in:
            raise ValueError(f"zero-padding shortcut cannot shrink {c_in} -> {c_out} channels")
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: Tensor) -> Tensor:  # [N, C_in, H, W] -> [N, C_out, H/s, W/s]
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.c_out - self.c_in))

    def theory(self, s: Moments, ctx: TheoryContext) -> Moments:
        k = self.stride
        ratio = self.c_in / self.c_out
        return Moments(s.m[::k, ::k] * ratio, s.mu[::k, ::k] * ratio, s.pooled, s.nonneg)

    def extra_repr(self) -> str:
        return f"{self.c_in} -> {self.c_out}, stride={self.stride}"


class Shortcut(nn.Module):
    """h(x) and its merge with the branch: ``forward(x, branch) -> y`` (before the after-add mapping).

    ``projection``: ``identity`` | ``zeropad`` (A) | ``conv`` (1x1, stride ``s``, + BN unless ``preact``
    or no BN). Modules (all optional): ``pad``, ``conv``, ``bn``, ``gate_conv``, ``gate_act``, ``dropout``.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        stride: int,
        *,
        option: str,
        variant: str,
        scale: float,
        dropout: float,
        batch_norm: bool,
        preact: bool,
    ) -> None:
        super().__init__()
        changes = stride != 1 or c_in != c_out
        self.variant = variant
        self.scale = float(scale)
        self.gate_bias = GATE_BIAS_INIT.get(variant, 0.0)
        self.pad: ZeroPadShortcut | None = None
        self.conv: nn.Conv2d | None = None
        self.bn: nn.BatchNorm2d | None = None
        self.gate_conv: nn.Conv2d | None = None
        self.gate_act: nn.Sigmoid | None = None
        self.dropout: nn.Dropout | None = None
        if variant == "conv1x1" or option == "C" or (option == "B" and changes):
            self.projection = "conv"
            with_bn = batch_norm and not preact
            self.conv = conv(c_in, c_out, 1, stride, bias=not batch_norm)
            self.bn = nn.BatchNorm2d(c_out) if with_bn else None
        elif changes:
            self.projection = "zeropad"
            self.pad = ZeroPadShortcut(c_in, c_out, stride)
        else:
            self.projection = "identity"
        if variant in GATE_BIAS_INIT:
            self.gate_conv = conv(c_out, c_out, 1, bias=True)
            self.gate_act = nn.Sigmoid()
        elif variant == "dropout":
            self.dropout = nn.Dropout(dropout)

    def _project(self, x: Tensor) -> Tensor:
        if self.pad is not None:
            return self.pad(x)
        if self.conv is not None:
            x = self.conv(x)
            return self.bn(x) if self.bn is not None else x
        return x

    def forward(self, x: Tensor, branch: Tensor) -> Tensor:
        """``x``: block input [N, C_in, H, W]; ``branch``: F(x) [N, C_out, H', W'] -> merged sum."""
        h = self._project(x)
        v = self.variant
        if v == "scale":
            return (1.0 - self.scale) * branch + self.scale * h
        if self.gate_conv is not None:
            g = self.gate_act(self.gate_conv(h))
            if v == "exclusive_gate":
                return g * branch + (1.0 - g) * h
            return branch + (1.0 - g) * h
        if self.dropout is not None:
            return branch + self.dropout(h)
        return branch + h

    def shortcut_theory(self, x: Moments, ctx: TheoryContext) -> tuple[Moments, dict[str, np.ndarray] | None]:
        """State of ``x' = P(x)`` and the gate moments (recording the projection and gate convs)."""
        if self.pad is not None:
            h = self.pad.theory(x, ctx)
        elif self.conv is not None:
            h = conv_moments(self.conv, x, ctx)
            if self.bn is not None:
                h = module_theory(self.bn, h, ctx)
        else:
            h = x
        gate = None
        if self.gate_conv is not None:
            gate = gate_moments(conv_moments(self.gate_conv, h, ctx, bias=self.gate_bias))
        return h, gate

    def merge_theory(
        self, branch: Moments, h: Moments, gate: dict[str, np.ndarray] | None
    ) -> list[tuple[float, Moments]]:
        """Outcomes ``(probability, state)`` of the merged sum in training mode (dropout: mask on/off)."""
        v = self.variant
        if v == "scale":
            return [(1.0, add_scaled(branch, 1.0 - self.scale, h, self.scale))]
        if gate is not None:
            if v == "exclusive_gate":
                return [
                    (
                        1.0,
                        combine(
                            branch, gate["g2"], h, gate["h2"], cab=gate["gh"], ca_mean=gate["g"], cb_mean=gate["h"]
                        ),
                    )
                ]
            return [(1.0, combine(branch, 1.0, h, gate["h2"], cab=gate["h"], ca_mean=1.0, cb_mean=gate["h"]))]
        if self.dropout is not None:
            keep = 1.0 - self.dropout.p
            return [(keep, add_scaled(branch, 1.0, h, 1.0 / keep)), (1.0 - keep, branch)]
        return [(1.0, add_scaled(branch, 1.0, h, 1.0))]

    def extra_repr(self) -> str:
        return f"projection={self.projection}, variant={self.variant}"


class Block(nn.Module):
    """One plain or residual block of the CIFAR family.

    ``kind``: ``basic`` (3x3, 3x3), ``bottleneck`` (1x1, 3x3, 1x1 with ``c_out = 4 * mid``) or
    ``preact`` (BN-act-conv x 2). ``residual=False`` gives the plain block: the same modules without
    shortcut and addition (the after-add mapping becomes the block's last step).
    Input ``[N, c_in, H, W]`` -> output ``[N, c_out, H/stride, W/stride]``.
    """

    def __init__(
        self,
        kind: str,
        c_in: int,
        mid: int,
        c_out: int,
        stride: int,
        *,
        index: int,
        residual: bool,
        shortcut: str = "A",
        variant: str = "identity",
        scale: float = 0.5,
        dropout: float = 0.5,
        after_add: str = "relu",
        batch_norm: bool = True,
        activation: str = "relu",
        slope: float = 0.01,
        survival_prob: float | None = None,
    ) -> None:
        super().__init__()
        self.kind, self.index, self.residual = kind, index, residual
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        self.survival_prob = survival_prob  # None: no stochastic depth
        bias = not batch_norm
        layers: list[tuple[str, nn.Module]] = []

        def norm(name: str, ch: int) -> None:
            if batch_norm:
                layers.append((name, nn.BatchNorm2d(ch)))

        def act(name: str) -> None:
            layers.append((name, make_activation(activation, slope)))

        if kind == "basic":
            layers.append(("conv1", conv(c_in, c_out, 3, stride, bias)))
            norm("bn1", c_out)
            act("act1")
            layers.append(("conv2", conv(c_out, c_out, 3, 1, bias)))
            norm("bn2", c_out)
        elif kind == "bottleneck":
            layers.append(("conv1", conv(c_in, mid, 1, 1, bias)))
            norm("bn1", mid)
            act("act1")
            layers.append(("conv2", conv(mid, mid, 3, stride, bias)))
            norm("bn2", mid)
            act("act2")
            layers.append(("conv3", conv(mid, c_out, 1, 1, bias)))
            norm("bn3", c_out)
        elif kind == "preact":
            norm("bn1", c_in)
            act("act1")
            layers.append(("conv1", conv(c_in, c_out, 3, stride, bias)))
            norm("bn2", c_out)
            act("act2")
            layers.append(("conv2", conv(c_out, c_out, 3, 1, bias)))
        else:
            raise ValueError(f"unknown block kind {kind!r}")
        for name, mod in layers:
            self.add_module(name, mod)
        norms = [name for name, mod in layers if isinstance(mod, nn.BatchNorm2d)]
        self.last_branch_norm: str | None = norms[-1] if (norms and residual) else None

        self.shortcut: Shortcut | None = None
        if residual:
            self.shortcut = Shortcut(
                c_in,
                c_out,
                stride,
                option=shortcut,
                variant=variant,
                scale=scale,
                dropout=dropout,
                batch_norm=batch_norm,
                preact=kind == "preact",
            )
        names = [name for name, _ in layers]
        first_conv = names.index("conv1")
        shared = kind == "preact" and self.shortcut is not None and self.shortcut.projection != "identity"
        self.pre_names: tuple[str, ...] = tuple(names[:first_conv]) if shared else ()
        self.branch_names: tuple[str, ...] = tuple(names[first_conv:]) if shared else tuple(names)

        after: list[tuple[str, nn.Module]] = []
        if after_add == "bn_relu":
            if not batch_norm:
                raise ValueError("after_add 'bn_relu' needs batch norm")
            after.append(("bn_out", nn.BatchNorm2d(c_out)))
        if after_add in ("relu", "bn_relu"):
            after.append(("act_out", make_activation(activation, slope)))
        elif after_add != "none":
            raise ValueError(f"unknown after_add {after_add!r}")
        for name, mod in after:
            self.add_module(name, mod)
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


def huang_survival(num_blocks: int, last: float = 0.5) -> list[float]:
    """Stochastic-depth survival probabilities, Huang et al. 2016 Eq. (4): ``p_l = 1 - l/L (1 - p_L)``.

    ``l = 1..L`` over the residual blocks (``p_0 = 1`` is the input), so the first block keeps
    ``1 - (1 - p_L)/L`` and the last ``p_L``.
    """
    return [1.0 - (l / num_blocks) * (1.0 - last) for l in range(1, num_blocks + 1)]


__all__ = ["GATE_BIAS_INIT", "Block", "Shortcut", "ZeroPadShortcut", "conv", "huang_survival", "make_activation"]
