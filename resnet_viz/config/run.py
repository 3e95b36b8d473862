"""The run config: five sections (model, init, optim, data, train), validated as a whole, to and from JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_viz.config.errors import ConfigError
from resnet_viz.config.files import read_config_text
from resnet_viz.config.model import InitConfig, ModelConfig
from resnet_viz.config.rules import check_run_rules
from resnet_viz.config.spec import Section
from resnet_viz.config.training import DataConfig, OptimConfig, TrainConfig
from resnet_viz.config.values import field_types

SECTIONS: dict[str, type[Section]] = {
    "model": ModelConfig,
    "init": InitConfig,
    "optim": OptimConfig,
    "data": DataConfig,
    "train": TrainConfig,
}


@dataclass
class RunConfig:
    """Everything that defines one training run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    init: InitConfig = field(default_factory=InitConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> RunConfig:
        """Check every field and the combinations; return ``self`` for chaining."""
        for name in SECTIONS:
            getattr(self, name).validate()
        check_run_rules(self)
        return self

    def resolved(self) -> RunConfig:
        """A validated copy with the dependent defaults filled in (optimiser defaults stay torch's)."""
        self.validate()
        return dataclasses.replace(self, model=self.model.resolved())

    def label(self) -> str:
        """Short automatic name, e.g. ``"resnet-56 · he · sgd 0.1"`` or ``"mlp-20 sigmoid residual · xavier · adam"``."""
        init = self.init.scheme if self.init.scheme != "normal" else f"normal({self.init.std:g})"
        if self.init.from_file:
            init = f"from {Path(self.init.from_file).name}"
        optim = "nesterov" if self.optim.nesterov else self.optim.name
        if self.optim.lr is not None:
            optim += f" {self.optim.lr:g}"
        if self.optim.momentum:
            optim += f" m{self.optim.momentum:g}"
        return f"{model_label(self.model.resolved())} · {init} · {optim}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        """Build from a dict shaped like :meth:`to_dict`; unknown keys are errors. Validates."""
        if not isinstance(data, dict):
            raise ConfigError("config", type(data).__name__, "a JSON object with sections " + ", ".join(SECTIONS))
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            raise ConfigError(unknown[0], data[unknown[0]], "unknown section; allowed: " + ", ".join(SECTIONS))
        parts: dict[str, Any] = {
            name: _section_from_dict(name, klass, data.get(name, {})) for name, klass in SECTIONS.items()
        }
        return cls(**parts).validate()

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a config JSON file, or a run folder's ``run.json`` (its ``config`` entry). Validates.

        Anything that is not a readable UTF-8 JSON file of at most ``MAX_CONFIG_BYTES`` (a folder
        without run.json, a FIFO or device, a saved session, binary data, nesting too deep for the
        parser) raises :class:`ConfigError` naming the file.
        """
        return cls.from_dict(read_config_dict(path))


def read_config_dict(path: str | Path) -> Any:
    """The config of JSON file ``path`` (a run folder's run.json: its ``config`` entry) as parsed, not yet
    validated (``RunConfig.from_dict`` does that): a caller may lay values over it first. File problems
    raise :class:`ConfigError` naming the file (see :meth:`RunConfig.load`)."""
    path = Path(path)
    text = read_config_text(path)
    try:
        data = json.loads(text)
    except RecursionError:
        raise ConfigError(
            "config", str(path), "JSON nested less deeply (the parser's recursion limit was reached)"
        ) from None
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        raise ConfigError("config", str(path), f"valid JSON ({exc})") from None
    if isinstance(data, dict) and "config" in data:
        data = data["config"]
    return data


def _section_from_dict(name: str, klass: type[Section], section: Any) -> Section:
    """One section from its JSON object: unknown keys are errors; JSON lists become the annotated tuples."""
    if not isinstance(section, dict):
        raise ConfigError(name, section, "a JSON object")
    known = {f.name for f in dataclasses.fields(klass)}  # type: ignore[arg-type]
    for key in section:
        if key not in known:
            raise ConfigError(f"{name}.{key}", section[key], "unknown field; allowed: " + ", ".join(sorted(known)))
    hints = field_types(klass)
    values = {
        key: tuple(value) if isinstance(value, list) and "tuple" in str(hints[key]) else value
        for key, value in section.items()
    }
    return klass(**values)


def model_label(m: ModelConfig) -> str:
    """The model part of :meth:`RunConfig.label`, e.g. ``resnet-164 preact-bottleneck`` or
    ``resnet-56 bottleneck A`` (``m`` resolved): the block type whenever it is not basic, the shortcut
    option only when it is not the block's default."""
    name = f"{m.arch}-{m.depth}"
    if m.arch != "mlp" and m.block != "basic":
        name += f" {m.block.replace('_', '-')}"
    if m.arch == "resnet":
        if m.shortcut != dataclasses.replace(m, shortcut=None).resolved().shortcut:
            name += f" {m.shortcut}"
        if m.shortcut_variant != "identity":
            name += f" {m.shortcut_variant}"
        if m.after_add not in ("relu", "none"):
            name += f" {m.after_add}"
    if m.activation != "relu":
        name += f" {m.activation}"
    if m.arch == "mlp" and m.residual:
        name += " residual"
    if not m.batch_norm and m.arch != "mlp":
        name += " no-bn"
    if m.arch == "mlp" and m.batch_norm:
        name += " bn"
    return name
