"""What writing the run folder while training costs: ResNet-20 (every probe on) trained by the engine
with no callback, then with the run-folder writer streaming metrics.csv, layers.bin and summary.json
(fsync at most once a second), alternating, in one process on one thread.

    python bench/run_folder_overhead.py [--steps 150] [--repeats 2]
"""

from __future__ import annotations

import argparse
import tempfile

import torch

from resnet_viz.config import RunConfig
from resnet_viz.data import load_dataset
from resnet_viz.export.run_folder import RunFolderWriter
from resnet_viz.train.engine import Engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = RunConfig().to_dict()
    base["train"].update(steps=args.steps, eval_every=args.steps, eval_train_samples=500)
    config = RunConfig.from_dict(base)
    splits = load_dataset(config.resolved().data)
    rates: dict[str, list[float]] = {"engine only": [], "with run folder": []}
    for _ in range(args.repeats):
        for name in rates:
            with tempfile.TemporaryDirectory() as tmp:
                emit = RunFolderWriter(tmp) if name == "with run folder" else None
                rates[name].append(Engine(config, emit, splits=splits).run().steps_per_s)
    for name, values in rates.items():
        print(f"{name:>16}: " + ", ".join(f"{v:.2f}" for v in values) + " steps/s")
    ratio = sum(rates["with run folder"]) / sum(rates["engine only"])
    print(f"ratio (with run folder / engine only): {ratio:.3f}")


if __name__ == "__main__":
    main()
