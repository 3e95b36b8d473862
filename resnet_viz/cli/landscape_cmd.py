"""``resnet-viz landscape``: the loss landscape of a trained network (Li et al. 2018) into a folder:
landscape.npz, landscape.json and the figures (landscape.png, landscape.svg) when Qt is there."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_viz.cli.progress import FrameProgress
from resnet_viz.cli.status import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE
from resnet_viz.config import ConfigError

if TYPE_CHECKING:
    from resnet_viz.landscape.result import LandscapeResult
    from resnet_viz.landscape.source import LandscapeSource
    from resnet_viz.landscape.spec import LandscapeSpec

#: The spec's fields as this command's flags (its errors name ``landscape.<field>``).
_FLAGS = {
    "landscape.directions": "--directions",
    "landscape.grid": "--grid",
    "landscape.range": "--range",
    "landscape.samples": "--samples",
    "landscape.seed": "--seed",
    "landscape.include_biasbn": "--include-biasbn",
    "landscape.precision": "--precision",
}

_EPILOG = (
    "Directions: random = two Gaussian directions normalised filter by filter to the trained weights' norms "
    "(biases and BN parameters: zero unless --include-biasbn); pca = the top two principal components of the "
    "training path (needs the run's snapshots, see resnet-viz run --snapshots), the path drawn on the plane; "
    "interpolate = the line from the initial (0) to the final (1) weights. Loss: mean cross-entropy in eval "
    "mode on a fixed training sample, as the run's evaluation computes it. Example: resnet-viz landscape "
    "runs/resnet-20 --directions pca --grid 21 --samples 1000 --out landscapes/resnet-20-pca"
)


def _range(text: str) -> tuple[float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI (two numbers), got {text!r}") from None
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected LO,HI (two numbers), got {text!r}")
    return values[0], values[1]


def add_landscape_parser(sub: Any) -> argparse.ArgumentParser:
    from resnet_viz.config import DEVICES
    from resnet_viz.landscape.spec import DIRECTIONS, PRECISIONS

    p: argparse.ArgumentParser = sub.add_parser(
        "landscape",
        help="the loss landscape of a trained network: landscape.npz, landscape.json and a figure",
        description="Slice the training loss of a trained network around its final weights (Li et al. 2018) and "
        "write landscape.npz (alpha, beta, loss, error; pca: path_alpha, path_beta, path_steps, "
        "explained_variance), landscape.json (settings, seed, timing) and landscape.png/.svg (with --gif / "
        "--mp4 and pca directions also landscape-path.gif / .mp4, the training path drawn snapshot by snapshot).",
        epilog=_EPILOG,
    )
    p.add_argument("source", metavar="RUN_FOLDER_OR_CHECKPOINT", help="a run folder, or a checkpoint file")
    p.add_argument("--directions", choices=DIRECTIONS, default="random", help="the slice (default random)")
    p.add_argument("--grid", type=int, default=21, help="points per axis; interpolate: on the line (default 21)")
    p.add_argument(
        "--range",
        type=_range,
        metavar="LO,HI",
        help="coefficient range (default -1,1; interpolate -0.5,1.5; pca: the path with a margin)",
    )
    p.add_argument("--samples", type=int, default=1000, help="training images the loss averages (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random directions (default 0)")
    p.add_argument("--include-biasbn", action="store_true", help="directions for biases and BN parameters too")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="forward passes in fp32, or bf16/fp16 autocast (default: the run's own, as its evaluations; "
        "bf16 is ~3x faster on CPUs with AMX, losses to ~3 significant digits)",
    )
    p.add_argument("--device", default="cpu", metavar="{" + ",".join(DEVICES) + "}", help="default cpu")
    p.add_argument("--no-figure", action="store_true", help="write only landscape.npz and landscape.json")
    p.add_argument("--gif", action="store_true", help="also landscape-path.gif: the training path (--directions pca)")
    p.add_argument(
        "--mp4", action="store_true", help="also landscape-path.mp4, an H.264 video of the path (pca; needs PyAV)"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress; print only the files written")
    return p


def _spec(args: argparse.Namespace) -> LandscapeSpec:
    from resnet_viz.landscape.spec import LandscapeSpec

    return LandscapeSpec(
        directions=args.directions,
        grid=args.grid,
        range=args.range,
        samples=args.samples,
        seed=args.seed,
        include_biasbn=args.include_biasbn,
        precision=args.precision,
    )


def _flag_line(exc: ConfigError) -> str:
    """A spec error with the flag's name and the value as typed (``--range 1,-1 is not allowed: ...``)."""
    value = exc.value
    text = ",".join(f"{v:g}" for v in value) if isinstance(value, tuple) else str(value)
    return f"{_FLAGS.get(exc.field, exc.field)} {text} is not allowed: {exc.allowed}"


class _Progress:
    """Grid points on stderr: a tqdm bar on a terminal, else a line at every quarter."""

    def __init__(self, quiet: bool, total: int) -> None:
        from tqdm import tqdm

        self.quiet, self.total, self.said = quiet, total, 0
        self.bar = None if quiet else tqdm(total=total, unit="point", dynamic_ncols=True, disable=None, file=sys.stderr)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            return
        self.bar.update(done - self.bar.n)
        if self.bar.disable and done * 4 >= (self.said + 1) * total:
            self.said = done * 4 // total
            print(f"{done}/{total} points", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _animations(args: argparse.Namespace) -> list[str]:
    return [kind for kind, wanted in (("gif", args.gif), ("mp4", args.mp4)) if wanted and not args.no_figure]


def _animation_problem(args: argparse.Namespace) -> str | None:
    """One line when --gif / --mp4 cannot be written (no path to draw, no PyAV), before any work; else None."""
    kinds = _animations(args)
    if kinds and args.directions != "pca":
        return f"--{kinds[0]} animates the training path, which only --directions pca has (not {args.directions})"
    if "mp4" in kinds:
        from resnet_viz.export.video import video_missing

        missing = video_missing()
        return None if missing is None else f"--mp4: {missing}"
    return None


def _figures(args: argparse.Namespace, result: LandscapeResult, out: Path) -> tuple[list[Path], str | None]:
    """The figures (and the path animations asked for), or [] and one line saying why they were not drawn."""
    try:
        from resnet_viz.gui.landscape.render import render_landscape_files
        from resnet_viz.gui.qt_app import application

        application(offscreen=True)
    except Exception as exc:  # noqa: BLE001 - no Qt, no display, C's module missing: data only
        return [], f"{type(exc).__name__}: {exc}".splitlines()[0]
    progress: list[FrameProgress] = []

    def progress_for(name: str) -> FrameProgress:
        progress.append(FrameProgress(name, args.quiet))
        return progress[-1]

    try:
        return render_landscape_files(result, out, animations=_animations(args), progress_for=progress_for), None
    finally:
        for bar in progress:
            bar.close()


def _header(source: LandscapeSource, spec: LandscapeSpec, device: str) -> str:
    span = spec.resolved_range()
    where = "around the path" if span is None else f"on [{span[0]:g}, {span[1]:g}]"
    shape = f"{spec.grid} points" if spec.one_dimensional else f"{spec.grid}×{spec.grid} grid"
    return f"{source.label}: {spec.directions}, {shape} {where}, {spec.samples} training images, on {device}"


def _summary(result: LandscapeResult) -> None:
    loss = result.loss
    k = int(loss.argmin()) if loss.size else 0
    if result.beta is None:
        where = f"α = {result.alpha[k]:.3g}"
    else:
        i, j = divmod(k, loss.shape[1])
        where = f"(α, β) = ({result.alpha[j]:.3g}, {result.beta[i]:.3g})"
    print(
        f"{result.label}: {result.spec.directions}, {loss.size} points in {result.elapsed_s:.1f} s on {result.device}"
    )
    print(f"  lowest loss {float(loss.min()):.4g} at {where}; highest {float(loss.max()):.4g}")
    if result.explained_variance is not None:
        ev = result.explained_variance
        print(f"  PCA: the two components explain {100 * ev[0]:.1f}% and {100 * ev[1]:.1f}% of the path's variance")


def _prepared(args: argparse.Namespace) -> tuple[LandscapeSpec, LandscapeSource, Path]:
    from resnet_viz.export.written import WriteError, check_writable
    from resnet_viz.landscape.compute import check_source
    from resnet_viz.landscape.source import load_landscape_source
    from resnet_viz.train.device import resolve_device

    spec = _spec(args)
    resolve_device(args.device)  # ConfigError naming train.device (--device) before any work
    out = Path(args.out)
    try:
        check_writable(out / "landscape.json")
    except WriteError as exc:
        raise ConfigError("--out", str(out), f"cannot be written: {exc.why} ({exc.path})") from None
    source = load_landscape_source(args.source)
    check_source(source, spec)
    return spec, source, out


def cmd_landscape(args: argparse.Namespace) -> int:
    from resnet_viz.cli.messages import with_flags
    from resnet_viz.export.image_limits import ImageSizeError
    from resnet_viz.export.video import VideoUnavailable
    from resnet_viz.export.written import WriteError
    from resnet_viz.landscape.compute import compute_landscape
    from resnet_viz.landscape.errors import LandscapeError

    try:
        spec, source, out = _prepared(args)
    except ConfigError as exc:
        if not exc.field.startswith("landscape."):
            raise
        print(f"resnet-viz: error: {_flag_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except LandscapeError as exc:
        print(f"resnet-viz: error: {with_flags(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    problem = _animation_problem(args)
    if problem is not None:
        print(f"resnet-viz: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet:
        print(_header(source, spec, args.device), file=sys.stderr)
    progress = _Progress(args.quiet, spec.points)
    try:
        result = compute_landscape(source, spec, progress=progress, device=args.device)
    except LandscapeError as exc:
        print(f"resnet-viz: error: {with_flags(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nresnet-viz: interrupted; nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        progress.close()
    try:
        written = result.save(out)
        figures, why = ([], "--no-figure") if args.no_figure else _figures(args, result, out)
    except (WriteError, ImageSizeError, VideoUnavailable) as exc:
        print(f"resnet-viz: error: could not write the landscape: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    if why is not None and not args.no_figure:
        print(f"resnet-viz: no figures ({why}); data written to {out}", file=sys.stderr)
    if not args.quiet:
        _summary(result)
    print(f"wrote {', '.join(str(p) for p in written + figures)}")
    return EXIT_OK
