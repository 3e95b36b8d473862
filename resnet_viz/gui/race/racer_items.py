"""The drawing of one racer in the race figure: its path, current point, arrows, divergence mark, loss
and accumulator curves, and the figure's key (a coloured mark and the racer's settings)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from resnet_viz.surfaces.race import OptimizerRace, Trajectory

LOSS_FLOOR = 1e-16  # f − f* below this is drawn at it (log axis)
PATH_DOTS_UP_TO = 400  # steps: a dot per step shows step lengths; beyond this the dots merge into the line
LOSS_DOTS_UP_TO = 40
KEY_PER_LINE = 4
ARROW_KINDS = ("gradient", "velocity", "step")
ARROW_TIPS = {
    "gradient": "−lr·∇f at the current point: the step plain SGD would take there (dashed)",
    "velocity": "−lr·v: the momentum term (SGD/RMSProp momentum buffer, Adam's bias-corrected m̂) (dotted)",
    "step": "the step actually taken last, Δθ (solid)",
}
_ARROW_STYLE = {
    "gradient": QtCore.Qt.PenStyle.DashLine,
    "velocity": QtCore.Qt.PenStyle.DotLine,
    "step": QtCore.Qt.PenStyle.SolidLine,
}


def race_key(race: OptimizerRace, colours: Sequence[QtGui.QColor]) -> str:
    """The figure's key as rich text: a coloured ━● and the racer's settings, four to a line."""
    items = [
        f'<span style="color:{QtGui.QColor(c).name()}">━━●</span>&nbsp;{html.escape(t.spec.describe())}'
        for t, c in zip(race.trajectories, colours)
    ]
    lines = ["&nbsp;&nbsp;&nbsp;&nbsp;".join(items[i : i + KEY_PER_LINE]) for i in range(0, len(items), KEY_PER_LINE)]
    return "<br>".join(lines)


class RacerItems:
    """The items of one racer, added to the figure's ``surface``, ``loss`` and ``scale`` plots on creation."""

    def __init__(self, surface: pg.PlotItem, loss: pg.PlotItem, scale: pg.PlotItem, colour: QtGui.QColor) -> None:
        self.plots = (surface, loss, scale)
        self.colour = QtGui.QColor(colour)
        pen = pg.mkPen(self.colour, width=2)
        self.path = pg.PlotDataItem(
            pen=pen, connect="finite", symbol="o", symbolSize=4, symbolPen=None, symbolBrush=self.colour
        )
        self.head = pg.ScatterPlotItem(size=12, pen=pg.mkPen("w", width=1.5), brush=self.colour)
        self.head.setZValue(20)
        self.path.setZValue(10)
        self.cross = pg.ScatterPlotItem(size=14, symbol="x", pen=pg.mkPen(self.colour, width=1), brush=self.colour)
        self.cross.setZValue(21)
        self.arrows: dict[str, tuple[pg.PlotDataItem, pg.ArrowItem]] = {}
        for kind in ARROW_KINDS:
            line = pg.PlotDataItem(
                pen=pg.mkPen(self.colour, width=2 if kind == "step" else 1.5, style=_ARROW_STYLE[kind])
            )
            head = pg.ArrowItem(headLen=10, tipAngle=30, tailLen=None, pen=pg.mkPen(self.colour), brush=self.colour)
            line.setZValue(15)
            head.setZValue(15)
            self.arrows[kind] = (line, head)
        self.loss = pg.PlotDataItem(
            pen=pg.mkPen(self.colour, width=2),
            symbol="o",
            symbolSize=7,
            symbolPen="w",
            symbolBrush=self.colour,
            connect="finite",
        )
        self.acc_x = pg.PlotDataItem(pen=pg.mkPen(self.colour, width=2), connect="finite")
        self.acc_y = pg.PlotDataItem(
            pen=pg.mkPen(self.colour, width=2, style=QtCore.Qt.PenStyle.DashLine), connect="finite"
        )
        for plot, item in self._placed():
            plot.addItem(item)

    def _placed(self) -> list[tuple[pg.PlotItem, pg.GraphicsObject]]:
        surface, loss, scale = self.plots
        arrows = [item for pair in self.arrows.values() for item in pair]
        return [
            *((surface, item) for item in (self.path, self.head, self.cross, *arrows)),
            (loss, self.loss),
            (scale, self.acc_x),
            (scale, self.acc_y),
        ]

    def remove(self) -> None:
        """Take every item out of its plot."""
        for plot, item in self._placed():
            plot.removeItem(item)

    def draw(self, traj: Trajectory, n: int, span: float, min_value: float | None) -> bool:
        """Show ``traj`` up to step ``n``: path, current point, ✕ if diverged by then, f − f* (f without a known
        minimum), accumulators. ``span``: the view's size (clips far points). True if the racer is adaptive."""
        pos = _display_positions(traj.positions.values[: n + 1], span)
        _set_symbol(self.path, "o" if n <= PATH_DOTS_UP_TO else None)
        self.path.setData(pos[:, 0], pos[:, 1])
        last = _last_finite(pos)
        self.head.setData(pos=pos[last : last + 1] if last is not None else np.empty((0, 2)))
        diverged = traj.diverged_at is not None and traj.diverged_at <= n
        self.cross.setData(pos=pos[last : last + 1] if diverged and last is not None else np.empty((0, 2)))
        steps = np.arange(n + 1, dtype=np.float64)
        loss = traj.losses.values[: n + 1].astype(np.float64)
        if min_value is not None:
            loss = np.maximum(loss - min_value, LOSS_FLOOR)
        loss[~np.isfinite(loss)] = np.nan
        _set_symbol(self.loss, "o" if n <= LOSS_DOTS_UP_TO else None)
        self.loss.setData(steps, loss)
        acc = traj.accum.values[: n + 1]
        if np.isfinite(acc).any():
            self.acc_x.setData(steps, _positive(acc[:, 0]))
            self.acc_y.setData(steps, _positive(acc[:, 1]))
            return True
        self.acc_x.setData([], [])
        self.acc_y.setData([], [])
        return False

    def draw_arrows(self, traj: Trajectory, n: int, shown: dict[str, bool], scale: float) -> None:
        """The ``shown`` arrows at step ``n`` (only while it is the racer's last finite, undiverged point),
        ``scale`` times their length in plane units."""
        last = _last_finite(traj.positions.values[: n + 1])
        for kind, (line, head) in self.arrows.items():
            vec = None
            if shown[kind] and last == n and traj.diverged_at is None:
                vec = _arrow_vector(kind, traj, n)
            if vec is None or not np.isfinite(vec).all() or float(np.hypot(*vec)) == 0.0:
                line.setData([], [])
                head.hide()
                continue
            p0 = traj.positions.values[n]
            p1 = p0 + scale * vec
            line.setData([p0[0], p1[0]], [p0[1], p1[1]])
            head.setStyle(angle=math.degrees(math.atan2(vec[1], -vec[0])))
            head.setPos(float(p1[0]), float(p1[1]))
            head.show()


def _arrow_vector(kind: str, traj: Trajectory, n: int) -> np.ndarray | None:
    """The arrow of ``kind`` at step ``n`` in plane units (None: there is none, e.g. no step taken yet)."""
    if kind == "gradient":
        return -traj.lr * traj.grads.values[n]
    if kind == "velocity":
        v = traj.velocity.values[n]
        return -traj.lr * v if np.isfinite(v).all() else None
    if n > 0:
        return traj.positions.values[n] - traj.positions.values[n - 1]
    return None


def _set_symbol(item: pg.PlotDataItem, symbol: str | None) -> None:
    """Switch an item's per-point symbols on or off (a symbol of size 0 would still cost its scatter
    update: 7 × 5000 hidden points took 300 ms a frame)."""
    if item.opts["symbol"] != symbol:
        item.setSymbol(symbol)


def _display_positions(pos: np.ndarray, span: float) -> np.ndarray:
    """Positions for drawing: non-finite → NaN; huge finite values clipped to ±1000 view spans (Qt cannot
    draw lines to 1e200, and the line's direction is what matters there)."""
    out = np.array(pos, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    lim = 1000.0 * span
    np.clip(out, -lim, lim, out=out)
    return out


def _last_finite(pos: np.ndarray) -> int | None:
    ok = np.flatnonzero(np.isfinite(pos).all(axis=1))
    return int(ok[-1]) if ok.size else None


def _positive(values: np.ndarray) -> np.ndarray:
    out = np.array(values, dtype=np.float64)
    out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out
