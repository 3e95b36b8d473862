"""``resnet-viz describe --init-average K``: the theory for the init against K fresh initialisations at step 0.

The theory predicts the average over initialisations; one network scatters log-normally around it
(science.md §10). The table says, per weight layer, how far: the mean and the root mean square of
measured / theory over K fresh inits, the 10-90 % band where one network falls, and the spread in decades.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from resnet_viz.cli.flags import add_field_flags
from resnet_viz.cli.messages import with_flags
from resnet_viz.cli.status import EXIT_OK, EXIT_USAGE
from resnet_viz.config import RunConfig, TrainConfig, field_info

#: Most initialisations the command samples (each is one forward pass of one batch).
MAX_INITS = 10_000


def add_init_average_flags(parser: argparse.ArgumentParser) -> None:
    """``--init-average K`` and the two training fields that pick its batch (``--batch-size``, ``--seed``)."""
    group = parser.add_argument_group("init average")
    group.add_argument(
        "--init-average",
        metavar="K",
        type=int,
        help="also sample K fresh initialisations at step 0 (no training) on one training batch of the "
        "dataset and print, per layer, the theory for the init, measured/theory over the K inits (mean, rms), "
        "the 10-90%% band where one network falls and the spread in decades",
    )
    for name in ("batch_size", "seed"):
        add_field_flags(group, field_info(TrainConfig, name))


def _cell(value: float, spec: str) -> str:
    """``value`` formatted by ``spec`` (e.g. ``"6.2f"``), or a dash of the same width when it is NaN."""
    width = int(spec.split(".")[0])
    return format(value, spec) if math.isfinite(value) else "—".rjust(width)


def init_average_table(config: RunConfig, k: int) -> list[str]:
    """The lines ``describe --init-average k`` prints (loads the dataset of ``config.data``)."""
    from resnet_viz.data import load_dataset
    from resnet_viz.train.init_ensemble import first_training_batch, measure_init_ensemble

    splits = load_dataset(config.data)
    batch = first_training_batch(config, splits)
    ens = measure_init_ensemble(config, batch, k, seed=config.train.seed, num_classes=splits.num_classes)
    lo, hi = ens.ratio_band()
    lines = [
        f"sampled from {k} fresh initialisations on one batch of {splits.name} "
        f"({batch.shape[0]} training images as step 0 sees them); measured/theory with the theory scaled to each "
        "init's layer 1",
        f"{'layer':>5}  {'name':<28} {'theory':>8} {'mean':>6} {'rms':>6} {'10%':>6} {'90%':>6} {'spread':>8}",
    ]
    for i, name in enumerate(ens.layer_names):
        lines.append(
            f"{i + 1:>5}  {name:<28} {_cell(ens.theory_rel[i], '8.3g')} {_cell(ens.mean_ratio[i], '6.2f')} "
            f"{_cell(ens.rms_ratio[i], '6.2f')} {_cell(lo[i], '6.2f')} {_cell(hi[i], '6.2f')} "
            f"{_cell(ens.spread_decades[i], '5.3f')} dec"
        )
    lines.append(
        "theory: predicted std relative to layer 1 (— where it has none); mean, rms: of measured/theory over the "
        "inits (the theory predicts the rms); 10%, 90%: where one network falls; spread: std of log10(measured/theory)"
    )
    return lines


def print_init_average(config: RunConfig, args: Any) -> int:
    """Print :func:`init_average_table` for ``args.init_average``; the exit status."""
    from resnet_viz.data import DataError
    from resnet_viz.train.init_ensemble import sampling_refusal

    k = args.init_average
    if not 1 <= k <= MAX_INITS:
        print(f"resnet-viz: error: --init-average {k}: choose between 1 and {MAX_INITS:,}", file=sys.stderr)
        return EXIT_USAGE
    refusal = sampling_refusal(config)
    if refusal is not None:
        print(f"resnet-viz: error: --init-average: {with_flags(refusal)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        lines = init_average_table(config, k)
    except DataError as exc:
        print(f"resnet-viz: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print("\n".join(lines))
    return EXIT_OK
