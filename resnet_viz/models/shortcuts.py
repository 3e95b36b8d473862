"""Shortcuts h(x) of residual blocks: the A/B/C projections and the variants of *Identity Mappings*.

Shortcut variants act on ``x' = P(x)``, the input after the A/B/C projection ``P`` (identity where
shapes agree): identity ``F + x'``; scale ``(1 - lam) F + lam x'`` (Fig. 2b, both scaled);
exclusive_gate ``g F + (1 - g) x'``, shortcut_gate ``F + (1 - g) x'`` with ``g = sigmoid(W_g x' + b_g)``,
``W_g`` a 1x1 conv with bias; dropout ``F + dropout_p(x')``; conv1x1 replaces the identity by a 1x1
conv (+BN) on every block, which the paper identifies with option C, so on a dimension change that
conv is itself the projection (the A/B/C choice then has no further effect). Gate bias at init
(Table 1): -6 for exclusive gating (8.70 %; b_g in 0..-5 failed) and 0 for shortcut-only gating
(12.86 %); see :data:`GATE_BIAS_INIT`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn

from resnet_viz.models.parts import NormFactory, conv
from resnet_viz.models.theory import (
    Moments,
    TheoryContext,
    add_scaled,
    combine,
    conv_moments,
    gate_moments,
    module_theory,
)

#: Initial bias of the gate conv, per variant (Identity Mappings, Table 1).
GATE_BIAS_INIT: dict[str, float] = {"exclusive_gate": -6.0, "shortcut_gate": 0.0}


@dataclass(frozen=True)
class ShortcutSpec:
    """The shortcut settings of a residual net (``ModelConfig.shortcut*``)."""

    option: str = "A"  # on a dimension change: A zero-pad, B projection, C projection everywhere
    variant: str = "identity"  # h(x): identity | scale | exclusive_gate | shortcut_gate | dropout | conv1x1
    scale: float = 0.5  # lambda of variant scale
    dropout: float = 0.5  # p of variant dropout


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

    ``projection``: ``identity`` | ``zeropad`` (A) | ``conv`` (1x1, stride ``s``, with a bias when
    ``bias``, followed by ``norm(c_out)`` unless ``norm`` is None: preact blocks and nets without BN).
    Modules (all optional): ``pad``, ``conv``, ``bn``, ``gate_conv``, ``gate_act``, ``dropout``.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, spec: ShortcutSpec, *, norm: NormFactory | None, bias: bool):
        super().__init__()
        changes = stride != 1 or c_in != c_out
        variant = spec.variant
        self.variant = variant
        self.scale = float(spec.scale)
        self.gate_bias = GATE_BIAS_INIT.get(variant, 0.0)
        self.pad: ZeroPadShortcut | None = None
        self.conv: nn.Conv2d | None = None
        self.bn: nn.Module | None = None
        self.gate_conv: nn.Conv2d | None = None
        self.gate_act: nn.Sigmoid | None = None
        self.dropout: nn.Dropout | None = None
        if variant == "conv1x1" or spec.option == "C" or (spec.option == "B" and changes):
            self.projection = "conv"
            self.conv = conv(c_in, c_out, 1, stride, bias=bias)
            self.bn = norm(c_out) if norm is not None else None
        elif changes:
            self.projection = "zeropad"
            self.pad = ZeroPadShortcut(c_in, c_out, stride)
        else:
            self.projection = "identity"
        if variant in GATE_BIAS_INIT:
            self.gate_conv = conv(c_out, c_out, 1, bias=True)
            self.gate_act = nn.Sigmoid()
        elif variant == "dropout":
            self.dropout = nn.Dropout(spec.dropout)

    def _project(self, x: Tensor) -> Tensor:
        if self.pad is not None:
            padded: Tensor = self.pad(x)
            return padded
        if self.conv is not None:
            x = self.conv(x)
            if self.bn is not None:
                x = self.bn(x)
        return x

    def forward(self, x: Tensor, branch: Tensor) -> Tensor:
        """``x``: block input [N, C_in, H, W]; ``branch``: F(x) [N, C_out, H', W'] -> merged sum."""
        h = self._project(x)
        v = self.variant
        if v == "scale":
            return (1.0 - self.scale) * branch + self.scale * h
        if self.gate_conv is not None and self.gate_act is not None:
            g: Tensor = self.gate_act(self.gate_conv(h))
            if v == "exclusive_gate":
                return g * branch + (1.0 - g) * h
            return branch + (1.0 - g) * h
        if self.dropout is not None:
            dropped: Tensor = self.dropout(h)
            return branch + dropped
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


__all__ = ["GATE_BIAS_INIT", "Shortcut", "ShortcutSpec", "ZeroPadShortcut"]
