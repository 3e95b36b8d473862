"""Training speed with the window open vs headless (issue 14's goal: window / headless >= 0.95, process backend).

The window's default setup (``starting_setup()``: ResNet-20, SGD lr 0.1, momentum 0.9, weight decay 1e-4,
batch 128, embedded data, every probe on) trains ``--steps`` steps (then it is stopped without an
evaluation) in four settings, interleaved in rounds (A, B, C, D, A, B, C, D, ...) so that machine noise
hits each:

- ``engine``: the Engine alone in this process (headless);
- ``child``: the same run in a child process (ProcessBackend) under the Qt-free Scheduler, no window;
- ``window-process``: a MainWindow (1600x1000, all seven plots on screen) training it through its
  manager on the process backend (the default);
- ``window-thread``: the same window on the thread backend (the run in the window's process).

Each prints steps/s from ``RunFinished.steps_per_s`` (training time measured by the engine, evaluation
excluded) and from wall time (first TrainChunk after ``--skip`` steps to the chunk reaching ``--steps``,
as its consumer receives them), then the median ratios to ``engine``.

    .venv/bin/python bench/window_training.py [--steps 40] [--rounds 2] [--skip 5] [--threads N]

``--threads 1`` runs every setting on one torch thread: on this 2-core machine shared with other work,
two OpenMP threads per run made ResNet-20 up to 4x slower than one, which swamps what is measured.

Offscreen unless QT_QPA_PLATFORM is set (``xvfb-run -a .venv/bin/python bench/window_training.py`` for X).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from window_harness import ChunkTap, close_window, load_average, open_window, run_event_loop_until

MODES = ("engine", "child", "window-process", "window-thread")


def default_config(steps: int):
    """The window's starting setup; its planned length is longer than ``steps`` (the run is stopped)."""
    from resnet_viz.gui.setup_dock import starting_setup

    config = starting_setup()
    assert config.train.steps is None or config.train.steps > steps, "the setup ends before --steps"
    return config


def in_engine(config, steps: int, skip: int, splits) -> tuple[float, ChunkTap]:
    from resnet_viz.metrics.records import TrainChunk
    from resnet_viz.train.engine import Engine

    holder: list[Engine] = []
    tap = ChunkTap(steps, lambda: holder[0].stop(evaluate=False), skip)

    def emit(record) -> None:
        if isinstance(record, TrainChunk) and len(record):
            tap.chunk(int(record.step[-1]))

    holder.append(Engine(config, emit, splits=splits))
    return holder[0].run().steps_per_s, tap


def in_child(config, steps: int, skip: int, backend) -> tuple[float, ChunkTap]:
    from resnet_viz.metrics.records import TrainChunk
    from resnet_viz.runs.run import Run
    from resnet_viz.runs.scheduler import Scheduler

    scheduler = Scheduler(backend)
    run = scheduler.add(Run(0, config, "bench"))
    tap = ChunkTap(steps, lambda: scheduler.stop(run, evaluate=False), skip)
    scheduler.listeners.append(lambda r, rec: isinstance(rec, TrainChunk) and tap.chunk(r.store.steps_done))
    scheduler.run_all(poll_s=1 / 30)
    return _finished(run), tap


def in_window(config, steps: int, skip: int, backend: str) -> tuple[float, ChunkTap]:
    from resnet_viz.metrics.records import TrainChunk

    window = open_window(backend)
    manager = window.manager
    window.config_panel.set_config(config)
    window.start()
    entry = manager.entries[0]
    tap = ChunkTap(steps, lambda: manager.scheduler.stop(entry, evaluate=False), skip)
    manager.scheduler.listeners.append(lambda r, rec: isinstance(rec, TrainChunk) and tap.chunk(r.store.steps_done))
    run_event_loop_until(lambda: tap.stopped and not manager.busy)
    manager.drain()
    rate = _finished(entry)
    close_window(window)
    return rate, tap


def _finished(run) -> float:
    finished = run.store.finished
    assert finished is not None, f"the run ended without a final record: {run.status} {run.message}"
    return finished.steps_per_s


def measure(mode: str, config, steps: int, skip: int, splits, backend) -> tuple[float, float]:
    """(steps/s from RunFinished, steps/s from wall time) of one block."""
    if mode == "engine":
        rate, tap = in_engine(config, steps, skip, splits)
    elif mode == "child":
        rate, tap = in_child(config, steps, skip, backend)
    else:
        rate, tap = in_window(config, steps, skip, mode.removeprefix("window-"))
    return rate, tap.wall_rate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="steps per block (the run is stopped there)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip", type=int, default=5, help="steps before the wall-time clock starts")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of " + ",".join(MODES))
    parser.add_argument("--threads", type=int, help="torch threads of every setting (OMP_NUM_THREADS; default torch's)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before torch is imported; children inherit it
    from resnet_viz.data import load_dataset
    from resnet_viz.gui.qt_app import application
    from resnet_viz.runs.process_backend import ProcessBackend

    application()
    modes = args.modes.split(",")
    config = default_config(args.steps)
    splits = load_dataset(config.data)
    backend = ProcessBackend()
    in_engine(config, 3, 0, splits)  # warm-up of this process (allocator, kernels)
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}", flush=True)
    print(f"platform {os.environ['QT_QPA_PLATFORM']}; start: {load_average()}", flush=True)
    results: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for r in range(args.rounds):
        for mode in modes:
            t0 = time.perf_counter()
            rate, wall = measure(mode, config, args.steps, args.skip, splits, backend)
            results[mode].append((rate, wall))
            print(
                f"round {r + 1} {mode:15s} RunFinished {rate:6.3f} steps/s, wall {wall:6.3f} steps/s "
                f"(block {time.perf_counter() - t0:.0f} s; {load_average()})",
                flush=True,
            )
    backend.close()
    _summary(results)
    return 0


def _summary(results: dict[str, list[tuple[float, float]]]) -> None:
    print(f"end: {load_average()}")
    base = results.get("engine")
    for mode, rows in results.items():
        rate = statistics.median(r for r, _ in rows)
        wall = statistics.median(w for _, w in rows)
        line = f"{mode:15s} median RunFinished {rate:6.3f} steps/s, wall {wall:6.3f} steps/s"
        if base and mode != "engine":
            ratios = [r / b for (r, _), (b, _) in zip(rows, base, strict=True)]
            walls = [w / b for (_, w), (_, b) in zip(rows, base, strict=True)]
            line += (
                f"; / engine (per round): RunFinished {', '.join(f'{x:.3f}' for x in ratios)}, "
                f"wall {', '.join(f'{x:.3f}' for x in walls)}"
            )
        print(line)
    print("goal: window-process / engine >= 0.95")


if __name__ == "__main__":
    sys.exit(main())
