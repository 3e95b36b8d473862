"""The training engine: builds a run from a :class:`RunConfig`, trains it step by step, evaluates,
probes every layer, and emits typed records (``resnet_viz.metrics.records``) to a callback.

The same engine runs under the CLI (records go to a run folder) and under the GUI (records go to a
queue drained at display rate). It never waits on its consumer beyond the callback itself, so the
callback must be cheap (append to a list or a queue).

Per-step scalars and per-layer statistics stay on the device and are copied to the host once per
report (every ``report_interval_s`` seconds, at most ``max_chunk`` steps, and at every evaluation).
On an accelerator the device is synchronised once per report and the wait is attributed to that
report's steps, so step times and ``steps_per_s`` count the device's work, not only its queueing.
Pause, resume and stop are thread-safe flags checked between steps and between evaluation batches
(so a stop or a pause acts within one step or one evaluation batch, whichever is running).

Parts: :mod:`~resnet_viz.train.prepared` builds the run's state (one ``PreparedRun``),
:mod:`~resnet_viz.train.step` takes one step, :mod:`~resnet_viz.train.pending` buffers steps until a
report, :mod:`~resnet_viz.train.started` makes the first record, :mod:`~resnet_viz.train.evaluation`
evaluates, :mod:`~resnet_viz.train.failures` names how a run ended badly,
:mod:`~resnet_viz.train.snapshots` and :mod:`~resnet_viz.train.sharpness` observe the parameters at planned
steps: such a step is reported at once (so the device's wait counts as training time), then observed (its
time is not training time). This module holds the control flags and the loop that ties them together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from resnet_viz.config import RunConfig
from resnet_viz.data import DatasetSplits, DeviceDataset, load_dataset
from resnet_viz.metrics.records import OK_STATUSES, EvalRecord, ModelWeights, Record, RunFinished
from resnet_viz.models import LayerInfo
from resnet_viz.models.budget import check_fits
from resnet_viz.train.device import device_label, resolve_device, synchronize
from resnet_viz.train.evaluation import EVAL_BATCH_SIZE, evaluate_model
from resnet_viz.train.failures import failure_outcome, is_out_of_memory
from resnet_viz.train.pending import PendingSteps
from resnet_viz.train.prepared import PreparedRun, prepare_run, use_deterministic_algorithms
from resnet_viz.train.sharpness import SharpnessProbe
from resnet_viz.train.snapshots import SnapshotPlan, plan_snapshots, snapshot_bytes, take_snapshot
from resnet_viz.train.started import started_record
from resnet_viz.train.step import train_step

ProgressCallback = Callable[[str, float], None]


class Engine:
    """Trains one run. ``prepare()`` builds data, model and optimiser (raising ``ConfigError`` /
    ``DataError`` on bad input); ``run()`` trains and never raises for training failures: divergence,
    out-of-memory, a stop request or an exception end the run with a ``RunFinished`` record whose
    status says so, after every record so far has been emitted.
    """

    def __init__(
        self,
        config: RunConfig,
        emit: Callable[[Record], None] | None = None,
        *,
        progress: ProgressCallback | None = None,
        report_interval_s: float = 0.1,
        max_chunk: int = 256,
        splits: DatasetSplits | None = None,
    ) -> None:
        self.config = config.resolved()
        self._emit: Callable[[Record], None] = emit or (lambda record: None)
        self._progress = progress
        self.report_interval_s = report_interval_s
        self.max_chunk = max_chunk
        self.splits = splits  # loaded by prepare() when None
        self._stop = threading.Event()
        self._stop_evaluate = True  # False once a stop asked to skip (or abandon) the evaluation
        self.evaluating = False  # True while an evaluation runs (read by tests and the window)
        self._running = threading.Event()
        self._running.set()
        self._device: torch.device | None = None  # resolved by prepare()
        self.prepared: PreparedRun | None = None
        self.step = 0  # steps completed
        self.train_time = 0.0  # s spent in training steps (evaluations excluded)
        self.last_eval: EvalRecord | None = None
        self.abandoned_eval_step: int | None = None
        self._pending = PendingSteps()
        self.snapshot_plan = SnapshotPlan(frozenset(), 0)  # planned by prepare()
        self._last_snapshot = -1
        self._sharpness: SharpnessProbe | None = None

    # --- control (any thread) --------------------------------------------------------------
    def pause(self) -> None:
        """Pause between steps (records so far are flushed first)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self, evaluate: bool = True) -> None:
        """End the run after the current step. ``evaluate``: an evaluation in progress may finish, or
        a final one runs. ``evaluate=False``, or a stop request while an already stopped run
        evaluates, abandons the evaluation within one batch (no record is emitted for it)."""
        if not evaluate or (self._stop.is_set() and self.evaluating):
            self._stop_evaluate = False
        self._stop.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # --- the prepared run ------------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        """Steps the run will take (0 before :meth:`prepare`)."""
        return self.prepared.total_steps if self.prepared is not None else 0

    @property
    def layers(self) -> list[LayerInfo]:
        """The weight layers in forward order (after :meth:`prepare`)."""
        return self._ready().layers

    @property
    def data(self) -> DeviceDataset:
        """The training and evaluation batches on the device (after :meth:`prepare`)."""
        return self._ready().data

    def _ready(self) -> PreparedRun:
        if self.prepared is None:
            raise RuntimeError("the engine is not prepared: call prepare() first")
        return self.prepared

    def prepare(self) -> None:
        """Resolve the device, check the memory estimate, load the data, build the model, optimiser and probes."""
        if self.prepared is not None:
            return
        cfg = self.config
        self._device = device = resolve_device(cfg.train.device)
        use_deterministic_algorithms(cfg.train)
        shape = (self.splits.input_shape, self.splits.num_classes) if self.splits is not None else (None, None)
        check_fits(cfg, device, input_shape=shape[0], classes=shape[1])  # ConfigError before allocating
        if self.splits is None:
            self.splits = load_dataset(cfg.data, progress=self._progress)
        self.prepared = run = prepare_run(cfg, self.splits, device)
        self.snapshot_plan = plan_snapshots(run.total_steps, cfg.train.snapshots, snapshot_bytes(run.model))
        if cfg.train.sharpness_every > 0:
            self._sharpness = SharpnessProbe(
                run.data, cfg.train.sharpness_every, cfg.train.sharpness_trace, cfg.train.seed
            )

    # --- running -----------------------------------------------------------------------------
    def run(self) -> RunFinished:
        """Prepare if needed, train to the end (or stop/divergence/failure), emit every record."""
        t_start = time.perf_counter()
        status, message = "finished", ""
        extra: dict[str, Any] = {}
        try:
            self.prepare()
            run = self._ready()
            x, y = run.data.next_batch()
            started = started_record(run, x, y)
            started.resolved.update(snapshots=len(self.snapshot_plan.steps), snapshots_note=self.snapshot_plan.note)
            self._emit(started)
            if self.config.init.from_file is not None:  # trained weights: how good are they before training?
                self._evaluate(0)
            self._observe(run, 0)
            status, message = self._loop(run, (x, y))
            if status == "stopped":
                self._observe(run, self.step, stopped=True)
            if status in OK_STATUSES:
                self._emit_weights(run)
        except BaseException as exc:
            try:
                self._flush(evaluate=False)
            except BaseException:  # noqa: BLE001 - the device may be unusable now
                pass
            if self.prepared is None and not isinstance(exc, KeyboardInterrupt) and not is_out_of_memory(exc):
                raise  # ConfigError / DataError while building: the caller reports it
            status, message, extra = failure_outcome(exc, self.step)
        finally:
            if self.prepared is not None and self.prepared.probes is not None:
                self.prepared.probes.remove()
        finished = self._finished_record(status, message, extra, time.perf_counter() - t_start)
        self._emit(finished)
        return finished

    def _emit_weights(self, run: PreparedRun) -> None:
        """Emit the network's weights (:class:`ModelWeights`) when every one is finite."""
        state = {name: t.detach().cpu().numpy().copy() for name, t in run.model.state_dict().items()}
        if all(np.isfinite(a).all() for a in state.values() if a.dtype.kind == "f"):
            self._emit(ModelWeights(step=self.step, state=state))

    def _observe(self, run: PreparedRun, step: int, stopped: bool = False) -> None:
        """After step ``step`` is reported: its :class:`ParameterSnapshot` (finite weights only) and
        :class:`SharpnessRecord` when planned; ``stopped``: a snapshot of a stopped run's last step."""
        planned = self.snapshot_plan.steps
        if step in planned or (stopped and planned and self._last_snapshot != step):
            snapshot = take_snapshot(run.model, step)
            if snapshot is not None:
                self._last_snapshot = step
                self._emit(snapshot)
        if not stopped and self._sharpness is not None and self._sharpness.due(step):
            self._emit(self._sharpness.measure(run.model, step))

    def _finished_record(self, status: str, message: str, extra: dict[str, Any], elapsed_s: float) -> RunFinished:
        ev = self.last_eval if status in OK_STATUSES else None
        return RunFinished(
            status=status,
            steps=self.step,
            final_train_error=ev.train_error if ev else None,
            final_test_error=ev.test_error if ev else None,
            final_train_loss=ev.train_loss if ev else None,
            final_test_loss=ev.test_loss if ev else None,
            steps_per_s=self.step / self.train_time if self.train_time > 0 else 0.0,
            elapsed_s=elapsed_s,
            params=self.prepared.params if self.prepared is not None else 0,
            device=device_label(self._device) if self._device is not None else self.config.train.device,
            message=message,
            extra={**extra, "final_eval_step": ev.step if ev else None},
        )

    def _loop(self, run: PreparedRun, first: tuple[torch.Tensor, torch.Tensor]) -> tuple[str, str]:
        """Train from ``self.step`` to the end, starting on the batch ``first``; returns (status, message)."""
        eval_every = self.config.train.eval_every
        batch: tuple[torch.Tensor, torch.Tensor] | None = first
        last_report = time.perf_counter()
        while self.step < run.total_steps:
            if not self._running.is_set():
                self._flush(evaluate=False)
                self._wait_while_paused()
            if self._stop.is_set():
                return self._stopped()
            t0 = time.perf_counter()
            x, y = batch if batch is not None else run.data.next_batch()
            batch = None
            step = self.step + 1
            result = train_step(run, x, y, step)
            for record in result.histograms:
                self._emit(record)
            self.step = step
            t1 = time.perf_counter()
            self._pending.append(step, result.row, result.lr, t1 - t0, result.layer_row)
            self.train_time += t1 - t0
            evaluate = step % eval_every == 0 or step == run.total_steps
            observe = step in self.snapshot_plan.steps or (self._sharpness is not None and self._sharpness.due(step))
            if (
                evaluate
                or observe
                or t1 - last_report >= self.report_interval_s
                or len(self._pending) >= self.max_chunk
            ):
                diverged_at = self._flush(evaluate=evaluate)
                if diverged_at is None and observe:
                    self._observe(run, step)
                last_report = time.perf_counter()
                if diverged_at is not None:
                    self.step = diverged_at  # steps after it were taken with non-finite weights: not recorded
                    return (
                        f"diverged at step {diverged_at}",
                        f"the training loss became non-finite (NaN or inf) at step {diverged_at}",
                    )
        return self._stopped() if self._stop.is_set() else ("finished", "")

    def _stopped(self) -> tuple[str, str]:
        """End a stopped run: emit what is pending, evaluate the last step unless asked not to."""
        self._flush(evaluate=False)
        if self._stop_evaluate and self.step > 0 and (self.last_eval is None or self.last_eval.step != self.step):
            self._evaluate(self.step)
        message = f"stopped by request at step {self.step} of {self.total_steps}"
        if self.abandoned_eval_step is not None:
            message += f" (its evaluation at step {self.abandoned_eval_step} was abandoned)"
        return "stopped", message

    def _flush(self, evaluate: bool) -> int | None:
        """Copy pending steps to the host in one transfer and emit them (after an evaluation of the
        last step when ``evaluate``). Returns the step of a non-finite loss, if any (records are cut there).
        """
        if len(self._pending) and self._device is not None:
            # on an accelerator the steps ran asynchronously: their host times are enqueue times
            wait = synchronize(self._device)
            self._pending.add_wait(wait)
            self.train_time += wait
        taken = self._pending.take()
        if taken is None:
            return None
        if evaluate and taken.diverged_at is None:
            self._evaluate(int(taken.chunk.step[-1]))
        self._emit(taken.chunk)
        return taken.diverged_at

    def _wait_while_paused(self) -> None:
        while not self._running.wait(0.05):
            pass

    def _evaluation_abandoned(self) -> bool:
        """Between evaluation batches: wait while paused; True when a stop asks to abandon it."""
        self._wait_while_paused()
        return self._stop.is_set() and not self._stop_evaluate

    def _evaluate(self, step: int) -> EvalRecord | None:
        """Error and loss in eval mode on the fixed training sample and the test set; emits the record.

        Returns None (and emits nothing) when a stop request abandons it between two batches of
        ``EVAL_BATCH_SIZE`` images: a partial evaluation would be a different, smaller sample.
        """
        t0 = time.perf_counter()
        run = self._ready()
        run.model.eval()
        self.evaluating = True
        try:
            result = evaluate_model(
                run.model, run.data, run.device, self._evaluation_abandoned, EVAL_BATCH_SIZE, run.precision.autocast
            )
        finally:
            self.evaluating = False
            run.model.train()
        if result is None:
            self.abandoned_eval_step = step
            return None
        train_err, train_loss, test_err, test_loss = result
        record = EvalRecord(
            step=step,
            train_error=train_err,
            train_loss=train_loss,
            test_error=test_err,
            test_loss=test_loss,
            eval_time_s=time.perf_counter() - t0,
        )
        self.last_eval = record
        self._emit(record)
        return record


__all__ = ["EVAL_BATCH_SIZE", "Engine", "ProgressCallback"]
