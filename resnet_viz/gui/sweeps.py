"""The window's sweeps: the New sweep dialog, a :class:`~resnet_viz.sweeps.runner.SweepRunner` per sweep
started in this window, and the Sweep dock that shows them.

A sweep's trials go into the window's scheduler as coloured :class:`RunEntry` objects, in a pool of
their own (they train at once, on local processes or on Ray, whatever the window's train mode), so
they stream into the run list and the plots like any run; the trials of one config point share the
point's colour, so bands over seeds read naturally. The run manager calls :meth:`WindowSweeps.poll`
after every poll (sweep.json is kept current, the Sweep panel refreshed when a trial ends) and
:meth:`WindowSweeps.close` when the window closes (sweep.json saved, so the sweep resumes later; each
sweep's backend closed: Ray actors killed, a local Ray started here shut down).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6 import QtCore, QtWidgets

from resnet_viz.config import ConfigError
from resnet_viz.gui.controls import ConfigPanel
from resnet_viz.gui.manager import RunManager
from resnet_viz.gui.runs import PALETTE, RunEntry
from resnet_viz.gui.sweep_dialog import SweepDialog, SweepRequest
from resnet_viz.gui.sweep_panel import SweepPanel, SweepView
from resnet_viz.runs.backend import Backend
from resnet_viz.runs.backends import make_backend
from resnet_viz.runs.scheduler import MAX_PARALLEL
from resnet_viz.runs.status import RunStatus
from resnet_viz.sweeps.folder import SweepError
from resnet_viz.sweeps.runner import SweepRunner
from resnet_viz.sweeps.spec import Trial

FAILED_STATES = (RunStatus.FAILED, RunStatus.OUT_OF_MEMORY, RunStatus.INTERRUPTED)


class SweepsHost(Protocol):
    """What :class:`WindowSweeps` uses of the window."""

    settings: QtCore.QSettings
    manager: RunManager
    explorer: QtWidgets.QMainWindow
    config_panel: ConfigPanel

    def window(self) -> QtWidgets.QWidget: ...
    def statusBar(self) -> QtWidgets.QStatusBar: ...
    def show_message(self, text: str, level: str = "error") -> None: ...


class SweepStartError(Exception):
    """A sweep could not be started (one line: why)."""


@dataclass
class WindowSweep:
    """A sweep of this window: its runner, where it trains (one line), its state and progress counts."""

    key: int
    runner: SweepRunner
    where: str
    state: str = "training"  # → stopped / finished
    stopping: bool = False
    note: str = ""
    counts: tuple[int, int, int] = (0, 0, 0)  # done, training, failed


def point_colours(n_points: int, used: set[str]) -> list[str]:
    """One colour per config point: the palette's unused colours first, then the palette again."""
    free = [c for c in PALETTE if c not in used]
    order = free + [c for c in PALETTE if c in used]
    return [order[i % len(order)] for i in range(n_points)]


class WindowSweeps(QtCore.QObject):
    """The sweeps of the window ``host``: ``panel`` in ``dock``, ``sweeps`` started here, the open ``dialog``.
    ``local_backend(name)`` makes the backend of a local sweep (default: the window's kind, without a spare)."""

    def __init__(self, host: SweepsHost, local_backend: Callable[[str], Backend] | None = None) -> None:
        super().__init__(host.explorer)
        self.host = host
        self.manager = host.manager
        self.local_backend = local_backend or (lambda name: make_backend(name))
        self.sweeps: list[WindowSweep] = []
        self.dialog: SweepDialog | None = None
        self.panel = SweepPanel(host.settings)
        self.panel.stop_requested.connect(self.stop)
        self.panel.message.connect(host.show_message)
        self.dock = QtWidgets.QDockWidget("Sweep", host.explorer)
        self.dock.setObjectName("dock_sweep")
        self.dock.setWidget(self.panel)
        self.manager.after_poll.append(self.poll)
        self.manager.on_close.append(self.close)

    # --- the dialog -----------------------------------------------------------------------------
    def open_dialog(self) -> SweepDialog | None:
        """The New sweep dialog (window-modal, returns at once) on the setup's config; None (and a
        message) when the setup is not valid."""
        try:
            base = self.host.config_panel.config()
        except ConfigError as exc:
            self.host.show_message(f"The setup is not valid, so it cannot be a sweep's base: {exc}", "error")
            return None
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = SweepDialog(base, self.host.settings, self.host.window())
        self.dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.start_requested.connect(self._start_from_dialog)
        self.dialog.destroyed.connect(lambda *_a: setattr(self, "dialog", None))
        self.dialog.open()
        return self.dialog

    def _start_from_dialog(self, request: SweepRequest) -> None:
        dialog = self.dialog
        try:
            self.start(request, busy=dialog.set_busy if dialog is not None else None)
        except SweepStartError as exc:
            if dialog is not None:
                dialog.set_busy("")
                dialog.show_error(str(exc))
            else:
                self.host.show_message(str(exc), "error")
            return
        if dialog is not None:
            dialog.accept()

    # --- starting -------------------------------------------------------------------------------
    def start(self, request: SweepRequest, busy: Callable[[str], None] | None = None) -> WindowSweep:
        """Open the sweep (new or resumed) and queue its missing trials; :class:`SweepStartError` (one
        line) when the folder, the spec or the Ray cluster says no."""
        backend, parallel, where, info = self._backend(request, busy)
        try:
            runner = SweepRunner.open(request.folder, request.spec, backend, parallel=parallel,
                                      threads=request.cpus_per_trial, backend_info=info)  # fmt: skip
            colours = point_colours(runner.spec.n_points, {e.color for e in self.manager.entries})
            runner.attach(self.manager.scheduler, self._run_factory(colours))
        except (SweepError, ConfigError) as exc:
            backend.close()
            raise SweepStartError(str(exc)) from None
        self._adopt_done(runner, colours)
        sweep = WindowSweep(len(self.sweeps) + 1, runner, where)
        self.sweeps.append(sweep)
        self.manager.runs_changed.emit()
        todo = len(runner.runs)
        self.host.statusBar().showMessage(
            f"sweep {runner.spec.name or runner.folder.path.name}: {todo} of {len(runner.state.trials)} trials "
            f"to train on {where}",
            5000,
        )
        self.refresh(show=sweep.key)
        self.dock.show()
        self.dock.raise_()
        return sweep

    def _backend(
        self, request: SweepRequest, busy: Callable[[str], None] | None
    ) -> tuple[Backend, int, str, dict[str, Any]]:
        """The backend, trials at once, where they train (one line) and what sweep.json records of it
        (as ``resnet-viz sweep`` chooses them)."""
        threads = request.cpus_per_trial
        if not request.ray:
            backend = self.local_backend(self.manager.backend_name)
            kind = "processes" if backend.name == "process" else backend.name + "s"
            info = {"name": backend.name, "cpus_per_trial": threads, "parallel": request.parallel}
            return (
                backend,
                request.parallel,
                f"local {kind}, {request.parallel} at a time, {threads} thread(s) each",
                info,
            )
        from resnet_viz.runs.ray_backend import RayBackend, RayResources, RayUnavailable

        try:
            resources = RayResources(request.address, float(threads), request.gpus_per_trial)
            resources.validate()
        except ConfigError as exc:
            raise SweepStartError(str(exc)) from None
        ray_backend = RayBackend(resources)
        if busy is not None:
            busy("Connecting to Ray…" if request.address else "Starting a local Ray…")
        try:
            where = ray_backend.connect()
        except RayUnavailable as exc:
            ray_backend.close()
            raise SweepStartError(str(exc)) from None
        parallel = max(1, min(MAX_PARALLEL, request.parallel or ray_backend.capacity()))
        info = {"name": "ray", "address": request.address, "cpus_per_trial": threads,
                "gpus_per_trial": request.gpus_per_trial, "parallel": parallel, "cluster": where}  # fmt: skip
        return ray_backend, parallel, f"{where}, {parallel} trial(s) at a time", info

    def _adopt_done(self, runner: SweepRunner, colours: list[str]) -> None:
        """A resumed sweep's trials that are done join the run list from their run folders (so the
        plots and their bands over seeds show every seed), unless the list holds them already."""
        from resnet_viz.export.replay import store_from_run_folder
        from resnet_viz.export.run_folder import read_run_folder

        trials = {t.trial_id: t for t in runner.spec.trials()}
        present = [e.config for e in self.manager.entries]
        unreadable = []
        for entry in runner.state.trials:
            trial = trials[entry.trial_id]
            if not entry.has_result or entry.trial_id in runner.runs or trial.config in present:
                continue
            try:
                store = store_from_run_folder(read_run_folder(runner.folder.path / entry.folder))
            except Exception:  # noqa: BLE001 - a damaged folder: its numbers stay in the Sweep panel
                unreadable.append(entry.trial_id)
                continue
            self.manager.adopt(
                RunEntry(0, trial.config, trial.name, store=store, status=entry.status, message=entry.message,
                         version=1, color=colours[trial.point])
            )  # fmt: skip
        if unreadable:
            self.host.show_message(
                f"{len(unreadable)} finished trial(s) could not be read back into the run list "
                f"({', '.join(unreadable[:3])}); the Sweep panel keeps their numbers",
                "warning",
            )

    def _run_factory(self, colours: list[str]) -> Callable[[Trial], RunEntry]:
        def make_run(trial: Trial) -> RunEntry:
            return RunEntry(run_id=0, config=trial.config, name=trial.name, color=colours[trial.point])

        return make_run

    # --- following the trials -------------------------------------------------------------------
    def poll(self) -> None:
        """After every poll of the scheduler: sweep.json current, the panel refreshed when something changed."""
        changed = False
        for sweep in self.sweeps:
            if sweep.state != "training":
                continue
            lines = sweep.runner.update()
            counts = self._counts(sweep)
            if lines or counts != sweep.counts:
                sweep.counts, changed = counts, True
                self.manager.runs_changed.emit()  # a trial the pool launched shows "preparing" in the list
            if lines:
                self.host.statusBar().showMessage(lines[-1], 5000)
            if not self._active(sweep):
                self._finish(sweep)
                changed = True
        if changed:
            self.refresh()

    def _active(self, sweep: WindowSweep) -> bool:
        """Some trial is queued or training (a trial removed from the run list no longer counts)."""
        present = {id(run) for run in self.manager.scheduler.runs}
        return any(not run.state.ended and id(run) in present for run in sweep.runner.runs.values())

    def _counts(self, sweep: WindowSweep) -> tuple[int, int, int]:
        trials = sweep.runner.state.trials
        done = sum(1 for t in trials if t.has_result)
        training = sum(1 for run in sweep.runner.runs.values() if run.active)
        failed = sum(1 for t in trials if RunStatus.of(t.status) in FAILED_STATES)
        return done, training, failed

    def _release(self, sweep: WindowSweep) -> None:
        """sweep.json and the summary written, the pool forgotten, the backend closed."""
        runner = sweep.runner
        runner.update()
        runner.save()
        runner.detach()
        runner.backend.close()  # a local Ray is shut down once no backend of this window uses it
        sweep.counts = self._counts(sweep)

    def _finish(self, sweep: WindowSweep) -> None:
        self._release(sweep)
        runner = sweep.runner
        missing = len(runner.pending)
        stopped = sweep.stopping or any(RunStatus.of(t.status) is RunStatus.STOPPED for t in runner.pending)
        sweep.state = "stopped" if stopped and missing else "finished"
        name = runner.spec.name or runner.folder.path.name
        if runner.error:
            sweep.note = runner.error
            self.host.show_message(f"Sweep {name}: {runner.error}", "error")
        elif missing and sweep.state == "finished":
            sweep.note = f"{missing} trial(s) did not finish: resume the sweep to train them again"
            self.host.show_message(f"Sweep {name}: {sweep.note}.", "warning")
        else:
            self.host.statusBar().showMessage(f"sweep {name} {sweep.state} → {runner.folder.path}", 8000)

    def stop(self, key: int) -> None:
        """Stop a sweep's trials (they end within a step; unfinished ones train again on resume)."""
        for sweep in self.sweeps:
            if sweep.key == key and sweep.state == "training":
                sweep.stopping = True
                sweep.runner.stop(evaluate=False)
        self.manager.runs_changed.emit()

    def close(self) -> None:
        """The window closes (its runs have stopped): save every sweep and close its backend."""
        if self.dialog is not None:
            self.dialog.close()
        for sweep in self.sweeps:
            if sweep.state == "training":
                sweep.stopping = True
                sweep.runner.stop(evaluate=False)
                self._release(sweep)
                sweep.state = "stopped"

    # --- the panel ------------------------------------------------------------------------------
    def view(self, sweep: WindowSweep) -> SweepView:
        runner = sweep.runner
        done, training, failed = sweep.counts
        state = "stopping" if sweep.stopping and sweep.state == "training" else sweep.state
        return SweepView(
            key=sweep.key,
            name=runner.spec.name or runner.folder.path.name,
            where=sweep.where,
            folder=runner.folder.path,
            axes=tuple(axis.short for axis in runner.spec.axes),
            rows=runner.summary(),
            done=done,
            total=len(runner.state.trials),
            training=training,
            failed=failed,
            state=state,
            note=sweep.note,
        )

    def refresh(self, show: int | None = None) -> None:
        self.panel.set_views([self.view(s) for s in self.sweeps], show)
