"""Preset: a guided experiment, read from ``assets/presets/<name>.json``.

A preset names the runs to train (each a :class:`~resnet_viz.config.RunConfig`), the plots that
show the effect, a short explanation with the formula and the published numbers, and the checks
that say whether the expected direction held. Each preset comes in two sizes: ``quick`` (a 2-core
CPU in about five minutes, on the embedded data) and ``paper`` (the paper's depths, CIFAR-10 and
schedule, for a GPU).

JSON layout (every key but ``name``, ``title``, ``runs`` and ``sizes`` is optional)::

    {"name": "degradation", "title": "...", "paper": "...", "summary": "...", "formula": "...",
     "explanation": "...", "look_for": ["..."], "plots": ["error", "loss"],
     "mode": "interleaved",
     "base": {RunConfig sections shared by every run},
     "runs": [{"name": "plain-20", "config": {sections}}, ...],
     "sizes": {"quick": {"note": "...", "minutes": 5, "config": {sections}, "runs": {"plain-56": {sections}}},
               "paper": {...}},
     "published": [{"quantity": "...", "value": "8.75%", "source": "Table 6",
                    "run": "resnet-20", "metric": "final_test_error", "number": 0.0875}],
     "checks": [{"claim": "...", "left": ["plain-56", "final_train_error"], "relation": ">",
                 "right": ["plain-20", "final_train_error"], "factor": 1.0, "margin": 0.0}],
     "race": {"surface": "rosenbrock", "optims": "sgd:lr=0.001,adam:lr=0.02", "start": [-1.5, 2], "steps": 500},
     "landscape": {"quick": {"directions": "random", "grid": 11, "samples": 500}, "paper": {"grid": 51}}}

A run's config is ``base``, then the size's ``config``, then the run's ``config``, then the size's
entry for that run, merged section by section.

Where presets come from: :mod:`resnet_viz.presets.library`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from resnet_viz.config import TRAIN_MODES, ConfigError, RunConfig
from resnet_viz.presets.checks import RELATIONS, SIZES, Check
from resnet_viz.presets.landscape_setup import LandscapeSetup, parse_landscape_setup
from resnet_viz.presets.measures import METRICS

#: Panel keys of the network explorer a preset may show (resnet_viz.gui.plots).
PLOTS = (
    "error",
    "loss",
    "grad_heatmap",
    "grad_norm_depth",
    "act_std_depth",
    "out_grad_depth",
    "update_ratio_depth",
    "dead_units",
    "sharpness",
    "distributions",
    "histogram_overlay",
)
#: A preset name: also a folder name (reproductions/<name>-...), and never the CLI's ``all``.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class PresetError(ValueError):
    """A preset file that cannot be used; the message names the file and the field."""


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``over``, recursively for nested dicts (neither argument is changed)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class PresetRun:
    """One run of a preset at one size."""

    name: str  # short, unique within the preset: "plain-56", "xavier"
    config: RunConfig


@dataclass(frozen=True)
class Published:
    """A number from the paper. ``run``/``metric``/``number`` tie it to a measured value, when comparable."""

    quantity: str
    value: str
    source: str = ""
    run: str | None = None
    metric: str | None = None
    number: float | None = None


@dataclass(frozen=True)
class RaceSetup:
    """The 2D optimiser race shown with a preset (the ``optimisers`` preset)."""

    surface: str
    optims: str  # as for ``resnet-viz surfaces --optims``
    start: tuple[float, float] | None = None
    steps: int = 300


@dataclass(frozen=True)
class SizeSpec:
    note: str  # what this size changes from the paper, shown on screen and in the report
    minutes: float | None  # about how long it takes (on a 2-core CPU for quick, a GPU for paper)
    runs: tuple[PresetRun, ...]


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    paper: str
    summary: str
    formula: str
    explanation: str
    look_for: tuple[str, ...]
    plots: tuple[str, ...]
    mode: str
    sizes: dict[str, SizeSpec]
    published: tuple[Published, ...] = ()
    checks: tuple[Check, ...] = ()
    race: RaceSetup | None = None
    landscape: LandscapeSetup | None = None  # loss landscapes of the trained runs (resnet_viz.landscape)
    source: str = ""  # the file it was read from
    user: bool = False  # read from the user's presets folder or a file the user named, not shipped
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def runs(self, size: str = "quick") -> tuple[PresetRun, ...]:
        if size not in self.sizes:
            raise ConfigError("size", size, "one of " + ", ".join(self.sizes))
        return self.sizes[size].runs

    def checks_for(self, size: str) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if size in c.sizes)

    def run_names(self) -> list[str]:
        return [r.name for r in self.runs("quick")]


_KIND_NAMES = {str: "a string", list: "a list", dict: "an object", int: "an integer", float: "a number"}


def _typed(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    """``value`` if it is a ``kind`` (JSON true/false count as no number), else :class:`PresetError`."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        names = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
        raise PresetError(f"{where}: '{what}' must be {names}, got {shown}")
    return value


def _req(data: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    if not isinstance(data, dict):
        raise PresetError(f"{where}: must be an object, got {data!r:.60}")
    if key not in data:
        raise PresetError(f"{where}: missing '{key}'")
    return _typed(data[key], kind, where, key)


def _opt(data: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...], default: Any) -> Any:
    return _typed(data[key], kind, where, key) if key in data else default


def _strings(data: dict[str, Any], key: str, where: str, default: list[str]) -> list[str]:
    values = _opt(data, key, where, list, default)
    for i, v in enumerate(values):
        _typed(v, str, where, f"{key}[{i}]")
    return list(values)


def preset_from_dict(data: dict[str, Any], source: str = "<dict>") -> Preset:
    """Build and validate a preset; raises :class:`PresetError` naming ``source`` and the field."""
    name = _req(data, "name", source)
    if not NAME_PATTERN.fullmatch(name) or name == "all":
        raise PresetError(
            f"{source}: 'name' {name!r} must be 1 to 64 letters, digits, '.', '_' or '-' "
            "(not starting with '.', '_' or '-') and not 'all'"
        )
    where = f"{source} ({name})"
    runs_raw = _req(data, "runs", where, list)
    sizes_raw = _req(data, "sizes", where, dict)
    run_names = _run_names(runs_raw, where)
    sizes = _sizes(sizes_raw, runs_raw, run_names, _opt(data, "base", where, dict, {}), where)
    plots = tuple(_strings(data, "plots", where, ["error", "loss"]))
    for p in plots:
        if p not in PLOTS:
            raise PresetError(f"{where}: plot {p!r} is not one of {', '.join(PLOTS)}")
    mode = data.get("mode", "interleaved")
    if mode not in TRAIN_MODES:
        raise PresetError(f"{where}: mode {mode!r} is not one of {', '.join(TRAIN_MODES)}")
    _opt(data, "order", where, (int, float), 999)
    checks = _checks(_opt(data, "checks", where, list, []), run_names, where)
    published = _published(_opt(data, "published", where, list, []), run_names, where)
    race = _race(_typed(data["race"], dict, where, "race"), where) if "race" in data else None
    try:
        landscape = parse_landscape_setup(data["landscape"], where) if "landscape" in data else None
    except ValueError as exc:
        raise PresetError(str(exc)) from None
    return Preset(
        name=name,
        title=_req(data, "title", where),
        paper=str(data.get("paper", "")),
        summary=str(data.get("summary", "")),
        formula=str(data.get("formula", "")),
        explanation=str(data.get("explanation", "")),
        look_for=tuple(_strings(data, "look_for", where, [])),
        plots=plots,
        mode=mode,
        sizes=sizes,
        published=published,
        checks=checks,
        race=race,
        landscape=landscape,
        source=source,
        raw=data,
    )


def _run_names(runs_raw: list[Any], where: str) -> list[str]:
    """The runs' names, distinct and at least one."""
    run_names = [_req(r, "name", f"{where}: runs[{i}]") for i, r in enumerate(runs_raw)]
    if len(set(run_names)) != len(run_names) or not run_names:
        raise PresetError(f"{where}: runs need distinct names, got {run_names}")
    return run_names


def _sizes(
    sizes_raw: dict[str, Any], runs_raw: list[Any], run_names: list[str], base: dict[str, Any], where: str
) -> dict[str, SizeSpec]:
    """Each size's note, minutes and runs (configs merged: base, size, run, the size's entry for the run)."""
    for size in sizes_raw:
        if size not in SIZES:
            raise PresetError(f"{where}: size {size!r} is not one of {', '.join(SIZES)}")
    if "quick" not in sizes_raw:
        raise PresetError(f"{where}: a 'quick' size is required")
    sizes: dict[str, SizeSpec] = {}
    for size, spec in sizes_raw.items():
        at = f"{where}: sizes.{size}"
        _typed(spec, dict, f"{where}: sizes", size)
        per_run = _opt(spec, "runs", at, dict, {})
        unknown = set(per_run) - set(run_names)
        if unknown:
            raise PresetError(f"{where}: sizes.{size}.runs names unknown runs {sorted(unknown)}")
        size_config = _opt(spec, "config", at, dict, {})
        runs = []
        for i, (raw, run_name) in enumerate(zip(runs_raw, run_names)):
            run_config = _opt(raw, "config", f"{where}: runs[{i}]", dict, {})
            override = _typed(per_run.get(run_name, {}), dict, f"{at}.runs", run_name)
            merged = merge(merge(merge(base, size_config), run_config), override)
            try:
                config = RunConfig.from_dict(merged)
            except (ConfigError, TypeError, ValueError) as exc:
                raise PresetError(f"{where}: size {size}, run {run_name}: {exc}") from exc
            runs.append(PresetRun(run_name, config))
        sizes[size] = SizeSpec(
            note=str(spec.get("note", "")),
            minutes=_opt(spec, "minutes", at, (int, float, type(None)), None),
            runs=tuple(runs),
        )
    return sizes


def _pair(value: Any, what: str, run_names: list[str], where: str) -> tuple[str, str]:
    """A check's side: [run, metric], both known."""
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise PresetError(f"{where}: {what} must be [run, metric] (two strings), got {value!r:.60}")
    run, metric = value
    if run not in run_names:
        raise PresetError(f"{where}: {what} names unknown run {run!r} (runs: {', '.join(run_names)})")
    if metric not in METRICS:
        raise PresetError(f"{where}: {what} names unknown metric {metric!r} (known: {', '.join(METRICS)})")
    return run, metric


def _checks(checks_raw: list[Any], run_names: list[str], where: str) -> tuple[Check, ...]:
    checks = []
    for i, c in enumerate(checks_raw):
        at = f"{where}: checks[{i}]"
        rel = _req(c, "relation", at)
        if rel not in RELATIONS:
            raise PresetError(f"{where}: checks[{i}].relation {rel!r} is not one of {' '.join(RELATIONS)}")
        checks.append(
            Check(
                claim=_req(c, "claim", at),
                left=_pair(c.get("left"), f"checks[{i}].left", run_names, where),
                relation=rel,
                right=_pair(c.get("right"), f"checks[{i}].right", run_names, where),
                factor=float(_opt(c, "factor", at, (int, float), 1.0)),
                margin=float(_opt(c, "margin", at, (int, float), 0.0)),
                sizes=tuple(_strings(c, "sizes", at, list(SIZES))),
            )
        )
        if not set(checks[-1].sizes) <= set(SIZES):
            raise PresetError(f"{where}: checks[{i}].sizes {list(checks[-1].sizes)} must be among {', '.join(SIZES)}")
    return tuple(checks)


def _published(published_raw: list[Any], run_names: list[str], where: str) -> tuple[Published, ...]:
    published = []
    for i, p in enumerate(published_raw):
        at = f"{where}: published[{i}]"
        _typed(p, dict, f"{where}: published", str(i))
        if p.get("metric") is not None and p["metric"] not in METRICS:
            raise PresetError(f"{where}: published[{i}].metric {p['metric']!r} is unknown")
        if p.get("run") is not None and p["run"] not in run_names:
            raise PresetError(f"{where}: published[{i}].run {p['run']!r} is unknown")
        published.append(
            Published(
                quantity=_req(p, "quantity", at),
                value=_req(p, "value", at),
                source=str(p.get("source", "")),
                run=p.get("run"),
                metric=p.get("metric"),
                number=_opt(p, "number", at, (int, float, type(None)), None),
            )
        )
    return tuple(published)


def _race(r: dict[str, Any], where: str) -> RaceSetup:
    start = _opt(r, "start", f"{where}: race", (list, type(None)), None)
    if start is not None and (
        len(start) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in start)
    ):
        raise PresetError(f"{where}: race.start must be [x, y] (two numbers), got {start!r:.60}")
    steps = _opt(r, "steps", f"{where}: race", int, 300)
    if steps < 1:
        raise PresetError(f"{where}: race.steps must be a positive integer, got {steps}")
    return RaceSetup(
        surface=_req(r, "surface", f"{where}: race"),
        optims=_req(r, "optims", f"{where}: race"),
        start=None if start is None else (float(start[0]), float(start[1])),
        steps=steps,
    )
