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
     "race": {"surface": "rosenbrock", "optims": "sgd:lr=0.001,adam:lr=0.02", "start": [-1.5, 2], "steps": 500}}

A run's config is ``base``, then the size's ``config``, then the run's ``config``, then the size's
entry for that run, merged section by section.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_viz.config import ConfigError, RunConfig

SIZES = ("quick", "paper")
RELATIONS = (">", ">=", "<", "<=")
#: Panel keys of the network explorer a preset may show (resnet_viz.gui.plots).
PLOTS = ("error", "loss", "grad_heatmap", "grad_norm_depth", "act_std_depth", "out_grad_depth", "update_ratio_depth")
MODES = ("sequential", "interleaved")

#: Where the preset files live: next to the package when installed from a wheel, else the repository's assets/.
PRESET_DIRS = (Path(__file__).resolve().parent / "data",
               Path(__file__).resolve().parents[2] / "assets" / "presets")


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
class Check:
    """``left`` RELATION ``factor`` × ``right`` (+ ``margin``): the direction the preset should show.

    ``left`` and ``right`` are (run name, metric name) pairs; see :mod:`resnet_viz.presets.measures`.
    """

    claim: str
    left: tuple[str, str]
    relation: str
    right: tuple[str, str]
    factor: float = 1.0
    margin: float = 0.0
    sizes: tuple[str, ...] = SIZES  # the sizes it applies to


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
    source: str = ""  # the file it was read from
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def runs(self, size: str = "quick") -> tuple[PresetRun, ...]:
        if size not in self.sizes:
            raise ConfigError("size", size, "one of " + ", ".join(self.sizes))
        return self.sizes[size].runs

    def checks_for(self, size: str) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if size in c.sizes)

    def run_names(self) -> list[str]:
        return [r.name for r in self.runs("quick")]


def _req(data: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    if key not in data:
        raise PresetError(f"{where}: missing '{key}'")
    value = data[key]
    if not isinstance(value, kind):
        raise PresetError(f"{where}: '{key}' must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def preset_from_dict(data: dict[str, Any], source: str = "<dict>") -> Preset:
    """Build and validate a preset; raises :class:`PresetError` naming ``source`` and the field."""
    where = source
    name = _req(data, "name", where)
    where = f"{source} ({name})"
    runs_raw = _req(data, "runs", where, list)
    sizes_raw = _req(data, "sizes", where, dict)
    run_names = [_req(r, "name", f"{where}: runs[{i}]") for i, r in enumerate(runs_raw)]
    if len(set(run_names)) != len(run_names) or not run_names:
        raise PresetError(f"{where}: runs need distinct names, got {run_names}")
    for size in sizes_raw:
        if size not in SIZES:
            raise PresetError(f"{where}: size '{size}' is not one of {', '.join(SIZES)}")
    if "quick" not in sizes_raw:
        raise PresetError(f"{where}: a 'quick' size is required")
    base = data.get("base", {})
    sizes: dict[str, SizeSpec] = {}
    for size, spec in sizes_raw.items():
        per_run = spec.get("runs", {})
        unknown = set(per_run) - set(run_names)
        if unknown:
            raise PresetError(f"{where}: sizes.{size}.runs names unknown runs {sorted(unknown)}")
        runs = []
        for raw, run_name in zip(runs_raw, run_names):
            merged = merge(merge(merge(base, spec.get("config", {})), raw.get("config", {})), per_run.get(run_name, {}))
            try:
                config = RunConfig.from_dict(merged)
            except ConfigError as exc:
                raise PresetError(f"{where}: size {size}, run {run_name}: {exc}") from exc
            except (TypeError, ValueError) as exc:
                raise PresetError(f"{where}: size {size}, run {run_name}: {exc}") from exc
            runs.append(PresetRun(run_name, config))
        sizes[size] = SizeSpec(note=str(spec.get("note", "")), minutes=spec.get("minutes"), runs=tuple(runs))
    plots = tuple(data.get("plots", ["error", "loss"]))
    for p in plots:
        if p not in PLOTS:
            raise PresetError(f"{where}: plot '{p}' is not one of {', '.join(PLOTS)}")
    mode = data.get("mode", "interleaved")
    if mode not in MODES:
        raise PresetError(f"{where}: mode '{mode}' is not one of {', '.join(MODES)}")
    from resnet_viz.presets.measures import METRICS

    def pair(value: Any, what: str) -> tuple[str, str]:
        if not (isinstance(value, list) and len(value) == 2):
            raise PresetError(f"{where}: {what} must be [run, metric], got {value!r}")
        run, metric = value
        if run not in run_names:
            raise PresetError(f"{where}: {what} names unknown run '{run}' (runs: {', '.join(run_names)})")
        if metric not in METRICS:
            raise PresetError(f"{where}: {what} names unknown metric '{metric}' (known: {', '.join(METRICS)})")
        return run, metric

    checks = []
    for i, c in enumerate(data.get("checks", [])):
        rel = _req(c, "relation", f"{where}: checks[{i}]")
        if rel not in RELATIONS:
            raise PresetError(f"{where}: checks[{i}].relation '{rel}' is not one of {' '.join(RELATIONS)}")
        checks.append(Check(claim=_req(c, "claim", f"{where}: checks[{i}]"),
                            left=pair(c.get("left"), f"checks[{i}].left"), relation=rel,
                            right=pair(c.get("right"), f"checks[{i}].right"),
                            factor=float(c.get("factor", 1.0)), margin=float(c.get("margin", 0.0)),
                            sizes=tuple(c.get("sizes", SIZES))))
        if not set(checks[-1].sizes) <= set(SIZES):
            raise PresetError(f"{where}: checks[{i}].sizes {list(checks[-1].sizes)} must be among {', '.join(SIZES)}")
    published = []
    for i, p in enumerate(data.get("published", [])):
        if p.get("metric") is not None and p["metric"] not in METRICS:
            raise PresetError(f"{where}: published[{i}].metric '{p['metric']}' is unknown")
        if p.get("run") is not None and p["run"] not in run_names:
            raise PresetError(f"{where}: published[{i}].run '{p['run']}' is unknown")
        published.append(Published(quantity=_req(p, "quantity", f"{where}: published[{i}]"),
                                   value=_req(p, "value", f"{where}: published[{i}]"),
                                   source=str(p.get("source", "")), run=p.get("run"), metric=p.get("metric"),
                                   number=p.get("number")))
    race = None
    if "race" in data:
        r = data["race"]
        start = r.get("start")
        race = RaceSetup(surface=_req(r, "surface", f"{where}: race"), optims=_req(r, "optims", f"{where}: race"),
                         start=None if start is None else (float(start[0]), float(start[1])),
                         steps=int(r.get("steps", 300)))
    return Preset(name=name, title=_req(data, "title", where), paper=str(data.get("paper", "")),
                  summary=str(data.get("summary", "")), formula=str(data.get("formula", "")),
                  explanation=str(data.get("explanation", "")), look_for=tuple(data.get("look_for", ())),
                  plots=plots, mode=mode, sizes=sizes, published=tuple(published), checks=tuple(checks),
                  race=race, source=source, raw=data)


def load_preset_file(path: str | Path) -> Preset:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PresetError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise PresetError(f"{path}: expected a JSON object")
    return preset_from_dict(data, source=str(path))


def preset_dir() -> Path:
    for d in PRESET_DIRS:
        if d.is_dir() and any(d.glob("*.json")):
            return d
    raise PresetError("no preset files found in " + " or ".join(str(d) for d in PRESET_DIRS))


def load_presets(directory: str | Path | None = None) -> dict[str, Preset]:
    """Every preset in ``directory`` (default: the shipped ones), in the order of their ``order`` key."""
    d = Path(directory) if directory is not None else preset_dir()
    found = []
    for path in sorted(d.glob("*.json")):
        preset = load_preset_file(path)
        found.append((preset.raw.get("order", 999), preset.name, preset))
    found.sort(key=lambda t: (t[0], t[1]))
    out: dict[str, Preset] = {}
    for _order, name, preset in found:
        if name in out:
            raise PresetError(f"{preset.source}: a second preset named '{name}'")
        out[name] = preset
    return out


def get_preset(name: str, directory: str | Path | None = None) -> Preset:
    presets = load_presets(directory)
    if name not in presets:
        raise ConfigError("preset", name, "one of " + ", ".join(presets))
    return presets[name]
