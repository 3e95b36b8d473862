"""Progress on stderr: of training (a tqdm bar on a terminal, a line per evaluation otherwise) and of the frames
of an animation."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from resnet_viz.metrics.records import EvalRecord, RunFinished, RunStarted, TrainChunk


def pct(value: float | None) -> str:
    """A fraction as a percentage with two decimals ("n/a" for ``None``)."""
    return "n/a" if value is None else f"{100 * value:.2f}%"


class ConsoleProgress:
    """Shows training progress on stderr (a tqdm bar on a terminal, a line per evaluation otherwise)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.total = 0

    def __call__(self, record: Any) -> None:
        if self.quiet:
            return
        if isinstance(record, RunStarted):
            self._start(record)
        elif isinstance(record, TrainChunk) and self.bar is not None:
            self.bar.update(len(record))
            self.bar.set_postfix(
                loss=f"{record.loss[-1]:.3f}", err=f"{100 * record.batch_error[-1]:.1f}%", refresh=False
            )
        elif isinstance(record, EvalRecord):
            self._evaluated(record)
        elif isinstance(record, RunFinished) and self.bar is not None:
            self.bar.close()

    def _start(self, record: RunStarted) -> None:
        from tqdm import tqdm

        self.total = record.total_steps
        print(
            f"{record.label}: {record.params / 1e6:.3g}M parameters, {len(record.layers.names)} weight layers, "
            f"{record.total_steps} steps on {record.device}; data: {record.resolved['dataset']}",
            file=sys.stderr,
        )
        self.bar = tqdm(total=record.total_steps, unit="step", dynamic_ncols=True, disable=None, file=sys.stderr)

    def _evaluated(self, record: EvalRecord) -> None:
        line = (
            f"step {record.step}/{self.total}: train error {pct(record.train_error)}, "
            f"test error {pct(record.test_error)}, train loss {record.train_loss:.4f}, "
            f"test loss {record.test_loss:.4f}"
        )
        if self.bar is not None and not self.bar.disable:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)


class FrameProgress:
    """Frames of an animation file on stderr: a tqdm bar on a terminal, else a line at every quarter (nothing
    when ``quiet``). ``progress(done, total)`` returns False (cancel) once ``stopped()`` says so (Ctrl-C);
    :meth:`close` ends the bar."""

    def __init__(self, name: str, quiet: bool, stopped: Callable[[], bool] | None = None) -> None:
        self.name, self.quiet, self.said, self.stopped = name, quiet, 0, stopped
        self.bar: Any = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(desc=name, unit="frame", dynamic_ncols=True, file=sys.stderr)

    def __call__(self, done: int, total: int) -> bool:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)
        elif not self.quiet and total > 0 and done * 4 >= (self.said + 1) * total:
            self.said = done * 4 // total
            print(f"{self.name}: frame {done}/{total}", file=sys.stderr)
        return self.stopped is None or not self.stopped()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
