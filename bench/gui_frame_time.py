"""GUI frame times under load, and training speed with the window open vs headless.

1. Frame time, two cases (window 1600x1000, default layout: six plots on screen, the seventh in a tab):
   ``resnet56``: 4 runs x 5,000 steps of ResNet-56 (56 layers, per-layer rows every step, an evaluation
   every 100 steps), goal p95 <= 16 ms; ``stress``: 6 runs of 100,000 steps in every curve plot
   (per-layer rows every 10 steps, 110 layers), the heatmap's run with 110 layers x 10,000 steps, goal
   p95 <= 50 ms. Every frame appends 30 steps to each run (as live training does), then times
   ``refresh_plots()`` plus the paint Qt delivers for it. Prints median and p95 of each case.
   ``--forced-repaint`` repaints the whole window synchronously instead (how this bench measured
   before issue 14: it also repaints the widgets that did not change).
2. Training speed: the same run trained headless (Engine alone) and in the window with every plot
   live; prints steps/s of each and the ratio (goal >= 0.90).

    python bench/gui_frame_time.py [--frames 200] [--case resnet56 --case stress] [--skip-training]

Runs offscreen unless QT_QPA_PLATFORM is set (e.g. run under xvfb-run for a real X server).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6 import QtCore

from resnet_viz.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from resnet_viz.gui.qt_app import application
from resnet_viz.metrics.records import (
    EvalRecord,
    LayerInfoRecord,
    LayerStats,
    RunStarted,
    TrainChunk,
)

N_STEPS = 100_000
N_LAYERS = 110
PROBE_EVERY = 10  # stress case: 10,000 per-layer rows per run
STEPS_PER_FRAME = 30  # new steps per run per frame (~900 steps/s per run at 30 Hz)


@dataclass(frozen=True)
class Case:
    """A frame-time case: ``runs`` runs of ``steps`` steps, per-layer rows every ``probe_every`` steps of
    ``layers`` (a LayerInfoRecord), an evaluation every ``eval_every`` steps; the first run (the heatmap's)
    holds per-layer rows for its first ``heat_steps`` steps only (None: all)."""

    name: str
    runs: int
    steps: int
    probe_every: int
    layers: LayerInfoRecord
    eval_every: int = 100
    heat_steps: int | None = None


def synthetic_layers(n_layers: int) -> LayerInfoRecord:
    stages = np.repeat(np.arange(1, 4), n_layers // 3 + 1)[:n_layers]
    return LayerInfoRecord(
        names=[f"layer{i}" for i in range(n_layers)],
        kinds=["conv"] * n_layers,
        roles=["branch"] * n_layers,
        stages=stages.astype(np.int64),
        blocks=(np.arange(n_layers) // 2).astype(np.int64),
        fan_in=np.full(n_layers, 144, np.int64),
        params=np.full(n_layers, 2304, np.int64),
    )


def resnet_layers(depth: int) -> LayerInfoRecord:
    """The weight layers of the CIFAR ResNet of ``depth`` (56: 56 layers), as the engine records them."""
    from resnet_viz.models import build_model, layer_table

    table = layer_table(build_model(ModelConfig(arch="resnet", depth=depth), 3, 32, 10), (3, 32, 32))
    return LayerInfoRecord(
        names=[l.name for l in table],
        kinds=[l.kind for l in table],
        roles=[l.role for l in table],
        stages=np.array([l.stage for l in table], dtype=np.int64),
        blocks=np.array([l.block for l in table], dtype=np.int64),
        fan_in=np.array([l.fan_in for l in table], dtype=np.int64),
        params=np.array([l.params for l in table], dtype=np.int64),
    )


def cases() -> dict[str, Case]:
    return {
        "resnet56": Case(
            "4 runs x 5,000 steps of ResNet-56 (56 layers, per-layer rows every step)", 4, 5_000, 1, resnet_layers(56)
        ),
        "stress": Case(
            f"6 runs x {N_STEPS:,} steps, {N_LAYERS} layers (rows every {PROBE_EVERY} steps), heatmap "
            f"{N_LAYERS} layers x 10,000 steps",
            6,
            N_STEPS,
            PROBE_EVERY,
            synthetic_layers(N_LAYERS),
            heat_steps=10_000,
        ),
    }


def synthetic_started(label: str, info: LayerInfoRecord, total_steps: int) -> RunStarted:
    ones = np.ones(len(info.names))
    return RunStarted(
        label=label,
        config=RunConfig().to_dict(),
        resolved={},
        device="CPU",
        versions={},
        layers=info,
        params=1,
        total_steps=total_steps,
        act_mean_init=0 * ones,
        act_std_init=ones,
        out_grad_norm_init=ones,
        grad_norm_init=ones,
        theory_act_std_init=ones,
    )


def synthetic_chunk(start: int, k: int, case: Case, rng: np.random.Generator, layers: bool = True) -> TrainChunk:
    """Steps ``start .. start + k - 1`` of a run: a decaying loss and error, per-layer rows every
    ``case.probe_every`` steps (none with ``layers=False``)."""
    n_layers = len(case.layers.names)
    steps = np.arange(start, start + k, dtype=np.int64)
    decay = np.exp(-steps / (0.3 * case.steps))
    layer_steps = steps[(steps - 1) % case.probe_every == 0] if layers else steps[:0]
    m = layer_steps.shape[0]
    depth = np.linspace(-3, 0, n_layers, dtype=np.float32)
    base = (10.0**depth)[None, :] * rng.lognormal(0, 0.3, (m, n_layers)).astype(np.float32)
    stats = LayerStats(
        grad_norm=base,
        out_grad_norm=base * 2,
        act_mean=base * 0,
        act_std=base + 1,
        response_std=base + 1,
        update_ratio=base * 1e-3,
    )
    return TrainChunk(
        step=steps,
        loss=2.3 * decay + 0.05 * rng.random(k),
        batch_error=0.9 * decay * rng.random(k),
        lr=np.full(k, 0.1),
        step_time_s=np.full(k, 0.01),
        layers=stats,
        layer_step=layer_steps,
    )


def add_steps(store, start: int, k: int, case: Case, rng: np.random.Generator, layers: bool = True) -> None:
    """Append steps ``start .. start + k - 1`` and the evaluations among them to ``store``."""
    store.add(synthetic_chunk(start, k, case, rng, layers))
    for s in range(start - start % case.eval_every + case.eval_every, start + k, case.eval_every):
        store.add(EvalRecord(step=s, train_error=0.5, train_loss=1.0, test_error=0.5, test_loss=1.0))


class PaintCounter(QtCore.QObject):
    """Counts paint events of the plots' views (to check that a frame's paint happened in the frame)."""

    def __init__(self, widgets) -> None:
        super().__init__()
        self.count = 0
        for w in widgets:
            w.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QtCore.QEvent.Type.Paint:
            self.count += 1
        return False


def filled_window(case: Case, size: tuple[int, int]):
    """A window of ``size`` in the default layout with the case's runs recorded (first run selected)."""
    from resnet_viz.gui.main_window import MainWindow

    settings = QtCore.QSettings(os.devnull, QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings, restore=False)
    window.resize(*size)
    window.default_layout()
    window.show()
    rng = np.random.default_rng(0)
    for i in range(case.runs):
        entry = window.manager.add(RunConfig(), name=f"run {i + 1}")
        entry.status = "running"
        entry.store.add(synthetic_started(entry.name, case.layers, 2 * case.steps))
        step = 1
        while step <= case.steps:
            k = min(4096, case.steps + 1 - step)
            heat = i > 0 or case.heat_steps is None or step <= case.heat_steps
            if heat:
                add_steps(entry.store, step, k, case, rng)
            step += k
        entry.version += 1
    window.run_list.select(window.manager.entries[0].run_id)
    return window, rng


def frame_times(frames: int, size: tuple[int, int], case: Case, forced_repaint: bool = False) -> list[float]:
    """Per-frame ms of: append STEPS_PER_FRAME steps to every run, then ``refresh_plots()`` and the paint
    Qt delivers for it (``processEvents``), as the window's redraw timer does; with ``forced_repaint``,
    a synchronous repaint of the whole window instead (the figure this bench printed before issue 14)."""
    app = application(offscreen=True)
    window, rng = filled_window(case, size)
    window.refresh_plots()
    app.processEvents()
    views = [p.graphics.viewport() for p in window.panels]
    counter = PaintCounter(views)
    times, cpu, paints = [], [], []
    next_step = {e.run_id: e.store.steps_done + 1 for e in window.manager.entries}
    for _ in range(frames):
        for e in window.manager.entries:
            add_steps(e.store, next_step[e.run_id], STEPS_PER_FRAME, case, rng)
            next_step[e.run_id] += STEPS_PER_FRAME
            e.version += 1
        counter.count = 0
        t0, c0 = time.perf_counter(), time.thread_time()
        window.refresh_plots()
        if forced_repaint:
            window.repaint()
        app.processEvents()
        app.processEvents()  # a scene change posts its view update; the second pass paints it
        times.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.thread_time() - c0))
        paints.append(counter.count)
    shown = sum(1 for p in window.panels if p.isVisible() and not p.visibleRegion().isEmpty())
    c50, c95 = np.percentile(cpu, [50, 95])
    print(
        f"  plots on screen: {shown}; plot paints per frame: median {statistics.median(paints):.0f}; "
        f"GUI-thread CPU per frame: median {c50:.1f} ms, p95 {c95:.1f} ms (wall time below)"
    )
    window.manager.entries.clear()
    window.close()
    return times


def training_speed(steps: int) -> tuple[float, float]:
    """steps/s (training time, evaluation excluded) headless and with the window open and drawing."""
    from resnet_viz.data import load_dataset
    from resnet_viz.gui.main_window import MainWindow
    from resnet_viz.train.engine import Engine

    config = RunConfig(
        model=ModelConfig(arch="resnet", depth=20),
        optim=OptimConfig(lr=0.1, momentum=0.9),
        data=DataConfig(),
        train=TrainConfig(steps=steps, eval_every=100),
    )
    splits = load_dataset(config.data)
    Engine(config, splits=splits, max_chunk=8).run()  # warm-up (allocator, kernels)
    headless = Engine(config, splits=splits).run().steps_per_s

    application(offscreen=True)
    settings = QtCore.QSettings(os.devnull, QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings, restore=False)
    window.resize(1600, 1000)
    window.show()
    window.config_panel.set_config(config)
    window.start()
    loop = QtCore.QEventLoop()  # the real event loop (as app.exec() runs it), not a polling loop
    check = QtCore.QTimer()
    check.timeout.connect(lambda: (window.manager.busy or window.manager.queued) or loop.quit())
    check.start(100)
    loop.exec()
    window.manager.drain()
    finished = window.manager.entries[0].store.finished
    window.close()
    return headless, finished.steps_per_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--case", action="append", choices=["resnet56", "stress"], help="default: both")
    parser.add_argument("--forced-repaint", action="store_true", help="repaint the whole window every frame")
    parser.add_argument("--steps", type=int, default=300, help="training steps for the speed comparison")
    parser.add_argument("--size", default="1600x1000")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    goals = {"resnet56": 16.0, "stress": 50.0}
    for key in args.case or ["resnet56", "stress"]:
        case = cases()[key]
        print(f"{key}: {case.name}")
        times = frame_times(args.frames, size, case, args.forced_repaint)
        q = np.percentile(times, [50, 95])
        print(
            f"  frame time ({args.frames} frames, window {size[0]}x{size[1]}, {os.environ['QT_QPA_PLATFORM']}"
            f"{', forced repaint' if args.forced_repaint else ''}): median {q[0]:.1f} ms, p95 {q[1]:.1f} ms, "
            f"max {max(times):.1f} ms (goal: p95 <= {goals[key]:.0f} ms)"
        )
    if not args.skip_training:
        headless, windowed = training_speed(args.steps)
        print(
            f"training resnet-20 on the embedded set, {args.steps} steps: headless {headless:.2f} steps/s, "
            f"window open {windowed:.2f} steps/s, ratio {windowed / headless:.3f} (goal >= 0.90)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
