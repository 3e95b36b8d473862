"""``resnet-viz`` command line: a client of the core, like the GUI.

resnet-viz                              open the window (same as ``resnet-viz gui``)
resnet-viz gui [--session FILE]         open the window, optionally with a saved session
resnet-viz snapshot [flags] --out PNG   train offscreen, save a picture of the whole window
resnet-viz run [flags] --out DIR        train headless, write a run folder
resnet-viz run --config DIR/run.json    the same run again (flags given too override it)
resnet-viz describe [model flags]       layer table of a network: name, type, output shape, params
resnet-viz surfaces [flags]             race optimisers on a 2D function
resnet-viz reproduce NAME               run a guided experiment headless, write its figures and report
resnet-viz landscape RUN --out DIR      the loss landscape of a trained network: data and figures
resnet-viz sweep --vary F=V1,V2 --seeds 0-4 --out DIR   configs × seeds, locally or on Ray; resumable
resnet-viz export tensorboard RUN… --out DIR   saved run folders as TensorBoard event files
resnet-viz video RUN… --plot heatmap|grad-depth|act-depth --out FILE.mp4   a plot over training, as MP4

Modules: flags (the config flags, generated from the field table), messages (config errors named by
flags), signals (Ctrl-C and SIGTERM while training), progress (the console's progress), one module per
command (run_cmds, snapshot_cmd, surfaces_cmd, reproduce_cmd, landscape_cmd, sweep_cmd, video_cmd,
export_cmd) and gallery (reproduce's index page).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from resnet_viz import __version__
from resnet_viz.cli.export_cmd import add_export_parser, cmd_export
from resnet_viz.cli.flags import config_from_args
from resnet_viz.cli.landscape_cmd import add_landscape_parser, cmd_landscape
from resnet_viz.cli.messages import error_text
from resnet_viz.cli.reproduce_cmd import add_reproduce_parser, cmd_reproduce
from resnet_viz.cli.run_cmds import add_describe_parser, add_gui_parser, add_run_parser, cmd_describe, cmd_gui, cmd_run
from resnet_viz.cli.snapshot_cmd import add_snapshot_parser, cmd_snapshot
from resnet_viz.cli.status import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE
from resnet_viz.cli.surfaces_cmd import add_surfaces_parser, cmd_surfaces
from resnet_viz.cli.sweep_cmd import add_sweep_parser, cmd_sweep
from resnet_viz.cli.video_cmd import add_video_parser, cmd_video
from resnet_viz.config import ConfigError

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_RUN_FAILED",
    "EXIT_USAGE",
    "OneLineParser",
    "build_parser",
    "config_from_args",
    "main",
]


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: argparse prints the whole usage first (nine lines
    for ``surfaces``), which buries the one line that says what was wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (options: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``resnet-viz`` parser: one sub-command per command module, each with its ``func``."""
    parser = OneLineParser(
        prog="resnet-viz",
        description="Watch plain and residual networks train: error curves, per-layer gradient norms, "
        "activation variance across depth.",
    )
    parser.add_argument("--version", action="version", version=f"resnet-viz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = (
        (add_run_parser, cmd_run),
        (add_describe_parser, cmd_describe),
        (add_gui_parser, cmd_gui),
        (add_snapshot_parser, cmd_snapshot),
        (add_surfaces_parser, cmd_surfaces),
        (add_reproduce_parser, cmd_reproduce),
        (add_landscape_parser, cmd_landscape),
        (add_sweep_parser, cmd_sweep),
        (add_video_parser, cmd_video),
        (add_export_parser, cmd_export),
    )
    for add_parser, func in commands:
        add_parser(sub).set_defaults(func=func)
    return parser


#: Flags whose value is a list of numbers and may begin with a minus sign (``--range -1,1``).
NUMBER_LIST_FLAGS = ("--range", "--start")


def joined_number_lists(argv: Sequence[str]) -> list[str]:
    """``["--range", "-1,1"]`` as ``["--range=-1,1"]``: argparse takes a value that begins with "-" and is
    not a plain number for an option, and would answer "expected one argument"."""
    out: list[str] = []
    for token in argv:
        if out and out[-1] in NUMBER_LIST_FLAGS and token[:1] == "-" and (token[1:2].isdigit() or token[1:2] == "."):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (Ctrl-C before a command handles it itself: 130)."""
    try:
        parser = build_parser()
        argv = joined_number_lists(argv if argv is not None else sys.argv[1:])
        args = parser.parse_args(argv)
        args.argv = list(argv if argv is not None else sys.argv[1:])
        if args.command is None:
            args = parser.parse_args(["gui", *(argv if argv is not None else sys.argv[1:])])
        from resnet_viz.data import DataError
        from resnet_viz.export.session import SessionError

        try:
            status: int = args.func(args)
            return status
        except ConfigError as exc:
            print(f"resnet-viz: error: {error_text(exc, vars(args))}", file=sys.stderr)
            return EXIT_USAGE
        except (DataError, SessionError) as exc:
            print(f"resnet-viz: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except BrokenPipeError:  # output piped into `head` and closed early: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
    except KeyboardInterrupt:  # Ctrl-C while importing, parsing or preparing: no traceback
        print("\nresnet-viz: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
