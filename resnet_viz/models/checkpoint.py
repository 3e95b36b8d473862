"""Checkpoints: trained weights read from a file into a network of this project, and written back.

This project's format is a torch file (``torch.save``) of one dict::

    {"format": "resnet-viz checkpoint", "version": 1,
     "config": RunConfig.to_dict() of the run that trained the weights,
     "step": optimiser steps taken (0: as initialised),
     "state_dict": {name: tensor}}   # the model's state_dict, on the CPU

:func:`save_checkpoint` writes it atomically (a temporary file beside it, then ``os.replace``).
:func:`read_checkpoint` reads that format and the layout of the widely used PyTorch CIFAR
reproduction (``{"state_dict": ..., "best_prec1": ...}`` or a bare state dict, with or without
``module.``; see :mod:`~resnet_viz.models.checkpoint_layouts`), always with ``torch.load(weights_only=True)``
(no code in the file runs). :func:`checkpoint_state` checks it against a model and returns the state dict
to load. Every problem is one :class:`CheckpointError` line naming the file and, for a file that does not
fit, the first tensor that does not fit.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from resnet_viz.config import ModelConfig, model_label, one_line
from resnet_viz.models.checkpoint_layouts import (
    AKAMASTER,
    OWN,
    akamaster_to_ours,
    detect_layout,
    infer_model,
    strip_module_prefix,
)

CHECKPOINT_FORMAT = "resnet-viz checkpoint"
CHECKPOINT_VERSION = 1
#: File patterns of the open dialog.
CHECKPOINT_PATTERNS = ("*.pt", "*.pth", "*.th", "*.tar")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, written or loaded; the message is one line naming the file."""


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint as read: ``state`` in this project's names and channel order, the ``model`` it fits
    (from the file's config, else inferred from the tensors), the ``layout`` it came in (``resnet-viz`` or
    ``akamaster``), and for this project's format the run's ``config`` dict and ``step``."""

    path: Path
    layout: str
    model: ModelConfig
    state: dict[str, torch.Tensor]
    config: dict[str, Any] | None = None
    step: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> int:
        """Trainable parameters: every float tensor but BN running statistics."""
        skip = ("running_mean", "running_var", "num_batches_tracked")
        return sum(int(t.numel()) for k, t in self.state.items() if not k.endswith(skip))


def model_name(cfg: ModelConfig) -> str:
    """The network as run labels name it, plus its width when not the default: ``resnet-56``,
    ``resnet-20 width 8``, ``resnet-164 preact-bottleneck`` (``cfg`` resolved or not)."""
    m = cfg.resolved()
    name = model_label(m)
    default = dataclasses.replace(m, width=None).resolved().width
    return name if m.width == default else f"{name} width {m.width}"


def _shape(t: torch.Tensor) -> str:
    return str(list(t.shape))


# --- reading ---------------------------------------------------------------------------------------
def _load_file(path: Path) -> Any:
    try:
        folder = path.is_dir()
    except (OSError, ValueError) as exc:  # a NUL character, a name too long
        raise CheckpointError(f"{path.name}: not a readable file name ({one_line(str(exc), 160)})") from None
    if folder:
        raise CheckpointError(f"{path.name or path}: is a folder, not a checkpoint file")
    try:
        with warnings.catch_warnings():  # e.g. torch's note on a foreign pickle protocol: the error says enough
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every failure of a foreign file becomes one line
        raise CheckpointError(f"{path.name}: {_load_failure(exc)}") from None


def _load_failure(exc: Exception) -> str:
    """Why ``torch.load`` could not read a file, in words (torch's own texts run to several lines)."""
    text = str(exc)
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "cannot be read (permission denied)"
    if isinstance(exc, EOFError) or (isinstance(exc, OSError) and exc.errno == errno.EINVAL):
        return "an empty, damaged or truncated file"  # EINVAL: torch's reader seeking past a cut-off archive
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    if "WeightsUnpickler error:" in text:  # the safe loader met something other than tensors and containers
        why = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation")[0]
        why = one_line(why.split(". Please")[0].strip(), 120)
        return (
            f"not a torch checkpoint of tensors (the safe loader, which runs no code from the file, refused it: {why})"
        )
    if "PytorchStreamReader" in text or "zip archive" in text.lower():
        return "a damaged or truncated file (its ZIP archive cannot be read)"
    return f"not a readable torch checkpoint ({type(exc).__name__}: {one_line(text, 160) or type(exc).__name__})"


def _tensors(path: Path, state: Any) -> dict[str, torch.Tensor]:
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{path.name}: holds no state dict (a dict of tensors, or one under 'state_dict')")
    for k, v in state.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise CheckpointError(f"{path.name}: {k!r} is a {type(v).__name__}, not a tensor: not a state dict")
    return dict(state)


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint in either layout (module doc); :class:`CheckpointError` for anything else."""
    path = Path(path)
    data = _load_file(path)
    if isinstance(data, Mapping) and data.get("format") == CHECKPOINT_FORMAT:
        return _own_checkpoint(path, data)
    raw = data["state_dict"] if isinstance(data, Mapping) and "state_dict" in data else data
    state = strip_module_prefix(_tensors(path, raw))
    layout = detect_layout(state)
    if layout == AKAMASTER:
        width = int(state["conv1.weight"].shape[0])
        state = akamaster_to_ours(state, width)
    try:
        model = infer_model(state)
    except ValueError as exc:
        raise CheckpointError(f"{path.name}: {exc}") from None
    extra = (
        {k: v for k, v in data.items() if k != "state_dict"} if isinstance(data, Mapping) and raw is not data else {}
    )
    return Checkpoint(path=path, layout=layout, model=model, state=state, extra=extra)


def _own_checkpoint(path: Path, data: Mapping[str, Any]) -> Checkpoint:
    version = data.get("version")
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path.name}: {CHECKPOINT_FORMAT} version {version!r}; this version reads 1")
    config = data.get("config")
    section = config.get("model") if isinstance(config, dict) else None
    try:
        model = ModelConfig(**section) if isinstance(section, dict) else None
        if model is not None:
            model.validate()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: its config's model section is not valid ({one_line(str(exc))})") from None
    if model is None:
        raise CheckpointError(f"{path.name}: {CHECKPOINT_FORMAT} without a config with a model section")
    step = data.get("step")
    return Checkpoint(
        path=path,
        layout=OWN,
        model=model,
        state=_tensors(path, data.get("state_dict")),
        config=config,
        step=step if isinstance(step, int) else None,
    )


# --- checking against a model ----------------------------------------------------------------------
def checkpoint_state(ckpt: Checkpoint, model: nn.Module, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """The state dict of ``ckpt`` for ``model`` (built from ``cfg``): every tensor of the model, with its
    shape. BN's ``num_batches_tracked`` may be missing (older files: 0). :class:`CheckpointError` naming
    the first tensor, in the model's order, that is missing, has another shape or is extra."""
    name, target = ckpt.path.name, model_name(cfg)
    expected = model.state_dict()
    state = dict(ckpt.state)
    for key, want in expected.items():
        have = state.get(key)
        if have is None:
            if key.endswith("num_batches_tracked"):
                state[key] = torch.zeros_like(want)
                continue
            raise CheckpointError(f"{name}: {key} {_shape(want)} of {target} is missing from the file{_holds(ckpt)}")
        if have.shape != want.shape:
            raise CheckpointError(
                f"{name}: {key} is {_shape(have)} in the file but {_shape(want)} in {target}{_holds(ckpt)}"
            )
    for key, have in state.items():
        if key not in expected:
            raise CheckpointError(f"{name}: {key} {_shape(have)} is in the file but not in {target}{_holds(ckpt)}")
    return state


def _holds(ckpt: Checkpoint) -> str:
    return f" (the file holds a {model_name(ckpt.model)}, {ckpt.layout} layout)"


def load_checkpoint(path: str | Path, model: nn.Module, cfg: ModelConfig) -> Checkpoint:
    """Read ``path`` and load its weights into ``model`` (built from ``cfg``) in place."""
    ckpt = read_checkpoint(path)
    state = checkpoint_state(ckpt, model, cfg)
    with torch.no_grad():
        model.load_state_dict(state, strict=True)
    return ckpt


def checkpoint_model_dict(path: str | Path, default: dict[str, Any]) -> dict[str, Any]:
    """The model section (``ModelConfig`` as a dict) of the network the checkpoint ``path`` holds, or
    ``default`` when the file cannot be read (preparing the run then says why)."""
    try:
        return dataclasses.asdict(read_checkpoint(path).model)
    except CheckpointError:
        return default


# --- writing ---------------------------------------------------------------------------------------
def checkpoint_payload(config: Mapping[str, Any], step: int, state: Mapping[str, Any]) -> dict[str, Any]:
    """This project's checkpoint dict (module doc); ``state`` values are tensors or numpy arrays."""
    tensors = {k: (torch.from_numpy(v.copy()) if isinstance(v, np.ndarray) else v.detach().cpu().clone())
               for k, v in state.items()}  # fmt: skip
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": dict(config),
        "step": int(step),
        "state_dict": tensors,
    }


def save_checkpoint(path: str | Path, config: Mapping[str, Any], step: int, state: Mapping[str, Any]) -> Path:
    """Write this project's checkpoint to ``path`` atomically; :class:`CheckpointError` (one line) when the
    file cannot be written (a full or read-only disk, a missing folder); a previous file there is kept."""
    path = Path(path)
    payload = checkpoint_payload(config, step, state)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else one_line(str(exc), 160)
        raise CheckpointError(f"{path.name}: could not write the checkpoint ({reason})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_PATTERNS",
    "CHECKPOINT_VERSION",
    "Checkpoint",
    "CheckpointError",
    "checkpoint_model_dict",
    "checkpoint_payload",
    "checkpoint_state",
    "load_checkpoint",
    "model_name",
    "read_checkpoint",
    "save_checkpoint",
]
