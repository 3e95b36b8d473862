"""``resnet-viz sweep``: configs × seeds, on local processes (N at a time) or on Ray; resumable."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_viz.cli.flags import add_run_flags, config_from_args
from resnet_viz.cli.signals import stop_on_signals
from resnet_viz.cli.status import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE
from resnet_viz.config import ConfigError, RunConfig

if TYPE_CHECKING:
    from resnet_viz.export.tensorboard import TensorBoardRuns
    from resnet_viz.runs.backend import Backend
    from resnet_viz.sweeps.runner import SweepRunner
    from resnet_viz.sweeps.spec import SweepSpec


def add_sweep_parser(sub: Any) -> argparse.ArgumentParser:
    sweep: argparse.ArgumentParser = sub.add_parser(
        "sweep",
        help="train configs × seeds (local processes or Ray); a run folder per trial, resumable",
        description="Train every combination of the --vary values, each with every seed, on local processes "
        "(N at a time) or on Ray (--ray: a local Ray; --ray-address: a cluster). Every trial writes its run folder "
        "under DIR/trials/, DIR/sweep.json records the spec, the versions and each trial's status, and "
        "DIR/summary.md holds mean ± std of the final errors over seeds beside the published numbers. Run the "
        "same command again (or --resume DIR) to finish an interrupted sweep: finished trials are kept. "
        "Exit status 0 when every trial finished, 1 when one failed or diverged, 2 for bad input, 130 when stopped.",
        epilog="Example: resnet-viz sweep --arch resnet --vary model.depth=20,32,44,56 --seeds 0-4 --out sweeps/table6",
    )
    sweep.add_argument(
        "--vary", action="append", default=[], metavar="FIELD=V1,V2",
        help="a config field and its values, e.g. model.depth=20,32 or optim.lr=0.1,0.01 (repeatable: the "
        "product of all is swept; with --spec, it replaces that field's values); a tuple field's values are "
        "separated by ';'",
    )  # fmt: skip
    sweep.add_argument("--seeds", metavar="SEEDS", help="seeds of every config: 0-4, 0,3,7 or 0-2,9 (default: --seed)")
    sweep.add_argument("--spec", metavar="FILE", help="a JSON or YAML sweep spec (base config, vary, seeds, name)")
    sweep.add_argument("--name", metavar="TEXT", help="the sweep's name (default: the folder's)")
    sweep.add_argument("--out", metavar="DIR", help="the sweep folder (an existing sweep of the same spec resumes)")
    sweep.add_argument("--resume", metavar="DIR", help="finish the sweep in DIR (its spec is read from sweep.json)")
    sweep.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help="trials at once (default: cores ÷ --cpus-per-trial; on Ray: what the cluster holds)",
    )
    sweep.add_argument(
        "--cpus-per-trial", type=float, default=1.0, metavar="C", help="CPU cores (torch threads) per trial (default 1)"
    )
    sweep.add_argument(
        "--gpus-per-trial",
        type=float,
        default=0.0,
        metavar="G",
        help="GPUs per trial on Ray, fractions allowed: 0.25 puts four trials on a GPU (default 0)",
    )
    sweep.add_argument(
        "--ray", action="store_true", help='train on a local Ray started here (pip install "resnet-viz[ray]")'
    )
    sweep.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="train on the Ray cluster at ADDR (auto, host:6379 or ray://host:10001); implies --ray",
    )
    sweep.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="also write TensorBoard events of each trial, into DIR/<trial folder name> (a trial trained again "
        "replaces its earlier events); view: tensorboard --logdir DIR",
    )
    sweep.add_argument("--dry-run", action="store_true", help="list the trials and exit")
    sweep.add_argument("--quiet", action="store_true", help="print only the summary")
    add_run_flags(sweep)
    return sweep


def _given_flags(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if "." in k}


def _spec(args: argparse.Namespace) -> SweepSpec | None:
    """The spec from --spec and/or the flags (None with --resume)."""
    from resnet_viz.sweeps.spec import SweepSpec, parse_seeds, parse_vary
    from resnet_viz.sweeps.spec_file import load_spec_file

    if args.resume:
        if args.spec or args.vary or args.seeds or _given_flags(args) or args.config:
            raise ConfigError("--resume", args.resume, "alone: the spec is read from the sweep's sweep.json")
        return None
    if args.spec:
        spec = load_spec_file(args.spec)
        base = spec.base
        if _given_flags(args):  # flags given with a spec file override its base
            data = base.to_dict()
            for key, value in _given_flags(args).items():
                section, name = key.split(".", 1)
                data[section][name] = value
            base = RunConfig.from_dict(data)
    else:
        spec, base = None, config_from_args(args)
    axes = tuple(parse_vary(v) for v in args.vary)
    if spec is not None:  # a --vary of a field the spec file varies replaces its values
        given = {a.path for a in axes}
        axes = tuple(a for a in spec.axes if a.path not in given) + axes
    seeds = parse_seeds(args.seeds) if args.seeds else (spec.seeds if spec else (base.train.seed,))
    name = args.name or (spec.name if spec else "") or Path(args.out or "sweep").name
    return SweepSpec(base, axes, seeds, name).validate()


def _check_resources(args: argparse.Namespace) -> None:
    from resnet_viz.runs.scheduler import MAX_PARALLEL

    if not 0 < args.cpus_per_trial <= 1024:
        raise ConfigError("--cpus-per-trial", args.cpus_per_trial, "a number of cores > 0")
    if not 0 <= args.gpus_per_trial <= 64:
        raise ConfigError("--gpus-per-trial", args.gpus_per_trial, "a number of GPUs ≥ 0 (fractions allowed)")
    if args.gpus_per_trial and not (args.ray or args.ray_address):
        raise ConfigError("--gpus-per-trial", args.gpus_per_trial, "with --ray (local trials use --device)")
    if args.parallel is not None and not 1 <= args.parallel <= MAX_PARALLEL:
        raise ConfigError("--parallel", args.parallel, f"a number of trials from 1 to {MAX_PARALLEL}")


def _backend(args: argparse.Namespace) -> tuple[Backend, int, str, dict[str, Any]]:
    """The backend, trials at once, a line saying where they train, and what sweep.json records of it."""
    threads = max(1, int(args.cpus_per_trial))
    from resnet_viz.runs.scheduler import MAX_PARALLEL

    if args.ray or args.ray_address:
        from resnet_viz.runs.ray_backend import RayBackend, RayResources, RayUnavailable

        resources = RayResources(args.ray_address, args.cpus_per_trial, args.gpus_per_trial)
        resources.validate()
        backend = RayBackend(resources)
        try:
            where = backend.connect()
        except RayUnavailable as exc:
            raise _Refused(str(exc)) from None
        parallel = args.parallel or min(MAX_PARALLEL, backend.capacity())
        info = {"name": "ray", "address": args.ray_address, "cpus_per_trial": args.cpus_per_trial,
                "gpus_per_trial": args.gpus_per_trial, "parallel": parallel, "cluster": where}  # fmt: skip
        return backend, parallel, where, info
    from resnet_viz.runs.process_backend import ProcessBackend

    parallel = args.parallel or max(1, (os.cpu_count() or 1) // threads)
    info = {"name": "process", "cpus_per_trial": args.cpus_per_trial, "parallel": parallel}
    return ProcessBackend(), parallel, f"local processes, {parallel} at a time, {threads} thread(s) each", info


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class _Refused(Exception):
    """One line to print, exit status 2."""


def cmd_sweep(args: argparse.Namespace) -> int:
    from resnet_viz.sweeps.folder import SweepError
    from resnet_viz.sweeps.runner import SweepRunner

    if not (args.out or args.resume):
        raise ConfigError("--out", None, "a folder for the sweep (or --resume DIR)")
    _check_resources(args)
    try:
        spec = _spec(args)
    except ConfigError as exc:  # --vary and spec files name fields by their paths (model.depth), not flags
        print(f"resnet-viz: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.dry_run:
        return _print_trials(spec, Path(args.resume or args.out))
    try:
        backend, parallel, where, info = _backend(args)
    except _Refused as exc:
        print(f"resnet-viz: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        runner = SweepRunner.open(args.resume or args.out, spec, backend, parallel=parallel,
                                  threads=max(1, int(args.cpus_per_trial)), backend_info=info)  # fmt: skip
        return _train(args, runner, where)
    except SweepError as exc:
        print(f"resnet-viz: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        backend.close()


def _print_trials(spec: SweepSpec | None, out: Path) -> int:
    from resnet_viz.sweeps.folder import read_state

    spec = spec or read_state(out).spec
    for trial in spec.trials():
        print(f"{trial.trial_id}  {trial.config.label()}  seed {trial.seed}")
    print(
        f"{_count(spec.n_points, 'config')} × {_count(len(spec.seeds), 'seed')} = {_count(len(spec.trials()), 'trial')}"
    )
    return EXIT_OK


def _tensorboard(args: argparse.Namespace, runner: SweepRunner) -> TensorBoardRuns | None:
    """``--tensorboard DIR``: a record listener writing each trial's events into DIR/<its folder's name>; a
    :class:`SweepError` (one line) when it cannot. A write failing later is one line; the trial goes on."""
    if not args.tensorboard:
        return None
    from resnet_viz.export.tensorboard import TensorBoardRuns, check_log_dir, tensorboard_missing
    from resnet_viz.export.written import WriteError
    from resnet_viz.runs.run import Run
    from resnet_viz.sweeps.folder import SweepError

    missing = tensorboard_missing()
    if missing is not None:
        raise SweepError(f"--tensorboard: {missing}")
    root = Path(args.tensorboard)
    try:
        check_log_dir(root, replace=True)
    except WriteError as exc:
        raise SweepError(f"--tensorboard {exc}") from None
    folders = {t.trial_id: Path(t.folder).name for t in runner.state.trials}

    def log_dir_of(run: Run) -> Path | None:
        trial = next((trial_id for trial_id, r in runner.runs.items() if r is run), None)
        return root / folders[trial] if trial in folders else None

    def failed(run: Run, error: WriteError) -> None:
        print(f"resnet-viz: TensorBoard events of {run.name} stopped: {error}; the trial goes on", file=sys.stderr)

    return TensorBoardRuns(log_dir_of, failed, replace=True)


def _train(args: argparse.Namespace, runner: SweepRunner, where: str) -> int:
    from resnet_viz.runs.scheduler import Scheduler
    from resnet_viz.sweeps.summary import summary_table

    tensorboard = _tensorboard(args, runner)
    spec, total = runner.spec, len(runner.state.trials)
    todo = len(runner.pending)
    print(f"sweep {spec.name}: {_count(spec.n_points, 'config')} × {_count(len(spec.seeds), 'seed')} = {_count(total, 'trial')}, "
          f"{todo} to train, on {where} → {runner.folder.path}", file=sys.stderr)  # fmt: skip
    scheduler = Scheduler(runner.backend, mode="parallel", parallel=runner.parallel)
    runner.attach(scheduler)
    if tensorboard is not None:
        scheduler.listeners.append(tensorboard)
    stopped = False

    def stop(_signum: int) -> None:
        nonlocal stopped
        stopped = True
        print("\nstopping the sweep (finished trials are kept); Ctrl-C again to stop at once", file=sys.stderr)
        runner.stop(evaluate=False)

    def report(_changes: Any) -> None:
        for line in runner.update():
            if not args.quiet:
                print(line, flush=True)

    try:
        with stop_on_signals(stop, lambda: stopped):
            scheduler.run_all(on_changes=report)
    except KeyboardInterrupt:
        scheduler.shutdown(timeout_s=2.0)
        stopped = True
    report(None)
    if tensorboard is not None:
        tensorboard.close()
    runner.save()
    runner.detach()
    print(summary_table(runner.summary()))
    print(f"→ {runner.folder.path / 'summary.md'}, {runner.folder.path / 'sweep.json'}")
    if runner.error:
        print(f"resnet-viz: error: {runner.error}", file=sys.stderr)
        return EXIT_RUN_FAILED
    if stopped or runner.pending:
        print(f"resnet-viz: the sweep is not complete; finish it with: resnet-viz sweep --resume {runner.folder.path}",
              file=sys.stderr)  # fmt: skip
        return EXIT_INTERRUPTED if stopped else EXIT_RUN_FAILED
    return EXIT_OK
