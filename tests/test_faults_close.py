"""Stopping and closing at bad moments: stop and pause act within one evaluation batch, a stopped
run's data loading is abandoned, and the window closes and its process exits 0 in under 2 s while a
run evaluates (SIGTERM, which closes it like the close button and shares its handler with SIGINT; and
the close button with a worker that ignores the stop)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from resnet_viz.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from resnet_viz.data.splits import finish_splits
from resnet_viz.metrics.records import EvalRecord, RunFinished, TrainChunk
from resnet_viz.train.engine import EVAL_BATCH_SIZE, Engine

#: The window must be gone and its process ended this long after the close (issue 12).
CLOSE_LIMIT_S = 2.0


N_TRAIN, N_TEST = 1000, 2000


def _random_splits():
    """Random CIFAR-shaped images: what they show does not matter here, and generating the embedded
    set would cost seconds."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (N_TRAIN + N_TEST, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.arange(N_TRAIN + N_TEST) % 10
    return finish_splits(
        "random",
        x[:N_TRAIN],
        y[:N_TRAIN],
        x[N_TRAIN:],
        y[N_TRAIN:],
        [str(k) for k in range(10)],
        "random images ({sizes})",
        True,
        None,
    )


def _slow_eval_config() -> RunConfig:
    """Evaluation every 5 steps over all 1,000 training images and the 2,000 test images: 12 batches of
    ``EVAL_BATCH_SIZE``, each long enough (~0.1 s) to time."""
    return RunConfig(
        model=ModelConfig(arch="resnet", depth=14, width=16),
        optim=OptimConfig(name="sgd", lr=0.05, momentum=0.9),
        train=TrainConfig(
            batch_size=32, steps=1000, eval_every=5, eval_train_samples=N_TRAIN, probes=False, deterministic=False
        ),
    )


class _EvalWatch:
    """Runs an engine in a thread and times its evaluation batches (by wrapping ``eval_batches``)."""

    def __init__(self, cfg: RunConfig) -> None:
        self.records: list = []
        self.engine = Engine(cfg, self.records.append, splits=_random_splits())
        self.engine.prepare()
        self.batch_starts: list[float] = []
        self.batch_seen = threading.Condition()
        original = self.engine.data.eval_batches

        def timed(split, batch_size=1000):
            for batch in original(split, batch_size):
                with self.batch_seen:
                    self.batch_starts.append(time.perf_counter())
                    self.batch_seen.notify_all()
                yield batch

        self.engine.data.eval_batches = timed
        self.result: list[RunFinished] = []
        self.thread = threading.Thread(target=lambda: self.result.append(self.engine.run()), daemon=True)
        self.thread.start()

    def wait_batches(self, n: int, timeout_s: float = 120.0) -> None:
        with self.batch_seen:
            assert self.batch_seen.wait_for(lambda: len(self.batch_starts) >= n, timeout_s), "no evaluation"

    def batch_time_s(self) -> float:
        """The longest gap between two evaluation batches seen so far (one batch's forward pass)."""
        starts = self.batch_starts
        return max(b - a for a, b in zip(starts, starts[1:]))

    def finish(self, timeout_s: float = 60.0) -> RunFinished:
        self.thread.join(timeout_s)
        assert not self.thread.is_alive()
        return self.result[0]


def test_stop_abandons_a_running_evaluation_within_one_batch():
    watch = _EvalWatch(_slow_eval_config())
    watch.wait_batches(4)  # the evaluation at step 5 is under way, 8 of its 12 batches to go
    batch_s = watch.batch_time_s()
    seen = len(watch.batch_starts)
    t0 = time.perf_counter()
    watch.engine.stop(evaluate=False)
    result = watch.finish()
    elapsed = time.perf_counter() - t0
    # the batch in flight finishes, no further one starts; the whole evaluation would take 8 more
    assert elapsed < 2 * batch_s + 0.3, f"stop took {elapsed:.2f} s, one batch {batch_s:.2f} s"
    assert len(watch.batch_starts) <= seen + 1
    assert result.status == "stopped" and result.steps == 5
    assert "evaluation at step 5 was abandoned" in result.message
    assert not any(isinstance(r, EvalRecord) for r in watch.records), "a partial evaluation was recorded"
    steps = [s for r in watch.records if isinstance(r, TrainChunk) for s in r.step]
    assert steps == [1, 2, 3, 4, 5], "every step trained so far is kept"
    assert result.final_test_error is None and result.extra["final_eval_step"] is None


@pytest.mark.parametrize("second_stop", [False, True])
def test_stop_lets_the_evaluation_finish_and_a_second_stop_abandons_it(second_stop):
    watch = _EvalWatch(_slow_eval_config())
    watch.wait_batches(3)
    watch.engine.stop(evaluate=True)  # the evaluation under way is this run's final one
    if second_stop:
        watch.wait_batches(5)
        seen = len(watch.batch_starts)
        t0 = time.perf_counter()
        watch.engine.stop(evaluate=True)
        result = watch.finish()
        assert time.perf_counter() - t0 < 2 * watch.batch_time_s() + 0.3
        assert not any(isinstance(r, EvalRecord) for r in watch.records)
        assert len(watch.batch_starts) <= seen + 1
    else:
        result = watch.finish()
        evals = [r for r in watch.records if isinstance(r, EvalRecord)]
        assert [e.step for e in evals] == [5], "one evaluation: the one under way, not a second final one"
        assert len(watch.batch_starts) == -(-N_TRAIN // EVAL_BATCH_SIZE) - (-N_TEST // EVAL_BATCH_SIZE)
        assert result.final_test_error == evals[0].test_error
    assert result.status == "stopped" and result.steps == 5


def test_pause_during_an_evaluation_holds_within_one_batch():
    watch = _EvalWatch(_slow_eval_config())
    watch.wait_batches(3)
    seen = len(watch.batch_starts)
    watch.engine.pause()
    time.sleep(2 * watch.batch_time_s() + 0.3)
    held = len(watch.batch_starts)
    assert held <= seen + 1, "at most the batch in flight when paused"
    time.sleep(0.5)
    assert len(watch.batch_starts) == held, "a paused evaluation takes no batches"
    watch.engine.resume()
    watch.wait_batches(held + 2)  # the evaluation goes on where it was
    watch.engine.stop(evaluate=False)
    assert watch.finish().status == "stopped"


def test_stopping_a_run_abandons_its_data_loading(qtbot):
    """A run stopped while its dataset is generated ends within one chunk of 1,000 images."""
    from resnet_viz.gui.manager import RunManager

    manager = RunManager()
    seen: list[float] = []
    manager.data_progress.connect(lambda text, fraction: seen.append(fraction))
    # a seed no other test uses: the embedded set is generated (24,000 images, ~2 s), not cached
    cfg = RunConfig(
        model=ModelConfig(arch="mlp", depth=3, width=16),
        data=DataConfig(embedded_seed=9176),
        train=TrainConfig(batch_size=32, steps=10),
    )
    entry = manager.add(cfg)
    manager.start()
    qtbot.waitUntil(lambda: bool(seen), timeout=60_000)
    assert seen[0] < 0.5
    t0 = time.perf_counter()
    manager.stop(entry)
    ended = manager.shutdown(timeout_s=10.0)
    elapsed = time.perf_counter() - t0
    assert ended and elapsed < 1.5, f"loading went on for {elapsed:.2f} s after the stop"
    assert entry.status == "stopped" and entry.message == "stopped while its data was loading"
    assert entry.store.started is None


# --- the window's process: a real child ------------------------------------------------------------

#: The child opens the real window through ``cli.main(["gui"])`` (so the exit path is the one users
#: get), starts a ResNet-14 run whose evaluation takes several seconds, and prints ``EVAL <time>``
#: once that evaluation has begun. ``sigterm``: the test then sends SIGTERM (it closes the window like
#: the close button). ``stuck``: the child closes the window itself, and its engine ignores stop
#: requests during the evaluation, as a thread inside one long C++ op would; the window's close
#: then gives up on the thread after a second and the process must still exit 0. The embedded set
#: is replaced by random images (what they show does not matter here; generating them costs seconds).
CHILD = r"""
import os, sys, threading, time
import torch
from PySide6 import QtCore, QtWidgets
from resnet_viz import cli
from resnet_viz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from resnet_viz.data import embedded
from resnet_viz.data.device_loader import DeviceDataset
from resnet_viz.gui.qt_app import application
from resnet_viz.train.engine import Engine

mode = sys.argv[1]
g = torch.Generator().manual_seed(0)
images = lambda n: torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
embedded._cache[0] = (images(2000), torch.arange(2000) % 10, images(20000), torch.arange(20000) % 10)
began = threading.Event()
original = DeviceDataset.eval_batches
def eval_batches(self, split, *args, **kwargs):
    began.set()
    yield from original(self, split, *args, **kwargs)
DeviceDataset.eval_batches = eval_batches
if mode == "stuck":
    Engine._evaluation_abandoned = lambda self: False
cfg = RunConfig(model=ModelConfig(arch="resnet", depth=14, width=16),
                train=TrainConfig(batch_size=32, steps=1000, eval_every=2, eval_train_samples=2000,
                                  deterministic=False))
application()
def setup():
    window = next(w for w in QtWidgets.QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow")
    window.manager.add(cfg)
    window.manager.start()
    def poll():
        if began.is_set():
            timer.stop()
            print("EVAL", time.time(), flush=True)
            if mode == "stuck":
                window.close()
    timer = QtCore.QTimer(window)
    timer.timeout.connect(poll)
    timer.start(10)
QtCore.QTimer.singleShot(0, setup)
sys.exit(cli.main(["gui"]))
"""


@pytest.mark.parametrize("how", ["SIGTERM", "stuck"])
def test_window_closes_during_an_evaluation_and_the_process_exits_0(tmp_path, how):
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, how.lower()], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        line = child.stdout.readline()
        assert line.startswith("EVAL"), child.communicate(timeout=60)[1][-2000:]
        if how.startswith("SIG"):
            child.send_signal(getattr(signal, how))
        out, err = child.communicate(timeout=30)
        ended = time.time()
    finally:
        if child.poll() is None:
            child.kill()
    closed_at = float(line.split()[1])  # the child's clock: the close (or the signal) follows at once
    assert child.returncode == 0, err[-2000:]
    assert "terminate called" not in err and "Traceback" not in err, err[-2000:]
    assert ended - closed_at < CLOSE_LIMIT_S, f"the process ended {ended - closed_at:.2f} s after the close"
    saved = tmp_path / "config" / "resnet-viz" / "resnet-viz.conf"
    assert "window" in saved.read_text(), "the window's settings were saved"
