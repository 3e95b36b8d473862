"""Pre-activation blocks of *Identity Mappings* (He et al. 2016b, Fig. 4e, its appendix and the authors'
code, KaimingHe/resnet-1k-layers): BN-act before every conv, nothing after the addition.

* The first unit of every stage runs its leading BN-act before the split, so its shortcut (identity,
  zero-pad or projection) takes the pre-activated input like the branch: the appendix's "first
  activation right after conv1, before splitting into two paths" (the net's stem is then a bare conv),
  and the authors' code does it for the first unit of every stage. So does any other unit whose shortcut
  is not the identity (option C, the conv1x1 variant). Every other unit's identity shortcut takes the raw
  input, keeping the path between units a pure sum.
* Projections are bare 1x1 convs (no BN; a bias only without normalisation), as in that code.
* preact_bottleneck (ResNet-164, ResNet-1001): widths ``in -> w -> w -> 4w``; the stride sits on its
  first 1x1 conv, as in the authors' code (unlike :class:`~resnet_viz.models.blocks.Bottleneck`, which puts
  it on the 3x3 conv as fb.resnet.torch and torchvision do).

Module names: ``bn1``, ``act1`` (the leading pair), then ``conv1``, ``bn2``, ``act2``, ``conv2`` (and
``bn3``, ``act3``, ``conv3``), ``shortcut``, the after-add layers.
"""

from __future__ import annotations

from resnet_viz.models.blocks import BN_RELU, IDENTITY_SHORTCUT, Block, NamedModules, after_add_layers
from resnet_viz.models.parts import BlockParts
from resnet_viz.models.shortcuts import Shortcut, ShortcutSpec


class PreActUnit(Block):
    """What the pre-activation blocks share (Identity Mappings): a leading norm and act, a bare 1x1 conv
    (no norm) as projection, and nothing after the add by default.

    The leading norm-act runs before the split, shared with the shortcut, in the ``first`` unit of a
    stage and wherever the shortcut is not the identity; otherwise it opens the branch and the identity
    shortcut takes the raw input. ``branch`` are the layers after the leading norm-act, ``last_norm``
    the name of the branch's last norm.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        stride: int,
        branch: NamedModules,
        last_norm: str,
        *,
        index: int,
        parts: BlockParts,
        shortcut: ShortcutSpec | None,
        after_add: str,
        survival_prob: float | None,
        first: bool,
    ) -> None:
        pre: NamedModules = [*parts.norm_layer("bn1", c_in), parts.act("act1")]
        sc = Shortcut(c_in, c_out, stride, shortcut, norm=None, bias=not parts.has_norm) if shortcut else None
        if sc is None or (sc.projection == "identity" and not first):
            pre, branch = [], [*pre, *branch]
        super().__init__(
            c_in,
            c_out,
            stride,
            (pre, branch, after_add_layers(after_add, c_out, parts)),
            index=index,
            shortcut=sc,
            branch_norm=last_norm if parts.has_norm else None,
            survival_prob=survival_prob,
        )


class PreActBlock(PreActUnit):
    """Norm, act, 3x3 conv, norm, act, 3x3 conv (Identity Mappings, Fig. 4e); ``c_out = planes``."""

    kind = "preact"

    def __init__(
        self,
        c_in: int,
        planes: int,
        stride: int = 1,
        *,
        index: int = 0,
        parts: BlockParts = BN_RELU,
        shortcut: ShortcutSpec | None = IDENTITY_SHORTCUT,
        after_add: str = "none",
        survival_prob: float | None = None,
        first: bool = False,
    ) -> None:
        branch: NamedModules = [
            ("conv1", parts.conv(c_in, planes, 3, stride)),
            *parts.norm_layer("bn2", planes),
            parts.act("act2"),
            ("conv2", parts.conv(planes, planes, 3)),
        ]
        super().__init__(
            c_in,
            planes,
            stride,
            branch,
            "bn2",
            index=index,
            parts=parts,
            shortcut=shortcut,
            after_add=after_add,
            survival_prob=survival_prob,
            first=first,
        )


class PreActBottleneck(PreActUnit):
    """Norm, act, 1x1 conv ``c_in -> planes`` (the stride), norm, act, 3x3 ``planes -> planes``, norm, act,
    1x1 ``planes -> 4 planes`` (Identity Mappings: ResNet-164 and ResNet-1001); ``c_out = 4 planes``."""

    kind = "preact_bottleneck"
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
        after_add: str = "none",
        survival_prob: float | None = None,
        first: bool = False,
    ) -> None:
        c_out = planes * self.expansion
        branch: NamedModules = [
            ("conv1", parts.conv(c_in, planes, 1, stride)),
            *parts.norm_layer("bn2", planes),
            parts.act("act2"),
            ("conv2", parts.conv(planes, planes, 3)),
            *parts.norm_layer("bn3", planes),
            parts.act("act3"),
            ("conv3", parts.conv(planes, c_out, 1)),
        ]
        super().__init__(
            c_in,
            c_out,
            stride,
            branch,
            "bn3",
            index=index,
            parts=parts,
            shortcut=shortcut,
            after_add=after_add,
            survival_prob=survival_prob,
            first=first,
        )


__all__ = ["PreActBlock", "PreActBottleneck", "PreActUnit"]
