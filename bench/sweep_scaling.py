"""Figures for docs/scaling.md: per-trial throughput of the Table 6 networks, and what a sweep costs over
training the same trials by hand.

Part 1 (``--depths``): ResNet-d of Table 6 (basic blocks, shortcut A) at batch 128 on CIFAR-shaped data
(the embedded set, 32×32×3, the data resident on the device), every probe on: training steps per second
of ``RunFinished.steps_per_s`` after ``--warmup`` steps, one trial alone with ``--threads`` torch threads.
From it: the hours one trial of He et al.'s schedule (64,000 steps) takes, and the wall time of the
whole Table 6 sweep (the depths × ``--seeds`` seeds) on ``--slots`` trials at once.

Part 2 (``--overhead``): 2 configs × 2 seeds of a small MLP, ``--overhead-steps`` steps each, trained
(a) four ``Engine`` runs one after another in this process (imports and data loaded already), (a') a
shell loop of four ``resnet-viz run`` commands in turn (what a user would otherwise do), (b) ``resnet-viz sweep`` on local
processes, 2 at a time, one thread each, (c) the same on a local Ray with 2 CPUs (when Ray is installed).
Prints the wall time of each, from the command's start to its exit (process start-up, Ray start-up,
data loading and the run folders included).

    python bench/sweep_scaling.py [--depths 20,32,44,56,110] [--steps 6] [--warmup 2] [--threads 2]
        [--device cpu] [--seeds 5] [--slots 8] [--overhead] [--overhead-steps 200]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_config import sgd_resnet_config

from resnet_viz.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from resnet_viz.metrics.records import Record, RunFinished
from resnet_viz.train.engine import Engine

PAPER_STEPS = 64_000


def _train(config: RunConfig) -> RunFinished:
    records: list[Record] = []
    engine = Engine(config, records.append)
    engine.prepare()
    return engine.run()


def per_trial(depths: list[int], steps: int, warmup: int, device: str) -> dict[int, float]:
    """Training steps/s of each depth (the first ``warmup`` steps are excluded by running them first)."""
    rates = {}
    for depth in depths:
        _train(sgd_resnet_config(depth, 128, warmup, device))  # allocator, kernels, caches
        result = _train(sgd_resnet_config(depth, 128, steps, device))
        rates[depth] = result.steps_per_s
        print(f"ResNet-{depth}: {result.steps_per_s:.3f} steps/s at batch 128 on {result.device}; "
              f"{PAPER_STEPS} steps = {PAPER_STEPS / result.steps_per_s / 3600:.1f} h", flush=True)  # fmt: skip
    return rates


def sweep_estimate(rates: dict[int, float], seeds: int, slots: int) -> None:
    hours = {d: PAPER_STEPS / r / 3600 for d, r in rates.items()}
    total = seeds * sum(hours.values())
    longest = max(hours.values())
    print(f"Table 6 sweep, {len(rates)} depths × {seeds} seeds = {len(rates) * seeds} trials: "
          f"{total:.1f} trial-hours; on {slots} slots at once ≥ max({total / slots:.1f}, {longest:.1f}) h "
          f"(the trials packed longest first)")  # fmt: skip


MLP_FLAGS = ["--arch", "mlp", "--width", "64", "--subset", "2000", "--batch-size", "64", "--eval-every", "100"]


def _mlp(depth: int, seed: int, steps: int) -> RunConfig:
    return RunConfig(
        model=ModelConfig(arch="mlp", depth=depth, width=64),
        optim=OptimConfig(),
        data=DataConfig(subset=2000),
        train=TrainConfig(batch_size=64, steps=steps, eval_every=100, seed=seed),
    )


def overhead(steps: int) -> None:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    for depth in (2, 4):
        for seed in (0, 1):
            _train(_mlp(depth, seed, steps))
    print(f"4 Engine runs in turn in this process, 1 thread (imports and data already loaded): "
          f"{time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:  # what a user otherwise does: a shell loop of resnet-viz run
        t0 = time.perf_counter()
        for depth in (2, 4):
            for seed in (0, 1):
                cmd = [sys.executable, "-m", "resnet_viz.cli", "run", *MLP_FLAGS, "--steps", str(steps), "--depth",
                       str(depth), "--seed", str(seed), "--quiet", "--out", str(Path(tmp) / f"d{depth}s{seed}")]  # fmt: skip
                subprocess.run(cmd, capture_output=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        print(f"a shell loop of 4 `resnet-viz run` in turn: {time.perf_counter() - t0:.1f} s", flush=True)
    base = [sys.executable, "-m", "resnet_viz.cli", "sweep", *MLP_FLAGS, "--steps", str(steps),
            "--vary", "model.depth=2,4", "--seeds", "0-1", "--quiet"]  # fmt: skip
    tries = [("resnet-viz sweep, local processes, 2 at a time", ["--parallel", "2"])]
    if importlib.util.find_spec("ray") is not None:
        tries.append(("resnet-viz sweep --ray (local Ray, 2 CPUs)", ["--ray"]))
    for label, extra in tries:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [*base, *extra, "--out", str(Path(tmp) / "sw")]
            t0 = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - t0
            status = "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
            print(f"{label}: {wall:.1f} s ({status})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", default="20,32,44,56,110")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--overhead", action="store_true")
    parser.add_argument("--overhead-steps", type=int, default=200)
    args = parser.parse_args()
    print("$ python bench/sweep_scaling.py " + shlex.join(sys.argv[1:]))
    if args.depths:
        torch.set_num_threads(args.threads)
        rates = per_trial([int(d) for d in args.depths.split(",")], args.steps, args.warmup, args.device)
        sweep_estimate(rates, args.seeds, args.slots)
    if args.overhead:
        overhead(args.overhead_steps)


if __name__ == "__main__":
    main()
