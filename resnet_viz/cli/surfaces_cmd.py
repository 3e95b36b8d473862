"""``resnet-viz surfaces``: race torch.optim optimisers on a 2D function; write the trajectories and a figure."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_viz.cli.snapshot_cmd import parse_size
from resnet_viz.cli.status import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE
from resnet_viz.config import ConfigError

if TYPE_CHECKING:
    from resnet_viz.surfaces.functions import Surface, SurfaceConfig
    from resnet_viz.surfaces.race import OptimizerRace, OptimizerSpec

_EPILOG = (
    "Hyperparameters use torch.optim's names (lr, momentum, dampening, weight_decay, eps, alpha, lr_decay, "
    "initial_accumulator_value, centered, amsgrad; betas=0.9/0.999 or beta1=, beta2=); unset ones take "
    "torch.optim's defaults (momentum and nesterov: momentum 0.9). Example: resnet-viz surfaces --surface rosenbrock "
    '--optims "sgd:lr=0.001,momentum:lr=0.001,adam:lr=0.02" --start=-1.5,2 --steps 500 --out race'
)


def _numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _pair(text: str) -> tuple[float, float]:
    values = _numbers(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers X,Y, got {text!r}")
    return values[0], values[1]


def _view_range(text: str) -> tuple[tuple[float, float], tuple[float, float]]:
    values = _numbers(text)
    if len(values) != 4 or not (values[0] < values[1] and values[2] < values[3]):
        raise argparse.ArgumentTypeError(f"expected XMIN,XMAX,YMIN,YMAX with XMIN < XMAX and YMIN < YMAX, got {text!r}")
    return (values[0], values[1]), (values[2], values[3])


def _add_figure_flags(surf: argparse.ArgumentParser) -> None:
    surf.add_argument("--range", type=_view_range, metavar="XMIN,XMAX,YMIN,YMAX", help="view of the figure")
    surf.add_argument("--view", choices=("contours", "heatmap"), default="contours", help="surface drawing")
    log = surf.add_mutually_exclusive_group()
    log.add_argument(
        "--log",
        dest="log",
        action="store_true",
        default=None,
        help="log colour scale (default: the surface's own choice)",
    )
    log.add_argument("--linear", dest="log", action="store_false", help="linear colour scale")
    surf.add_argument("--size", type=parse_size, default=(1400, 760), metavar="WxH", help="figure size in pixels")
    surf.add_argument("--gif", action="store_true", help="also write race.gif, the race step by step")
    surf.add_argument(
        "--mp4", action="store_true", help="also write race.mp4, the race as an H.264 video (needs PyAV: extra video)"
    )
    surf.add_argument("--no-figure", action="store_true", help="write only trajectories.csv and race.json")


def add_surfaces_parser(sub: Any) -> argparse.ArgumentParser:
    from resnet_viz.surfaces.functions import SURFACES
    from resnet_viz.surfaces.race import OPTIMIZERS

    surf: argparse.ArgumentParser = sub.add_parser(
        "surfaces",
        help="race optimisers on a 2D function; write trajectories.csv and a figure",
        description="Race torch.optim optimisers on a 2D test function from one start and write "
        "trajectories.csv (optimizer, step, x, y, loss; step 0 is the start), race.json (settings and "
        "summary), race.png and race.svg (and race.gif with --gif, race.mp4 with --mp4).",
        epilog="Optimisers: " + ", ".join(OPTIMIZERS) + ". " + _EPILOG,
    )
    surf.add_argument(
        "--surface", choices=SURFACES, help="the function (default rosenbrock, or formula with --formula)"
    )
    surf.add_argument(
        "--condition", type=float, default=50.0, help="quadratic: condition number κ of ½(u² + κv²) (default 50)"
    )
    surf.add_argument("--angle", type=float, default=0.0, help="quadratic: rotation of the bowl in degrees")
    surf.add_argument("--formula", metavar="F", help='formula surface: f in x and y, e.g. "x^2 + 10*sin(y)^2"')
    surf.add_argument(
        "--optims",
        default=",".join(OPTIMIZERS),
        metavar="SPEC",
        help='optimisers and settings, e.g. "sgd:lr=0.001,momentum:lr=0.001,adam:lr=0.02" '
        "(default: all seven with torch.optim's defaults)",
    )
    surf.add_argument(
        "--suggested",
        action="store_true",
        help="take the surface's suggested learning rates for what --optims leaves unset",
    )
    surf.add_argument("--start", type=_pair, metavar="X,Y", help="starting point (default: the surface's)")
    surf.add_argument("--steps", type=int, default=500, help="optimiser steps (default 500)")
    surf.add_argument("--out", metavar="DIR", help="output folder (default races/<surface>-<time>)")
    _add_figure_flags(surf)
    surf.add_argument("--quiet", action="store_true", help="print only the files written")
    return surf


def _json_safe(value: Any) -> Any:
    """Non-finite floats as the strings "nan", "inf", "-inf" (strict JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _surface_config(args: argparse.Namespace) -> SurfaceConfig:
    """The surface the flags name (``--formula`` alone means the formula surface); sets ``args.surface``."""
    from resnet_viz.surfaces.functions import SurfaceConfig

    if args.surface is None:
        args.surface = "formula" if args.formula is not None else "rosenbrock"
    elif args.formula is not None and args.surface != "formula":
        raise ConfigError("--formula", args.formula, f"a formula is raced with --surface formula, not {args.surface}")
    return SurfaceConfig(
        name=args.surface,
        condition=args.condition,
        angle=args.angle,
        formula=args.formula if args.formula is not None else SurfaceConfig.formula,
    )


def _race_record(args: argparse.Namespace, surface: Surface, race: OptimizerRace, summary: Any) -> dict[str, Any]:
    """What race.json holds: the surface, start, steps, each optimiser's settings, the summary."""
    quadratic = args.surface == "quadratic"
    return {
        "surface": {
            "name": surface.name,
            "title": surface.title,
            "formula": surface.text,
            "condition": args.condition if quadratic else None,
            "angle": args.angle if quadratic else None,
            "minima": surface.minima,
            "min_value": surface.min_value,
        },
        "start": list(race.start),
        "steps": args.steps,
        "optimizers": [
            {
                "label": t.label,
                "name": t.spec.key,
                "set": t.spec.hyper,
                "torch_kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in t.spec.torch_kwargs().items()},
            }
            for t in race.trajectories
        ],
        "summary": summary,
    }


def _write_race(args: argparse.Namespace, out: Path, race: OptimizerRace, record: dict[str, Any]) -> list[Path]:
    """Write trajectories.csv, race.json and the figures; every file is checked to be there."""
    from resnet_viz.cli.progress import FrameProgress
    from resnet_viz.export.trajectories import write_trajectories_csv
    from resnet_viz.export.written import check_written, make_folder

    make_folder(out)
    written = [check_written(write_trajectories_csv(out / "trajectories.csv", race.trajectories))]
    (out / "race.json").write_text(json.dumps(_json_safe(record), indent=2) + "\n", encoding="utf-8")
    written.append(check_written(out / "race.json"))
    if not args.no_figure:
        from resnet_viz.gui.qt_app import application
        from resnet_viz.gui.race.render import render_race_files

        application(offscreen=True)
        x_range, y_range = args.range if args.range else (None, None)
        animations = [kind for kind, wanted in (("gif", args.gif), ("mp4", args.mp4)) if wanted]
        bars: list[FrameProgress] = []

        def progress_for(name: str) -> FrameProgress:
            bars.append(FrameProgress(name, args.quiet))
            return bars[-1]

        try:
            written += render_race_files(
                race,
                out,
                size=args.size,
                mode=args.view,
                log=args.log,
                x_range=x_range,
                y_range=y_range,
                animations=animations,
                progress_for=progress_for,
            )
        finally:
            for bar in bars:
                bar.close()
    return written


def _print_table(args: argparse.Namespace, surface: Surface, race: OptimizerRace, summary: Any) -> None:
    print(f"{surface.title}: {surface.text}, start ({race.start[0]:g}, {race.start[1]:g}), {args.steps} steps")
    print(f"  {'optimizer':<14}{'settings':<28}{'x':>11}{'y':>11}{'f':>12}  {'steps to 1e-3 of a minimum':<28}")
    for row in summary:
        reach = row["steps_to_minimum_1e-3"]
        status = "" if row["status"] == "running" else f"  {row['status']}"
        print(
            f"  {row['optimizer']:<14}{row['title']:<28}{row['x']:>11.4g}{row['y']:>11.4g}{row['loss']:>12.4g}"
            f"  {'not reached' if reach is None else reach!s:<28}{status}"
        )


def _prepared_race(args: argparse.Namespace) -> tuple[Surface, list[OptimizerSpec], Path]:
    """The surface, the optimisers and the output folder, all checked before the race."""
    from resnet_viz.export.image_limits import image_size_problem
    from resnet_viz.export.written import WriteError, check_writable
    from resnet_viz.surfaces.functions import build_surface
    from resnet_viz.surfaces.race import RaceConfig, parse_optimizers

    problem = image_size_problem(*args.size)
    if problem is not None:
        raise ConfigError("--size", f"{args.size[0]}x{args.size[1]}", problem)
    surface_cfg = _surface_config(args)
    specs = parse_optimizers(args.optims)
    surface = build_surface(surface_cfg)
    if args.suggested:
        for spec in specs:
            spec.hyper = {**surface.suggested.get(spec.key, {}), **spec.hyper}
    RaceConfig(surface_cfg, specs, args.start, args.steps).validate()
    out = Path(args.out or f"races/{args.surface}-{_dt.datetime.now():%Y%m%d-%H%M%S}")
    try:  # before the race: an output folder that cannot be written is known now
        check_writable(out / "race.json")
    except WriteError as exc:
        raise ConfigError("--out", str(out), f"cannot be written: {exc.why} ({exc.path})") from None
    return surface, specs, out


def _video_missing(args: argparse.Namespace) -> str | None:
    """One line saying what to install when ``--mp4`` asks for a video and PyAV is missing, else None."""
    if not args.mp4 or args.no_figure:
        return None
    from resnet_viz.export.video import video_missing

    return video_missing()


def cmd_surfaces(args: argparse.Namespace) -> int:
    from resnet_viz.export.image_limits import ImageSizeError
    from resnet_viz.export.video import VideoUnavailable
    from resnet_viz.export.written import WriteError, reason
    from resnet_viz.surfaces.race import OptimizerRace

    surface, specs, out = _prepared_race(args)
    missing = _video_missing(args)
    if missing is not None:  # before the race: the video could not be written
        print(f"resnet-viz: error: --mp4: {missing}", file=sys.stderr)
        return EXIT_USAGE
    race = OptimizerRace(surface, args.start if args.start is not None else surface.start, specs)
    race.run(args.steps)
    summary = race.summary()
    try:
        written = _write_race(args, out, race, _race_record(args, surface, race, summary))
    except ImportError as exc:  # the figure needs Qt
        print(f"resnet-viz: error: cannot draw the figure ({exc}); data written to {out}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except VideoUnavailable as exc:  # PyAV without an H.264 encoder
        print(f"resnet-viz: error: --mp4: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (WriteError, ImageSizeError) as exc:
        print(f"resnet-viz: error: could not write the race: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except OSError as exc:  # trajectories.csv, race.json: disk full, folder removed, ...
        print(f"resnet-viz: error: could not write the race: {exc.filename or out}: {reason(exc)}", file=sys.stderr)
        return EXIT_RUN_FAILED
    if not args.quiet:
        _print_table(args, surface, race, summary)
    print(f"wrote {', '.join(str(p) for p in written)}")
    return EXIT_OK
