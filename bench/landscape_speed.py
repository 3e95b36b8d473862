"""Loss landscape speed: seconds per grid point of ResNet-20 on 1,000 training images, and the 21×21 grid.

Each way of evaluating points (the loop over one model, channels-last or not; ``torch.func.vmap`` over
stacked parameters; bf16 autocast) evaluates the first ``--points`` points of a 21×21 random-direction
grid (after one warm-up point); the grid's time is extrapolated from the mean (441 points), or measured
whole with ``--full WAY``. CPU seconds (both threads summed) are printed beside the wall seconds: on a
shared machine the wall time grows with the load, the CPU time much less. The issue's goal: the 21×21
grid under 3 minutes on the 2-core CPU.

    python bench/landscape_speed.py [--points 6] [--samples 1000] [--ways loop,vmap] [--full loop] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from resnet_viz.config import DataConfig, InitConfig, ModelConfig, RunConfig
from resnet_viz.landscape import LandscapeCancelled
from resnet_viz.landscape.compute import evaluate_grid
from resnet_viz.landscape.directions import random_directions
from resnet_viz.landscape.evaluator import NetworkEvaluator
from resnet_viz.landscape.sample import training_sample
from resnet_viz.models import build_model, init_weights
from resnet_viz.train.precision import Precision

WAYS = {  # name: (method, channels_last, precision)
    "loop": ("loop", True, "fp32"),
    "loop-nchw": ("loop", False, "fp32"),
    "vmap": ("vmap", False, "fp32"),
    "loop-bf16": ("loop", True, "bf16"),
}
GRID = 21


def _network(config: RunConfig, num_classes: int) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(config.model, 3, 32, num_classes)
    init_weights(model, InitConfig(), config.model)
    return model.eval()


def _measure(way: str, config: RunConfig, points: int, samples: int, full: bool) -> tuple[float, float, int]:
    """(wall s, cpu s, points evaluated) for ``way``: the first ``points`` points of the grid, or all of it."""
    method, channels_last, precision = WAYS[way]
    device = torch.device("cpu")
    sample = training_sample(config, samples, device)
    model = _network(config, sample.num_classes)
    centre = {k: v.detach().clone() for k, v in model.named_parameters()}
    d1, d2 = random_directions(centre, seed=0)
    evaluator = NetworkEvaluator(
        model, sample, method=method, channels_last=channels_last, autocast=Precision(precision, device).autocast
    )
    axis = np.linspace(-1.0, 1.0, GRID)
    evaluator([centre] * (evaluator.points_per_call if method == "vmap" else 1))  # warm-up
    n = GRID * GRID if full else points
    rows = -(-n // GRID)
    done = [0]

    def stop() -> bool:
        return done[0] >= n

    def progress(k: int, _total: int) -> None:
        done[0] = k

    wall, cpu = time.perf_counter(), time.process_time()
    try:
        evaluate_grid(evaluator, centre, d1, d2, axis, axis[:rows], points_per_call=evaluator.points_per_call,
                      progress=progress, cancelled=stop)  # fmt: skip
    except LandscapeCancelled:  # the end of a partial grid
        pass
    return time.perf_counter() - wall, time.process_time() - cpu, done[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=6, help="points timed per way (default 6)")
    parser.add_argument("--samples", type=int, default=1000, help="training images (default 1000)")
    parser.add_argument("--ways", default=",".join(WAYS), help="comma-separated: " + ", ".join(WAYS))
    parser.add_argument("--full", choices=WAYS, help="also time the whole 21×21 grid this way")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = RunConfig(model=ModelConfig(arch="resnet", depth=20), data=DataConfig())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
          f"ResNet-20 (random He init), {args.samples} embedded training images, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    for way in args.ways.split(","):
        wall, cpu, n = _measure(way, config, args.points, args.samples, full=False)
        grid = wall / n * GRID * GRID
        print(
            f"{way:10s} {wall / n:6.2f} s/point wall ({cpu / n:5.2f} s CPU), {1000 * wall / n / args.samples:5.2f} "
            f"ms/image; 21x21 grid ≈ {grid:6.0f} s ({grid / 60:4.1f} min) [{n} points, load {os.getloadavg()[0]:.1f}]"
        )
    if args.full:
        wall, cpu, n = _measure(args.full, config, args.points, args.samples, full=True)
        print(f"{args.full}: the whole 21x21 grid ({n} points) in {wall:.0f} s wall ({cpu:.0f} s CPU)")


if __name__ == "__main__":
    main()
