"""Optimiser race: stepping speed of the core and drawing cost of the race figure.

Prints race steps per second (all seven racers step once per race step) on each surface, and the
time to redraw the figure (``show_race`` + paint, offscreen) at several trajectory lengths. The tab
steps within 25 ms per 30 Hz tick, so the playing speed is min(slider, steps/s × 0.75).

    python bench/race_speed.py
"""

from __future__ import annotations

import statistics
import time

import torch

from resnet_viz.surfaces.functions import SURFACES, SurfaceConfig, build_surface
from resnet_viz.surfaces.race import OPTIMIZERS, OptimizerRace, OptimizerSpec


def race(name: str) -> OptimizerRace:
    s = build_surface(SurfaceConfig(name))
    return OptimizerRace(s, s.start, [OptimizerSpec(k, dict(s.suggested.get(k, {}))) for k in OPTIMIZERS])


def main() -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread")
    for name in SURFACES[:-1]:
        r = race(name)
        r.step(50)  # warm-up
        t = time.perf_counter()
        r.step(1000)
        dt = time.perf_counter() - t
        print(
            f"{name:11s} {1000 / dt:7.0f} race steps/s  ({dt / 1000 / len(OPTIMIZERS) * 1e6:5.0f} µs per optimiser step)"
        )

    from resnet_viz.gui.qt_app import application, dispose
    from resnet_viz.gui.race.figure import RaceFigure
    from resnet_viz.gui.race.render import racer_colours

    app = application(offscreen=True)
    fig = RaceFigure()
    fig.resize(1200, 700)
    fig.show()
    r = race("rosenbrock")
    fig.set_surface(r.surface, r.surface.x_range, r.surface.y_range, log=True)
    fig.set_racers(r, racer_colours(r))
    app.processEvents()
    done = 0
    for length in (100, 1000, 5000):
        r.step(length - done)
        done = length
        times = []
        for _ in range(20):
            t = time.perf_counter()
            fig.show_race(r)
            fig.graphics.viewport().repaint()
            times.append(time.perf_counter() - t)
        print(
            f"figure redraw, 7 racers × {length:5d} steps: median {statistics.median(times) * 1e3:6.1f} ms, "
            f"max {max(times) * 1e3:6.1f} ms (1200x700 offscreen)"
        )
    dispose(fig)


if __name__ == "__main__":
    main()
