"""The training engine: builds a run from a :class:`RunConfig`, trains it step by step, evaluates,
probes every layer, and emits typed records (``resnet_viz.metrics.records``) to a callback.

The same engine runs under the CLI (records go to a run folder) and under the GUI (records go to a
queue drained at display rate). It never waits on its consumer beyond the callback itself, so the
callback must be cheap (append to a list or a queue).

Per-step scalars and per-layer statistics stay on the device and are copied to the host once per
report (every ``report_interval_s`` seconds, at most ``max_chunk`` steps, and at every evaluation).
Pause, resume and stop are thread-safe flags checked between steps and between evaluation batches
(so a stop or a pause acts within one step or one evaluation batch, whichever is running).
"""

from __future__ import annotations

import contextlib
import math
import platform
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import resnet_viz
from resnet_viz.config import DEFAULT_STEPS, RunConfig
from resnet_viz.data import DatasetSplits, DeviceDataset, load_dataset
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    LayerInfoRecord,
    LayerStats,
    Record,
    RunFinished,
    RunStarted,
    TrainChunk,
)
from resnet_viz.models import build_model, init_weights, layer_table, theory_act_std
from resnet_viz.models.budget import check_fits
from resnet_viz.train.device import device_label, resolve_device
from resnet_viz.train.optim import build_optimizer, build_scheduler, milestone_steps, resolved_hyperparameters
from resnet_viz.train.probes import LayerProbes

ProgressCallback = Callable[[str, float], None]

_OOM_MARKERS = ("out of memory", "can't allocate memory", "not enough memory", "DefaultCPUAllocator")

#: Images per evaluation forward pass. Stop and pause act between batches, so one batch bounds how long
#: they wait. ResNet-20 (width 16) on this 2-core CPU: 256 images take 0.15 s idle and 0.4-1.0 s with the
#: machine loaded 2.5x over; batches of 1,000 took 1.2-2x longer per image in the same runs (their
#: activations no longer fit the caches), so 256 is also the faster choice.
EVAL_BATCH_SIZE = 256


def package_versions() -> dict[str, str]:
    """Versions that decide a run's numbers."""
    import torchvision

    return {
        "resnet_viz": resnet_viz.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        isinstance(exc, MemoryError) or any(m in str(exc) for m in _OOM_MARKERS)
    )


@contextlib.contextmanager
def frozen_batchnorm_statistics(model: nn.Module) -> Iterator[None]:
    """Train-mode forward passes inside leave BN running statistics untouched (momentum 0)."""
    saved = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            saved.append((m, m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None))
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


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
        self._emit = emit or (lambda record: None)
        self._progress = progress
        self.report_interval_s = report_interval_s
        self.max_chunk = max_chunk
        self.splits = splits
        self._stop = threading.Event()
        self._stop_evaluate = True  # False once a stop asked to skip (or abandon) the evaluation
        self.evaluating = False  # True while an evaluation runs (read by tests and the window)
        self._running = threading.Event()
        self._running.set()
        self.prepared = False
        self.step = 0
        self.total_steps = 0

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

    # --- building ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Resolve the device, load the data, build and initialise the model, optimiser and probes."""
        if self.prepared:
            return
        cfg = self.config
        self.device = resolve_device(cfg.train.device)
        if cfg.train.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            # Deterministic mode also NaN-fills every new allocation (a debugging aid for reads of
            # uninitialised memory); it changes no result here and cost ~6% of a CPU step.
            torch.utils.deterministic.fill_uninitialized_memory = False
            torch.backends.cudnn.benchmark = False
        shape = (self.splits.input_shape, self.splits.num_classes) if self.splits is not None else (None, None)
        check_fits(cfg, self.device, input_shape=shape[0], classes=shape[1])  # ConfigError before allocating
        if self.splits is None:
            self.splits = load_dataset(cfg.data, progress=self._progress)
        splits = self.splits
        self.data = DeviceDataset(
            splits,
            self.device,
            cfg.train.batch_size,
            augment=cfg.data.augment,
            normalize=cfg.data.normalize,
            seed=cfg.train.seed,
            eval_train_samples=cfg.train.eval_train_samples,
        )
        if cfg.train.steps is not None:
            self.total_steps = cfg.train.steps
        elif cfg.train.epochs is not None:
            self.total_steps = max(1, math.ceil(cfg.train.epochs * self.data.steps_per_epoch))
        else:
            self.total_steps = DEFAULT_STEPS

        torch.manual_seed(cfg.train.seed)
        c, h, _w = splits.input_shape
        model = build_model(cfg.model, c, h, splits.num_classes)
        init_weights(model, cfg.init, cfg.model)
        self.layers = layer_table(model, splits.input_shape)
        self.theory = np.asarray(theory_act_std(model, cfg.model, cfg.init, splits.input_shape), dtype=np.float64)
        self.model = model.to(self.device)
        self.model.train()
        self.params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        self.optimizer = build_optimizer(self.model.parameters(), cfg.optim)
        self.scheduler = build_scheduler(self.optimizer, cfg.optim, self.total_steps)
        self.probes = (
            LayerProbes(self.model, [li.name for li in self.layers], [li.norm_name for li in self.layers], self.device)
            if cfg.train.probes
            else None
        )
        torch.manual_seed(cfg.train.seed + 1)  # stochastic layers (dropout, stochastic depth) from here on
        self.prepared = True

    def resolved_info(self) -> dict[str, Any]:
        """Derived values recorded in run.json next to the config."""
        cfg = self.config
        return {
            "label": cfg.label(),
            "total_steps": self.total_steps,
            "steps_per_epoch": self.data.steps_per_epoch,
            "epochs": self.total_steps / self.data.steps_per_epoch,
            "optimizer": {"class": type(self.optimizer).__name__, **resolved_hyperparameters(self.optimizer)},
            "schedule": {
                "name": cfg.optim.schedule,
                "warmup_steps": cfg.optim.warmup_steps,
                **(
                    {"milestone_steps": milestone_steps(cfg.optim, self.total_steps), "gamma": cfg.optim.gamma}
                    if cfg.optim.schedule == "step"
                    else {}
                ),
            },
            "dataset": self.splits.description,
            "n_train": self.data.n_train,
            "n_test": self.data.n_test,
            "input_shape": list(self.splits.input_shape),
            "num_classes": self.splits.num_classes,
            "data_on_device": bool(self.data.resident),
            "params": self.params,
            "weight_layers": len(self.layers),
        }

    # --- running -----------------------------------------------------------------------------
    def run(self) -> RunFinished:
        """Prepare if needed, train to the end (or stop/divergence/failure), emit every record."""
        t_start = time.perf_counter()
        self._rows: list[torch.Tensor] = []
        self._layer_rows: list[torch.Tensor] = []
        self._steps: list[int] = []
        self._layer_steps: list[int] = []
        self._lrs: list[float] = []
        self._times: list[float] = []
        self.train_time = 0.0
        self.last_eval: EvalRecord | None = None
        self.abandoned_eval_step: int | None = None
        status, message, extra = "finished", "", {}
        started = False
        try:
            self.prepare()
            x, y = self.data.next_batch()
            self._emit(self._started_record(x, y))
            started = True
            status, message = self._loop(x, y)
        except BaseException as exc:
            try:
                self._flush(evaluate=False)
            except BaseException:  # noqa: BLE001 - the device may be unusable now
                pass
            if isinstance(exc, KeyboardInterrupt):
                status, message = "stopped", "interrupted"
            elif _is_oom(exc):
                status = "out of memory"
                message = f"out of memory at step {self.step + 1}: {str(exc).splitlines()[0]}"
            elif not started and not self.prepared:
                raise  # ConfigError / DataError while building: the caller reports it
            else:
                status = "failed"
                message = f"{type(exc).__name__}: {exc}"
                extra["traceback"] = traceback.format_exc()
        finally:
            if self.prepared and self.probes is not None:
                self.probes.remove()
        ev = self.last_eval if status in ("finished", "stopped") else None
        finished = RunFinished(
            status=status,
            steps=self.step,
            final_train_error=ev.train_error if ev else None,
            final_test_error=ev.test_error if ev else None,
            final_train_loss=ev.train_loss if ev else None,
            final_test_loss=ev.test_loss if ev else None,
            steps_per_s=self.step / self.train_time if self.train_time > 0 else 0.0,
            elapsed_s=time.perf_counter() - t_start,
            params=getattr(self, "params", 0),
            device=device_label(self.device) if hasattr(self, "device") else self.config.train.device,
            message=message,
            extra={**extra, "final_eval_step": ev.step if ev else None},
        )
        self._emit(finished)
        return finished

    def _started_record(self, x: torch.Tensor, y: torch.Tensor) -> RunStarted:
        """Measure the step-0 statistics on the first batch (no update, BN statistics untouched)."""
        stats = np.full((len(LAYER_QUANTITIES), len(self.layers)), np.nan)
        if self.probes is not None:
            with frozen_batchnorm_statistics(self.model):
                self.probes.begin_step()
                loss = F.cross_entropy(self.model(x), y)
                self.probes.end_forward()
                loss.backward()
                stats = self.probes.collect(updated=False).double().cpu().numpy()
            self.model.zero_grad(set_to_none=True)
        q = {name: stats[i] for i, name in enumerate(LAYER_QUANTITIES)}
        li = self.layers
        return RunStarted(
            label=self.config.label(),
            config=self.config.to_dict(),
            resolved=self.resolved_info(),
            device=device_label(self.device),
            versions=package_versions(),
            layers=LayerInfoRecord(
                names=[l.name for l in li],
                kinds=[l.kind for l in li],
                roles=[l.role for l in li],
                stages=np.array([l.stage for l in li], dtype=np.int64),
                blocks=np.array([l.block for l in li], dtype=np.int64),
                fan_in=np.array([l.fan_in for l in li], dtype=np.int64),
                params=np.array([l.params for l in li], dtype=np.int64),
            ),
            params=self.params,
            total_steps=self.total_steps,
            act_mean_init=q["act_mean"],
            act_std_init=q["act_std"],
            out_grad_norm_init=q["out_grad_norm"],
            grad_norm_init=q["grad_norm"],
            theory_act_std_init=self.theory,
        )

    def _loop(self, x: torch.Tensor, y: torch.Tensor) -> tuple[str, str]:
        cfg = self.config.train
        model, optimizer, scheduler, probes = self.model, self.optimizer, self.scheduler, self.probes
        batch: tuple[torch.Tensor, torch.Tensor] | None = (x, y)
        last_report = time.perf_counter()
        while self.step < self.total_steps:
            if not self._running.is_set():
                self._flush(evaluate=False)
                while not self._running.wait(0.05):
                    pass
            if self._stop.is_set():
                break
            t0 = time.perf_counter()
            x, y = batch if batch is not None else self.data.next_batch()
            batch = None
            step = self.step + 1
            probe = probes is not None and (step - 1) % cfg.probe_every == 0
            hist = probe and cfg.histogram_every > 0 and step % cfg.histogram_every == 0
            lr = scheduler.get_last_lr()[0]
            if probe:
                probes.begin_step(histograms=hist, bins=cfg.histogram_bins)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            if probe:
                probes.end_forward()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if probe:
                probes.before_update()
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                self._rows.append(torch.stack((loss.detach(), (logits.argmax(1) != y).float().mean())))
            if probe:
                self._layer_rows.append(probes.collect())
                self._layer_steps.append(step)
                if hist:
                    for record in probes.histograms(step):
                        self._emit(record)
            self.step = step
            self._steps.append(step)
            self._lrs.append(lr)
            t1 = time.perf_counter()
            self._times.append(t1 - t0)
            self.train_time += t1 - t0
            evaluate = step % cfg.eval_every == 0 or step == self.total_steps
            if evaluate or t1 - last_report >= self.report_interval_s or len(self._rows) >= self.max_chunk:
                diverged_at = self._flush(evaluate=evaluate)
                last_report = time.perf_counter()
                if diverged_at is not None:
                    self.step = diverged_at  # steps after it were taken with non-finite weights: not recorded
                    return (
                        f"diverged at step {diverged_at}",
                        f"the training loss became non-finite (NaN or inf) at step {diverged_at}",
                    )
        if self._stop.is_set():
            self._flush(evaluate=False)
            if self._stop_evaluate and self.step > 0 and (self.last_eval is None or self.last_eval.step != self.step):
                self._evaluate(self.step)
            message = f"stopped by request at step {self.step} of {self.total_steps}"
            if self.abandoned_eval_step is not None:
                message += f" (its evaluation at step {self.abandoned_eval_step} was abandoned)"
            return "stopped", message
        return "finished", ""

    def _flush(self, evaluate: bool) -> int | None:
        """Copy pending steps to the host in one transfer and emit them (after an evaluation of the
        last step when ``evaluate``). Returns the step of a non-finite loss, if any (records are cut there).
        """
        if not self._rows:
            return None
        k = len(self._rows)
        parts = [torch.stack(self._rows).flatten()]
        if self._layer_rows:
            parts.append(torch.stack(self._layer_rows).flatten())
        host = torch.cat(parts).double().cpu().numpy()
        rows = host[: 2 * k].reshape(k, 2)
        steps = np.asarray(self._steps, dtype=np.int64)
        layer_steps = np.asarray(self._layer_steps, dtype=np.int64)
        layer_block = (
            host[2 * k :].reshape(len(self._layer_steps), len(LAYER_QUANTITIES), -1) if self._layer_rows else None
        )
        lrs = np.asarray(self._lrs, dtype=np.float64)
        times = np.asarray(self._times, dtype=np.float64)
        self._rows, self._layer_rows, self._steps, self._layer_steps, self._lrs, self._times = [], [], [], [], [], []

        diverged_at = None
        bad = np.flatnonzero(~np.isfinite(rows[:, 0]))
        if bad.size:
            cut = int(bad[0]) + 1
            diverged_at = int(steps[cut - 1])
            rows, steps, lrs, times = rows[:cut], steps[:cut], lrs[:cut], times[:cut]
            if layer_block is not None:
                keep = layer_steps <= diverged_at
                layer_block, layer_steps = layer_block[keep], layer_steps[keep]
        elif evaluate:
            self._evaluate(int(steps[-1]))

        layers = None
        if layer_block is not None and layer_block.shape[0]:
            f32 = layer_block.astype(np.float32)
            layers = LayerStats(**{name: f32[:, i, :] for i, name in enumerate(LAYER_QUANTITIES)})
        self._emit(
            TrainChunk(
                step=steps,
                loss=rows[:, 0],
                batch_error=rows[:, 1],
                lr=lrs,
                step_time_s=times,
                layers=layers,
                layer_step=layer_steps if layers is not None else None,
            )
        )
        return diverged_at

    def _evaluation_abandoned(self) -> bool:
        """Between evaluation batches: wait while paused; True when a stop asks to abandon it."""
        if not self._running.is_set():
            while not self._running.wait(0.05):
                pass
        return self._stop.is_set() and not self._stop_evaluate

    def _evaluate(self, step: int) -> EvalRecord | None:
        """Error and loss in eval mode on the fixed training sample and the test set; emits the record.

        Returns None (and emits nothing) when a stop request abandons it between two batches of
        ``EVAL_BATCH_SIZE`` images: a partial evaluation would be a different, smaller sample.
        """
        t0 = time.perf_counter()
        model = self.model
        model.eval()
        self.evaluating = True
        sums = []
        try:
            with torch.no_grad():
                for split in ("train_sample", "test"):
                    err = torch.zeros((), device=self.device, dtype=torch.float64)
                    loss = torch.zeros((), device=self.device, dtype=torch.float64)
                    n = 0
                    for x, y in self.data.eval_batches(split, EVAL_BATCH_SIZE):
                        if self._evaluation_abandoned():
                            self.abandoned_eval_step = step
                            return None
                        logits = model(x)
                        loss += F.cross_entropy(logits.float(), y, reduction="sum").double()
                        err += (logits.argmax(1) != y).sum().double()
                        n += y.shape[0]
                    sums.append(torch.stack((err / max(n, 1), loss / max(n, 1))))
        finally:
            self.evaluating = False
            model.train()
        (train_err, train_loss), (test_err, test_loss) = torch.stack(sums).cpu().tolist()
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
