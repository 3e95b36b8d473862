"""``resnet-viz export tensorboard RUN_FOLDER… [--out DIR]``: saved runs as TensorBoard event files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from resnet_viz.cli.status import EXIT_OK, EXIT_USAGE

#: Where ``export tensorboard`` writes without ``--out``.
DEFAULT_TENSORBOARD_DIR = "tensorboard"


def add_export_parser(sub: Any) -> argparse.ArgumentParser:
    export: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="convert saved runs for other tools (tensorboard)",
        description="Convert saved run folders for other tools.",
    )
    formats = export.add_subparsers(dest="format", metavar="FORMAT", required=True)
    tensorboard = formats.add_parser(
        "tensorboard",
        help="TensorBoard event files of run folders",
        description="Write the TensorBoard events of each run folder into DIR/<run folder name> (an earlier "
        "export there is replaced): losses, errors and lr per step, evaluations, per-layer quantities grouped by "
        "layer, histograms, the config as text. View them with: tensorboard --logdir DIR. Exit status 0 when "
        "every folder was written, 2 for a folder that is not a run folder (the others are still written), an "
        "output that cannot be written or a missing tensorboard package.",
    )
    tensorboard.add_argument("run_folders", nargs="+", metavar="RUN_FOLDER", help="run folders (resnet-viz run --out)")
    tensorboard.add_argument(
        "--out", metavar="DIR", default=DEFAULT_TENSORBOARD_DIR, help=f"log folder (default {DEFAULT_TENSORBOARD_DIR})"
    )
    return export


def _log_dirs(folders: list[Path], out: Path) -> dict[Path, Path]:
    """Each run folder's log folder, DIR/<its name>; ValueError when two folders have the same name."""
    dirs: dict[Path, Path] = {}
    for folder in folders:
        log_dir = out / folder.resolve().name
        same = next((f for f, d in dirs.items() if d == log_dir), None)
        if same is not None:
            raise ValueError(f"{same} and {folder} would both go to {log_dir}: export them with different --out")
        dirs[folder] = log_dir
    return dirs


def cmd_export(args: argparse.Namespace) -> int:
    from resnet_viz.export.tensorboard import (
        TensorBoardUnavailable,
        export_run_folder_to_tensorboard,
        tensorboard_missing,
    )
    from resnet_viz.export.written import WriteError

    missing = tensorboard_missing()
    if missing is not None:
        print(f"resnet-viz: error: {missing}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out)
    try:
        dirs = _log_dirs([Path(f) for f in args.run_folders], out)
    except ValueError as exc:
        print(f"resnet-viz: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    status = EXIT_OK
    for folder, log_dir in dirs.items():
        try:
            export_run_folder_to_tensorboard(folder, log_dir)
        except ValueError as exc:  # not a run folder: one line, and on to the next
            print(f"resnet-viz: error: {exc}", file=sys.stderr)
            status = EXIT_USAGE
            continue
        except (WriteError, TensorBoardUnavailable) as exc:  # the output cannot be written: no use going on
            print(f"resnet-viz: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"{folder} → {log_dir}")
    if status == EXIT_OK:
        print(f"view them with: tensorboard --logdir {out}")
    return status
