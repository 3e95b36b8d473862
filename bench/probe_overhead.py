"""Cost of the per-layer probes: steps/s of ResNet-20 on the embedded data with every probe on vs none.

Runs both settings in the same process, interleaved (off, on, off, on, ...) so that drift in machine
load hits both alike, and prints the median steps/s of each and their ratio (off / on: 1.00 means
free; the target is ≤ 1.10 on CPU, the goal ≤ 1.05).

    python bench/probe_overhead.py [--steps 60] [--rounds 3] [--depth 20] [--batch-size 128] [--device auto]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from bench_config import sgd_resnet_config

from resnet_viz.config import DataConfig, RunConfig
from resnet_viz.data import load_dataset
from resnet_viz.train.device import device_label, resolve_device
from resnet_viz.train.engine import Engine


def steps_per_s(config: RunConfig, splits) -> float:
    result = Engine(config, splits=splits).run()
    if result.status != "finished":
        sys.exit(f"run ended as {result.status}: {result.message}")
    return result.steps_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    data = DataConfig()
    splits = load_dataset(data)
    device = resolve_device(args.device)

    def config(probes: bool) -> RunConfig:
        return sgd_resnet_config(args.depth, args.batch_size, args.steps, args.device, data, probes=probes)

    steps_per_s(config(False), splits)  # warm-up: allocator, kernels, caches
    off, on = [], []
    for r in range(args.rounds):
        off.append(steps_per_s(config(False), splits))
        on.append(steps_per_s(config(True), splits))
        print(f"round {r + 1}: probes off {off[-1]:.3f} steps/s, probes on {on[-1]:.3f} steps/s", flush=True)
    m_off, m_on = statistics.median(off), statistics.median(on)
    print(
        f"resnet-{args.depth}, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds on "
        f"{device_label(device)} (torch {torch.__version__}, {torch.get_num_threads()} threads)"
    )
    print(
        f"median steps/s: probes off {m_off:.3f}, probes on {m_on:.3f}; "
        f"slowdown (off/on) {m_off / m_on:.3f}  [target ≤ 1.10, goal ≤ 1.05]"
    )


if __name__ == "__main__":
    main()
