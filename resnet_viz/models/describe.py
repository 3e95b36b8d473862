"""Per-layer description of a network: :class:`LayerInfo`, :func:`layer_table`, :func:`describe_model`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from resnet_viz.config import ModelConfig, field_info

_ROLE_FALLBACK = "hidden"
#: Activations whose units can die (never fire): their input is <= 0 for every sample.
RECTIFIERS = (nn.ReLU, nn.LeakyReLU)
#: Roles of weight layers that run beside the main path: an activation after them belongs to the branch.
_SIDE_ROLES = ("shortcut", "gate")


@dataclass(frozen=True)
class LayerInfo:
    """One weight layer (Conv2d or Linear), in forward execution order."""

    index: int  # position in forward order
    name: str  # qualified module name, e.g. "stage2.block0.conv1"
    kind: str  # "conv" | "linear"
    role: str  # "stem" | "branch" | "shortcut" | "gate" | "head" | "hidden" | "input"
    stage: int  # CIFAR: 0 stem, 1..3 stages, 4 head; MLP: 0 input, 1 hidden, 2 head
    block: int  # global block index (0-based), -1 outside blocks
    fan_in: int  # k*k*C_in (conv) or in_features
    fan_out: int  # k*k*C_out (conv) or out_features
    params: int  # weight + bias elements of this layer
    out_shape: tuple[int, ...]  # per-sample output shape, e.g. (16, 32, 32)
    norm_name: str | None  # BatchNorm module fed directly by this layer's output, if any
    relu_name: str | None = None  # the ReLU / LeakyReLU module that follows this layer (see layer_table)


def _fans(mod: nn.Module) -> tuple[int, int]:
    if isinstance(mod, nn.Conv2d):
        area = mod.kernel_size[0] * mod.kernel_size[1]
        return area * mod.in_channels // mod.groups, area * mod.out_channels // mod.groups
    assert isinstance(mod, nn.Linear)
    return mod.in_features, mod.out_features


def layer_table(model: nn.Module, input_shape: tuple[int, int, int]) -> list[LayerInfo]:
    """Every Conv2d / Linear of ``model`` in forward execution order.

    Runs one forward of a zero batch ``[2, *input_shape]`` in eval mode under ``no_grad`` with hooks
    (train/eval flags are restored; BN running statistics are not touched; no RNG is consumed).
    Raises ``RuntimeError`` if a weight layer is not called exactly once.

    A layer's ``relu_name`` is the last ReLU / LeakyReLU module called after it and before the next
    weight layer that is neither a shortcut nor a gate (forward call order; an activation after a
    shortcut projection belongs to the branch layer before it). None when there is no such module.
    """
    weights = {name: mod for name, mod in model.named_modules() if isinstance(mod, (nn.Conv2d, nn.Linear))}
    calls, norm_inputs, order = _traced_forward(model, input_shape, weights)
    counts: dict[str, int] = {}
    for name, _ in calls:
        counts[name] = counts.get(name, 0) + 1
    bad = [n for n in weights if counts.get(n, 0) != 1]
    if bad:
        raise RuntimeError(f"weight layers must be called exactly once per forward: {bad[:5]}")
    meta_fn = getattr(model, "weight_layer_meta", None)
    meta = meta_fn() if callable(meta_fn) else {}
    placed = [
        meta.get(name, ("head" if i == len(calls) - 1 else _ROLE_FALLBACK, 0, -1)) for i, (name, _) in enumerate(calls)
    ]
    relus = rectifier_after(order, {name: where[0] for (name, _), where in zip(calls, placed)})
    table = []
    for i, ((name, out), (role, stage, block)) in enumerate(zip(calls, placed)):
        mod = weights[name]
        fan_in, fan_out = _fans(mod)
        norm = next((n for n, x in norm_inputs if x is out), None)
        table.append(
            LayerInfo(
                index=i,
                name=name,
                kind="conv" if isinstance(mod, nn.Conv2d) else "linear",
                role=role,
                stage=stage,
                block=block,
                fan_in=fan_in,
                fan_out=fan_out,
                params=sum(p.numel() for p in mod.parameters(recurse=False)),
                out_shape=tuple(out.shape[1:]),
                norm_name=norm,
                relu_name=relus.get(name),
            )
        )
    return table


#: What :func:`_traced_forward` sees: weight layers' (name, output), norms' (name, input), and the call
#: order of weight layers and rectifiers as (is a weight layer, name).
_Trace = tuple[list[tuple[str, Tensor]], list[tuple[str, Tensor]], list[tuple[bool, str]]]


def _traced_forward(model: nn.Module, input_shape: tuple[int, int, int], weights: Mapping[str, nn.Module]) -> _Trace:
    """One eval-mode, no-grad forward of a zero batch [2, *input_shape] with hooks on the weight layers,
    the norms and the rectifiers (modes restored, hooks removed)."""
    norms = {name: mod for name, mod in model.named_modules() if isinstance(mod, nn.modules.batchnorm._BatchNorm)}
    rectifiers = {name: mod for name, mod in model.named_modules() if isinstance(mod, RECTIFIERS)}
    calls: list[tuple[str, Tensor]] = []
    norm_inputs: list[tuple[str, Tensor]] = []
    order: list[tuple[bool, str]] = []
    handles = []
    for name, mod in weights.items():
        handles.append(mod.register_forward_hook(lambda m, i, o, n=name: calls.append((n, o))))
        handles.append(mod.register_forward_pre_hook(lambda m, i, n=name: order.append((True, n))))
    for name, norm_module in norms.items():
        handles.append(norm_module.register_forward_pre_hook(lambda m, i, n=name: norm_inputs.append((n, i[0]))))
    for name, act in rectifiers.items():
        handles.append(act.register_forward_pre_hook(lambda m, i, n=name: order.append((False, n))))
    modes = {module: module.training for module in model.modules()}
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(2, *input_shape, device=device, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
        for module, mode in modes.items():
            module.training = mode
    return calls, norm_inputs, order


def rectifier_after(order: list[tuple[bool, str]], roles: dict[str, str]) -> dict[str, str]:
    """``{weight layer: rectifier}`` from the call ``order`` of ``(is a weight layer, name)``: each
    rectifier goes to the latest weight layer before it whose role is not a side role (shortcut, gate);
    a later rectifier replaces an earlier one of the same layer."""
    out: dict[str, str] = {}
    current: str | None = None
    for is_weight, name in order:
        if is_weight:
            if roles.get(name) not in _SIDE_ROLES:
                current = name
        elif current is not None:
            out[current] = name
    return out


def format_count(n: int) -> str:
    """``269722 -> '0.27M'``, ``4042 -> '4.0K'``, ``650 -> '650'``."""
    if n >= 100_000:
        return f"{n / 1e6:.2f}M"
    if n >= 1_000:
        return f"{n / 1e3:.1f}K"
    return str(n)


def _type_label(mod: nn.Module, role: str) -> str:
    if isinstance(mod, nn.Conv2d):
        kh, kw = mod.kernel_size
        label = f"conv{kh}x{kw}" + (f" s{mod.stride[0]}" if mod.stride[0] > 1 else "")
        return label + (f" ({role})" if role in ("shortcut", "gate") else "")
    return "linear"


def network_name(model: nn.Module) -> str:
    """The network's name with its block type, e.g. ``resnet-164 pre-activation bottleneck (CifarNet, shortcut
    B/identity, width 16)``; the class name alone for a model without a ``cfg``."""
    cfg = getattr(model, "cfg", None)
    kind = type(model).__name__
    if cfg is None:
        return kind
    if cfg.arch == "mlp":
        return f"mlp-{cfg.depth} ({kind}, width {cfg.width})"
    block = {o.value: o.label for o in field_info(ModelConfig, "block").spec.options}.get(cfg.block, cfg.block)
    shortcut = f", shortcut {cfg.shortcut}/{cfg.shortcut_variant}" if cfg.arch == "resnet" else ""
    return f"{cfg.arch}-{cfg.depth} {block} ({kind}{shortcut}, width {cfg.width})"


def describe_model(model: nn.Module, input_shape: tuple[int, int, int], num_classes: int) -> str:
    """A text table of the weight layers (index, name, type, output shape, params) with block
    boundaries, and totals: weight layers, their parameters, BN parameters, other, total."""
    table = layer_table(model, input_shape)
    modules = dict(model.named_modules())
    summaries_fn = getattr(model, "block_summaries", None)
    summaries: dict[int, tuple[str, str]] = summaries_fn() if callable(summaries_fn) else {}
    c, h, w = input_shape
    lines = [
        f"{network_name(model)}: input {c}x{h}x{w} -> {num_classes} classes",
        f"{'#':>5}  {'name':<34} {'type':<22} {'output':<14} {'params':>10}",
    ]
    current = -1
    for info in table:
        if info.block != current:
            if info.block >= 0:
                name, summary = summaries.get(info.block, (f"block {info.block}", ""))
                lines.append(f"{'':>5}  -- block {info.block}: {name}" + (f" ({summary})" if summary else "") + " --")
            elif current >= 0:
                lines.append(f"{'':>5}  --")
            current = info.block
        shape = "x".join(str(d) for d in info.out_shape)
        lines.append(
            f"{info.index:>5}  {info.name:<34} {_type_label(modules[info.name], info.role):<22} "
            f"{shape:<14} {info.params:>10,}"
        )
    total = sum(p.numel() for p in model.parameters())
    weight_params = sum(info.params for info in table)
    bn_params = sum(
        p.numel()
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for p in m.parameters(recurse=False)
    )
    lines.append(
        f"weight layers: {len(table)}   weight-layer params: {weight_params:,}   "
        f"BN params: {bn_params:,}   other params: {total - weight_params - bn_params:,}   "
        f"total params: {total:,} ({format_count(total)})"
    )
    return "\n".join(lines)
