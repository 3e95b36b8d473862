"""Multilayer perceptron on the flattened input, plain or with identity skips (residual).

``depth`` linear layers: ``input.fc`` (in -> width), ``hidden1.fc`` .. ``hidden{depth-2}.fc``
(width -> width) and the head ``fc`` (width -> num_classes); each non-head layer is followed by
[BN] and the activation. ``residual=True`` adds an identity skip around every hidden layer:
``h <- h + act(BN(W h))``. ``depth == 1`` is a single linear classifier ``fc``.
"""

from __future__ import annotations

from torch import Tensor, nn

from resnet_viz.config import ModelConfig
from resnet_viz.models.cifar import LayerMeta
from resnet_viz.models.parts import make_activation
from resnet_viz.models.theory import Moments, TheoryContext, combine, module_theory, sequence_theory


class MLPLayer(nn.Module):
    """``y = act(BN(W h))`` (linear with bias only without BN); ``h + y`` if ``residual``. [N, in] -> [N, out]."""

    def __init__(
        self, n_in: int, n_out: int, *, index: int, residual: bool, batch_norm: bool, activation: str, slope: float
    ) -> None:
        super().__init__()
        if residual and n_in != n_out:
            raise ValueError("an identity skip needs n_in == n_out")
        self.index, self.residual = index, residual
        self.fc = nn.Linear(n_in, n_out, bias=not batch_norm)
        self.bn: nn.BatchNorm1d | None = nn.BatchNorm1d(n_out) if batch_norm else None
        self.act = make_activation(activation, slope)

    def forward(self, h: Tensor) -> Tensor:
        y: Tensor = self.fc(h)
        if self.bn is not None:
            y = self.bn(y)
        y = self.act(y)
        return h + y if self.residual else y

    def theory(self, s: Moments, ctx: TheoryContext) -> Moments:
        mods = [self.fc] + ([self.bn] if self.bn is not None else []) + [self.act]
        y = sequence_theory(mods, s, ctx)
        return combine(s, 1.0, y, 1.0) if self.residual else y


class MLP(nn.Module):
    """Fully connected network; ``forward``: ``[N, C, H, W]`` (or ``[N, D]``) -> logits ``[N, num_classes]``."""

    def __init__(self, cfg: ModelConfig, in_features: int, num_classes: int) -> None:
        super().__init__()
        cfg = cfg.resolved()
        if cfg.depth < 1:
            raise ValueError(f"mlp depth must be >= 1, got {cfg.depth}")
        self.cfg = cfg
        if cfg.width is None:  # ModelConfig.resolved() sets it
            raise ValueError("model.width is unset: build from a resolved ModelConfig")
        width = cfg.width
        bn, act, slope = bool(cfg.batch_norm), cfg.activation, cfg.leaky_slope
        self.flatten = nn.Flatten()
        self.hidden_layers: list[str] = []
        self.input: MLPLayer | None = None
        if cfg.depth >= 2:
            self.input = MLPLayer(
                in_features, width, index=-1, residual=False, batch_norm=bn, activation=act, slope=slope
            )
        for i in range(1, cfg.depth - 1):
            self.add_module(
                f"hidden{i}",
                MLPLayer(width, width, index=i - 1, residual=cfg.residual, batch_norm=bn, activation=act, slope=slope),
            )
            self.hidden_layers.append(f"hidden{i}")
        self.fc = nn.Linear(width if cfg.depth >= 2 else in_features, num_classes)

    def layers(self) -> list[MLPLayer]:
        """Input and hidden layers in forward order (not the head)."""
        first = [self.input] if self.input is not None else []
        return first + [getattr(self, n) for n in self.hidden_layers]

    def forward(self, x: Tensor) -> Tensor:
        h = self.flatten(x)
        for layer in self.layers():
            h = layer(h)
        logits: Tensor = self.fc(h)
        return logits

    def theory(self, s: Moments, ctx: TheoryContext) -> Moments:
        """Training-mode second-moment walk (scalar state after the flatten)."""
        s = module_theory(self.flatten, s, ctx)
        return sequence_theory([*self.layers(), self.fc], s, ctx)

    def weight_layer_meta(self) -> dict[str, LayerMeta]:
        """``name -> (role, stage, block)``: input (0), hidden (1, block = hidden index), head (2)."""
        meta: dict[str, LayerMeta] = {"fc": ("head", 2, -1)}
        if self.input is not None:
            meta["input.fc"] = ("input", 0, -1)
        for i, name in enumerate(self.hidden_layers):
            meta[f"{name}.fc"] = ("hidden", 1, i)
        return meta

    def block_summaries(self) -> dict[int, tuple[str, str]]:
        kind = "residual" if self.cfg.residual else "plain"
        return {i: (name, f"{kind} hidden layer") for i, name in enumerate(self.hidden_layers)}

    def zero_init_norms(self) -> list[nn.Module]:
        """BN of every residual hidden layer (targets of ``zero_init_residual``)."""
        return [layer.bn for layer in self.layers() if layer.residual and layer.bn is not None]
