"""What loss landscape to compute: :class:`LandscapeSpec`, validated when made."""

from __future__ import annotations

import math
from dataclasses import dataclass

from resnet_viz.config import MAX_SAMPLES, MAX_SEED, ConfigError, check_choice, check_number

#: random: two filter-normalised Gaussian directions around the final weights (2D);
#: pca: the top two principal components of the training path around the final weights (2D);
#: interpolate: the line from the initial to the final weights (1D, Goodfellow et al. 2015).
DIRECTIONS = ("random", "pca", "interpolate")

#: Default ranges: the paper's [-1, 1] for 2D slices, [-0.5, 1.5] for the init -> final line (0: init, 1: final).
DEFAULT_RANGE = (-1.0, 1.0)
DEFAULT_LINE_RANGE = (-0.5, 1.5)

#: Arithmetic of the forward passes (``train.precision``'s choices; None: the run's own, as its evaluations).
PRECISIONS = ("fp32", "bf16", "fp16")

#: Points per axis: 2D grids up to 201 x 201, lines up to 401 points (the paper's 1D plots).
MAX_GRID_2D = 201
MAX_GRID_1D = 401
#: Largest magnitude of a range end (in units of the directions).
MAX_RANGE = 1e4


@dataclass(frozen=True)
class LandscapeSpec:
    """Settings of one landscape.

    ``directions``: one of :data:`DIRECTIONS`; ``grid``: points per axis (interpolate: points on the line);
    ``range``: (lo, hi) of the coefficients α (and β), or None for the default: [-1, 1] for random,
    [-0.5, 1.5] for interpolate, and for pca each axis spanning the training path with a 20 % margin
    (:meth:`resolved_range`); ``samples``: training images the loss is averaged over; ``seed``: of the
    random directions; ``include_biasbn``: give biases and BN parameters a direction too (a copy of the
    weights, as the reference code does) instead of zero; ``precision``: fp32, bf16 or fp16 autocast of the
    forward passes, None for the run's own (what its evaluations used). Bad values raise ``ConfigError`` naming
    ``landscape.<field>``.
    """

    directions: str = "random"
    grid: int = 21
    range: tuple[float, float] | None = None
    samples: int = 1000
    seed: int = 0
    include_biasbn: bool = False
    precision: str | None = None

    def __post_init__(self) -> None:
        check_choice("landscape.directions", self.directions, DIRECTIONS)
        top = MAX_GRID_1D if self.one_dimensional else MAX_GRID_2D
        check_number("landscape.grid", self.grid, lo=2, hi=top, integer=True)
        check_number("landscape.samples", self.samples, lo=1, hi=MAX_SAMPLES, integer=True)
        check_number("landscape.seed", self.seed, lo=0, hi=MAX_SEED, integer=True)
        if not isinstance(self.include_biasbn, bool):
            raise ConfigError("landscape.include_biasbn", self.include_biasbn, "must be true or false")
        if self.range is not None:
            _check_range(self.range)
        if self.precision is not None:
            check_choice("landscape.precision", self.precision, PRECISIONS)

    @property
    def one_dimensional(self) -> bool:
        """Whether the landscape is a line (interpolate) rather than a plane."""
        return self.directions == "interpolate"

    def resolved_range(self) -> tuple[float, float] | None:
        """The range of α (and β); None for pca without a range (the path decides, see :func:`path_span`)."""
        if self.range is not None:
            return self.range
        if self.directions == "pca":
            return None
        return DEFAULT_LINE_RANGE if self.one_dimensional else DEFAULT_RANGE

    @property
    def points(self) -> int:
        """Grid points evaluated: ``grid`` for a line, ``grid**2`` for a plane."""
        return self.grid if self.one_dimensional else self.grid * self.grid


def _check_range(value: object) -> None:
    allowed = f"two numbers LO < HI with |LO|, |HI| ≤ {MAX_RANGE:g}"
    if not isinstance(value, tuple) or len(value) != 2:
        raise ConfigError("landscape.range", value, allowed)
    lo, hi = value
    for v in (lo, hi):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > MAX_RANGE:
            raise ConfigError("landscape.range", value, allowed)
    if not lo < hi:
        raise ConfigError("landscape.range", value, allowed)


def path_span(values: list[float], margin: float = 0.2) -> tuple[float, float]:
    """An axis range holding every value and 0 (the final weights), widened by ``margin`` of its span
    on both sides (at least ±0.1 when all values are 0)."""
    lo, hi = min([0.0, *values]), max([0.0, *values])
    pad = margin * (hi - lo) if hi > lo else 0.1
    return lo - pad, hi + pad
