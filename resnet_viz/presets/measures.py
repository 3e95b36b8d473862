"""Measured numbers of a finished run, and the checks of a preset evaluated on them.

Every metric is a plain function of a :class:`~resnet_viz.metrics.store.RunStore`; ``None`` when the
run did not record what it needs (e.g. no evaluation yet).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from resnet_viz.metrics.store import RunStore
from resnet_viz.presets.checks import Check


def _last_eval(store: RunStore, attr: str) -> float | None:
    return float(getattr(store.evals[-1], attr)) if store.evals else None


def _init(store: RunStore, attr: str) -> np.ndarray | None:
    return None if store.started is None else np.asarray(getattr(store.started, attr), dtype=np.float64)


def _geomean(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.mean(np.log(values)))) if values.size else None


def _early_mask(store: RunStore) -> np.ndarray:
    """The stem and the first stage of a CIFAR net (a net with a "stem" layer); the first layer otherwise."""
    if store.started is None:  # no layers: measure() reads it as not measured
        raise ValueError("the run has not started")
    layers = store.started.layers
    stages = np.asarray(layers.stages)
    if "stem" in layers.roles:
        return stages <= 1
    mask = np.zeros(len(stages), dtype=bool)
    mask[0] = True
    return mask


def _live(store: RunStore, quantity: str) -> np.ndarray | None:
    """Geometric mean over every probed step, per layer [L] (``None`` without probes)."""
    rows = store.layer(quantity)
    if rows.shape[0] == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(np.isfinite(rows) & (rows > 0), np.log(rows.astype(np.float64)), np.nan)
        means: np.ndarray = np.exp(np.nanmean(logs, axis=0))
    return means


def _pick(values: np.ndarray | None, which: str, store: RunStore) -> float | None:
    if values is None or values.size == 0:
        return None
    if which == "first":
        return float(values[0])
    if which == "last":
        return float(values[-1])
    return _geomean(values[_early_mask(store)])


@dataclass(frozen=True)
class Metric:
    label: str  # for tables: "final training error"
    unit: str  # "%" for error rates (stored as fractions), "" otherwise
    fn: Callable[[RunStore], float | None]


METRICS: dict[str, Metric] = {
    "final_train_error": Metric("final training error", "%", lambda s: _last_eval(s, "train_error")),
    "final_test_error": Metric("final test error", "%", lambda s: _last_eval(s, "test_error")),
    "best_test_error": Metric("best test error", "%", lambda s: min((e.test_error for e in s.evals), default=None)),
    "final_train_loss": Metric("final training loss", "", lambda s: _last_eval(s, "train_loss")),
    "act_var_last_init": Metric(
        "last layer's output variance at init",
        "",
        lambda s: None if s.started is None else float(s.started.act_std_init[-1]) ** 2,
    ),
    "act_var_first_init": Metric(
        "first layer's output variance at init",
        "",
        lambda s: None if s.started is None else float(s.started.act_std_init[0]) ** 2,
    ),
}


_QUANTITIES = {
    "grad_norm": ("weight-gradient norm", "grad_norm_init"),
    "out_grad": ("backward signal ‖∂L/∂y‖", "out_grad_norm_init"),
}
_PLACES = {"first": "first layer's", "last": "last layer's", "early": "early layers' (geometric mean)"}
_TIMES = {"init": "at init", "live": "during training (geometric mean over steps)"}


def _at_init(attr: str, place: str) -> Callable[[RunStore], float | None]:
    """The metric of RunStarted's step-0 array ``attr`` at ``place`` (first, last, early)."""
    return lambda s: _pick(_init(s, attr), place, s)


def _during_training(quantity: str, place: str) -> Callable[[RunStore], float | None]:
    """The metric of the probed ``quantity`` (geometric mean over steps) at ``place``."""
    return lambda s: _pick(_live(s, quantity), place, s)


for _q, (_qlabel, _init_attr) in _QUANTITIES.items():
    for _p, _plabel in _PLACES.items():
        METRICS[f"{_q}_{_p}_init"] = Metric(f"{_plabel} {_qlabel} {_TIMES['init']}", "", _at_init(_init_attr, _p))
        _live_quantity = "out_grad_norm" if _q == "out_grad" else _q
        METRICS[f"{_q}_{_p}_live"] = Metric(
            f"{_plabel} {_qlabel} {_TIMES['live']}", "", _during_training(_live_quantity, _p)
        )


def measure(store: RunStore, metric: str) -> float | None:
    """The value of ``metric`` for a run (error rates as fractions); ``None`` if not available."""
    try:
        value = METRICS[metric].fn(store)
    except (IndexError, ValueError):
        return None
    return None if value is None or not math.isfinite(value) else value


def format_value(value: float | None, metric: str) -> str:
    if value is None:
        return "n/a"
    if METRICS[metric].unit == "%":
        return f"{100 * value:.2f}%"
    return f"{value:.3g}"


#: How a check's outcome (held: True / False / None for not measured) is marked in text.
MARKS = {True: "✓", False: "✗", None: "–"}


@dataclass(frozen=True)
class CheckResult:
    check: Check
    left: float | None
    right: float | None
    held: bool | None  # None: a value is missing (a run failed or was not run)

    @property
    def verdict(self) -> str:
        return {True: "held", False: "did not hold", None: "not measured"}[self.held]

    @property
    def mark(self) -> str:
        return MARKS[self.held]

    def describe(self) -> str:
        """E.g. ``plain-56 final training error 31.20% > plain-20 final training error 12.05%``."""
        c = self.check
        lhs = f"{c.left[0]} {METRICS[c.left[1]].label} {format_value(self.left, c.left[1])}"
        scale = "" if c.factor == 1.0 else f"{c.factor:g} × "
        rhs = f"{scale}{c.right[0]} {METRICS[c.right[1]].label} {format_value(self.right, c.right[1])}"
        margin = ""
        if c.margin:
            margin = f" + {100 * c.margin:.1f} points" if METRICS[c.right[1]].unit == "%" else f" + {c.margin:g}"
        ratio = ""
        if self.left is not None and self.right and METRICS[c.left[1]].unit != "%":
            ratio = f" (ratio {self.left / self.right:.3g})"
        return f"{lhs} {c.relation} {rhs}{margin}{ratio}"


def evaluate_check(check: Check, stores: Mapping[str, RunStore]) -> CheckResult:
    left = measure(stores[check.left[0]], check.left[1]) if check.left[0] in stores else None
    right = measure(stores[check.right[0]], check.right[1]) if check.right[0] in stores else None
    if left is None or right is None:
        return CheckResult(check, left, right, None)
    bound = check.factor * right + check.margin
    held = {">": left > bound, ">=": left >= bound, "<": left < bound, "<=": left <= bound}[check.relation]
    return CheckResult(check, left, right, bool(held))
