"""Run a preset headless: train its runs (in turn or N at once) and evaluate its checks."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.data import DataError
from resnet_viz.metrics.records import Record
from resnet_viz.metrics.store import RunStore
from resnet_viz.presets.measures import CheckResult, evaluate_check
from resnet_viz.presets.preset import Preset, PresetRun
from resnet_viz.runs.backends import make_backend
from resnet_viz.runs.run import Run
from resnet_viz.runs.scheduler import Changes, Scheduler
from resnet_viz.runs.status import RunStatus


def adapt_runs(
    runs: Sequence[PresetRun],
    *,
    dataset: str | None = None,
    data_root: str | None = None,
    download: bool | None = None,
    steps: int | None = None,
    device: str | None = None,
    seed: int | None = None,
) -> list[PresetRun]:
    """The preset's runs with the user's overrides applied (validated; a bad value raises ConfigError).

    ``steps`` shortens (or lengthens) every run; evaluations are spaced so each run still gets about
    as many as before, and the lr schedule's milestones stay at the same fractions of the run.
    """
    out = []
    for run in runs:
        c = run.config
        given: dict[str, Any] = {"dataset": dataset, "root": data_root, "download": download}
        data = dataclasses.replace(c.data, **{k: v for k, v in given.items() if v is not None})
        train = c.train
        if steps is not None:
            before = c.train.steps  # None for a run given in epochs: nothing to scale from
            if before:
                n_evals = max(1, round(before / max(1, train.eval_every)))
                eval_every = max(1, steps // n_evals)
                if c.optim.warmup_steps:
                    c = dataclasses.replace(
                        c,
                        optim=dataclasses.replace(
                            c.optim, warmup_steps=max(1, round(c.optim.warmup_steps * steps / before))
                        ),
                    )
            else:
                eval_every = min(train.eval_every, steps)
            train = dataclasses.replace(train, steps=steps, epochs=None, eval_every=eval_every)
        if device is not None:
            train = dataclasses.replace(train, device=device)
        if seed is not None:
            train = dataclasses.replace(train, seed=seed)
        config = dataclasses.replace(c, data=data, train=train)
        config.validate()
        out.append(PresetRun(run.name, config))
    return out


@dataclass
class RunOutcome:
    """One run of a preset as it ended. ``failure``: why it failed without a final record (a crash)."""

    name: str
    config: RunConfig
    store: RunStore = field(default_factory=RunStore)
    failure: str = ""

    @property
    def status(self) -> str:
        f = self.store.finished
        if f is not None:
            return f.status
        return "failed" if self.failure else "not run"


@dataclass
class PresetResult:
    preset: Preset
    size: str
    runs: list[RunOutcome]
    checks: list[CheckResult]
    elapsed_s: float
    device: str

    @property
    def stores(self) -> dict[str, RunStore]:
        return {r.name: r.store for r in self.runs}


def evaluate_checks(preset: Preset, stores: dict[str, RunStore], size: str = "quick") -> list[CheckResult]:
    return [evaluate_check(c, stores) for c in preset.checks_for(size)]


class PresetRunner:
    """Trains a preset's runs through a :class:`~resnet_viz.runs.scheduler.Scheduler`: in turn, or
    ``parallel`` at once (each in a child process with its share of the cores). ``stop()`` (any
    thread) ends the training runs (after their final evaluation) and skips the rest."""

    def __init__(
        self,
        preset: Preset,
        size: str,
        runs: Sequence[PresetRun] | None = None,
        *,
        parallel: int = 1,
        backend: str | None = None,
    ) -> None:
        if size not in preset.sizes:
            raise ConfigError("size", size, "one of " + ", ".join(preset.sizes))
        self.preset = preset
        self.size = size
        self.runs = list(runs if runs is not None else preset.runs(size))
        backend = backend or ("thread" if parallel == 1 else "process")
        self.scheduler = Scheduler(
            make_backend(backend), mode="parallel" if parallel > 1 else "sequential", parallel=parallel
        )
        self._stop_requested = threading.Event()
        self._stopped = False

    def stop(self) -> None:
        """Ask to stop (safe from a signal handler or another thread: the polling loop acts on it)."""
        self._stop_requested.set()

    @property
    def stopped(self) -> bool:
        return self._stop_requested.is_set()

    def run(
        self,
        on_record: Callable[[str, Record], None] | None = None,
        progress: Callable[[str, float], None] | None = None,
    ) -> PresetResult:
        """Train every run. A run whose data or config cannot be used raises ``DataError`` (after the
        others were stopped); a run that crashes is a failed run and the others go on."""
        t0 = time.monotonic()
        sched = self.scheduler
        runs = [sched.add(Run(0, r.config, r.name)) for r in self.runs]
        if on_record is not None:
            sched.listeners.append(lambda run, record: on_record(run.name, record))
        try:
            sched.run_all(on_changes=lambda changes: self._on_changes(changes, progress))
        except BaseException:  # Ctrl-C twice: end every run now, keep what they recorded
            sched.shutdown(timeout_s=2.0)
            raise
        finally:
            sched.backend.close()
        bad_input = next((r for r in runs if r.input_error), None)
        if bad_input is not None:
            raise DataError(bad_input.message)
        outcomes = [
            RunOutcome(r.name, r.config, r.store, r.message if r.state is RunStatus.FAILED else "") for r in runs
        ]
        stores = {o.name: o.store for o in outcomes}
        device = next((o.store.finished.device for o in reversed(outcomes) if o.store.finished is not None), "")
        checks = evaluate_checks(self.preset, stores, self.size)
        return PresetResult(self.preset, self.size, outcomes, checks, time.monotonic() - t0, device)

    def _on_changes(self, changes: Changes, progress: Callable[[str, float], None] | None) -> None:
        if progress is not None and changes.progress is not None:
            progress(*changes.progress)
        if any(r.input_error for r in self.scheduler.runs) and not self._stopped:
            self._stopped = True  # a run cannot start on this input: the preset cannot be reproduced
            self.scheduler.stop_all(evaluate=False)
        if self._stop_requested.is_set() and not self._stopped:
            self._stopped = True
            self.scheduler.stop_all(evaluate=True)
