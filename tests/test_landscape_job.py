"""LandscapeJob: the landscape in a child process; progress and the result arrive, errors are one line,
a cancel leaves no process behind."""

import os
import time

import pytest
import torch

from resnet_viz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from resnet_viz.landscape import LandscapeSpec
from resnet_viz.landscape.job import LandscapeJob
from resnet_viz.models import build_model
from resnet_viz.models.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint file of a tiny untrained resnet-8 on 500 embedded images."""
    config = RunConfig(
        model=ModelConfig(arch="resnet", depth=8, width=4), data=DataConfig(subset=500), train=TrainConfig(steps=1)
    )
    torch.manual_seed(0)
    model = build_model(config.model, 3, 32, 10)
    path = tmp_path_factory.mktemp("job") / "tiny.pt"
    save_checkpoint(path, config.to_dict(), 0, model.state_dict())
    return path


def _wait(job, until, timeout=60.0):
    events, t0 = [], time.monotonic()
    while time.monotonic() - t0 < timeout:
        events += job.poll()
        if until(events):
            return events
        time.sleep(0.02)
    raise AssertionError(f"no such event within {timeout} s: {events[-3:]}")


def _gone(pid, timeout=5.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def test_progress_and_the_result_arrive(checkpoint):
    job = LandscapeJob(str(checkpoint), LandscapeSpec(grid=3, samples=16))
    job.start()
    assert job.running and job.pid is not None
    events = _wait(job, lambda ev: any(e[0] in ("done", "error") for e in ev))
    kinds = [e[0] for e in events]
    assert kinds[-1] == "done", events[-1]
    progress = [e[1:] for e in events if e[0] == "progress"]
    assert progress[0] == (0, 9) and progress[-1] == (9, 9) and len(progress) == 10
    result = events[-1][1]
    assert result.loss.shape == (3, 3) and result.samples_used == 16
    assert not job.running and job.poll() == [] and _gone(job.pid)


def test_an_error_is_one_line(checkpoint, tmp_path):
    job = LandscapeJob(str(checkpoint), LandscapeSpec(directions="pca", grid=3, samples=8))
    missing = LandscapeJob(str(tmp_path / "none"), LandscapeSpec(grid=3))
    job.start()
    missing.start()
    events = _wait(job, lambda ev: any(e[0] in ("done", "error") for e in ev))
    assert events[-1][0] == "error" and "needs the run's parameter snapshots" in events[-1][1]
    assert "\n" not in events[-1][1] and not job.running
    events = _wait(missing, lambda ev: any(e[0] == "error" for e in ev))
    assert "no such run folder or checkpoint file" in events[-1][1]


def test_cancel_leaves_no_process_behind(checkpoint):
    job = LandscapeJob(str(checkpoint), LandscapeSpec(grid=101, samples=500))
    job.start()
    _wait(job, lambda ev: any(e[0] == "progress" and e[1] > 0 for e in ev))  # computing now
    pid = job.pid
    t0 = time.monotonic()
    job.cancel()
    assert time.monotonic() - t0 < 0.5  # never waits for the child
    assert not job.running and job.poll() == []
    assert _gone(pid), f"process {pid} still there"
