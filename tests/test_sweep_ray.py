"""A sweep on a local Ray (2 CPUs): four trials of a tiny MLP stream back and write their run folders;
the same spec on local processes gives the same numbers; a killed trial worker fails that trial only,
and a resume trains just it. Ray is an optional extra: without it the module is skipped."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import pytest
from conftest import tiny_run_config

ray = pytest.importorskip("ray", reason='Ray is an optional extra: pip install "resnet-viz[ray]"')

from resnet_viz.cli import main  # noqa: E402
from resnet_viz.runs.backend import Backend  # noqa: E402
from resnet_viz.runs.process_backend import ProcessBackend  # noqa: E402
from resnet_viz.runs.ray_backend import RayBackend, RayResources  # noqa: E402
from resnet_viz.runs.scheduler import Scheduler  # noqa: E402
from resnet_viz.sweeps.folder import read_state  # noqa: E402
from resnet_viz.sweeps.runner import SweepRunner  # noqa: E402
from resnet_viz.sweeps.spec import SweepSpec, parse_seeds, parse_vary  # noqa: E402


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def spec() -> SweepSpec:
    base = tiny_run_config("mlp", 2, steps=40)
    return SweepSpec(base, (parse_vary("model.depth=2,3"),), parse_seeds("0-1"), "ray").validate()


def train(path, backend: Backend, on_poll=None) -> SweepRunner:
    runner = SweepRunner.open(path, spec(), backend, parallel=2, threads=1)
    scheduler = Scheduler(backend, mode="parallel", parallel=2)
    runner.attach(scheduler)
    deadline = time.monotonic() + 240
    while runner.active and time.monotonic() < deadline:
        scheduler.poll(0.05)
        runner.update()
        if on_poll is not None:
            on_poll(runner, scheduler)
    runner.update()
    runner.save()
    assert not runner.active
    return runner


def test_a_two_by_two_sweep_on_ray_equals_the_same_sweep_on_local_processes(tmp_path, local_ray):
    backend = RayBackend(RayResources(cpus_per_trial=1))
    try:
        train(tmp_path / "ray", backend)
    finally:
        backend.close()
    on_ray = read_state(tmp_path / "ray")
    assert [t.status for t in on_ray.trials] == ["finished"] * 4
    assert len(list((tmp_path / "ray" / "trials").iterdir())) == 4
    assert "depth 2" in (tmp_path / "ray" / "summary.md").read_text()
    backend = ProcessBackend()
    try:
        train(tmp_path / "local", backend)
    finally:
        backend.close()
    local = read_state(tmp_path / "local")
    for a, b in zip(on_ray.trials, local.trials):  # same seeds, CPU, one thread each, deterministic
        assert (a.final_train_error, a.final_test_error, a.final_train_loss, a.final_test_loss) == (
            b.final_train_error, b.final_test_error, b.final_train_loss, b.final_test_loss,
        )  # fmt: skip
        assert a.steps == b.steps == 40


def test_a_killed_ray_worker_fails_its_trial_and_a_resume_trains_only_it(tmp_path, local_ray):
    victim_id = spec().trials()[2].trial_id
    killed: list[int] = []

    def kill_victim(runner: SweepRunner, scheduler: Scheduler) -> None:
        run = runner.runs[victim_id]
        handle = scheduler.handle(run)
        if killed or handle is None:
            return
        scheduler.pause(run)  # at once: it waits at its first step, so the kill lands mid-run, never after its end
        if run.store.started is not None and handle.pid:
            os.kill(handle.pid, signal.SIGKILL)
            killed.append(handle.pid)

    backend = RayBackend(RayResources(cpus_per_trial=1))
    try:
        train(tmp_path / "sw", backend, kill_victim)
    finally:
        backend.close()
    state = read_state(tmp_path / "sw")
    assert killed and [t.status for t in state.trials].count("finished") == 3
    victim = state.entry(victim_id)
    assert victim.status == "failed" and "died" in victim.message
    assert json.loads((tmp_path / "sw" / victim.folder / "summary.json").read_text())["status"] == "failed"
    backend = RayBackend(RayResources(cpus_per_trial=1))
    try:
        again = train(tmp_path / "sw", backend)
        assert list(again.runs) == [victim_id]
    finally:
        backend.close()
    assert [t.status for t in read_state(tmp_path / "sw").trials] == ["finished"] * 4


def test_the_cli_trains_on_ray_with_the_flag(tmp_path, local_ray, capsys):
    argv = ["sweep", "--arch", "mlp", "--width", "8", "--subset", "400", "--steps", "20", "--eval-every", "20",
            "--seeds", "0-1", "--ray", "--out", str(tmp_path / "sw")]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "1 config × 2 seeds = 2 trials" in err and "Ray" in err
    assert [t.status for t in read_state(tmp_path / "sw").trials] == ["finished", "finished"]
    assert read_state(tmp_path / "sw").backend["name"] == "ray"
