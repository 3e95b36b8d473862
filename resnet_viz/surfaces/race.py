"""The optimiser race: several ``torch.optim`` optimisers minimise one 2D surface from one start.

Each optimiser owns a float64 ``torch.nn.Parameter`` of shape (2,) holding (x, y). A step is exactly
what a training loop does: ``optimizer.step()`` with the gradient at the current point, then
``zero_grad``, ``loss = f(x, y)``, ``loss.backward()`` at the new point. The trajectory keeps, for
every point k = 0..n (0 is the start): the position, f, ∇f, and the optimiser's state after k steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from resnet_viz.config import ConfigError, check_choice, check_number
from resnet_viz.metrics.store import GrowingArray
from resnet_viz.surfaces.functions import Point, Surface, SurfaceConfig, build_surface
from resnet_viz.train.optim import OPTIMIZER_CLASSES as ENGINE_OPTIMIZERS
from resnet_viz.train.optim import OPTIMIZER_TITLES as ENGINE_TITLES
from resnet_viz.train.optim import torch_default as engine_default

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
#: The race's titles, in ``OPTIMIZERS`` order: the engine's, and the two SGD variants'.
OPTIMIZER_TITLES = {
    key: ENGINE_TITLES[key] if key in ENGINE_TITLES else {"momentum": "Momentum", "nesterov": "Nesterov"}[key]
    for key in OPTIMIZERS
}
#: The engine's torch.optim classes, plus the two SGD variants the race shows as racers of their own.
OPTIMIZER_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    **ENGINE_OPTIMIZERS,
    "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD,
}
REACH_TOL = 1e-3  # a racer has reached a minimum once within this distance of it
#: Hyperparameters each optimiser takes, in torch.optim's names (Adam's betas as beta1, beta2).
HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "sgd": ("lr", "weight_decay"),
    "momentum": ("lr", "momentum", "dampening", "weight_decay"),
    "nesterov": ("lr", "momentum", "weight_decay"),
    "adagrad": ("lr", "lr_decay", "initial_accumulator_value", "eps", "weight_decay"),
    "rmsprop": ("lr", "alpha", "eps", "momentum", "centered", "weight_decay"),
    "adam": ("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad"),
    "adamw": ("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad"),
}
#: Settings that make the SGD variants what their names say (momentum 0.9 unless set).
PRESET_HYPERPARAMETERS: dict[str, dict[str, float | bool]] = {
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
}
BOOLEAN_HYPERPARAMETERS = ("centered", "amsgrad")
#: Allowed ranges: (lo, hi, lo_open, hi_open); None = unbounded.
_RANGES: dict[str, tuple[float | None, float | None, bool, bool]] = {
    "lr": (0.0, None, True, False),
    "weight_decay": (0.0, None, False, False),
    "momentum": (0.0, 1.0, False, True),
    "dampening": (0.0, 1.0, False, False),
    "lr_decay": (0.0, None, False, False),
    "initial_accumulator_value": (0.0, None, False, False),
    "eps": (0.0, None, True, False),
    "alpha": (0.0, 1.0, False, True),
    "beta1": (0.0, 1.0, False, True),
    "beta2": (0.0, 1.0, False, True),
}


def torch_default(key: str, name: str) -> float | bool:
    """The value an unset hyperparameter takes: torch.optim's default (or the variant's preset)."""
    preset = PRESET_HYPERPARAMETERS.get(key, {})
    if name in preset:
        return preset[name]
    engine_key = "sgd" if key in ("momentum", "nesterov") else key
    if name in ("beta1", "beta2"):
        default = engine_default(engine_key, "betas")[0 if name == "beta1" else 1]
    else:
        default = engine_default(engine_key, name)
    return bool(default) if isinstance(default, bool) else float(default)


@dataclass
class OptimizerSpec:
    """One racer: an optimiser key (see ``OPTIMIZERS``) and the hyperparameters the user set.

    ``hyper`` uses torch.optim's names with Adam's betas split into ``beta1``/``beta2``; unset ones take
    torch's defaults (momentum and nesterov: momentum 0.9). ``label`` names it in files and legends.
    """

    key: str
    hyper: dict[str, float | bool] = field(default_factory=dict)
    label: str = ""

    def validate(self, where: str = "optimizer") -> None:
        check_choice(f"{where}.name", self.key, OPTIMIZERS)
        allowed = HYPERPARAMETERS[self.key]
        for name, value in self.hyper.items():
            if name not in allowed:
                raise ConfigError(f"{where}.{name}", value, f"{self.key} takes {', '.join(allowed)}")
            if name in BOOLEAN_HYPERPARAMETERS:
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}.{name}", value, "true or false")
                continue
            lo, hi, lo_open, hi_open = _RANGES[name]
            check_number(f"{where}.{name}", value, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)

    def setting(self, name: str) -> float | bool:
        """The value in effect: the user's, else the default."""
        return self.hyper[name] if name in self.hyper else torch_default(self.key, name)

    def torch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the torch.optim class: the variant's preset plus the user's values."""
        kw: dict[str, Any] = dict(PRESET_HYPERPARAMETERS.get(self.key, {}))
        for name, value in self.hyper.items():
            if name not in ("beta1", "beta2"):
                kw[name] = value
        if "beta1" in self.hyper or "beta2" in self.hyper:
            kw["betas"] = (self.setting("beta1"), self.setting("beta2"))
        return kw

    def build(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        try:
            return OPTIMIZER_CLASSES[self.key](params, **self.torch_kwargs())
        except ValueError as exc:  # torch's own checks
            raise ConfigError(f"optimizers.{self.label or self.key}", self.torch_kwargs(), str(exc)) from None

    def describe(self) -> str:
        """``"Adam lr=0.02"``: the title and the values the user set."""
        parts = [f"{k}={_fmt(v)}" for k, v in self.hyper.items()]
        return " ".join([OPTIMIZER_TITLES[self.key], *parts])


def _fmt(value: float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


def assign_labels(specs: list[OptimizerSpec]) -> list[OptimizerSpec]:
    """Give every spec without a label a unique one: its key, plus its settings when the key repeats."""
    counts: dict[str, int] = {}
    for s in specs:
        counts[s.key] = counts.get(s.key, 0) + 1
    used: set[str] = {s.label for s in specs if s.label}
    for s in specs:
        if s.label:
            continue
        settings = ", ".join(f"{k}={_fmt(v)}" for k, v in s.hyper.items())
        base = s.key if counts[s.key] == 1 or not settings else f"{s.key}({settings})"
        label, n = base, 2
        while label in used:
            label, n = f"{base}#{n}", n + 1
        s.label = label
        used.add(label)
    return specs


def parse_optimizers(text: str) -> list[OptimizerSpec]:
    """Parse ``"sgd:lr=0.001,momentum:lr=0.001,adam:lr=0.02,betas=0.9/0.99"``.

    Comma-separated items; an item ``name`` or ``name:key=value`` starts an optimiser, an item
    ``key=value`` adds to the last one. ``betas=b1/b2`` sets both betas. Raises ConfigError.
    """
    specs: list[OptimizerSpec] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if "=" not in item or ":" in item:
            name, _, item = item.partition(":")
            name = name.strip().lower()
            if name not in OPTIMIZERS:
                raise ConfigError("optims", name, "optimisers are " + ", ".join(OPTIMIZERS))
            specs.append(OptimizerSpec(name))
            if not item.strip():
                continue
        if not specs:
            raise ConfigError("optims", text, "start with an optimiser name, e.g. sgd:lr=0.01,adam:lr=0.02")
        key, _, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        spec = specs[-1]
        if key == "betas":
            if "beta1" not in HYPERPARAMETERS[spec.key]:
                raise ConfigError(
                    f"optims.{spec.key}.betas", value, f"{spec.key} takes {', '.join(HYPERPARAMETERS[spec.key])}"
                )
            b = value.split("/")
            if len(b) != 2:
                raise ConfigError(f"optims.{spec.key}.betas", value, "two numbers as b1/b2, e.g. 0.9/0.999")
            spec.hyper["beta1"], spec.hyper["beta2"] = (
                _parse_value("beta1", b[0], spec),
                _parse_value("beta2", b[1], spec),
            )
        else:
            spec.hyper[key] = _parse_value(key, value, spec)
    if not specs:
        raise ConfigError("optims", text, "name at least one optimiser, e.g. sgd:lr=0.01,adam:lr=0.02")
    for s in specs:
        s.validate(f"optims.{s.key}")
    return assign_labels(specs)


def _parse_value(key: str, value: str, spec: OptimizerSpec) -> float | bool:
    if key in BOOLEAN_HYPERPARAMETERS:
        if value.lower() in ("true", "1", "yes", "on"):
            return True
        if value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"optims.{spec.key}.{key}", value, "true or false")
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"optims.{spec.key}.{key}", value, "a number") from None


@dataclass
class RaceConfig:
    """A whole race: the surface, the racers, the start (None: the surface's own) and the number of steps."""

    surface: SurfaceConfig = field(default_factory=SurfaceConfig)
    optimizers: list[OptimizerSpec] = field(default_factory=list)
    start: Point | None = None
    steps: int = 500

    def validate(self) -> None:
        self.surface.validate()
        if not self.optimizers:
            raise ConfigError("optimizers", [], "at least one optimiser")
        for s in self.optimizers:
            s.validate(f"optimizers.{s.label or s.key}")
        if self.start is not None:
            if len(self.start) != 2:
                raise ConfigError("start", self.start, "two numbers x,y")
            for v in self.start:
                check_number("start", v)
        check_number("steps", self.steps, lo=0, hi=1_000_000, integer=True)


@dataclass
class Trajectory:
    """One optimiser's path. Arrays have one row per point k = 0..n (0 is the start).

    ``positions`` (n+1, 2); ``losses`` (n+1,); ``grads`` (n+1, 2): ∇f at each point; ``velocity``
    (n+1, 2): the momentum state after k steps (SGD/RMSProp ``momentum_buffer``, Adam's bias-corrected
    m̂), NaN where the optimiser has none; ``accum`` (n+1, 2): the per-coordinate squared-gradient
    estimate that divides the step (AdaGrad's Σg², RMSProp's running mean of g², Adam's bias-corrected
    v̂), NaN where none. ``diverged_at``: the first point whose position or f is not finite; the
    optimiser stops there and the point is kept. ``reached_at``: the first point within ``REACH_TOL``
    of a known global minimum of the surface (kept up to date as points are added).
    """

    spec: OptimizerSpec
    lr: float
    positions: GrowingArray = field(default_factory=lambda: GrowingArray((2,)))
    losses: GrowingArray = field(default_factory=GrowingArray)
    grads: GrowingArray = field(default_factory=lambda: GrowingArray((2,)))
    velocity: GrowingArray = field(default_factory=lambda: GrowingArray((2,)))
    accum: GrowingArray = field(default_factory=lambda: GrowingArray((2,)))
    diverged_at: int | None = None
    reached_at: int | None = None

    @property
    def label(self) -> str:
        return self.spec.label or self.spec.key

    @property
    def steps(self) -> int:
        """Steps taken (points − 1)."""
        return len(self.losses) - 1

    @property
    def step_lengths(self) -> np.ndarray:
        """‖p_{k+1} − p_k‖ for k = 0..n−1, shape (n,)."""
        lengths: np.ndarray = np.linalg.norm(np.diff(self.positions.values, axis=0), axis=1)
        return lengths

    def steps_to_reach(self, point: Point, tol: float) -> int | None:
        """The first k with ‖p_k − point‖ ≤ tol, or None."""
        d = np.linalg.norm(self.positions.values - np.asarray(point), axis=1)
        hits = np.flatnonzero(d <= tol)
        return int(hits[0]) if hits.size else None

    @property
    def status(self) -> str:
        return "running" if self.diverged_at is None else f"diverged at step {self.diverged_at}"


class OptimizerRace:
    """Steps every optimiser of a race in lockstep. Build from a surface, a start and the racers."""

    def __init__(self, surface: Surface, start: Point, specs: list[OptimizerSpec]) -> None:
        self.surface = surface
        self.specs = assign_labels(list(specs))
        self.reset(start)

    @classmethod
    def from_config(cls, cfg: RaceConfig) -> OptimizerRace:
        cfg.validate()
        surface = build_surface(cfg.surface)
        return cls(surface, cfg.start if cfg.start is not None else surface.start, cfg.optimizers)

    def reset(self, start: Point | None = None) -> None:
        """Back to step 0, at ``start`` (default: the current start), with fresh optimiser states."""
        if start is not None:
            self.start = (float(start[0]), float(start[1]))
        self.trajectories: list[Trajectory] = []
        self._params: list[torch.nn.Parameter] = []
        self._optims: list[torch.optim.Optimizer] = []
        for spec in self.specs:
            p = torch.nn.Parameter(torch.tensor(self.start, dtype=torch.float64))
            opt = spec.build([p])
            traj = Trajectory(spec, float(opt.param_groups[0]["lr"]))
            self._params.append(p)
            self._optims.append(opt)
            self.trajectories.append(traj)
            self._record(traj, p, opt)

    @property
    def steps(self) -> int:
        """Steps taken by the racers still running (or the most any took)."""
        return max((t.steps for t in self.trajectories), default=0)

    @property
    def running(self) -> bool:
        return any(t.diverged_at is None for t in self.trajectories)

    def step(self, n: int = 1) -> None:
        """Advance every optimiser that has not diverged by ``n`` steps."""
        for _ in range(n):
            for traj, p, opt in zip(self.trajectories, self._params, self._optims):
                if traj.diverged_at is None:
                    opt.step()
                    self._record(traj, p, opt)

    def run(self, steps: int) -> OptimizerRace:
        self.step(steps)
        return self

    def _record(self, traj: Trajectory, p: torch.nn.Parameter, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad()
        loss = self.surface(p[0], p[1])
        value = float(loss.detach())
        if not math.isfinite(value):  # no gradient at a non-finite point: say so rather than 0
            grad = torch.full_like(p, float("nan"))
        else:
            if loss.requires_grad:
                torch.autograd.backward(loss)
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
        pos = p.detach().numpy().copy()
        traj.positions.extend(pos[None])
        traj.losses.extend(np.array([value]))
        traj.grads.extend(grad.detach().numpy()[None].copy())
        velocity, accum = _optimizer_state(opt, p)
        traj.velocity.extend(velocity[None])
        traj.accum.extend(accum[None])
        if not (math.isfinite(value) and np.isfinite(pos).all()):
            traj.diverged_at = traj.steps
        elif traj.reached_at is None and any(math.dist(pos, m) <= REACH_TOL for m in self.surface.minima):
            traj.reached_at = traj.steps

    def summary(self) -> list[dict[str, Any]]:
        """Per optimiser: label, settings, steps, final x, y, f, status and steps to 1e-3 of a known minimum."""
        rows = []
        for t in self.trajectories:
            x, y = t.positions.values[-1]
            rows.append(
                {
                    "optimizer": t.label,
                    "title": t.spec.describe(),
                    "lr": t.lr,
                    "steps": t.steps,
                    "x": float(x),
                    "y": float(y),
                    "loss": float(t.losses.values[-1]),
                    "status": t.status,
                    "steps_to_minimum_1e-3": t.reached_at,
                }
            )
        return rows


def _optimizer_state(opt: torch.optim.Optimizer, p: torch.nn.Parameter) -> tuple[np.ndarray, np.ndarray]:
    """(velocity, accum) of ``p`` after the steps taken so far, NaN where the optimiser has none."""
    nan = np.full(2, np.nan)
    state = opt.state.get(p, {})
    group = opt.param_groups[0]
    velocity, accum = nan, nan
    if "momentum_buffer" in state and state["momentum_buffer"] is not None:
        velocity = state["momentum_buffer"].detach().numpy().copy()
    if "sum" in state:  # Adagrad
        accum = state["sum"].detach().numpy().copy()
    if "square_avg" in state:  # RMSprop
        accum = state["square_avg"].detach().numpy().copy()
    if "exp_avg" in state:  # Adam, AdamW: bias-corrected moments
        k = float(state["step"])
        b1, b2 = group["betas"]
        velocity = state["exp_avg"].detach().numpy() / (1 - b1**k)
        accum = state["exp_avg_sq"].detach().numpy() / (1 - b2**k)
    return velocity, accum
