"""``resnet-viz snapshot``: train offscreen (or open a session) and save a picture of the whole window."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Sequence
from typing import Any

from resnet_viz.cli.flags import add_run_flags, config_from_args
from resnet_viz.cli.status import EXIT_OK, EXIT_RUN_FAILED
from resnet_viz.config import ARCHS, TRAIN_MODES, ConfigError, RunConfig


def parse_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` in pixels, e.g. ``1600x1000``."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, e.g. 1600x1000, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _compare(text: str) -> list[tuple[str, int]]:
    out = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        match = re.fullmatch(rf"({'|'.join(ARCHS)})-(\d+)", item)
        if not match:
            raise argparse.ArgumentTypeError(f"expected ARCH-DEPTH items like plain-20,resnet-56, got {item!r}")
        out.append((match.group(1), int(match.group(2))))
    return out


def add_snapshot_parser(sub: Any) -> argparse.ArgumentParser:
    snap: argparse.ArgumentParser = sub.add_parser(
        "snapshot",
        help="train offscreen and save a picture of the whole window",
        description="Train the run (or every --compare variant of it) in an offscreen window, "
        "then save a PNG of the whole window: for READMEs, docs and tests.",
    )
    snap.add_argument("--out", metavar="PNG", required=True, help="picture to write")
    snap.add_argument(
        "--size",
        type=parse_size,
        default=(1600, 1000),
        metavar="WxH",
        help="window size in pixels (default 1600x1000, at least 1280x800)",
    )
    snap.add_argument(
        "--compare",
        type=_compare,
        metavar="ARCH-DEPTH,...",
        help="train several variants of the flags' run, e.g. plain-20,plain-56,resnet-20,resnet-56",
    )
    snap.add_argument(
        "--mode", choices=TRAIN_MODES, default=TRAIN_MODES[0], help="train the runs in turn (default) or interleaved"
    )
    snap.add_argument("--select", type=int, metavar="N", help="run (1-based) the gradient heatmap shows")
    snap.add_argument("--session", metavar="FILE", help="show a saved session instead of training")
    snap.add_argument("--quiet", action="store_true", help="no progress lines")
    add_run_flags(snap)
    return snap


def _check_picture(args: argparse.Namespace) -> None:
    """Refuse (``ConfigError``) a picture size or file that cannot be made, before any training."""
    from resnet_viz.export.image_limits import image_size_problem
    from resnet_viz.export.written import WriteError, check_writable
    from resnet_viz.gui.snapshot import MIN_SIZE

    if args.size[0] < MIN_SIZE[0] or args.size[1] < MIN_SIZE[1]:
        raise ConfigError("--size", f"{args.size[0]}x{args.size[1]}", f"at least {MIN_SIZE[0]}x{MIN_SIZE[1]} pixels")
    problem = image_size_problem(*args.size)
    if problem is not None:
        raise ConfigError("--size", f"{args.size[0]}x{args.size[1]}", problem)
    try:  # a picture that cannot be written is known now, not in an hour
        check_writable(args.out)
    except WriteError as exc:
        raise ConfigError("--out", args.out, f"cannot be written: {exc.why}") from None


def _configs(args: argparse.Namespace) -> list[RunConfig]:
    """The flags' run, or one variant of it per ``--compare`` item."""
    base = config_from_args(args)
    if not args.compare:
        return [base]
    return [
        RunConfig.from_dict(
            dataclasses.replace(base, model=dataclasses.replace(base.model, arch=arch, depth=depth)).to_dict()
        )
        for arch, depth in args.compare
    ]


def cmd_snapshot(args: argparse.Namespace) -> int:
    from resnet_viz.export.written import WriteError
    from resnet_viz.gui.snapshot import take_snapshot

    _check_picture(args)
    configs = _configs(args)

    def progress(entries: Sequence[Any]) -> None:
        if not args.quiet:
            print(
                "  " + " | ".join(f"{e.name.split(' · ')[0]}: {e.status} {e.store.steps_done}" for e in entries),
                file=sys.stderr,
            )

    try:
        out = take_snapshot(
            [] if args.session else configs,
            args.out,
            size=args.size,
            mode=args.mode,
            select=None if args.select is None else args.select - 1,
            session=args.session,
            progress=progress,
        )
    except WriteError as exc:
        print(f"resnet-viz: error: could not write the picture: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    print(f"wrote {out}")
    return EXIT_OK
