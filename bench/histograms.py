"""Training slowdown from histograms and dead units (issue 18): ResNet-20 on the embedded data.

Two settings, interleaved over rounds in one process (so that drift in machine load hits both alike):
probes off, and probes on with activation, gradient and weight histograms every ``--measure-every``
steps. Every step's time comes from the engine's own records (``TrainChunk.step_time_s``; the engine
reports every step here, so on an accelerator each step waits for the device and its time is its own).
One histogram step's cost is the median histogram step minus the median other (probed) step of the same
runs; histograms every ``--every`` steps (default 50) then add that / every to each step:

    slowdown = (median probed step + histogram cost / every) / median step without histograms (or probes)

Runs with 50-step intervals would need minutes per setting on this CPU to hold a few histograms; the
per-step medians need far fewer steps and shrug off load spikes. The first two steps of a run are left
out; the test split is cut to one batch (the run's closing evaluation is not what is measured). The
dead-unit probe's own cost is timed apart: ``dead_fraction`` of every ReLU input of one training
forward pass, which is all the probe adds to a probed step.

    python bench/histograms.py [--steps 12] [--rounds 2] [--measure-every 4] [--every 50] [--device auto]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time

import torch
from bench_config import sgd_resnet_config

from resnet_viz.config import DataConfig, RunConfig
from resnet_viz.data import DatasetSplits, load_dataset
from resnet_viz.metrics.records import Record, TrainChunk
from resnet_viz.models import build_model, layer_table
from resnet_viz.train.device import device_label, resolve_device, synchronize
from resnet_viz.train.engine import Engine
from resnet_viz.train.probes import dead_fraction

SKIP = 2  # first steps of a run left out (allocator and kernel warm-up)


def step_times(config: RunConfig, splits: DatasetSplits) -> dict[int, float]:
    """``{step: seconds}`` of one run (steps after the first ``SKIP``)."""
    times: dict[int, float] = {}

    def emit(record: Record) -> None:
        if isinstance(record, TrainChunk):
            times.update(zip(record.step.tolist(), record.step_time_s.tolist()))

    result = Engine(config, emit, splits=splits, report_interval_s=0.0).run()
    if result.status != "finished":
        sys.exit(f"run ended as {result.status}: {result.message}")
    return {s: t for s, t in times.items() if s > SKIP}


def dead_unit_cost(config: RunConfig, splits: DatasetSplits, device: torch.device, repeats: int = 5) -> float:
    """Seconds per probed step that ``dead_fraction`` of every ReLU input takes (median of ``repeats``)."""
    c, h, _ = splits.input_shape
    model = build_model(config.model, c, h, splits.num_classes).to(device).train()
    modules = dict(model.named_modules())
    inputs: list[torch.Tensor] = []
    for li in layer_table(model, splits.input_shape):
        if li.relu_name is not None:
            modules[li.relu_name].register_forward_pre_hook(lambda m, i: inputs.append(i[0].detach()))
    with torch.no_grad():
        model(torch.randn(config.train.batch_size, *splits.input_shape, device=device))
    times = []
    for _ in range(repeats + 1):
        synchronize(device)
        t0 = time.perf_counter()
        for x in inputs:
            dead_fraction(x)
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure-every", type=int, default=4, help="histograms every K steps in the measured runs")
    parser.add_argument("--every", type=int, default=50, help="the histogram interval the slowdown is given for")
    parser.add_argument("--bins", type=int, default=64)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steady on a shared machine)")
    args = parser.parse_args()
    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    data = DataConfig()
    full = load_dataset(data)
    splits = dataclasses.replace(full, test_x=full.test_x[: args.batch_size], test_y=full.test_y[: args.batch_size])
    device = resolve_device(args.device)

    def config(probes: bool, histogram_every: int = 0, steps: int = args.steps) -> RunConfig:
        train = {"probes": probes, "histogram_every": histogram_every, "histogram_bins": args.bins}
        return sgd_resnet_config(args.depth, args.batch_size, steps, args.device, data, **train)

    step_times(config(True, 1, steps=SKIP + 1), splits)  # warm-up: allocator, kernels, caches
    off: list[float] = []
    hist: list[float] = []
    probed: list[float] = []
    for r in range(args.rounds):
        off += step_times(config(False), splits).values()
        for step, t in step_times(config(True, args.measure_every), splits).items():
            (hist if step % args.measure_every == 0 else probed).append(t)
        print(
            f"round {r + 1}: median step so far: probes off {1e3 * statistics.median(off):.1f} ms, probes on "
            f"{1e3 * statistics.median(probed):.1f} ms, with histograms {1e3 * statistics.median(hist):.1f} ms",
            flush=True,
        )
    t_off, t_on = statistics.median(off), statistics.median(probed)
    extra = statistics.median(hist) - t_on
    t_every = t_on + extra / args.every
    dead = dead_unit_cost(config(True), splits, device)
    print(
        f"resnet-{args.depth}, batch {args.batch_size}, {args.bins} bins, {args.rounds} rounds x 2 runs x "
        f"{args.steps} steps on {device_label(device)} (torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads), {time.perf_counter() - t_start:.0f} s in all"
    )
    print(
        f"median step: probes off {1e3 * t_off:.1f} ms ({len(off)} steps), probes on {1e3 * t_on:.1f} ms "
        f"({len(probed)}); a histogram step (3 kinds) costs {1e3 * extra:.1f} ms more ({len(hist)} measured)"
    )
    print(
        f"histograms every {args.every} steps: slowdown {t_every / t_on:.4f} vs histograms off, "
        f"{t_every / t_off:.4f} vs probes off  [goal ≤ 1.05 vs histograms off]"
    )
    print(f"dead-unit probe: {1e3 * dead:.2f} ms per probed step ({100 * dead / t_on:.2f} % of a probed step)")


if __name__ == "__main__":
    main()
