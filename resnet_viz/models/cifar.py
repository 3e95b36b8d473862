"""The CIFAR family of He et al. (2016a, Sec. 4.2) and Identity Mappings (2016b): plain and residual.

Layout for base width ``w`` (default 16) and ``n`` blocks per stage, input ``[N, C, S, S]``:

* stem: 3x3 conv ``C -> w`` + BN + act (pre-activation blocks: the bare conv, its BN + act being the
  first unit's leading pair);
* stages 1..3 on ``S``, ``S/2``, ``S/4`` (the first block of stages 2 and 3 has stride 2), stage
  widths ``w, 2w, 4w``; basic and preact blocks have 2 convs (depth ``6n + 2``), bottleneck and
  preact_bottleneck blocks ``1x1 w_s -> 3x3 w_s -> 1x1 4 w_s`` have 3 (depth ``9n + 2``, stage outputs
  ``4w, 8w, 16w``: ResNet-164 and ResNet-1001 of Identity Mappings);
* pre-activation blocks only: a final BN + act;
* global average pooling, linear ``-> num_classes``.

Module names: ``stem.conv``, ``stage2.block0.conv1``, ``stage2.block0.shortcut.conv``,
``final.bn``, ``fc``. ``plain`` is exactly ``resnet`` without shortcuts and additions (its shortcut
settings are ignored). Stochastic depth (resnet only) gives block ``l = 1..L`` the survival
probability ``1 - l / L * 0.5`` (Huang et al. 2016, Eq. 4; :func:`huang_survival`).
Each block learns whether it is the first of its stage (pre-activation units share their leading BN-act
with the shortcut there). See :mod:`resnet_viz.models.blocks` and :mod:`~resnet_viz.models.preact` for the
block-level choices; :data:`BLOCK_TYPES` maps ``ModelConfig.block`` to the block class.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from torch import Tensor, nn

from resnet_viz.config import ModelConfig
from resnet_viz.config.depth import PREACT_BLOCKS, block_layers
from resnet_viz.models.blocks import (
    BN_RELU,
    IDENTITY_SHORTCUT,
    BasicBlock,
    Block,
    Bottleneck,
    NamedModules,
    huang_survival,
)
from resnet_viz.models.parts import BlockParts, activation_factory
from resnet_viz.models.preact import PreActBlock, PreActBottleneck
from resnet_viz.models.shortcuts import ShortcutSpec
from resnet_viz.models.theory import Moments, TheoryContext, module_theory, sequence_theory

#: (role, stage, block) of a weight layer, as :func:`layer_table` reports it.
LayerMeta = tuple[str, int, int]


class BlockBuilder(Protocol):
    """What the block classes have in common as constructors (``c_out = planes * expansion``; ``first``:
    the first block of its stage)."""

    def __call__(
        self,
        c_in: int,
        planes: int,
        stride: int = 1,
        *,
        index: int = 0,
        parts: BlockParts = BN_RELU,
        shortcut: ShortcutSpec | None = IDENTITY_SHORTCUT,
        after_add: str = ...,
        survival_prob: float | None = None,
        first: bool = False,
    ) -> Block: ...


#: The block class of each ``ModelConfig.block``.
BLOCK_TYPES: dict[str, BlockBuilder] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
    "preact": PreActBlock,
    "preact_bottleneck": PreActBottleneck,
}


class CifarNet(nn.Module):
    """Plain or residual CIFAR network; ``forward``: ``[N, C, S, S]`` -> logits ``[N, num_classes]``."""

    def __init__(self, cfg: ModelConfig, in_channels: int, image_size: int, num_classes: int) -> None:
        super().__init__()
        cfg = cfg.resolved()
        if image_size < 8:
            raise ValueError(f"image_size must be >= 8 for the CIFAR family, got {image_size}")
        per_block = block_layers(cfg.block)
        if (cfg.depth - 2) % (3 * per_block) or cfg.depth < 3 * per_block + 2:
            raise ValueError(f"depth {cfg.depth} is not {3 * per_block}n+2 for {cfg.block} blocks")
        self.cfg = cfg
        self.blocks_per_stage = n = (cfg.depth - 2) // (3 * per_block)
        residual = cfg.arch == "resnet"
        parts = BlockParts(
            nn.BatchNorm2d if cfg.batch_norm else None, activation_factory(cfg.activation, cfg.leaky_slope)
        )
        spec = ShortcutSpec(str(cfg.shortcut), cfg.shortcut_variant, cfg.shortcut_scale, cfg.shortcut_dropout)
        block_type = BLOCK_TYPES[cfg.block]
        if cfg.width is None:  # ModelConfig.resolved() sets it
            raise ValueError("model.width is unset: build from a resolved ModelConfig")
        w = cfg.width

        stem: NamedModules = [("conv", parts.conv(in_channels, w, 3))]
        preact = cfg.block in PREACT_BLOCKS
        if not preact:
            stem += [*parts.norm_layer("bn", w), parts.act("act")]
        self.stem = nn.Sequential(OrderedDict(stem))

        survival = huang_survival(3 * n) if (cfg.stochastic_depth and residual) else [None] * (3 * n)
        self._stages: list[nn.Sequential] = []
        self._blocks: list[Block] = []  # forward order
        c = w
        for s in range(1, 4):
            planes = w * 2 ** (s - 1)
            blocks: OrderedDict[str, nn.Module] = OrderedDict()
            for i in range(n):
                index = (s - 1) * n + i
                block = block_type(
                    c,
                    planes,
                    2 if (s > 1 and i == 0) else 1,
                    index=index,
                    parts=parts,
                    shortcut=spec if residual else None,
                    after_add=str(cfg.after_add),
                    survival_prob=survival[index],
                    first=i == 0,
                )
                blocks[f"block{i}"] = block
                self._blocks.append(block)
                c = block.c_out
            stage = nn.Sequential(blocks)
            self.add_module(f"stage{s}", stage)
            self._stages.append(stage)
        self.final: nn.Sequential | None = None
        if preact:
            self.final = nn.Sequential(OrderedDict([*parts.norm_layer("bn", c), parts.act("act")]))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c, num_classes)

    def stages(self) -> list[nn.Sequential]:
        """``stage1``, ``stage2``, ``stage3``."""
        return list(self._stages)

    def blocks(self) -> list[Block]:
        """All blocks in forward order (global index = list position)."""
        return list(self._blocks)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for stage in self._stages:
            x = stage(x)
        if self.final is not None:
            x = self.final(x)
        logits: Tensor = self.fc(self.flatten(self.pool(x)))
        return logits

    def theory(self, s: Moments, ctx: TheoryContext) -> Moments:
        """Training-mode second-moment walk in forward order (see :mod:`resnet_viz.models.theory`)."""
        s = module_theory(self.stem, s, ctx)
        for block in self.blocks():
            s = block.theory(s, ctx)
        if self.final is not None:
            s = module_theory(self.final, s, ctx)
        return sequence_theory((self.pool, self.flatten, self.fc), s, ctx)

    def named_blocks(self) -> list[tuple[int, str, Block]]:
        """``(stage 1..3, qualified name such as "stage2.block0", block)`` in forward order."""
        n = self.blocks_per_stage
        return [(b.index // n + 1, f"stage{b.index // n + 1}.block{b.index % n}", b) for b in self._blocks]

    def weight_layer_meta(self) -> dict[str, LayerMeta]:
        """``name -> (role, stage, block)`` for every Conv2d / Linear."""
        meta: dict[str, LayerMeta] = {"stem.conv": ("stem", 0, -1), "fc": ("head", 4, -1)}
        for s, qualified, block in self.named_blocks():
            for name, mod in block.named_modules():
                if not isinstance(mod, (nn.Conv2d, nn.Linear)):
                    continue
                role = "gate" if name.endswith("gate_conv") else "shortcut" if name.startswith("shortcut") else "branch"
                meta[f"{qualified}.{name}"] = (role, s, block.index)
        return meta

    def block_summaries(self) -> dict[int, tuple[str, str]]:
        """Global block index -> (qualified name, one-line summary)."""
        return {b.index: (qualified, b.summary()) for _, qualified, b in self.named_blocks()}

    def zero_init_norms(self) -> list[nn.Module]:
        """The last BN of every residual branch (targets of ``zero_init_residual``)."""
        return [bn for b in self.blocks() if (bn := b.branch_norm()) is not None]

    def survival_probs(self) -> list[float | None]:
        """Stochastic-depth survival probability per block (None without stochastic depth)."""
        return [b.survival_prob for b in self.blocks()]


__all__ = ["CifarNet", "LayerMeta"]
