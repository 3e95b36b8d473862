"""Memory of the window process while a tiny MLP trains for up to 10^6 steps in it (issue 14's goal: flat).

A MainWindow (1600x1000, every plot on screen, process backend) trains an MLP (``--depth`` weight
layers of width ``--width``, batch ``--batch``, every probe on, every step probed; evaluations every
``--eval-every`` steps on 1,000 training images and the test set) for ``--steps`` steps or
``--minutes`` minutes, whichever ends first (then the run is stopped), with ``--threads`` torch threads
(default 1: two OpenMP threads made this tiny model 20x slower on the shared 2-core machine). Every ``--every`` steps it
samples the window process's RSS (psutil) and the bytes the run's RunStore holds (the filled part of
its arrays; ``alloc``: their capacity, which doubles as they grow). The goal: ``RSS - store`` flat,
i.e. the window keeps nothing per step beyond the recorded data itself. A line fitted to
``RSS - store`` over the second half of the samples gives the growth per 10^6 steps (an
extrapolation when fewer steps fitted in the time).

    .venv/bin/python bench/window_memory.py [--steps 1000000] [--minutes 10] [--every 10000]

Offscreen unless QT_QPA_PLATFORM is set.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from window_harness import close_window, load_average, open_window, run_event_loop_until

MB = 1e6


def store_bytes(store) -> tuple[int, int]:
    """(filled, allocated) bytes of a RunStore's arrays (per-step scalars and per-layer rows)."""
    from resnet_viz.metrics.records import LAYER_QUANTITIES

    arrays = [store._scalars[name] for name in ("step", "loss", "batch_error", "lr", "step_time_s")]
    arrays += [store._layer_step] + [store._layers[q] for q in LAYER_QUANTITIES if q in store._layers]
    return sum(a.values.nbytes for a in arrays), sum(a._data.nbytes for a in arrays)


def mlp_config(args: argparse.Namespace):
    from resnet_viz.config import ModelConfig, OptimConfig, RunConfig, TrainConfig

    return RunConfig(
        model=ModelConfig(arch="mlp", depth=args.depth, width=args.width),
        optim=OptimConfig(name="sgd", lr=0.01),
        train=TrainConfig(
            batch_size=args.batch,
            steps=args.steps,
            eval_every=args.eval_every,
            eval_train_samples=1000,
            probes=True,
            probe_every=1,
        ),
    )


class Sampler:
    """Samples RSS and store bytes every ``every`` steps (called for each record, in the GUI thread)."""

    def __init__(self, every: int) -> None:
        import psutil

        self.process = psutil.Process()
        self.every = every
        self.next = every
        self.rows: list[tuple[int, float, float, float, float, float]] = []  # steps, s, RSS, store, alloc, child
        self.t0 = time.perf_counter()

    def __call__(self, run, record) -> None:
        steps = run.store.steps_done
        if type(record).__name__ != "TrainChunk" or steps < self.next:
            return
        self.next = (steps // self.every + 1) * self.every
        filled, alloc = store_bytes(run.store)
        child = sum(c.memory_info().rss for c in self.process.children())
        row = (steps, time.perf_counter() - self.t0, self.process.memory_info().rss, filled, alloc, child)
        self.rows.append(row)
        print(_row_text(row), flush=True)


def _row_text(row: tuple[int, float, float, float, float, float]) -> str:
    steps, s, rss, filled, alloc, child = row
    return (
        f"{steps:>9,} {s:7.0f} {rss / MB:8.1f} {filled / MB:8.1f} {alloc / MB:8.1f} "
        f"{(rss - filled) / MB:10.1f} {child / MB:8.1f}"
    )


def growth_per_million(rows: list[tuple[int, float, float, float, float, float]]) -> tuple[float, int]:
    """(MB per 10^6 steps of ``RSS - store``, samples used): least squares over the samples since the
    store's arrays last doubled (a doubling frees the old arrays to the C heap, which may keep them: a
    one-off step of at most the store's size, not growth per step); the second half when that is
    fewer than three samples."""
    import numpy as np

    phase = [r for r in rows if r[4] == rows[-1][4]]
    used = phase if len(phase) >= 3 else rows[len(rows) // 2 :]
    if len(used) < 2:
        return float("nan"), len(used)
    steps = np.array([r[0] for r in used], dtype=float)
    extra = np.array([(r[2] - r[3]) / MB for r in used])
    return float(np.polyfit(steps, extra, 1)[0] * 1e6), len(used)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=10.0, help="stop the run after this long")
    parser.add_argument("--every", type=int, default=10_000, help="steps between samples")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--eval-every", type=int, default=50_000)
    parser.add_argument("--backend", default="process", choices=["process", "thread"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the run (OMP_NUM_THREADS)")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before torch is imported; the child inherits it
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}", flush=True)
    print(f"start: {load_average()}", flush=True)
    window = open_window(args.backend)
    manager = window.manager
    entry = manager.add(mlp_config(args))
    sampler = Sampler(args.every)
    manager.scheduler.listeners.append(sampler)
    print(f"{'steps':>9} {'s':>7} {'RSS MB':>8} {'store MB':>8} {'alloc MB':>8} {'RSS-store':>10} {'child MB':>8}")
    window.start()
    deadline = time.monotonic() + 60 * args.minutes
    run_event_loop_until(lambda: time.monotonic() > deadline or not manager.busy, poll_ms=200, timeout_s=1e9)
    stopped_early = manager.busy
    if stopped_early:
        manager.scheduler.stop(entry, evaluate=False)
        run_event_loop_until(lambda: not manager.busy, timeout_s=60)
    manager.drain()
    _report(sampler.rows, entry, stopped_early, args)
    close_window(window)
    return 0


def _report(rows, entry, stopped_early: bool, args: argparse.Namespace) -> None:
    print(f"end: {load_average()}")
    finished = entry.store.finished
    rate = finished.steps_per_s if finished is not None else float("nan")
    print(f"run: {entry.store.steps_done:,} steps, {rate:.0f} steps/s (RunFinished), status {entry.status}")
    if len(rows) < 2:
        print("fewer than two samples: nothing to compare")
        return
    first, last = rows[0], rows[-1]
    rss_d, store_d = (last[2] - first[2]) / MB, (last[3] - first[3]) / MB
    slope, used = growth_per_million(rows)
    print(
        f"from {first[0]:,} to {last[0]:,} steps: RSS {rss_d:+.1f} MB, store {store_d:+.1f} MB, "
        f"RSS - store {rss_d - store_d:+.1f} MB; RSS - store fitted over the last {used} samples: "
        f"{slope:+.1f} MB per 10^6 steps"
        + (f" (extrapolated: the run was stopped at {last[0]:,} of {args.steps:,} steps)" if stopped_early else "")
    )
    per_step = (last[3] - first[3]) / max(1, last[0] - first[0])
    print(f"the store grows {per_step:.0f} bytes per step: {per_step * 1e6 / MB:.0f} MB per 10^6 steps")


if __name__ == "__main__":
    sys.exit(main())
