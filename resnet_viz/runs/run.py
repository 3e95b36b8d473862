"""Run: one training run as a scheduler knows it: its config, status and store of records."""

from __future__ import annotations

from dataclasses import dataclass, field

from resnet_viz.config import DEFAULT_STEPS, RunConfig
from resnet_viz.metrics.records import RunFinished
from resnet_viz.metrics.store import RunStore
from resnet_viz.runs.status import RunStatus


@dataclass(eq=False)
class Run:
    """A run. ``status`` is the text a user reads: a :class:`RunStatus` value, or the engine's end
    status when it says more (``"diverged at step 12"``); ``state`` is that text as the enum.
    ``version`` grows whenever records were added or the status changed (consumers redraw on change).
    """

    run_id: int
    config: RunConfig
    name: str
    store: RunStore = field(default_factory=RunStore)
    status: str = RunStatus.QUEUED
    version: int = 0
    message: str = ""  # detail for stopped, failed or diverged runs
    input_error: bool = False  # it failed on the user's input (config, data), not by a crash
    pool: str = ""  # the scheduler pool it trains in ("": the default pool, which follows the mode)

    @property
    def state(self) -> RunStatus:
        return RunStatus.of(self.status)

    @property
    def active(self) -> bool:
        """Preparing, running or paused."""
        return self.state.active

    @property
    def diverged(self) -> bool:
        return self.state is RunStatus.DIVERGED

    def set_status(self, status: str, message: str | None = None) -> None:
        """Change the status (and message, when given) and bump ``version``."""
        self.status = status
        if message is not None:
            self.message = message
        self.version += 1

    @property
    def planned_steps(self) -> int:
        """Steps the run takes: recorded once it started, else as far as the config alone tells
        (a run given in epochs needs the dataset size: estimated from ``subset`` or 50,000 images)."""
        if self.store.started is not None:
            return self.store.started.total_steps
        t = self.config.train
        if t.steps is not None:
            return t.steps
        if t.epochs is not None:
            n = self.config.data.subset or 50_000
            return max(1, round(t.epochs * n / t.batch_size))
        return DEFAULT_STEPS

    @property
    def steps_left(self) -> int:
        return max(0, self.planned_steps - self.store.steps_done)


def failed_record(run: Run, message: str) -> RunFinished:
    """The final record of a started run whose backend ended without one (a killed process)."""
    started, store = run.store.started, run.store
    assert started is not None
    train_s = float(store.scalar("step_time_s").sum())
    return RunFinished(
        status=RunStatus.FAILED.value,
        steps=store.steps_done,
        final_train_error=None,
        final_test_error=None,
        final_train_loss=None,
        final_test_loss=None,
        steps_per_s=store.steps_done / train_s if train_s > 0 else 0.0,
        elapsed_s=train_s,
        params=started.params,
        device=started.device,
        message=message,
        extra={"final_eval_step": None, "made_by": "scheduler: the backend ended without a final record"},
    )
