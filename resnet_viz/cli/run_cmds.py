"""``resnet-viz run`` (train headless, write a run folder), ``describe`` (a network's layer table) and ``gui``."""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_viz.cli.flags import add_config_flags, add_run_flags, config_from_args
from resnet_viz.cli.init_average import add_init_average_flags, print_init_average
from resnet_viz.cli.progress import ConsoleProgress, pct
from resnet_viz.cli.signals import stop_on_signals
from resnet_viz.cli.status import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE
from resnet_viz.config import BACKEND_ENV, BACKENDS

if TYPE_CHECKING:
    from resnet_viz.export.run_folder import RunFolderError, RunFolderWriter
    from resnet_viz.export.tensorboard import TensorBoardWriter
    from resnet_viz.metrics.records import RunFinished
    from resnet_viz.train.engine import Engine


def add_run_parser(sub: Any) -> argparse.ArgumentParser:
    run: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="train headless and write a run folder",
        description="Train one network headless and write a run folder (run.json, metrics.csv, "
        "layers.npz, summary.json). Exit status 0 when the run finished or was "
        "stopped, 1 when it diverged, ran out of memory or failed, 2 for bad input.",
    )
    run.add_argument("--out", metavar="DIR", help="run folder (default runs/<name>-<time>)")
    run.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    run.add_argument("--quiet", action="store_true", help="print only the final summary line")
    run.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="also write TensorBoard events, into DIR/<run folder name> (view: tensorboard --logdir DIR); "
        "needs pip install 'resnet-viz[tensorboard]'",
    )
    add_run_flags(run)
    return run


def add_describe_parser(sub: Any) -> argparse.ArgumentParser:
    describe: argparse.ArgumentParser = sub.add_parser(
        "describe",
        help="print the layer table of a network",
        description="Layer table (name, type, output shape, parameters) and totals; with --init-from FILE, also the "
        "checkpoint's weights inspected on one training batch (per-layer output std and mean, gradient norms) and "
        "evaluated (training sample and test set), nothing trained; with --init-average K, also the theory for the "
        "init against K fresh initialisations at step 0 (where one network falls).",
    )
    describe.add_argument("--config", metavar="FILE", help="take the model from a config file or run.json")
    add_config_flags(describe, ("model", "data"))
    add_init_average_flags(describe)
    return describe


def add_gui_parser(sub: Any) -> argparse.ArgumentParser:
    gui: argparse.ArgumentParser = sub.add_parser(
        "gui", help="open the window (the default when no command is given)", description="Open the resnet-viz window."
    )
    gui.add_argument("--session", metavar="FILE", help="open a saved session (.rvsession)")
    gui.add_argument(
        "--run",
        metavar="DIR",
        action="append",
        help="add the run of a run folder (finished, stopped or interrupted) to the list; repeatable",
    )
    gui.add_argument(
        "--backend",
        choices=BACKENDS,
        help="where runs train: process (the default: each run in its own process, so a crash stays in its run "
        "and the window keeps its speed) or thread (inside the window's process: starts faster, for tiny runs); "
        "also $RESNET_VIZ_BACKEND",
    )
    return gui


def _refuse(exc: RunFolderError) -> int:
    hint = "; add --overwrite to replace it" if exc.previous_run else ""
    print(f"resnet-viz: error: --out {exc}{hint}", file=sys.stderr)
    return EXIT_USAGE


def _stop_engine(engine: Engine, signum: int) -> None:
    if signum == signal.SIGINT:
        print("\nstopping after this step (evaluating first); press Ctrl-C again to stop at once", file=sys.stderr)
        engine.stop(evaluate=True)
    else:  # SIGTERM: the system or a job scheduler wants the process gone soon: no final evaluation
        print(f"\n{signal.Signals(signum).name}: stopping after this step", file=sys.stderr)
        engine.stop(evaluate=False)


def _prepare(engine: Engine, out: Path) -> int | None:
    """Load the data and build the model; the exit status when the command ends here, else ``None``."""
    from resnet_viz.data import DataError
    from resnet_viz.export.run_folder import RunFolderError, check_free_space, estimate_run_bytes

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
    estimate = estimate_run_bytes(
        engine.total_steps,
        len(engine.layers),
        train.probe_every,
        train.probes,
        train.histogram_every,
        train.histogram_bins,
        snapshot_bytes=engine.snapshot_plan.total_bytes,
        sharpness_every=train.sharpness_every,
    )
    try:
        check_free_space(out, estimate)
    except RunFolderError as exc:
        return _refuse(exc)
    if engine.snapshot_plan.note:  # a big network gets fewer snapshots: say so once
        print(f"resnet-viz: {engine.snapshot_plan.note}", file=sys.stderr)
    return None


def _tensorboard(args: argparse.Namespace, out: Path) -> TensorBoardWriter | int | None:
    """The TensorBoard writer of ``--tensorboard DIR`` (events in DIR/<run folder name>), None without the flag,
    or the exit status after one line when it cannot be used. A write that fails later is one line, and the
    run goes on without TensorBoard."""
    if not args.tensorboard:
        return None
    from resnet_viz.export.tensorboard import EARLIER_EVENTS, TensorBoardWriter, check_log_dir, tensorboard_missing
    from resnet_viz.export.written import WriteError

    missing = tensorboard_missing()
    if missing is not None:
        print(f"resnet-viz: error: --tensorboard: {missing}", file=sys.stderr)
        return EXIT_USAGE
    log_dir = Path(args.tensorboard) / out.resolve().name
    try:
        check_log_dir(log_dir, replace=args.overwrite)
    except WriteError as exc:
        hint = "; add --overwrite to replace them" if exc.why == EARLIER_EVENTS else ""
        print(f"resnet-viz: error: --tensorboard {exc}{hint}", file=sys.stderr)
        return EXIT_USAGE

    def failed(error: WriteError) -> None:
        print(f"resnet-viz: TensorBoard events stopped: {error}; the run goes on", file=sys.stderr)

    return TensorBoardWriter(log_dir, replace=args.overwrite, on_error=failed)


def _print_summary(result: RunFinished, writer: RunFolderWriter, label: str, out: Path) -> None:
    status = writer.write_error or result.status
    message = (
        f"the run was stopped; {out} keeps every step up to {writer.steps_on_disk}"
        if writer.write_error
        else result.message
        if status != "finished"
        else ""
    )
    print(
        f"{status} · {label} · {result.steps} steps · train error {pct(result.final_train_error)}"
        f" · test error {pct(result.final_test_error)} · {result.steps_per_s:.2f} steps/s on {result.device}"
        f" → {out}" + (f"\n  {message}" if message else "")
    )
    if writer.observations.error:  # the run went on without them
        print(f"  snapshots and sharpness.csv: {writer.observations.error}")


def cmd_run(args: argparse.Namespace) -> int:
    from resnet_viz.export.names import slug
    from resnet_viz.export.run_folder import RunFolderError, RunFolderWriter, check_run_folder
    from resnet_viz.train.engine import Engine

    config = config_from_args(args)
    stamp = _dt.datetime.now().strftime("-%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / (slug(config.label()) + stamp)
    try:  # before anything is loaded: a folder that cannot take the run is refused at once
        check_run_folder(out, replace=args.overwrite)
    except RunFolderError as exc:
        return _refuse(exc)
    tensorboard = _tensorboard(args, out)
    if isinstance(tensorboard, int):
        return tensorboard
    console = ConsoleProgress(args.quiet)
    engine: Engine

    def stop_now() -> None:
        engine.stop(evaluate=False)

    # the writer touches the folder only when the run starts (data loaded, model built); a failed
    # write stops the run at once, keeping what is on disk
    writer = RunFolderWriter(out, on_write_error=stop_now)

    def emit(record: Any) -> None:
        writer(record)
        if tensorboard is not None:
            tensorboard(record)
        console(record)

    engine = Engine(config, emit)
    with stop_on_signals(lambda signum: _stop_engine(engine, signum), lambda: engine.stop_requested):
        status = _prepare(engine, out)
        if status is not None:
            return status
        result = engine.run()
    if tensorboard is not None:
        tensorboard.close()
    _print_summary(result, writer, config.label(), out)
    if tensorboard is not None and tensorboard.error is None:
        print(f"  TensorBoard events → {tensorboard.log_dir}")
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
    if config.init.from_file:
        from resnet_viz.cli.inspect_checkpoint import inspect_lines

        print("\n".join(inspect_lines(config)))
    if args.init_average is not None:
        return print_init_average(config, args)
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from resnet_viz.gui.app import run_app
    except ImportError as exc:  # e.g. a Qt library missing on this system
        print(f"resnet-viz: error: cannot open the window: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    if args.backend:
        os.environ[BACKEND_ENV] = args.backend  # read by the window's run manager
    return run_app(session=args.session, runs=args.run or [])
