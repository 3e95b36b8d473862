"""``resnet-viz reproduce``: run a guided experiment (preset) headless; write its figures, run folders and report."""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_viz.cli.gallery import write_gallery_index, write_preset_summary
from resnet_viz.cli.progress import ConsoleProgress
from resnet_viz.cli.signals import stop_on_signals
from resnet_viz.cli.status import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE
from resnet_viz.config import DATASETS, DEVICES, ConfigError

if TYPE_CHECKING:
    from resnet_viz.export.run_folder import RunFolderWriter
    from resnet_viz.presets import Preset
    from resnet_viz.presets.preset import PresetRun
    from resnet_viz.presets.runner import PresetResult, PresetRunner


class _Failed(Exception):
    """The command ends here: ``resnet-viz: error: <message>`` and exit ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def add_reproduce_parser(sub: Any) -> argparse.ArgumentParser:
    from resnet_viz.presets import SIZES

    rep: argparse.ArgumentParser = sub.add_parser(
        "reproduce",
        help="run a guided experiment (preset) headless; write its figures and report.md",
        description="Run a preset's networks headless, one after another (or N at once with --parallel), then write every figure (PNG and SVG), "
        "each run's folder (runs/NN-name/) and report.md: the configuration, the measured numbers next "
        "to the published ones, and whether each expected direction held. Exit status 0 when every run "
        "finished, 1 when one diverged or failed, 2 for bad input.",
        epilog="Presets: resnet-viz reproduce --list. Example: resnet-viz reproduce degradation --out repro/deg",
    )
    rep.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="preset name, or 'all' (see --list), or a preset file (PATH.json); your own presets in "
        "$RESNET_VIZ_PRESETS or ~/.config/resnet-viz/presets are listed too",
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
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="train N runs at once, each in its own process with 1/N of the cores (default 1: one after another, "
        "in this process)",
    )
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
    return rep


def _presets(args: argparse.Namespace) -> dict[str, Preset]:
    """The shipped and user presets, or just the preset file ``args.name`` names (then ``args.name`` is its name)."""
    from resnet_viz.presets import PresetError, load_preset_file, load_presets

    try:
        if args.name is not None and (args.name.endswith(".json") or "/" in args.name or os.sep in args.name):
            preset = load_preset_file(args.name, user=True)  # a preset file the user named: run it as it is
            args.name = preset.name  # the name the output folder takes
            return {preset.name: preset}
        presets = load_presets()  # the shipped ones, then the user's folder; bad files skipped
    except PresetError as exc:
        raise _Failed(str(exc), EXIT_USAGE) from None
    for skipped in presets.skipped:
        print(f"resnet-viz: warning: {skipped}", file=sys.stderr)
    return presets


def _print_list(presets: dict[str, Preset]) -> None:
    for p in presets.values():
        quick = p.sizes["quick"].minutes
        print(
            f"{p.name:<12} {p.title}"
            + (f"  (quick: about {quick:g} min)" if quick else "")
            + (f"  [user preset: {p.source}]" if p.user else "")
        )


def _plans(args: argparse.Namespace, presets: dict[str, Preset]) -> list[tuple[Preset, list[PresetRun]]]:
    """Each chosen preset with its runs adapted to the flags: every run validated before the first one trains."""
    from resnet_viz.presets.runner import adapt_runs
    from resnet_viz.runs.scheduler import MAX_PARALLEL

    if args.name != "all" and args.name not in presets:
        raise ConfigError("NAME", args.name, "one of " + ", ".join(presets) + ", or all")
    chosen = list(presets.values()) if args.name == "all" else [presets[args.name]]
    for p in chosen:
        if args.size not in p.sizes:
            raise ConfigError("--size", args.size, f"{p.name} has sizes " + ", ".join(p.sizes))
    if args.steps is not None and args.steps < 1:
        raise ConfigError("--steps", args.steps, "a positive number of steps")
    if not 1 <= args.parallel <= MAX_PARALLEL:
        raise ConfigError("--parallel", args.parallel, f"a number of runs from 1 to {MAX_PARALLEL}")
    download = True if args.download else None
    return [
        (p, adapt_runs(p.runs(args.size), dataset=args.dataset, data_root=args.data_root, download=download,
                       steps=args.steps, device=args.device))
        for p in chosen
    ]  # fmt: skip


def _check_output(args: argparse.Namespace, base: Path) -> None:
    """Before anything trains: an output folder that cannot be written, or figures that cannot be drawn."""
    from resnet_viz.export.written import WriteError, check_writable

    try:
        check_writable(base / "report.md")
    except WriteError as exc:
        raise ConfigError("--out", str(base), f"cannot be written: {exc.why} ({exc.path})") from None
    if not args.no_figures:
        try:
            from resnet_viz.gui.preset_figures import render_preset_figures  # noqa: F401 - Qt is there
            from resnet_viz.gui.qt_app import application
        except ImportError as exc:
            raise _Failed(f"cannot draw figures ({exc}); add --no-figures", EXIT_RUN_FAILED) from None
        application(offscreen=True)


def _writers(args: argparse.Namespace, runs: Sequence[PresetRun], out: Path, runner: PresetRunner) -> dict[str, Any]:
    """Each run's folder writer (none with ``--no-run-folders``), its folder made ready now."""
    from resnet_viz.export.names import slug
    from resnet_viz.export.run_folder import RunFolderError, RunFolderWriter, check_run_folder
    from resnet_viz.export.written import WriteError, make_folder

    writers: dict[str, RunFolderWriter] = {}
    if not args.no_run_folders:  # each run streams its run folder while it trains, as `resnet-viz run` does
        for i, r in enumerate(runs):
            folder = out / "runs" / f"{i + 1:02d}-{slug(r.name)}"
            writers[r.name] = RunFolderWriter(folder, on_write_error=runner.stop)
    try:
        make_folder(out)
        for writer in writers.values():
            check_run_folder(writer.out_dir, replace=True)
    except (WriteError, RunFolderError) as exc:
        raise _Failed(str(exc), EXIT_RUN_FAILED) from None
    return writers


def _stop_runner(runner: PresetRunner) -> None:
    print("\nstopping this run (evaluating first) and skipping the rest; Ctrl-C again to stop at once", file=sys.stderr)
    runner.stop()


def _train(args: argparse.Namespace, runner: PresetRunner, writers: dict[str, Any]) -> PresetResult:
    """Train the preset's runs, each streaming to its folder and console; Ctrl-C or SIGTERM stops the preset."""
    consoles: dict[str, ConsoleProgress] = {}

    def on_record(name: str, record: Any) -> None:
        if name in writers:
            writers[name](record)
        consoles.setdefault(name, ConsoleProgress(args.quiet))(record)

    with stop_on_signals(lambda _signum: _stop_runner(runner), lambda: runner.stopped):
        return runner.run(on_record)


def _failed_runs(result: PresetResult, writers: dict[str, Any]) -> bool:
    """Whether a run failed or its folder could not be written (named on stderr)."""
    failed = False
    for run in result.runs:
        failed |= run.store.finished is not None and not run.store.finished.ok
        if run.failure:  # its process died: no final record
            failed = True
            print(f"resnet-viz: error: {run.name}: {run.failure}", file=sys.stderr)
        failed_write = writers[run.name].write_error if run.name in writers else None
        if failed_write:
            failed = True
            print(f"resnet-viz: error: {run.name}: {failed_write}", file=sys.stderr)
    return failed


def _write_outputs(
    args: argparse.Namespace, result: PresetResult, out: Path, command: str, writers: dict[str, Any]
) -> Path:
    """The figures (unless ``--no-figures``), the landscapes the preset asks for, report.md and preset.json;
    the report's path."""
    from resnet_viz.cli.preset_landscapes import preset_landscapes
    from resnet_viz.export.written import reason
    from resnet_viz.presets.report import write_report

    figures: list[Path] = []
    try:
        if not args.no_figures:
            from resnet_viz.gui.preset_figures import render_preset_figures, render_preset_race

            figures = render_preset_figures(result, out)
            figures += render_preset_race(result, out)
        folders = {name: w.out_dir for name, w in writers.items() if not w.write_error}
        figures += preset_landscapes(
            result.preset, args.size, folders, out, quiet=args.quiet, device=args.device or "auto",
            figures=not args.no_figures,
        )  # fmt: skip
        report = write_report(result, out, figures, command=command)
        write_preset_summary(result, out, figures, command)
    except OSError as exc:  # disk full, folder removed while training: the run folders are kept
        name = result.preset.name
        raise _Failed(
            f"could not write the report of {name}: {exc.filename or out}: {reason(exc)}", EXIT_RUN_FAILED
        ) from None
    return report


def _print_result(args: argparse.Namespace, result: PresetResult, report: Path) -> None:
    checks = result.checks
    held = (
        f"{sum(1 for c in checks if c.held)} of {len(checks)} expected directions held"
        if checks
        else f"no expected direction is checked at the {args.size} size"
    )
    print(
        f"{result.preset.name}: {', '.join(f'{r.name} {r.status}' for r in result.runs)}; {held} "
        f"({result.elapsed_s / 60:.1f} min) → {report}"
    )
    for c in checks:
        print(f"  {c.mark} {c.describe()}")


def _reproduce(args: argparse.Namespace, presets: dict[str, Preset]) -> int:
    from resnet_viz.presets.runner import PresetRunner

    plans = _plans(args, presets)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(args.out) if args.out else Path("reproductions") / (f"{args.name}-{args.size}-{stamp}")
    command = "resnet-viz " + " ".join(args.argv)
    _check_output(args, base)
    done: list[Path] = []
    any_failed = False
    for preset, runs in plans:
        out = base / preset.name if len(plans) > 1 else base
        runner = PresetRunner(preset, args.size, runs, parallel=args.parallel)
        writers = _writers(args, runs, out, runner)
        if not args.quiet:
            note = preset.sizes[args.size].note
            print(f"{preset.title} ({args.size}): {len(runs)} runs → {out}\n  {note}", file=sys.stderr)
        result = _train(args, runner, writers)
        any_failed |= _failed_runs(result, writers)
        report = _write_outputs(args, result, out, command, writers)
        done.append(out)
        if args.index:  # after every preset, so an interrupted gallery still shows what was made
            write_gallery_index(Path(args.index), done, list(presets))
        _print_result(args, result, report)
        if runner.stopped:
            break
    if args.index:
        print(f"wrote {args.index}")
    return EXIT_RUN_FAILED if any_failed else EXIT_OK


def cmd_reproduce(args: argparse.Namespace) -> int:
    try:
        presets = _presets(args)
        if args.list or args.name is None:
            _print_list(presets)
            return EXIT_OK
        return _reproduce(args, presets)
    except _Failed as exc:
        print(f"resnet-viz: error: {exc}", file=sys.stderr)
        return exc.status
