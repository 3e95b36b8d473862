"""``resnet-viz`` command line: a client of the core, like the GUI.

resnet-viz                              open the window (same as ``resnet-viz gui``)
resnet-viz gui [--session FILE]         open the window, optionally with a saved session
resnet-viz snapshot [flags] --out PNG   train offscreen, save a picture of the whole window
resnet-viz run [flags] --out DIR        train headless, write a run folder
resnet-viz run --config DIR/run.json    the same run again (flags given too override it)
resnet-viz describe [model flags]       layer table of a network: name, type, output shape, params
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from resnet_viz import __version__
from resnet_viz.config import (
    ACTIVATIONS,
    AFTER_ADD,
    ARCHS,
    BLOCKS,
    DATASETS,
    DEVICES,
    INIT_DISTRIBUTIONS,
    INIT_MODES,
    INITS,
    OPTIMIZERS,
    SCHEDULES,
    SHORTCUT_VARIANTS,
    ConfigError,
    RunConfig,
)
from resnet_viz.metrics.records import EvalRecord, RunFinished, RunStarted, TrainChunk

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


@dataclass(frozen=True)
class Flag:
    """A command-line flag bound to a config field (``section.field``)."""

    flags: tuple[str, ...]
    path: str
    help: str
    type: Callable[[str], Any] | None = None
    choices: Sequence[str] | None = None
    const: Any = None  # for switches: the value stored when the flag is given
    metavar: str | None = None


MODEL_FLAGS = (
    Flag(
        ("--arch",), "model.arch", "network family: plain (no shortcuts), resnet, mlp (fully connected)", choices=ARCHS
    ),
    Flag(
        ("--depth",),
        "model.depth",
        "weight layers: 6n+2 for basic/preact blocks (20, 32, 44, 56, 110, 1202), "
        "9n+2 for bottleneck, any n ≥ 1 for mlp",
        type=int,
    ),
    Flag(
        ("--width",),
        "model.width",
        "base width (conv: channels of stage 1, default 16) or hidden width (mlp, default 256)",
        type=int,
    ),
    Flag(
        ("--block",),
        "model.block",
        "residual block: basic (two 3x3), bottleneck (1x1-3x3-1x1), preact (BN-ReLU-conv)",
        choices=BLOCKS,
    ),
    Flag(
        ("--shortcut",),
        "model.shortcut",
        "shortcut where dimensions change: A zero-pad, B projection there, C projection everywhere",
        type=str.upper,
        choices=("A", "B", "C"),
    ),
    Flag(
        ("--shortcut-variant",),
        "model.shortcut_variant",
        "shortcut h(x) of Identity Mappings (He et al. 2016)",
        choices=SHORTCUT_VARIANTS,
    ),
    Flag(
        ("--shortcut-scale",), "model.shortcut_scale", "lambda for --shortcut-variant scale (default 0.5)", type=float
    ),
    Flag(
        ("--shortcut-dropout",), "model.shortcut_dropout", "p for --shortcut-variant dropout (default 0.5)", type=float
    ),
    Flag(
        ("--after-add",),
        "model.after_add",
        "mapping after the addition: relu (original), bn_relu, none",
        choices=AFTER_ADD,
    ),
    Flag(("--no-bn",), "model.batch_norm", "no batch normalisation", const=False),
    Flag(("--bn",), "model.batch_norm", "batch normalisation (default for plain/resnet; off for mlp)", const=True),
    Flag(("--activation",), "model.activation", "nonlinearity everywhere the paper uses ReLU", choices=ACTIVATIONS),
    Flag(("--leaky-slope",), "model.leaky_slope", "negative slope of leaky_relu (default 0.01)", type=float),
    Flag(
        ("--stochastic-depth",),
        "model.stochastic_depth",
        "drop residual blocks (survival 1 → 0.5, Huang et al.)",
        const=True,
    ),
    Flag(("--residual",), "model.residual", "mlp: identity skip around every hidden layer", const=True),
    Flag(
        ("--init",),
        "init.scheme",
        "weight init: he (MSRA), xavier (Glorot), lecun, normal (--init-std), orthogonal",
        choices=INITS,
    ),
    Flag(
        ("--init-mode",),
        "init.mode",
        "he/lecun: keep the variance of fan_in (forward) or fan_out (backward)",
        choices=INIT_MODES,
    ),
    Flag(
        ("--init-distribution",), "init.distribution", "normal or uniform (same variance)", choices=INIT_DISTRIBUTIONS
    ),
    Flag(("--init-std",), "init.std", "std of --init normal (default 0.01)", type=float),
    Flag(
        ("--zero-init-residual",), "init.zero_init_residual", "last BN of each residual branch starts at 0", const=True
    ),
)

TRAIN_FLAGS = (
    Flag(("--optim",), "optim.name", "optimiser (torch.optim)", choices=OPTIMIZERS),
    Flag(("--lr",), "optim.lr", "learning rate (default: torch.optim's)", type=float),
    Flag(("--momentum",), "optim.momentum", "momentum (sgd, rmsprop)", type=float),
    Flag(("--nesterov",), "optim.nesterov", "Nesterov momentum (sgd)", const=True),
    Flag(("--weight-decay",), "optim.weight_decay", "L2 weight decay (He et al.: 1e-4)", type=float),
    Flag(("--betas",), "optim.betas", "adam/adamw betas, e.g. 0.9,0.999", type=_floats, metavar="B1,B2"),
    Flag(("--eps",), "optim.eps", "epsilon of adaptive optimisers", type=float),
    Flag(("--alpha",), "optim.alpha", "rmsprop smoothing constant", type=float),
    Flag(
        ("--schedule",),
        "optim.schedule",
        "lr schedule: constant, step (×gamma at milestones), cosine",
        choices=SCHEDULES,
    ),
    Flag(
        ("--milestones",),
        "optim.milestones",
        "step schedule milestones as fractions of the run (default 0.5,0.75)",
        type=_floats,
        metavar="F1,F2",
    ),
    Flag(("--gamma",), "optim.gamma", "step schedule factor (default 0.1)", type=float),
    Flag(("--warmup-steps",), "optim.warmup_steps", "linear warm-up from lr/10 over N steps", type=int),
    Flag(("--batch-size",), "train.batch_size", "mini-batch size (default 128)", type=int),
    Flag(("--steps",), "train.steps", "training steps (default 2000)", type=int),
    Flag(("--epochs",), "train.epochs", "training length in epochs instead of --steps", type=float),
    Flag(("--eval-every",), "train.eval_every", "steps between evaluations (default 100)", type=int),
    Flag(
        ("--eval-train-samples",),
        "train.eval_train_samples",
        "size of the fixed training sample for train error (default 10000)",
        type=int,
    ),
    Flag(("--device",), "train.device", "auto, cpu, cuda[:N], mps", metavar="{" + ",".join(DEVICES) + "}"),
    Flag(("--seed",), "train.seed", "random seed (default 0)", type=int),
    Flag(("--no-probes",), "train.probes", "no per-layer statistics", const=False),
    Flag(("--probe-every",), "train.probe_every", "per-layer statistics every N steps (default 1)", type=int),
    Flag(
        ("--histogram-every",),
        "train.histogram_every",
        "activation/gradient histograms every N steps (0: off)",
        type=int,
    ),
    Flag(("--histogram-bins",), "train.histogram_bins", "bins per histogram (default 64)", type=int),
    Flag(("--nondeterministic",), "train.deterministic", "allow nondeterministic (faster) kernels", const=False),
)

DATA_FLAGS = (
    Flag(
        ("--dataset",),
        "data.dataset",
        "embedded (synthetic, no download), cifar10, cifar100, mnist, fashion-mnist, svhn, folder",
        choices=DATASETS,
    ),
    Flag(("--data-root",), "data.root", "folder with the torchvision layout (or an ImageFolder tree)", metavar="DIR"),
    Flag(("--download",), "data.download", "download the dataset into the per-user cache", const=True),
    Flag(("--subset",), "data.subset", "use only the first N training images", type=int),
    Flag(("--no-augment",), "data.augment", "no crop/flip augmentation", const=False),
    Flag(("--no-normalize",), "data.normalize", "no per-channel normalisation", const=False),
    Flag(("--embedded-seed",), "data.embedded_seed", "seed of the embedded synthetic set (default 0)", type=int),
)


def _add_flags(parser: argparse.ArgumentParser, title: str, flags: Sequence[Flag]) -> None:
    group = parser.add_argument_group(title)
    for f in flags:
        kwargs: dict[str, Any] = {"dest": f.path, "default": argparse.SUPPRESS, "help": f.help}
        if f.const is not None:
            kwargs.update(action="store_const", const=f.const)
        else:
            if f.type is not None:
                kwargs["type"] = f.type
            if f.choices is not None:
                kwargs["choices"] = f.choices
            if f.metavar is not None:
                kwargs["metavar"] = f.metavar
            elif f.choices is None:
                kwargs["metavar"] = f.flags[0].lstrip("-").replace("-", "_").upper()
        group.add_argument(*f.flags, **kwargs)


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    """``--config`` plus every model, training and data flag (the commands that train)."""
    parser.add_argument("--config", metavar="FILE", help="start from a config file or a run folder's run.json")
    _add_flags(parser, "model", MODEL_FLAGS)
    _add_flags(parser, "training", TRAIN_FLAGS)
    _add_flags(parser, "data", DATA_FLAGS)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The config file (if ``--config``) or the defaults, with every flag given on top. Validated, and
    refused (``ConfigError``) when even building its model cannot fit in this machine's memory."""
    from resnet_viz.models.budget import check_fits

    base = RunConfig.load(args.config) if getattr(args, "config", None) else RunConfig()
    data = base.to_dict()
    for key, value in vars(args).items():
        if "." in key:
            section, name = key.split(".", 1)
            data[section][name] = value
    config = RunConfig.from_dict(data)
    check_fits(config)  # training on the device is checked by Engine.prepare
    return config


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


class ConsoleProgress:
    """Shows training progress on stderr (a tqdm bar on a terminal, a line per evaluation otherwise)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None
        self.total = 0

    def __call__(self, record: Any) -> None:
        if self.quiet:
            return
        if isinstance(record, RunStarted):
            from tqdm import tqdm

            self.total = record.total_steps
            print(
                f"{record.label}: {record.params / 1e6:.3g}M parameters, {len(record.layers.names)} weight layers, "
                f"{record.total_steps} steps on {record.device}; data: {record.resolved['dataset']}",
                file=sys.stderr,
            )
            self.bar = tqdm(total=record.total_steps, unit="step", dynamic_ncols=True, disable=None, file=sys.stderr)
        elif isinstance(record, TrainChunk) and self.bar is not None:
            self.bar.update(len(record))
            self.bar.set_postfix(
                loss=f"{record.loss[-1]:.3f}", err=f"{100 * record.batch_error[-1]:.1f}%", refresh=False
            )
        elif isinstance(record, EvalRecord):
            line = (
                f"step {record.step}/{self.total}: train error {_pct(record.train_error)}, "
                f"test error {_pct(record.test_error)}, train loss {record.train_loss:.4f}, "
                f"test loss {record.test_loss:.4f}"
            )
            if self.bar is not None and not self.bar.disable:
                self.bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr)
        elif isinstance(record, RunFinished) and self.bar is not None:
            self.bar.close()


def cmd_run(args: argparse.Namespace) -> int:
    from resnet_viz.data import DataError
    from resnet_viz.export.run_folder import (
        RunFolderError,
        RunFolderWriter,
        check_free_space,
        check_run_folder,
        estimate_run_bytes,
    )
    from resnet_viz.train.engine import Engine

    config = config_from_args(args)
    out = (
        Path(args.out)
        if args.out
        else Path("runs") / (_slug(config.label()) + _dt.datetime.now().strftime("-%Y%m%d-%H%M%S"))
    )

    def refuse(exc: RunFolderError) -> int:
        hint = "; add --overwrite to replace it" if exc.previous_run else ""
        print(f"resnet-viz: error: --out {exc}{hint}", file=sys.stderr)
        return EXIT_USAGE

    try:  # before anything is loaded: a folder that cannot take the run is refused at once
        check_run_folder(out, replace=args.overwrite)
    except RunFolderError as exc:
        return refuse(exc)
    console = ConsoleProgress(args.quiet)
    engine: Engine | None = None
    # the writer touches the folder only when the run starts (data loaded, model built); a failed
    # write stops the run at once, keeping what is on disk
    writer = RunFolderWriter(out, on_write_error=lambda: engine.stop(evaluate=False))

    def emit(record: Any) -> None:
        writer(record)
        console(record)

    engine = Engine(config, emit)

    def on_signal(signum: int, _frame: Any) -> None:
        if engine.stop_requested:
            raise KeyboardInterrupt
        if signum == signal.SIGINT:
            print("\nstopping after this step (evaluating first); press Ctrl-C again to stop at once", file=sys.stderr)
            engine.stop(evaluate=True)
        else:  # SIGTERM: the system or a job scheduler wants the process gone soon: no final evaluation
            print(f"\n{signal.Signals(signum).name}: stopping after this step", file=sys.stderr)
            engine.stop(evaluate=False)

    handled = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {signum: signal.signal(signum, on_signal) for signum in handled}
    try:
        try:
            engine.prepare()
        except DataError as exc:
            print(f"resnet-viz: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            engine.stop(evaluate=False)
        if engine.stop_requested:
            print(f"stopped before the first step; nothing was written to {out}", file=sys.stderr)
            return EXIT_OK
        train = engine.config.train
        try:
            check_free_space(
                out,
                estimate_run_bytes(
                    engine.total_steps,
                    len(engine.layers),
                    train.probe_every,
                    train.probes,
                    train.histogram_every,
                    train.histogram_bins,
                ),
            )
        except RunFolderError as exc:
            return refuse(exc)
        result = engine.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    status = writer.write_error or result.status
    message = (
        f"the run was stopped; {out} keeps every step up to {writer.steps_on_disk}"
        if writer.write_error
        else result.message
        if status != "finished"
        else ""
    )
    print(
        f"{status} · {config.label()} · {result.steps} steps · train error {_pct(result.final_train_error)}"
        f" · test error {_pct(result.final_test_error)} · {result.steps_per_s:.2f} steps/s on {result.device}"
        f" → {out}" + (f"\n  {message}" if message else "")
    )
    return EXIT_OK if result.ok and writer.write_error is None else EXIT_RUN_FAILED


def cmd_describe(args: argparse.Namespace) -> int:
    from resnet_viz.data import dataset_input_shape, load_dataset
    from resnet_viz.models import build_model, describe_model, init_weights

    config = config_from_args(args).resolved()
    known = dataset_input_shape(config.data.dataset)
    if known is None:
        splits = load_dataset(config.data)
        input_shape, classes = splits.input_shape, splits.num_classes
    else:
        input_shape, classes = known
    model = build_model(config.model, input_shape[0], input_shape[1], classes)
    init_weights(model, config.init, config.model)
    print(f"{config.label()} on {config.data.dataset} ({'x'.join(map(str, input_shape))}, {classes} classes)")
    print(describe_model(model, input_shape, classes))
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from resnet_viz.gui.app import run_app
    except ImportError as exc:  # e.g. a Qt library missing on this system
        print(f"resnet-viz: error: cannot open the window: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return run_app(session=args.session, runs=args.run or [])


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, e.g. 1600x1000, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _compare(text: str) -> list[tuple[str, int]]:
    out = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        match = re.fullmatch(r"(plain|resnet|mlp)-(\d+)", item)
        if not match:
            raise argparse.ArgumentTypeError(f"expected ARCH-DEPTH items like plain-20,resnet-56, got {item!r}")
        out.append((match.group(1), int(match.group(2))))
    return out


def cmd_snapshot(args: argparse.Namespace) -> int:
    import dataclasses

    from resnet_viz.export.image_limits import image_size_problem
    from resnet_viz.export.written import WriteError, check_writable
    from resnet_viz.gui.snapshot import MIN_SIZE, take_snapshot

    if args.size[0] < MIN_SIZE[0] or args.size[1] < MIN_SIZE[1]:
        raise ConfigError("--size", f"{args.size[0]}x{args.size[1]}", f"at least {MIN_SIZE[0]}x{MIN_SIZE[1]} pixels")
    problem = image_size_problem(*args.size)
    if problem is not None:
        raise ConfigError("--size", f"{args.size[0]}x{args.size[1]}", problem)
    try:  # before any training: a picture that cannot be written is known now, not in an hour
        check_writable(args.out)
    except WriteError as exc:
        raise ConfigError("--out", args.out, f"cannot be written: {exc.why}") from None
    base = config_from_args(args)
    configs = (
        [base]
        if not args.compare
        else [
            RunConfig.from_dict(
                dataclasses.replace(base, model=dataclasses.replace(base.model, arch=arch, depth=depth)).to_dict()
            )
            for arch, depth in args.compare
        ]
    )

    def progress(entries) -> None:
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


def _pair(text: str) -> tuple[float, float]:
    values = _floats(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers X,Y, got {text!r}")
    return values[0], values[1]


def _view_range(text: str) -> tuple[tuple[float, float], tuple[float, float]]:
    values = _floats(text)
    if len(values) != 4 or not (values[0] < values[1] and values[2] < values[3]):
        raise argparse.ArgumentTypeError(f"expected XMIN,XMAX,YMIN,YMAX with XMIN < XMAX and YMIN < YMAX, got {text!r}")
    return (values[0], values[1]), (values[2], values[3])


def _json_safe(value: Any) -> Any:
    """Non-finite floats as the strings "nan", "inf", "-inf" (strict JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def cmd_surfaces(args: argparse.Namespace) -> int:
    import json

    from resnet_viz.export.image_limits import ImageSizeError, image_size_problem
    from resnet_viz.export.trajectories import write_trajectories_csv
    from resnet_viz.export.written import WriteError, check_writable, check_written, make_folder, reason
    from resnet_viz.surfaces.functions import SurfaceConfig, build_surface
    from resnet_viz.surfaces.race import OptimizerRace, RaceConfig, parse_optimizers

    problem = image_size_problem(*args.size)
    if problem is not None:
        raise ConfigError("--size", f"{args.size[0]}x{args.size[1]}", problem)

    if args.surface is None:
        args.surface = "formula" if args.formula is not None else "rosenbrock"
    elif args.formula is not None and args.surface != "formula":
        raise ConfigError("--formula", args.formula, f"a formula is raced with --surface formula, not {args.surface}")
    surface_cfg = SurfaceConfig(
        name=args.surface,
        condition=args.condition,
        angle=args.angle,
        formula=args.formula if args.formula is not None else SurfaceConfig.formula,
    )
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
    race = OptimizerRace(surface, args.start if args.start is not None else surface.start, specs)
    race.run(args.steps)
    summary = race.summary()
    record = {
        "surface": {
            "name": surface.name,
            "title": surface.title,
            "formula": surface.text,
            "condition": args.condition if args.surface == "quadratic" else None,
            "angle": args.angle if args.surface == "quadratic" else None,
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
    try:  # every file is checked to be there: no "wrote" for a file that is not
        make_folder(out)
        written = [check_written(write_trajectories_csv(out / "trajectories.csv", race.trajectories))]
        (out / "race.json").write_text(json.dumps(_json_safe(record), indent=2) + "\n", encoding="utf-8")
        written.append(check_written(out / "race.json"))
        if not args.no_figure:
            try:
                from resnet_viz.gui.qt_app import application
                from resnet_viz.gui.race.render import render_race_files
            except ImportError as exc:
                print(f"resnet-viz: error: cannot draw the figure ({exc}); data written to {out}", file=sys.stderr)
                return EXIT_RUN_FAILED
            application(offscreen=True)
            x_range, y_range = args.range if args.range else (None, None)
            written += render_race_files(
                race, out, size=args.size, mode=args.view, log=args.log, x_range=x_range, y_range=y_range, gif=args.gif
            )
    except (WriteError, ImageSizeError) as exc:
        print(f"resnet-viz: error: could not write the race: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except OSError as exc:  # trajectories.csv, race.json: disk full, folder removed, ...
        print(f"resnet-viz: error: could not write the race: {exc.filename or out}: {reason(exc)}", file=sys.stderr)
        return EXIT_RUN_FAILED
    if not args.quiet:
        print(f"{surface.title}: {surface.text}, start ({race.start[0]:g}, {race.start[1]:g}), {args.steps} steps")
        print(f"  {'optimizer':<14}{'settings':<28}{'x':>11}{'y':>11}{'f':>12}  {'steps to 1e-3 of a minimum':<28}")
        for row in summary:
            reach = row["steps_to_minimum_1e-3"]
            status = "" if row["status"] == "running" else f"  {row['status']}"
            print(
                f"  {row['optimizer']:<14}{row['title']:<28}{row['x']:>11.4g}{row['y']:>11.4g}{row['loss']:>12.4g}"
                f"  {'not reached' if reach is None else reach!s:<28}{status}"
            )
    print(f"wrote {', '.join(str(p) for p in written)}")
    return EXIT_OK


def _write_gallery_index(index: Path, written: list[Path], order: list[str]) -> Path:
    """A Markdown page with the figures and checks (from each ``preset.json``) of the folders just
    ``written`` and of every other preset folder beside them, in preset ``order``: re-running one
    preset into a gallery keeps the others in its index."""
    import json

    from resnet_viz.presets.measures import MARKS

    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, index.parent)).as_posix()

    folders = {p.resolve(): p for p in written}
    for parent in {p.parent for p in written}:
        for info in parent.glob("*/preset.json"):
            folders.setdefault(info.parent.resolve(), info.parent)
    infos = [(out, json.loads((out / "preset.json").read_text(encoding="utf-8"))) for out in folders.values()]
    infos.sort(
        key=lambda item: (
            order.index(item[1].get("name")) if item[1].get("name") in order else len(order),
            item[0].name,
        )
    )
    commands = list(dict.fromkeys(info.get("command", "") for _, info in infos))
    lines = ["# Gallery: the guided experiments, quick size", ""]
    if len(commands) == 1:
        lines += [
            "Every figure here was made by resnet-viz itself, on the project's 2-core CPU machine, with",
            "",
            f"    {commands[0]}",
            "",
        ]
    else:
        parent = Path(os.path.commonpath([str(out.parent) for out, _ in infos])) if infos else index.parent
        lines += [
            "Every figure here was made by resnet-viz itself, on the project's 2-core CPU machine, with the "
            "command named under each heading. One command regenerates them all:",
            "",
            f"    resnet-viz reproduce all --out {parent.as_posix()} --index {index.as_posix()} --no-run-folders",
            "",
        ]
    lines += [
        "Each preset's `report.md` has the configuration, the measured numbers beside the published ones, "
        "and whether the expected direction held.",
        "",
    ]
    for out, info in infos:
        lines += [
            f"## {info['title']}",
            "",
            f"`{info['name']}` · {info['paper']} · [report]({rel(out / 'report.md')})"
            f" · {info['elapsed_s'] / 60:.1f} min",
            "",
        ]
        if len(commands) > 1 and info.get("command"):
            lines += [f"Made with `{info['command']}`.", ""]
        checks = info["checks"]
        if not checks:
            lines += [
                f"No expected direction is checked at the {info.get('size', 'quick')} size (the report's note "
                "says why).",
                "",
            ]
        else:
            held = sum(1 for c in checks if c["held"])
            lines += [f"Expected directions: **{held} of {len(checks)} held**", ""]
            for c in checks:
                lines.append(f"- {MARKS[c['held']]} {c['claim']}: {c['measured']}")
            lines.append("")
        for name in info["figures"]:
            if name.endswith(".png"):
                lines += [f"![{info['name']} {name[:-4]}]({rel(out / name)})", ""]
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text("\n".join(lines), encoding="utf-8")
    return index


def _write_preset_summary(result: Any, out: Path, figures: list[Path], command: str) -> Path:
    import json

    p = result.preset
    info = {
        "name": p.name,
        "title": p.title,
        "paper": p.paper,
        "size": result.size,
        "elapsed_s": result.elapsed_s,
        "runs": {r.name: r.status for r in result.runs},
        "checks": [{"claim": c.check.claim, "measured": c.describe(), "held": c.held} for c in result.checks],
        "figures": [f.name for f in figures if f.parent == out],
        "command": command,
    }
    path = out / "preset.json"
    path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def cmd_reproduce(args: argparse.Namespace) -> int:
    from resnet_viz.export.run_folder import RunFolderError, RunFolderWriter, check_run_folder
    from resnet_viz.export.written import WriteError, check_writable, make_folder, reason
    from resnet_viz.presets import PresetError, load_preset_file, load_presets
    from resnet_viz.presets.report import write_report
    from resnet_viz.presets.runner import PresetRunner, adapt_runs

    try:
        if args.name is not None and (args.name.endswith(".json") or "/" in args.name or os.sep in args.name):
            preset = load_preset_file(args.name, user=True)  # a preset file the user named: run it as it is
            presets = {preset.name: preset}
            args.name = preset.name  # the name the output folder takes
        else:
            presets = load_presets()  # the shipped ones, then the user's folder; bad files skipped
            for skipped in presets.skipped:
                print(f"resnet-viz: warning: {skipped}", file=sys.stderr)
    except PresetError as exc:
        print(f"resnet-viz: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.list or args.name is None:
        for p in presets.values():
            quick = p.sizes["quick"].minutes
            print(
                f"{p.name:<12} {p.title}"
                + (f"  (quick: about {quick:g} min)" if quick else "")
                + (f"  [user preset: {p.source}]" if p.user else "")
            )
        return EXIT_OK
    if args.name != "all" and args.name not in presets:
        raise ConfigError("NAME", args.name, "one of " + ", ".join(presets) + ", or all")
    chosen = list(presets.values()) if args.name == "all" else [presets[args.name]]
    for p in chosen:
        if args.size not in p.sizes:
            raise ConfigError("--size", args.size, f"{p.name} has sizes " + ", ".join(p.sizes))
    if args.steps is not None and args.steps < 1:
        raise ConfigError("--steps", args.steps, "a positive number of steps")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(args.out) if args.out else Path("reproductions") / (f"{args.name}-{args.size}-{stamp}")
    command = "resnet-viz " + " ".join(args.argv)
    # every run of every chosen preset is validated before the first one trains
    plans = [
        (
            p,
            adapt_runs(
                p.runs(args.size),
                dataset=args.dataset,
                data_root=args.data_root,
                download=True if args.download else None,
                steps=args.steps,
                device=args.device,
            ),
        )
        for p in chosen
    ]
    try:  # before anything trains: an output folder that cannot be written is known now
        check_writable(base / "report.md")
    except WriteError as exc:
        raise ConfigError("--out", str(base), f"cannot be written: {exc.why} ({exc.path})") from None
    app = None
    if not args.no_figures:
        try:
            from resnet_viz.gui.preset_figures import render_preset_figures, render_preset_race
            from resnet_viz.gui.qt_app import application
        except ImportError as exc:
            print(f"resnet-viz: error: cannot draw figures ({exc}); add --no-figures", file=sys.stderr)
            return EXIT_RUN_FAILED
        app = application(offscreen=True)
    done = []
    any_failed = False
    for preset, runs in plans:
        out = base / preset.name if len(plans) > 1 else base
        runner = PresetRunner(preset, args.size, runs)
        # each run streams its run folder while it trains, as `resnet-viz run` does: a killed
        # reproduce keeps every run so far, the one in training included
        writers = (
            {}
            if args.no_run_folders
            else {
                r.name: RunFolderWriter(out / "runs" / f"{i + 1:02d}-{_slug(r.name)}", on_write_error=runner.stop)
                for i, r in enumerate(runs)
            }
        )
        try:
            make_folder(out)
            for writer in writers.values():
                check_run_folder(writer.out_dir, replace=True)
        except (WriteError, RunFolderError) as exc:
            print(f"resnet-viz: error: {exc}", file=sys.stderr)
            return EXIT_RUN_FAILED
        if not args.quiet:
            note = preset.sizes[args.size].note
            print(f"{preset.title} ({args.size}): {len(runs)} runs → {out}\n  {note}", file=sys.stderr)
        consoles: dict[str, ConsoleProgress] = {}

        def on_record(
            name: str,
            record: Any,
            writers: dict[str, RunFolderWriter] = writers,
            consoles: dict[str, ConsoleProgress] = consoles,
        ) -> None:
            if name in writers:
                writers[name](record)
            consoles.setdefault(name, ConsoleProgress(args.quiet))(record)

        def on_sigint(_signum: int, _frame: Any, runner: PresetRunner = runner) -> None:
            if runner.stopped:
                raise KeyboardInterrupt
            print(
                "\nstopping this run (evaluating first) and skipping the rest; Ctrl-C again to stop at once",
                file=sys.stderr,
            )
            runner.stop()

        # SIGTERM (a scheduler or the system ending the process) is handled like Ctrl-C
        handled = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
        previous = {signum: signal.signal(signum, on_sigint) for signum in handled}
        try:
            result = runner.run(on_record)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        for run in result.runs:
            any_failed |= run.store.finished is not None and not run.store.finished.ok
            failed_write = writers[run.name].write_error if run.name in writers else None
            if failed_write:
                any_failed = True
                print(f"resnet-viz: error: {run.name}: {failed_write}", file=sys.stderr)
        figures: list[Path] = []
        try:
            if app is not None:
                figures = render_preset_figures(result, out)
                figures += render_preset_race(result, out)
            report = write_report(result, out, figures, command=command)
            _write_preset_summary(result, out, figures, command)
        except OSError as exc:  # disk full, folder removed while training: the run folders are kept
            print(
                f"resnet-viz: error: could not write the report of {preset.name}: {exc.filename or out}: {reason(exc)}",
                file=sys.stderr,
            )
            return EXIT_RUN_FAILED
        done.append(out)
        if args.index:  # after every preset, so an interrupted gallery still shows what was made
            _write_gallery_index(Path(args.index), done, list(presets))
        held = (
            f"{sum(1 for c in result.checks if c.held)} of {len(result.checks)} expected directions held"
            if result.checks
            else f"no expected direction is checked at the {args.size} size"
        )
        print(
            f"{preset.name}: {', '.join(f'{r.name} {r.status}' for r in result.runs)}; {held} "
            f"({result.elapsed_s / 60:.1f} min) → {report}"
        )
        for c in result.checks:
            print(f"  {c.mark} {c.describe()}")
        if runner.stopped:
            break
    if args.index:
        print(f"wrote {args.index}")
    return EXIT_RUN_FAILED if any_failed else EXIT_OK


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: argparse prints the whole usage first (nine lines
    for ``surfaces``), which buries the one line that says what was wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (options: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="resnet-viz",
        description="Watch plain and residual networks train: error curves, per-layer gradient norms, "
        "activation variance across depth.",
    )
    parser.add_argument("--version", action="version", version=f"resnet-viz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="train headless and write a run folder",
        description="Train one network headless and write a run folder (run.json, metrics.csv, "
        "layers.npz, summary.json). Exit status 0 when the run finished or was "
        "stopped, 1 when it diverged, ran out of memory or failed, 2 for bad input.",
    )
    run.add_argument("--out", metavar="DIR", help="run folder (default runs/<name>-<time>)")
    run.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    run.add_argument("--quiet", action="store_true", help="print only the final summary line")
    _add_run_flags(run)
    run.set_defaults(func=cmd_run)

    describe = sub.add_parser(
        "describe",
        help="print the layer table of a network",
        description="Layer table (name, type, output shape, parameters) and totals.",
    )
    describe.add_argument("--config", metavar="FILE", help="take the model from a config file or run.json")
    _add_flags(describe, "model", MODEL_FLAGS)
    _add_flags(describe, "data", DATA_FLAGS)
    describe.set_defaults(func=cmd_describe)

    gui = sub.add_parser(
        "gui", help="open the window (the default when no command is given)", description="Open the resnet-viz window."
    )
    gui.add_argument("--session", metavar="FILE", help="open a saved session (.rvsession)")
    gui.add_argument(
        "--run",
        metavar="DIR",
        action="append",
        help="add the run of a run folder (finished, stopped or interrupted) to the list; repeatable",
    )
    gui.set_defaults(func=cmd_gui)

    snap = sub.add_parser(
        "snapshot",
        help="train offscreen and save a picture of the whole window",
        description="Train the run (or every --compare variant of it) in an offscreen window, "
        "then save a PNG of the whole window: for READMEs, docs and tests.",
    )
    snap.add_argument("--out", metavar="PNG", required=True, help="picture to write")
    snap.add_argument(
        "--size",
        type=_size,
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
        "--mode",
        choices=("sequential", "interleaved"),
        default="sequential",
        help="train the runs in turn (default) or interleaved",
    )
    snap.add_argument("--select", type=int, metavar="N", help="run (1-based) the gradient heatmap shows")
    snap.add_argument("--session", metavar="FILE", help="show a saved session instead of training")
    snap.add_argument("--quiet", action="store_true", help="no progress lines")
    _add_run_flags(snap)
    snap.set_defaults(func=cmd_snapshot)

    from resnet_viz.surfaces.functions import SURFACES
    from resnet_viz.surfaces.race import OPTIMIZERS

    surf = sub.add_parser(
        "surfaces",
        help="race optimisers on a 2D function; write trajectories.csv and a figure",
        description="Race torch.optim optimisers on a 2D test function from one start and write "
        "trajectories.csv (optimizer, step, x, y, loss; step 0 is the start), race.json (settings and "
        "summary), race.png and race.svg (and race.gif with --gif).",
        epilog="Optimisers: " + ", ".join(OPTIMIZERS) + ". Hyperparameters use torch.optim's names (lr, momentum, "
        "dampening, weight_decay, eps, alpha, lr_decay, initial_accumulator_value, centered, amsgrad; "
        "betas=0.9/0.999 or beta1=, beta2=); unset ones take torch.optim's defaults (momentum and nesterov: "
        "momentum 0.9). Example: resnet-viz surfaces --surface rosenbrock "
        '--optims "sgd:lr=0.001,momentum:lr=0.001,adam:lr=0.02" --start=-1.5,2 --steps 500 --out race',
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
    surf.add_argument("--size", type=_size, default=(1400, 760), metavar="WxH", help="figure size in pixels")
    surf.add_argument("--gif", action="store_true", help="also write race.gif, the race step by step")
    surf.add_argument("--no-figure", action="store_true", help="write only trajectories.csv and race.json")
    surf.add_argument("--quiet", action="store_true", help="print only the files written")
    surf.set_defaults(func=cmd_surfaces)
    from resnet_viz.presets import SIZES

    rep = sub.add_parser(
        "reproduce",
        help="run a guided experiment (preset) headless; write its figures and report.md",
        description="Run a preset's networks headless, one after another, then write every figure (PNG and SVG), "
        "each run's folder (runs/NN-name/) and report.md: the configuration, the measured numbers next "
        "to the published ones, and whether each expected direction held. Exit status 0 when every run "
        "finished, 1 when one diverged or failed, 2 for bad input.",
        epilog="Presets: resnet-viz reproduce --list. Example: resnet-viz reproduce degradation --out repro/deg",
    )
    rep.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="preset name, or 'all' (see --list), or a preset file "
        "(PATH.json); your own presets in $RESNET_VIZ_PRESETS "
        "or ~/.config/resnet-viz/presets are listed too",
    )
    rep.add_argument("--list", action="store_true", help="list the presets and exit")
    rep.add_argument(
        "--size",
        choices=SIZES,
        default="quick",
        help="quick: a 2-core CPU in minutes on the embedded data (default); paper: the paper's depths, "
        "CIFAR-10 and schedule, for a GPU",
    )
    rep.add_argument("--dataset", choices=DATASETS, help="train on this dataset instead of the preset's")
    rep.add_argument("--data-root", metavar="DIR", help="where the dataset is (default: the per-user cache)")
    rep.add_argument("--download", action="store_true", help="download the dataset if it is missing")
    rep.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="train every run for N steps instead (evaluations and warm-up scale along)",
    )
    rep.add_argument("--device", choices=DEVICES, help="auto (default), cpu, cuda or mps")
    rep.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default reproductions/<name>-<size>-<time>); with 'all', one sub-folder per preset",
    )
    rep.add_argument(
        "--index",
        metavar="FILE",
        help="also write a Markdown page with the figures and checks of "
        "every preset folder beside the ones written (docs/gallery.md)",
    )
    rep.add_argument("--no-figures", action="store_true", help="write the report and run folders only")
    rep.add_argument("--no-run-folders", action="store_true", help="write the figures and report only")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    rep.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (Ctrl-C before a command handles it itself: 130)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.argv = list(argv if argv is not None else sys.argv[1:])
        if args.command is None:
            args = parser.parse_args(["gui", *(argv if argv is not None else sys.argv[1:])])
        from resnet_viz.data import DataError
        from resnet_viz.export.session import SessionError

        try:
            return args.func(args)
        except (ConfigError, DataError, SessionError) as exc:
            print(f"resnet-viz: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except BrokenPipeError:  # output piped into `head` and closed early: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
    except KeyboardInterrupt:  # Ctrl-C while importing, parsing or preparing: no traceback
        print("\nresnet-viz: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
