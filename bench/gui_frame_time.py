"""GUI frame times under load, and training speed with the window open vs headless.

1. Frame time: 6 runs of 100,000 steps each in every curve plot (per-layer rows every 10 steps,
   110 layers), one of them shown in the heatmap as 110 layers x 10,000 steps. Every frame appends
   a chunk of new steps to each run (as live training does), then times ``refresh_plots()`` plus a
   synchronous repaint of the whole window. Prints median and p95 (goal: p95 <= 16 ms).
2. Training speed: the same run trained headless (Engine alone) and in the window with every plot
   live; prints steps/s of each and the ratio (goal >= 0.90).

    python bench/gui_frame_time.py [--frames 200] [--steps 300] [--size 1600x1000]

Runs offscreen unless QT_QPA_PLATFORM is set (e.g. run under xvfb-run for a real X server).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

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
PROBE_EVERY = 10  # 10,000 per-layer rows per run


def synthetic_started(label: str, n_layers: int) -> RunStarted:
    stages = np.repeat(np.arange(1, 4), n_layers // 3 + 1)[:n_layers]
    info = LayerInfoRecord(
        names=[f"layer{i}" for i in range(n_layers)],
        kinds=["conv"] * n_layers,
        roles=["branch"] * n_layers,
        stages=stages.astype(np.int64),
        blocks=(np.arange(n_layers) // 2).astype(np.int64),
        fan_in=np.full(n_layers, 144, np.int64),
        params=np.full(n_layers, 2304, np.int64),
    )
    ones = np.ones(n_layers)
    return RunStarted(
        label=label,
        config=RunConfig().to_dict(),
        resolved={},
        device="CPU",
        versions={},
        layers=info,
        params=1,
        total_steps=2 * N_STEPS,
        act_mean_init=0 * ones,
        act_std_init=ones,
        out_grad_norm_init=ones,
        grad_norm_init=ones,
        theory_act_std_init=ones,
    )


def synthetic_chunk(start: int, k: int, n_layers: int, rng: np.random.Generator) -> TrainChunk:
    steps = np.arange(start, start + k, dtype=np.int64)
    decay = np.exp(-steps / 30_000.0)
    layer_steps = steps[(steps - 1) % PROBE_EVERY == 0]
    m = layer_steps.shape[0]
    depth = np.linspace(-3, 0, n_layers, dtype=np.float32)
    base = (10.0**depth)[None, :] * rng.lognormal(0, 0.3, (m, n_layers)).astype(np.float32)
    layers = LayerStats(
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
        layers=layers,
        layer_step=layer_steps,
    )


def frame_times(frames: int, size: tuple[int, int]) -> list[float]:
    from resnet_viz.gui.main_window import MainWindow

    app = application(offscreen=True)
    settings = QtCore.QSettings(os.devnull, QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings, restore=False)
    window.resize(*size)
    window.default_layout()
    window.show()
    rng = np.random.default_rng(0)
    heat_steps = 10_000
    for i in range(6):
        entry = window.manager.add(RunConfig(), name=f"run {i + 1}")
        entry.status = "running"
        store = entry.store
        store.add(synthetic_started(entry.name, N_LAYERS))
        step = 1
        while step <= N_STEPS:
            k = min(4096, N_STEPS + 1 - step)
            chunk = synthetic_chunk(step, k, N_LAYERS, rng)
            if i > 0 or step <= heat_steps:  # run 1 (the heatmap's) has 10,000 steps of layers x steps
                store.add(chunk)
            for s in range(step, step + k):
                if s % 100 == 0 and (i > 0 or s <= heat_steps):
                    store.add(EvalRecord(step=s, train_error=0.5, train_loss=1.0, test_error=0.5, test_loss=1.0))
            step += k
        entry.version += 1
    first = window.manager.entries[0]
    window.run_list.select(first.run_id)
    window.refresh_plots()
    app.processEvents()
    times = []
    parts: dict[str, list[float]] = {p.key: [] for p in window.panels if p.isVisible()}
    parts["paint (whole window)"] = []
    next_step = {e.run_id: e.store.steps_done + 1 for e in window.manager.entries}
    for _ in range(frames):
        for e in window.manager.entries:  # 30 new steps per run per frame (~900 steps/s per run)
            e.store.add(synthetic_chunk(next_step[e.run_id], 30, N_LAYERS, rng))
            next_step[e.run_id] += 30
            e.version += 1
        t0 = time.perf_counter()
        for panel in window.panels:
            if panel.isVisible():
                t = time.perf_counter()
                window._refresh_panel(panel)
                parts[panel.key].append(1000 * (time.perf_counter() - t))
        window.run_list.sync(window.manager.entries)
        t = time.perf_counter()
        window.repaint()
        app.processEvents()
        parts["paint (whole window)"].append(1000 * (time.perf_counter() - t))
        times.append(1000 * (time.perf_counter() - t0))
    print("median per part: " + ", ".join(f"{k} {statistics.median(v):.1f} ms" for k, v in parts.items()))
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
    parser.add_argument("--steps", type=int, default=300, help="training steps for the speed comparison")
    parser.add_argument("--size", default="1600x1000")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    times = frame_times(args.frames, size)
    q = np.percentile(times, [50, 95])
    print(
        f"frame time ({args.frames} frames, 6 runs x {N_STEPS:,} steps, heatmap {N_LAYERS} layers x 10,000 "
        f"steps, window {size[0]}x{size[1]}, {os.environ['QT_QPA_PLATFORM']}): median {q[0]:.1f} ms, "
        f"p95 {q[1]:.1f} ms, max {max(times):.1f} ms (goal: p95 <= 16 ms)"
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
