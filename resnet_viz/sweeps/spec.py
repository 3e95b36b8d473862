"""What a sweep is: a base config, axes of field values (their product: the config points) and seeds.

Every trial is one config point with one seed; its config is the base with the point's values and
``train.seed`` laid over it, validated as any run config (a bad value names the field and the value).
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass
from typing import Any

from resnet_viz.config import ConfigError, RunConfig, all_fields
from resnet_viz.config.limits import MAX_SEED
from resnet_viz.export.names import slug
from resnet_viz.sweeps.values import format_value, parse_field_value

#: The most trials one sweep may hold (a typo such as ``--seeds 0-99999`` is refused, not queued).
MAX_TRIALS = 10_000


@dataclass(frozen=True)
class Axis:
    """One varied field: its dotted ``path`` (``model.depth``) and the values it takes, in order."""

    path: str
    values: tuple[Any, ...]

    @property
    def short(self) -> str:
        """The field's name without its section (``depth``), as tables and run names show it."""
        return self.path.split(".", 1)[1]


@dataclass(frozen=True)
class Trial:
    """One run of the sweep: config point ``point`` (an index into :meth:`SweepSpec.points`) with ``seed``."""

    trial_id: str
    point: int
    seed: int
    values: dict[str, Any]
    config: RunConfig
    name: str

    @property
    def folder(self) -> str:
        """The trial's run folder, relative to the sweep folder."""
        return f"trials/{self.trial_id}"


@dataclass(frozen=True)
class SweepSpec:
    """A base config, the axes whose product gives the config points, and the seeds of every point."""

    base: RunConfig
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...]
    name: str = ""

    def validate(self) -> SweepSpec:
        """Check the axes and seeds; every trial's config is validated by :meth:`trials`."""
        paths = [a.path for a in self.axes]
        for axis in self.axes:
            if axis.path == "train.seed":
                raise ConfigError("--vary", axis.path, "the seeds are given with --seeds, not as an axis")
            if not axis.values:
                raise ConfigError(f"--vary {axis.path}", "", "at least one value")
            if paths.count(axis.path) > 1:
                raise ConfigError("--vary", axis.path, "each field once (give all its values in one --vary)")
        if not self.seeds:
            raise ConfigError("--seeds", "", "at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError("--seeds", ",".join(map(str, self.seeds)), "each seed once")
        n = self.n_points * len(self.seeds)
        if n > MAX_TRIALS:
            raise ConfigError("sweep", f"{n} trials", f"at most {MAX_TRIALS} trials")
        return self

    @property
    def n_points(self) -> int:
        n = 1
        for axis in self.axes:
            n *= len(axis.values)
        return n

    def points(self) -> list[dict[str, Any]]:
        """The config points: each a dict ``{path: value}``, in the order of the axes' product."""
        return [
            dict(zip([a.path for a in self.axes], combo)) for combo in itertools.product(*(a.values for a in self.axes))
        ]

    def point_label(self, values: dict[str, Any]) -> str:
        """``depth 20, lr 0.1`` (``base`` for a sweep over seeds alone)."""
        return ", ".join(f"{p.split('.', 1)[1]} {format_value(v)}" for p, v in values.items()) or "base"

    def point_config(self, values: dict[str, Any], seed: int | None = None) -> RunConfig:
        """The base with ``values`` (and ``seed``) laid over it, validated."""
        data = self.base.to_dict()
        for path, value in values.items():
            section, name = path.split(".", 1)
            data[section][name] = value
        if seed is not None:
            data["train"]["seed"] = seed
        return RunConfig.from_dict(data)

    def trials(self) -> list[Trial]:
        """Every trial, point by point, seeds in the given order; each config validated."""
        out = []
        for i, values in enumerate(self.points()):
            label = self.point_label(values)
            for seed in self.seeds:
                config = self.point_config(values, seed)
                trial_id = f"{i + 1:03d}-{slug(label)}-seed{seed}"
                name = f"{label} · seed {seed}" if self.axes else f"{config.label()} · seed {seed}"
                out.append(Trial(trial_id, i, seed, dict(values), config, name))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": self.base.to_dict(),
            "vary": [{"field": a.path, "values": list(a.values)} for a in self.axes],
            "seeds": list(self.seeds),
        }


def field_paths() -> dict[str, Any]:
    """Every config field by its dotted path."""
    return {info.path: info for info in all_fields()}


def parse_vary(text: str) -> Axis:
    """``model.depth=20,32,44`` → an :class:`Axis`; each value read as the field's type and checked
    against its choices and range (:class:`ConfigError` naming the field otherwise). A tuple field's
    values are separated by ``;`` (``optim.milestones=0.5,0.75;0.3,0.6``)."""
    path, sep, raw = text.partition("=")
    path = path.strip()
    fields = field_paths()
    if not sep or not raw.strip():
        raise ConfigError("--vary", text, "FIELD=V1,V2,... such as model.depth=20,32,44")
    if path not in fields:
        near = [p for p in fields if p.endswith("." + path)] or difflib.get_close_matches(path, list(fields), 1, 0.7)
        hint = f" (did you mean {near[0]}?)" if near else "; the fields are the sections and keys of a run.json config"
        raise ConfigError("--vary", path, "a config field such as model.depth or optim.lr" + hint)
    info = fields[path]
    tuple_field = "tuple" in str(info.type)
    items = raw.split(";") if tuple_field else raw.split(",")
    return Axis(path, tuple(parse_field_value(info, item.strip()) for item in items))


def parse_seeds(text: str) -> tuple[int, ...]:
    """``0-4`` → (0, 1, 2, 3, 4); ``0,3,7``; ``0-2,9``. Each from 0 to the config's largest seed."""
    seeds: list[int] = []
    for part in str(text).split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise ConfigError("--seeds", text, "seeds such as 0-4, 0,3,7 or 0-2,9") from None
        if not 0 <= first <= last <= MAX_SEED:
            raise ConfigError("--seeds", text, f"ranges from low to high within 0 to {MAX_SEED}")
        if last - first >= MAX_TRIALS:
            raise ConfigError("--seeds", text, f"at most {MAX_TRIALS} seeds")
        seeds.extend(range(first, last + 1))
    return tuple(seeds)


__all__ = ["MAX_TRIALS", "Axis", "SweepSpec", "Trial", "field_paths", "parse_seeds", "parse_vary"]
