"""What a landscape is computed from: a run folder (config, final weights, snapshots) or a checkpoint file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from resnet_viz.config import ConfigError, DataConfig, RunConfig, one_line
from resnet_viz.export.run_folder_checks import RunFolderError
from resnet_viz.export.run_folder_format import CHECKPOINT_FILE
from resnet_viz.export.snapshots_io import read_snapshots
from resnet_viz.landscape.errors import LandscapeError
from resnet_viz.metrics.records import ParameterSnapshot
from resnet_viz.models.checkpoint import Checkpoint, CheckpointError, read_checkpoint
from resnet_viz.models.checkpoint_layouts import AKAMASTER


@dataclass(frozen=True)
class LandscapeSource:
    """A network to slice: ``config`` (its model and data; for a foreign checkpoint the model it holds and a
    default data section), ``label`` (the run's label), ``state`` (the final weights, BN buffers included,
    by name), ``snapshots`` (the run's parameter snapshots, oldest first; [] for a checkpoint file),
    ``path`` (what was read), ``step`` (the final weights' step when known) and the ``checkpoint`` read."""

    config: RunConfig
    label: str
    state: dict[str, torch.Tensor]
    snapshots: list[ParameterSnapshot]
    path: Path
    checkpoint: Checkpoint = field(repr=False, compare=False)
    step: int | None = None

    @property
    def is_run_folder(self) -> bool:
        return self.path.is_dir()


def _checkpoint(path: Path) -> Checkpoint:
    try:
        return read_checkpoint(path)
    except CheckpointError as exc:
        raise LandscapeError(str(exc)) from None


def _file_config(ckpt: Checkpoint, data: DataConfig | None) -> RunConfig:
    """The run config a checkpoint file implies: its own config when it has one, else its model with the
    data it was trained on as far as known (the PyTorch CIFAR reproduction's layout: CIFAR-10)."""
    if ckpt.config is not None:
        try:
            config = RunConfig.from_dict(ckpt.config)
        except ConfigError as exc:
            raise LandscapeError(f"{ckpt.path.name}: its config is not valid ({exc})") from None
    else:
        config = RunConfig(model=ckpt.model)
        if ckpt.layout == AKAMASTER:
            config.data = DataConfig(dataset="cifar10")
    if data is not None:
        config.data = data
    return config


def _run_folder(path: Path, data: DataConfig | None) -> LandscapeSource:
    try:
        run = json.loads((path / "run.json").read_text(encoding="utf-8"))
        config = RunConfig.from_dict(run.get("config") if isinstance(run, dict) else None)
    except (OSError, ValueError) as exc:  # ConfigError is a ValueError
        raise LandscapeError(f"{path}: not a readable run folder (run.json: {one_line(str(exc), 160)})") from None
    if data is not None:
        config.data = data
    if not (path / CHECKPOINT_FILE).is_file():
        raise LandscapeError(
            f"{path}: no {CHECKPOINT_FILE} (a run writes it when it ends with finite weights): no final weights"
        )
    ckpt = _checkpoint(path / CHECKPOINT_FILE)
    try:
        snapshots = read_snapshots(path)
    except RunFolderError as exc:
        raise LandscapeError(f"{exc.path}: {exc.reason}") from None
    label = run.get("label") if isinstance(run.get("label"), str) else config.label()
    return LandscapeSource(config, label, dict(ckpt.state), snapshots, path, ckpt, ckpt.step)


def load_landscape_source(path: str | Path, data: DataConfig | None = None) -> LandscapeSource:
    """Read a run folder (or its checkpoint.pt, which means the folder) or a checkpoint file; ``data``
    replaces the data section (e.g. where the data of a foreign checkpoint lives). Everything that cannot
    be read is one :class:`LandscapeError` line naming the path."""
    path = Path(path)
    try:
        is_dir = path.is_dir()
        exists = path.exists()
    except (OSError, ValueError) as exc:
        raise LandscapeError(f"{path}: not a readable path ({one_line(str(exc), 160)})") from None
    if not exists:
        raise LandscapeError(f"{path}: no such run folder or checkpoint file")
    if not is_dir and path.name == CHECKPOINT_FILE and (path.parent / "run.json").is_file():
        path, is_dir = path.parent, True
    if is_dir:
        if not (path / "run.json").is_file():
            raise LandscapeError(f"{path}: a folder without run.json: not a run folder")
        return _run_folder(path, data)
    ckpt = _checkpoint(path)
    config = _file_config(ckpt, data)
    return LandscapeSource(config, f"{config.label()} ({path.name})", dict(ckpt.state), [], path, ckpt, ckpt.step)
