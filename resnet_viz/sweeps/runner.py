"""SweepRunner: trains a sweep's missing trials through a scheduler pool, writes each trial's run
folder as it trains and keeps ``sweep.json`` current.

The trials go into a :meth:`~resnet_viz.runs.scheduler.Scheduler.add_pool` pool of the caller's
scheduler (the CLI's own, or the window's), on any backend (local processes or Ray): their records
arrive on the scheduler's one stream like any run's, so the window shows them live and this class
writes them. The run folders are written here, by the driver, from the record stream: on a Ray
cluster the trials need no shared file system, and a killed worker leaves a folder with every record
that reached the driver. Call :meth:`update` after every poll of the scheduler.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnet_viz.export.run_folder import RunFolderError, RunFolderWriter, check_run_folder
from resnet_viz.export.written import reason, write_atomically
from resnet_viz.metrics.records import Record, RunStarted
from resnet_viz.runs.backend import Backend
from resnet_viz.runs.run import Run
from resnet_viz.runs.scheduler import Scheduler
from resnet_viz.runs.status import RunStatus
from resnet_viz.sweeps.folder import SweepError, SweepFolder, SweepState, TrialEntry
from resnet_viz.sweeps.spec import SweepSpec, Trial
from resnet_viz.sweeps.summary import SweepRow, summarize, summary_csv, summary_table

#: Makes the run a trial trains as (the window makes its coloured entries); ``Run(0, config, name)`` by default.
RunFactory = Callable[[Trial], Run]


def _default_run(trial: Trial) -> Run:
    return Run(0, trial.config, trial.name)


class SweepRunner:
    """One sweep folder's trials in a scheduler. ``open`` it, ``attach`` it, then ``update`` after each poll."""

    def __init__(self, folder: SweepFolder, state: SweepState, backend: Backend, parallel: int, threads: int | None):
        self.folder = folder
        self.state = state
        self.backend = backend
        self.parallel = parallel
        self.threads = threads
        self.pool = f"sweep {folder.path.resolve()}"
        self.runs: dict[str, Run] = {}  # trial id → its run in the scheduler (trials trained in this session)
        self.error: str | None = None  # sweep.json could not be written
        self._writers: dict[int, RunFolderWriter] = {}
        self._entries: dict[int, TrialEntry] = {}
        self._run_of: dict[int, Run] = {}  # run id → run (no search of the scheduler's list on every poll)
        self._scheduler: Scheduler | None = None
        self._reported: set[str] = set()

    @classmethod
    def open(
        cls,
        path: str | Path,
        spec: SweepSpec | None,
        backend: Backend,
        *,
        parallel: int,
        threads: int | None = None,
        backend_info: dict[str, Any] | None = None,
    ) -> SweepRunner:
        """A new sweep in ``path`` or the one there resumed (``spec`` None: resume only); :class:`SweepError`."""
        from resnet_viz.train.started import package_versions

        folder = SweepFolder(path)
        state = folder.open(spec, backend_info or {"name": backend.name}, package_versions())
        return cls(folder, state, backend, parallel, threads)

    @property
    def spec(self) -> SweepSpec:
        return self.state.spec

    @property
    def pending(self) -> list[TrialEntry]:
        """Trials without a result (to train in this session)."""
        return [t for t in self.state.trials if not t.has_result]

    def attach(self, scheduler: Scheduler, make_run: RunFactory = _default_run) -> list[Run]:
        """Queue the pending trials in a pool of ``scheduler`` (they start at once); their folders are
        checked first (:class:`SweepError` when one cannot be written)."""
        trials = {t.trial_id: t for t in self.spec.trials()}
        for entry in self.pending:
            try:
                check_run_folder(self.folder.path / entry.folder, replace=True)
            except RunFolderError as exc:
                raise SweepError(f"trial {entry.trial_id}: {exc}") from None
        self._scheduler = scheduler
        scheduler.listeners.append(self._on_record)
        added = []
        for entry in self.pending:
            run = make_run(trials[entry.trial_id])
            run.pool = self.pool
            self.runs[entry.trial_id] = run
            added.append(run)
        scheduler.add_pool(self.pool, self.backend, self.parallel, self.threads)
        for run, entry in zip(added, self.pending):
            scheduler.add(run)
            self._entries[run.run_id] = entry
            self._run_of[run.run_id] = run
            stop = functools.partial(scheduler.stop, run, False)
            self._writers[run.run_id] = RunFolderWriter(self.folder.path / entry.folder, on_write_error=stop)
        return added

    def _on_record(self, run: Run, record: Record) -> None:
        writer = self._writers.get(run.run_id)
        if writer is None or self._entries.get(run.run_id) is None:
            return
        writer(record)
        if isinstance(record, RunStarted):
            self._entries[run.run_id].attempts += 1

    # --- after every poll ---------------------------------------------------------------------------
    def update(self) -> list[str]:
        """Bring ``sweep.json`` up to date with the trials' runs; one line per trial that ended since."""
        changed, lines = False, []
        for run_id, entry in self._entries.items():
            if entry.trial_id in self._reported:  # ended and written: nothing changes any more
                continue
            run = self._run_of[run_id]
            before = (entry.status, entry.message, entry.steps)
            self._sync(run, entry)
            changed |= before != (entry.status, entry.message, entry.steps)
            if run.state.ended and entry.trial_id not in self._reported:
                self._reported.add(entry.trial_id)
                lines.append(self._ended_line(entry))
        if changed:
            self.save()
        return lines

    def _sync(self, run: Run, entry: TrialEntry) -> None:
        state = run.state
        if state is RunStatus.QUEUED:
            return
        if not state.ended:
            entry.status, entry.steps = "running", run.store.steps_done
            return
        if run.store.finished is not None:
            entry.set_result(run.store.finished)
        writer = self._writers[run.run_id]
        if writer.write_error:
            entry.status, entry.message = (
                writer.write_error,
                f"its run folder could not be written: {writer.write_error}",
            )
        elif run.store.finished is None or state is RunStatus.FAILED:
            entry.status, entry.message = run.status, run.message

    def _ended_line(self, entry: TrialEntry) -> str:
        done = sum(1 for t in self.state.trials if RunStatus.of(t.status).ended)
        numbers = "".join(
            f" · {what} error {100 * value:.2f}%"
            for what, value in (("train", entry.final_train_error), ("test", entry.final_test_error))
            if value is not None
        )
        detail = f" — {entry.message}" if entry.message and not entry.has_result else ""
        return f"[{done}/{len(self.state.trials)}] {entry.name}: {entry.status}{numbers}{detail}"

    def save(self) -> None:
        """Rewrite sweep.json and the summary files; a failure stops the sweep's trials, once, with a line."""
        try:
            self.folder.save(self.state)
            self.write_summary()
        except OSError as exc:
            if self.error is None:
                self.error = f"could not write {self.folder.file}: {reason(exc)}"
                self.stop(evaluate=False)

    def write_summary(self) -> None:
        """``summary.csv`` and ``summary.md`` in the sweep folder (atomic)."""
        rows = self.summary()
        csv_text = summary_csv(rows)
        md = f"# Sweep {self.spec.name or self.folder.path.name}\n\n{summary_table(rows)}\n"
        write_atomically(self.folder.path / "summary.csv", lambda p: p.write_text(csv_text, encoding="utf-8"))
        write_atomically(self.folder.path / "summary.md", lambda p: p.write_text(md, encoding="utf-8"))

    # --- control ------------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Some trial of this session is queued or training."""
        return any(not r.state.ended for r in self.runs.values())

    def stop(self, evaluate: bool = False) -> None:
        """Stop the training trials and withdraw the queued ones (they train when the sweep resumes)."""
        if self._scheduler is None:
            return
        for run in self.runs.values():
            if not run.state.ended:
                self._scheduler.stop(run, evaluate)

    def summary(self) -> list[SweepRow]:
        return summarize(self.state)

    def detach(self) -> None:
        """Once its trials have ended: forget the pool and the listener (the backend is the caller's)."""
        if self._scheduler is not None:
            self._scheduler.remove_pool(self.pool)
            if self._on_record in self._scheduler.listeners:
                self._scheduler.listeners.remove(self._on_record)


__all__ = ["RunFactory", "SweepRunner"]
