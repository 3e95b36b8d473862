"""The 2D test functions of the optimiser race, evaluated with torch so autograd gives the gradient.

A :class:`Surface` maps tensors ``x`` and ``y`` (any broadcastable shapes) to ``f(x, y)`` of the
broadcast shape. :func:`build_surface` makes one from a :class:`SurfaceConfig`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from resnet_viz.config import ConfigError, check_choice, check_number
from resnet_viz.surfaces.formula import FormulaError, parse_formula

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Point = tuple[float, float]

SURFACES = ("quadratic", "rosenbrock", "beale", "himmelblau", "saddle", "two_minima", "plateau", "formula")

SURFACE_TITLES = {
    "quadratic": "Elongated quadratic bowl",
    "rosenbrock": "Rosenbrock",
    "beale": "Beale",
    "himmelblau": "Himmelblau",
    "saddle": "Saddle",
    "two_minima": "Local and global minimum",
    "plateau": "Plateau",
    "formula": "Your formula",
}


@dataclass(frozen=True)
class SurfaceConfig:
    """Which surface, with its parameters.

    ``condition`` and ``angle`` (degrees) shape the quadratic bowl ½(u² + κ v²) in coordinates rotated by
    ``angle``; ``formula`` is the user's f(x, y) when ``name`` is ``"formula"``.
    """

    name: str = "rosenbrock"
    condition: float = 50.0
    angle: float = 0.0
    formula: str = "(1-x)^2 + 100*(y-x^2)^2"

    def validate(self) -> None:
        check_choice("surface.name", self.name, SURFACES)
        if self.name == "quadratic":
            check_number("surface.condition", self.condition, lo=1.0, hi=1e6)
            check_number("surface.angle", self.angle, lo=-90.0, hi=90.0)
        if self.name == "formula":
            try:
                parse_formula(self.formula)
            except FormulaError as exc:
                raise ConfigError("surface.formula", self.formula, str(exc)) from None


@dataclass(frozen=True)
class Surface:
    """A 2D function with what the race and the view need to know about it.

    ``minima``: known global minima (x, y); ``local_minima``: known local (non-global) minima;
    ``min_value``: f at the global minimum, None when unknown (user formulas); ``x_range``/``y_range``:
    the default view; ``start``: the default starting point; ``log_view``: whether its values span so
    many decades that a log colour scale shows it best; ``suggested``: hyperparameters per
    optimiser key that make a telling race on this surface (the window offers them; torch.optim's
    defaults apply wherever nothing is set).
    """

    name: str
    title: str
    text: str
    fn: Fn = field(repr=False, compare=False)
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    start: Point
    minima: tuple[Point, ...] = ()
    local_minima: tuple[Point, ...] = ()
    min_value: float | None = None
    log_view: bool = False
    suggested: dict[str, dict[str, float]] = field(default_factory=dict, compare=False)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.fn(x, y)

    def value(self, x: float, y: float) -> float:
        """f(x, y) as a Python float (float64)."""
        t = torch.tensor([x, y], dtype=torch.float64)
        return float(self.fn(t[0], t[1]))

    def gradient(self, x: float, y: float) -> tuple[float, float]:
        """∇f(x, y) by autograd (float64)."""
        t = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
        torch.autograd.backward(self.fn(t[0], t[1]))
        g = t.grad
        assert g is not None
        return float(g[0]), float(g[1])

    def view_containing(self, point: Point, margin: float = 0.1) -> tuple[tuple[float, float], tuple[float, float]]:
        """The default view ranges, widened (by ``margin`` of the span) where needed to show ``point``."""
        out = []
        for (lo, hi), v in ((self.x_range, point[0]), (self.y_range, point[1])):
            pad = margin * (hi - lo)
            if math.isfinite(v):
                lo, hi = min(lo, v - pad), max(hi, v + pad)
            out.append((lo, hi))
        return out[0], out[1]

    def grid(
        self,
        nx: int = 240,
        ny: int = 240,
        x_range: tuple[float, float] | None = None,
        y_range: tuple[float, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample f on a regular grid: ``xs`` (nx,), ``ys`` (ny,), ``z`` (nx, ny) with z[i, j] = f(xs[i], ys[j])."""
        x0, x1 = x_range or self.x_range
        y0, y1 = y_range or self.y_range
        xs = torch.linspace(x0, x1, nx, dtype=torch.float64)
        ys = torch.linspace(y0, y1, ny, dtype=torch.float64)
        with torch.no_grad():
            z = self.fn(xs[:, None], ys[None, :])
            z = torch.broadcast_to(z, (nx, ny))
        return xs.numpy(), ys.numpy(), z.numpy().copy()


# --- the functions ----------------------------------------------------------------------------------
def _quadratic(condition: float, angle_deg: float) -> Fn:
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))

    def f(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        u = c * x + s * y
        v = -s * x + c * y
        return 0.5 * (u * u + condition * v * v)

    return f


def _rosenbrock(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _beale(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _himmelblau(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


def _saddle(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x * x + y**4 / 4 - y * y / 2


def _two_minima(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x * x - 1) ** 2 + 0.3 * x + 0.5 * y * y


def _plateau(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 1 - torch.exp(-(x * x + y * y))


def _two_minima_points() -> tuple[Point, Point]:
    """Stationary points of 4x³ − 4x + 0.3 = 0 that are minima: (global, local), y = 0."""
    roots = np.roots([4.0, 0.0, -4.0, 0.3])
    real = sorted(float(r.real) for r in roots if abs(r.imag) < 1e-12)
    return (real[0], 0.0), (real[-1], 0.0)


class _Fixed(NamedTuple):
    """A surface without parameters: its formula as text, f, the default view, start and minima, and
    the learning rates suggested (see :func:`_rates`)."""

    text: str
    fn: Fn
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    start: Point
    minima: tuple[Point, ...]
    rates: dict[str, float]  # suggested lr for sgd, adagrad, rmsprop, adam
    min_value: float = 0.0
    log_view: bool = False


_FIXED = {
    "rosenbrock": _Fixed(
        "(1 − x)² + 100·(y − x²)²",
        _rosenbrock,
        (-2.0, 2.0),
        (-1.0, 3.0),
        (-1.5, 2.0),
        ((1.0, 1.0),),
        {"sgd": 1e-3, "adagrad": 0.5, "rmsprop": 0.01, "adam": 0.02},
        log_view=True,
    ),
    "beale": _Fixed(
        "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
        _beale,
        (-4.5, 4.5),
        (-4.5, 4.5),
        (1.0, 1.5),
        ((3.0, 0.5),),
        {"sgd": 1e-3, "adagrad": 0.5, "rmsprop": 0.01, "adam": 0.05},
        log_view=True,
    ),
    "himmelblau": _Fixed(
        "(x² + y − 11)² + (x + y² − 7)²",
        _himmelblau,
        (-5.0, 5.0),
        (-5.0, 5.0),
        (-0.3, -0.9),
        (
            (3.0, 2.0),
            (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.2831859912861696),
            (3.5844283403304917, -1.8481265269644034),
        ),
        {"sgd": 2e-3, "adagrad": 1.0, "rmsprop": 0.05, "adam": 0.1},
        log_view=True,
    ),
    "saddle": _Fixed(
        "x² + y⁴/4 − y²/2",
        _saddle,
        (-2.0, 2.0),
        (-2.0, 2.0),
        (-1.8, 1e-3),
        ((0.0, 1.0), (0.0, -1.0)),
        {"sgd": 0.05, "adagrad": 0.5, "rmsprop": 0.02, "adam": 0.05},
        min_value=-0.25,
    ),
    "plateau": _Fixed(
        "1 − exp(−(x² + y²))",
        _plateau,
        (-3.0, 3.0),
        (-3.0, 3.0),
        (2.2, 1.6),
        ((0.0, 0.0),),
        {"sgd": 0.1, "adagrad": 0.5, "rmsprop": 0.02, "adam": 0.05},
    ),
}


def build_surface(cfg: SurfaceConfig) -> Surface:
    """The :class:`Surface` for a validated-on-the-spot config (raises ConfigError)."""
    cfg.validate()
    name = cfg.name
    title = SURFACE_TITLES[name]
    if name == "quadratic":
        k = cfg.condition
        rot = f" rotated by {cfg.angle:g}°" if cfg.angle else ""
        return Surface(
            name,
            f"{title} (κ = {k:g})",
            f"½(u² + {k:g}·v²){rot}",
            _quadratic(k, cfg.angle),
            (-2.0, 2.0),
            (-1.0, 1.0),
            (-1.8, 0.6),
            minima=((0.0, 0.0),),
            min_value=0.0,
            log_view=True,
            # SGD at lr·κ = 1.8 zig-zags across the bowl; Nesterov is stable only below ~1.36
            suggested=_rates(sgd=round(1.8 / k, 6), nesterov=round(1.2 / k, 6), adagrad=0.5, rmsprop=0.05, adam=0.1),
        )
    if name == "two_minima":
        glob, loc = _two_minima_points()
        return Surface(
            name,
            title,
            "(x² − 1)² + 0.3·x + y²/2",
            _two_minima,
            (-2.0, 2.0),
            (-2.0, 2.0),
            (1.9, 1.5),
            minima=(glob,),
            local_minima=(loc,),
            min_value=float(_two_minima(*torch.tensor(glob, dtype=torch.float64))),  # float64, like the race
            suggested=_rates(sgd=0.01, adagrad=0.5, rmsprop=0.02, adam=0.05),
        )
    if name in _FIXED:
        f = _FIXED[name]
        return Surface(
            name,
            title,
            f.text,
            f.fn,
            f.x_range,
            f.y_range,
            f.start,
            minima=f.minima,
            min_value=f.min_value,
            log_view=f.log_view,
            suggested=_rates(**f.rates),
        )
    formula = parse_formula(cfg.formula)
    return Surface(name, title, formula.text, formula, (-2.0, 2.0), (-2.0, 2.0), (-1.5, 1.5))


def _rates(
    *, sgd: float, adagrad: float, rmsprop: float, adam: float, nesterov: float | None = None
) -> dict[str, dict[str, float]]:
    """Suggested learning rates per racer: the SGD family shares one (Nesterov may differ), AdamW Adam's."""
    return {
        "sgd": {"lr": sgd},
        "momentum": {"lr": sgd},
        "nesterov": {"lr": sgd if nesterov is None else nesterov},
        "adagrad": {"lr": adagrad},
        "rmsprop": {"lr": rmsprop},
        "adam": {"lr": adam},
        "adamw": {"lr": adam},
    }
