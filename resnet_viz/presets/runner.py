"""Run a preset headless: train its runs one after another and evaluate its checks."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.data import DatasetSplits, ProgressFn, load_dataset
from resnet_viz.metrics.records import Record
from resnet_viz.metrics.store import RunStore
from resnet_viz.presets.measures import CheckResult, evaluate_check
from resnet_viz.presets.preset import Preset, PresetRun
from resnet_viz.train.engine import Engine


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
    name: str
    config: RunConfig
    store: RunStore = field(default_factory=RunStore)

    @property
    def status(self) -> str:
        f = self.store.finished
        return "not run" if f is None else f.status


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
    """Trains a preset's runs in order. ``stop()`` (any thread) ends the current run and skips the rest."""

    def __init__(self, preset: Preset, size: str, runs: Sequence[PresetRun] | None = None) -> None:
        if size not in preset.sizes:
            raise ConfigError("size", size, "one of " + ", ".join(preset.sizes))
        self.preset = preset
        self.size = size
        self.runs = list(runs if runs is not None else preset.runs(size))
        self.engine: Engine | None = None
        self._stopped = False
        self._splits: dict[str, DatasetSplits] = {}

    def stop(self) -> None:
        self._stopped = True
        if self.engine is not None:
            self.engine.stop(evaluate=True)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def _splits_for(self, config: RunConfig, progress: ProgressFn | None) -> DatasetSplits:
        key = json.dumps(dataclasses.asdict(config.data), sort_keys=True)
        if key not in self._splits:
            self._splits[key] = load_dataset(config.data, progress=progress)
        return self._splits[key]

    def run(
        self,
        on_record: Callable[[str, Record], None] | None = None,
        progress: Callable[[str, float], None] | None = None,
    ) -> PresetResult:
        """Train every run (data errors raise ``DataError`` before the first step of that run)."""
        t0 = time.monotonic()
        outcomes = [RunOutcome(r.name, r.config) for r in self.runs]
        device = ""
        for outcome in outcomes:
            if self._stopped:
                break

            def emit(record: Record, outcome: RunOutcome = outcome) -> None:
                outcome.store.add(record)
                if on_record is not None:
                    on_record(outcome.name, record)

            engine = Engine(outcome.config, emit, splits=self._splits_for(outcome.config.resolved(), progress))
            engine.prepare()
            self.engine = engine
            if self._stopped:
                engine.stop(evaluate=True)
            finished = engine.run()
            device = finished.device
            self.engine = None
        stores = {o.name: o.store for o in outcomes}
        return PresetResult(
            self.preset,
            self.size,
            outcomes,
            evaluate_checks(self.preset, stores, self.size),
            time.monotonic() - t0,
            device,
        )
