"""Which depths make a network: 6n+2 weight layers for basic and pre-activation blocks, 9n+2 for
bottleneck blocks, original or pre-activation (He et al. 2016), any n ≥ 1 for an MLP. All arithmetic,
O(1) in the depth."""

from __future__ import annotations

from resnet_viz.config.errors import ConfigError
from resnet_viz.config.limits import MAX_DEPTH

#: Blocks of three convs (1x1, 3x3, 1x1): depth 9n+2.
BOTTLENECK_BLOCKS = ("bottleneck", "preact_bottleneck")
#: Pre-activation blocks (Identity Mappings): BN-act before every conv, nothing after the addition.
PREACT_BLOCKS = ("preact", "preact_bottleneck")


def block_layers(block: str) -> int:
    """Weight layers (convs) on the branch of one block: 3 for the bottleneck blocks, 2 otherwise."""
    return 3 if block in BOTTLENECK_BLOCKS else 2


def _step(block: str) -> int:
    """Weight layers per block over the three stages."""
    return 3 * block_layers(block)


def is_valid_depth(depth: int, arch: str, block: str) -> bool:
    """Whether ``depth`` weight layers make a net of this arch and block (arithmetic, O(1))."""
    if arch == "mlp":
        return 1 <= depth <= MAX_DEPTH
    step = _step(block)
    return step + 2 <= depth <= MAX_DEPTH and (depth - 2) % step == 0


def valid_depths(arch: str, block: str, limit: int = 2000) -> list[int]:
    """All valid depths (number of weight layers) up to ``limit`` for an architecture and block."""
    if arch == "mlp":
        return list(range(1, limit + 1))
    step = _step(block)
    return list(range(step + 2, limit + 1, step))


def depth_rule(arch: str, block: str) -> str:
    """Human-readable rule for valid depths, e.g. ``6n+2 with n ≥ 1 (8, 14, 20, ...)``."""
    if arch == "mlp":
        return "an integer ≥ 1 (number of linear layers)"
    if block in BOTTLENECK_BLOCKS:
        return f"9n+2 with n ≥ 1 for {block} blocks (11, 20, 29, ..., 56, 164, 1001)"
    return f"6n+2 with n ≥ 1 for {block} blocks (8, 14, 20, 32, 44, 56, 110, 1202)"


def nearest_valid_depths(depth: int, arch: str, block: str) -> list[int]:
    """The valid depths just below and just above ``depth`` (one or two values)."""
    if arch == "mlp":
        return [max(1, depth)]
    step = _step(block)
    lower = ((depth - 2) // step) * step + 2
    out = [d for d in (lower, lower + step) if step + 2 <= d <= MAX_DEPTH]
    return out or [step + 2]


def check_depth(path: str, depth: int, arch: str, block: str) -> None:
    """:class:`ConfigError` naming ``path`` unless ``depth`` makes a net of this arch and block."""
    if depth > MAX_DEPTH:
        raise ConfigError(
            path, depth, f"at most {MAX_DEPTH} weight layers (the deepest nets of the papers have 1202 and 1001)"
        )
    if not is_valid_depth(depth, arch, block):
        near = " and ".join(str(d) for d in nearest_valid_depths(depth, arch, block))
        raise ConfigError(path, depth, f"depth must be {depth_rule(arch, block)}; nearest valid: {near}")
