"""Auto-range in steps while runs grow: a curve reports its data bounds rounded outwards (x up to the next
"nice" number; y with a margin, to a tenth of the span's decade, kept while the data fill most of it),
so a view that auto-ranges over a growing run keeps its range, axes and grid for many frames instead of
re-rendering them on every new chunk.

Rounding is on only while the panel sets ``stepped`` (a run in the plot is active); a finished plot
auto-ranges to its exact data, as before.
"""

from __future__ import annotations

import math

import pyqtgraph as pg

#: Mantissas of the "nice" upper x bounds: the range grows by 17-25 % at a time.
NICE_MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
#: While stepped, y bounds keep their value until the data fill less than this share of them...
KEEP_FILL = 0.7
#: ...and are set with this share of the data's span as a margin either side (before rounding).
Y_MARGIN = 0.05


def nice_ceil(value: float) -> float:
    """The smallest ``m * 10**k`` (m in :data:`NICE_MANTISSAS`) ≥ ``value``; ``value`` itself when ≤ 0
    or not finite."""
    if not math.isfinite(value) or value <= 0:
        return value
    decade = 10.0 ** math.floor(math.log10(value))
    return next(m * decade for m in NICE_MANTISSAS if m * decade >= value * (1 - 1e-12))


def round_outwards(lo: float, hi: float) -> tuple[float, float]:
    """``(lo, hi)`` widened to multiples of a tenth of the span's decade (span 85 → steps of 1; on a log
    axis, in log10 units, a span of 1.7 decades → steps of 0.1 decade)."""
    span = hi - lo
    if not (math.isfinite(lo) and math.isfinite(hi)) or span <= 0:
        return lo, hi
    quantum = 10.0 ** math.floor(math.log10(span)) / 10
    return math.floor(lo / quantum) * quantum, math.ceil(hi / quantum) * quantum


def stepped_y(last: tuple[float, float] | None, lo: float, hi: float) -> tuple[float, float]:
    """y bounds for data spanning ``lo .. hi`` when ``last`` was reported before: ``last`` while the data lie
    inside it and fill at least :data:`KEEP_FILL` of it (noise in a live profile does not move the axis),
    else the data with :data:`Y_MARGIN` either side, :func:`round_outwards`."""
    if last is not None and last[0] <= lo and hi <= last[1] and hi - lo >= KEEP_FILL * (last[1] - last[0]):
        return last
    margin = Y_MARGIN * (hi - lo)
    return round_outwards(lo - margin, hi + margin)


class SteppedBounds(pg.PlotDataItem):
    """PlotDataItem whose data bounds, as auto-range sees them, are capped at ``y_cap`` (data units; None:
    no cap) and rounded outwards while ``stepped``: x up to :func:`nice_ceil` (when ``step_x``), y by
    :func:`stepped_y` (in view coordinates). The data and the drawing are unchanged.

    The cap keeps an exploding (diverging) run from squashing every other curve; zooming out still shows
    all of it. (One class for both: PySide cannot combine two Python subclasses of one Qt class.)
    """

    y_cap: float | None = None
    stepped: bool = False
    step_x: bool = True
    _last_y: tuple[float, float] | None = None

    def set_stepped(self, stepped: bool) -> None:
        """Round the bounds (a run is growing) or not; tells the view when that changes its bounds."""
        if stepped != self.stepped:
            self.stepped = stepped
            self._last_y = None
            self.informViewBoundsChanged()

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        lo, hi = super().dataBounds(ax, frac, orthoRange)
        if ax == 1 and self.y_cap is not None and hi is not None:
            cap = math.log10(self.y_cap) if self.opts["logMode"][1] else self.y_cap  # bounds are in view coords
            lo, hi = min(lo, cap), min(hi, cap)
        if not self.stepped or lo is None or hi is None or frac != 1.0 or orthoRange is not None:
            return lo, hi
        if ax == 0:
            return (lo, nice_ceil(hi)) if self.step_x and not self.opts["logMode"][0] else (lo, hi)
        self._last_y = stepped_y(self._last_y, lo, hi)
        return self._last_y


class GrowingImage(pg.ImageItem):
    """ImageItem whose x extent, as auto-range sees it, may reach past its last column: to a "nice" step
    while the run grows (:func:`nice_ceil`), so the x axis is not
    re-rendered for every new column."""

    columns_shown: float | None = None  # x extent for auto-range, in columns (None: the image's width)

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None) -> tuple[float | None, float | None]:
        if self.image is None:
            return None, None
        if ax == 0:
            return 0.0, float(self.columns_shown or self.width())
        return 0.0, float(self.height())
