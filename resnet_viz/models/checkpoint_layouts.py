"""The state-dict layouts a checkpoint may come in, turned into this project's names.

* ``resnet-viz``: this project's own names (``stem.conv``, ``stage2.block0.conv1``, ``fc``, ...).
* ``akamaster``: the widely used PyTorch CIFAR reproduction (github.com/akamaster/pytorch_resnet_cifar10):
  ``conv1``, ``bn1``, ``layer{s}.{i}.conv1/bn1/conv2/bn2``, ``linear``, usually saved from an
  ``nn.DataParallel`` model (every key prefixed ``module.``). Its option-A shortcut pads the subsampled
  input with ``planes // 4`` zero channels on *both* sides (``F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0,
  planes // 4, planes // 4))``), where this project appends the zeros at the end, so the residual stream
  of stages 2 and 3 holds the same channels in another order. :func:`stream_permutations` gives that
  order per stage (``ours[k] = theirs[p[k]]``) and :func:`akamaster_to_ours` renames and permutes: the
  input channels of every conv reading the stream (``conv1`` of each block, the ``fc`` input), the output
  channels of every conv writing it (``conv2``) and the BN after that conv.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from resnet_viz.config import ModelConfig

OWN = "resnet-viz"
AKAMASTER = "akamaster"
_AKAMASTER_BLOCK = re.compile(r"^layer([1-3])\.(\d+)\.(conv1|bn1|conv2|bn2)\.(.+)$")
_OWN_BLOCK = re.compile(r"^stage([1-3])\.block(\d+)\.")
_RENAMED = {"conv1.": "stem.conv.", "bn1.": "stem.bn.", "linear.": "fc."}


def strip_module_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` without the ``module.`` prefix of an ``nn.DataParallel`` model (when every key has it)."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


def detect_layout(state: Mapping[str, torch.Tensor]) -> str:
    """:data:`AKAMASTER` when the names are the reproduction's, else :data:`OWN`."""
    return AKAMASTER if "conv1.weight" in state and "stem.conv.weight" not in state else OWN


def stream_permutations(width: int) -> list[list[int]]:
    """The channel order of the residual stream of stages 1..3: ``ours[k] = theirs[p[k]]``.

    Stage 1 is the identity. Entering a stage, both nets subsample the stream and pad it from ``c`` to
    ``2c`` channels; the reproduction puts ``c / 2`` zero channels before and after it, this project all
    ``c`` after. So ``p_next = [c/2 + p[k] for k < c] + [0 .. c/2 - 1] + [c/2 + c .. 2c - 1]`` (width 16:
    ``p2 = [8..23, 0..7, 24..31]``).
    """
    p = list(range(width))
    perms = [p]
    for _ in range(2):
        c = len(p)
        pad = c // 2
        p = [pad + q for q in p] + list(range(pad)) + list(range(pad + c, 2 * c))
        perms.append(p)
    return perms


def _our_name(name: str) -> tuple[str, int, str]:
    """(this project's name, stage 0..3 or -1, part) of a reproduction name; unknown names stay as they are."""
    m = _AKAMASTER_BLOCK.match(name)
    if m:
        stage, index, part, rest = m.groups()
        return f"stage{stage}.block{index}.{part}.{rest}", int(stage), part
    for theirs, ours in _RENAMED.items():
        if name.startswith(theirs):
            return ours + name[len(theirs) :], 0 if theirs != "linear." else 4, theirs[:-1]
    return name, -1, ""


def akamaster_to_ours(state: Mapping[str, torch.Tensor], width: int) -> dict[str, torch.Tensor]:
    """The reproduction's state dict (without ``module.``) in this project's names and channel order."""
    perms = stream_permutations(width)
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        ours, stage, part = _our_name(name)
        t = tensor
        if 1 <= stage <= 3 and t.dim() > 0:
            p_out = torch.tensor(perms[stage - 1])
            if part == "conv1" and t.dim() == 4:
                first = name.split(".")[1] == "0"  # the first block of a stage reads the previous stage's stream
                p_in = torch.tensor(perms[max(stage - 2, 0)]) if first else p_out
                t = t[:, p_in] if t.shape[1] == p_in.numel() else t
            elif part in ("conv2", "bn2") and t.shape[0] == p_out.numel():
                t = t[p_out]
        elif stage == 4 and name == "linear.weight" and t.dim() == 2 and t.shape[1] == len(perms[2]):
            t = t[:, torch.tensor(perms[2])]
        out[ours] = t.contiguous()
    return out


def _blocks_per_stage(state: Mapping[str, torch.Tensor]) -> int:
    indices = {(int(m.group(1)), int(m.group(2))) for k in state if (m := _OWN_BLOCK.match(k))}
    return 1 + max((i for s, i in indices if s == 1), default=-1)


def infer_model(state: Mapping[str, torch.Tensor]) -> ModelConfig:
    """The model a state dict in this project's names fits, assuming a basic- or bottleneck-block ResNet with
    zero-padding shortcuts (what the reproduction trains): depth from the blocks per stage, width from the
    stem conv. ``ValueError`` when the names are not those of a CIFAR ResNet."""
    stem = state.get("stem.conv.weight")
    n = _blocks_per_stage(state)
    if stem is None or stem.dim() != 4 or n == 0:
        missing = "stem.conv.weight" if stem is None or stem.dim() != 4 else "stage1.block0.conv1.weight"
        raise ValueError(f"{missing} is missing: the tensors are not those of a CIFAR ResNet")
    bottleneck = "stage1.block0.conv3.weight" in state
    block = "bottleneck" if bottleneck else "basic"
    projection = any(k.endswith("shortcut.conv.weight") for k in state)
    return ModelConfig(
        arch="resnet",
        depth=(9 if bottleneck else 6) * n + 2,
        width=int(stem.shape[0]),
        block=block,
        shortcut="B" if projection else "A",
    )


__all__ = [
    "AKAMASTER",
    "OWN",
    "akamaster_to_ours",
    "detect_layout",
    "infer_model",
    "stream_permutations",
    "strip_module_prefix",
]
