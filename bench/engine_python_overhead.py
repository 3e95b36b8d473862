"""Steps/s of the engine on a tiny MLP, where the engine's own Python per step dominates the arithmetic.

Used to compare two versions of the engine (run it alternately with each on ``PYTHONPATH``, pinned to
one core, e.g. ``taskset -c 1``): a refactor that adds Python work per step shows here first.

    python bench/engine_python_overhead.py [--label new] [--steps 600] [--repeats 3]
"""

from __future__ import annotations

import argparse

import torch

from resnet_viz.config import ModelConfig, RunConfig, TrainConfig
from resnet_viz.data import load_dataset
from resnet_viz.train.engine import Engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="this code")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = RunConfig(
        model=ModelConfig(arch="mlp", depth=3, width=16),
        train=TrainConfig(steps=args.steps, eval_every=args.steps, eval_train_samples=200, batch_size=32),
    )
    splits = load_dataset(config.data)
    rates = [Engine(config, splits=splits).run().steps_per_s for _ in range(args.repeats)]
    print(
        f"{args.label}: mlp-3 width 16, batch 32, {args.steps} steps: "
        + " ".join(f"{r:.0f}" for r in rates)
        + " steps/s"
    )


if __name__ == "__main__":
    main()
