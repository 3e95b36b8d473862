"""A sweep spec from a JSON or YAML file, and back (the ``spec`` entry of ``sweep.json`` has this shape).

::

    {"name": "table6",
     "base": {"model": {"arch": "resnet"}, "train": {"steps": 2000}},   # a run config (sections may be partial),
                                                                        # or "config": "path/to/run.json"
     "vary": {"model.depth": [20, 32, 44, 56]},                         # or [{"field": ..., "values": [...]}]
     "seeds": "0-4"}                                                    # or [0, 1, 2, 3, 4]

YAML needs PyYAML (installed with the ``ray`` extra); without it, one line says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.config.files import read_config_text
from resnet_viz.config.run import read_config_dict
from resnet_viz.config.spec import check_value
from resnet_viz.sweeps.spec import Axis, SweepSpec, field_paths, parse_seeds

SPEC_KEYS = ("name", "base", "config", "vary", "seeds")


def _parse_text(path: Path, text: str) -> Any:
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError(
                "--spec", str(path), 'JSON, or YAML with PyYAML installed (pip install pyyaml or "resnet-viz[ray]")'
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError("--spec", str(path), f"valid YAML ({' '.join(str(exc).split())})") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError("--spec", str(path), f"valid JSON ({exc})") from None


def _axes(vary: Any) -> tuple[Axis, ...]:
    fields = field_paths()
    if isinstance(vary, dict):
        items = list(vary.items())
    elif isinstance(vary, list) and all(isinstance(v, dict) and set(v) == {"field", "values"} for v in vary):
        items = [(v["field"], v["values"]) for v in vary]
    else:
        raise ConfigError("vary", vary, 'an object {"model.depth": [20, 32]} or a list of {"field", "values"}')
    axes = []
    for path, values in items:
        if path not in fields:
            raise ConfigError("vary", path, "a config field such as model.depth or optim.lr")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"vary {path}", values, "a non-empty list of values")
        info = fields[path]
        cooked = tuple(tuple(v) if isinstance(v, list) else v for v in values)
        for v in cooked:
            try:
                check_value(info, v, None)
            except (AttributeError, TypeError):
                pass  # checks that need the section run when each trial is validated
        axes.append(Axis(path, cooked))
    return tuple(axes)


def spec_from_dict(data: Any, where: Path | None = None) -> SweepSpec:
    """A validated spec from its dict (a file's, or ``sweep.json``'s ``spec``)."""
    if not isinstance(data, dict):
        raise ConfigError("spec", type(data).__name__, "an object with " + ", ".join(SPEC_KEYS))
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"spec {unknown[0]}", data[unknown[0]], "unknown key; allowed: " + ", ".join(SPEC_KEYS))
    if "config" in data:
        source = Path(str(data["config"]))
        if where is not None and not source.is_absolute():
            source = where.parent / source
        base_dict = read_config_dict(source)
    else:
        base_dict = data.get("base", {})
    base = RunConfig.from_dict(base_dict)
    seeds = data.get("seeds", [base.train.seed])
    if isinstance(seeds, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        seed_tuple = parse_seeds(",".join(map(str, seeds))) if seeds else ()
    else:
        seed_tuple = parse_seeds(str(seeds))
    name = data.get("name", "")
    if not isinstance(name, str):
        raise ConfigError("spec name", name, "text")
    return SweepSpec(base, _axes(data.get("vary", {})), seed_tuple, name).validate()


def load_spec_file(path: str | Path) -> SweepSpec:
    """The spec of a JSON or YAML file (:class:`ConfigError` naming the file and what is wrong)."""
    path = Path(path)
    try:
        text = read_config_text(path)
    except ConfigError as exc:  # worded for run configs: say it of the spec file
        raise ConfigError("--spec", str(path), exc.allowed.replace("JSON file", "JSON or YAML file")) from None
    return spec_from_dict(_parse_text(path, text), path)


__all__ = ["load_spec_file", "spec_from_dict"]
