"""The Ray backend: runs in Ray actors on a local Ray of 2 CPUs, their records streamed into a scheduler.

One local Ray serves the whole module (it takes seconds to start, and each actor a few more: its worker
imports torch); runs of a test train at once where they can. Ray is an optional extra: without it the
module is skipped.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason='Ray is an optional extra: pip install "resnet-viz[ray]"')

from resnet_viz.config import ConfigError, DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig  # noqa: E402
from resnet_viz.metrics.records import EvalRecord, RunFinished  # noqa: E402
from resnet_viz.runs.backend import RecordStream  # noqa: E402
from resnet_viz.runs.items import Exited, Failed, StreamItem  # noqa: E402
from resnet_viz.runs.process_backend import ProcessBackend  # noqa: E402
from resnet_viz.runs.ray_backend import (  # noqa: E402
    RAY_EXTRA_MESSAGE,
    RayBackend,
    RayResources,
    RayUnavailable,
    ray_available,
)
from resnet_viz.runs.ray_connect import AUTH_LOGGER, SharedRay, probe_address  # noqa: E402
from resnet_viz.runs.ray_trial import TrialActor  # noqa: E402
from resnet_viz.runs.run import Run  # noqa: E402
from resnet_viz.runs.scheduler import Scheduler  # noqa: E402
from resnet_viz.runs.status import RunStatus  # noqa: E402

RESOURCES = RayResources(cpus_per_trial=1, local_cpus=2)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray with 2 CPUs for the module (the backends of the tests reuse it; none shuts it down)."""
    logging.getLogger(AUTH_LOGGER).setLevel(logging.ERROR)  # "token authentication is enabled" at every start
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture
def backend(local_ray) -> Iterator[RayBackend]:
    b = RayBackend(RESOURCES)
    yield b
    b.close()


def mlp_config(steps: int = 40, seed: int = 0) -> RunConfig:
    """A tiny MLP (depth 3, width 16) on 500 embedded images: about a second of training on one thread."""
    return RunConfig(
        model=ModelConfig(arch="mlp", depth=3, width=16),
        optim=OptimConfig(name="sgd", lr=0.05, momentum=0.9),
        data=DataConfig(subset=500),
        train=TrainConfig(
            batch_size=32, steps=steps, eval_every=20, eval_train_samples=200, snapshots=2, seed=seed, device="cpu"
        ),
    )


def quick(config: RunConfig) -> RunConfig:
    """``config`` without torch's deterministic switch (it imports torch._inductor: seconds in each worker;
    the tests that use this check the backend, not the kernels)."""
    return replace(config, train=replace(config.train, deterministic=False))


def endless(config: RunConfig) -> RunConfig:
    """``config`` training (almost) forever, without periodic evaluations or snapshots."""
    return quick(replace(config, train=replace(config.train, steps=1_000_000, eval_every=1_000_000, snapshots=0)))


def poll_until(scheduler: Scheduler, done: Callable[[], bool], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            states = [(r.name, r.status, r.store.steps_done, r.message) for r in scheduler.runs]
            pytest.fail(f"timed out after {timeout_s} s: {states}")
        scheduler.poll(block_s=0.05)


def add(scheduler: Scheduler, config: RunConfig, name: str) -> Run:
    return scheduler.add(Run(0, config, name))


def drain_until_exited(out: RecordStream, timeout_s: float = 90.0) -> list[StreamItem]:
    items: list[StreamItem] = []
    deadline = time.monotonic() + timeout_s
    while not (items and isinstance(items[-1], Exited)):
        _, item = out.get(timeout=max(0.1, deadline - time.monotonic()))
        items.append(item)
    return items


def test_a_ray_run_streams_into_the_scheduler_and_gives_the_process_backends_numbers(backend):
    config = mlp_config()
    scheduler = Scheduler(backend, mode="parallel", parallel=1, cores=1)  # one torch thread
    run = add(scheduler, config, "mlp on ray")
    seen_steps: list[int] = []
    scheduler.listeners.append(lambda _run, _record: seen_steps.append(run.store.steps_done))
    scheduler.start()
    process, out = ProcessBackend(), queue.SimpleQueue()
    try:
        twin = process.launch(1, config, out, threads=1)  # the same run in a child process, meanwhile
        twin.start()
        poll_until(scheduler, lambda: not scheduler.busy)
        items = drain_until_exited(out)
    finally:
        process.close()
    assert run.status == RunStatus.FINISHED, run.message
    store = run.store
    assert store.steps_done == 40 and store.finished is not None
    assert len(set(seen_steps)) > 2  # records arrived while it trained, not all at the end
    assert [s.step for s in store.snapshots] == [0, 40]  # parameter snapshots pickle through Ray
    assert store.weights is not None and store.started is not None
    finished = next(i for i in items if isinstance(i, RunFinished))
    ours = store.finished
    # the same config, seed and thread count: exactly the process backend's numbers
    assert (ours.final_train_error, ours.final_test_error, ours.final_train_loss, ours.final_test_loss) == (
        finished.final_train_error,
        finished.final_test_error,
        finished.final_train_loss,
        finished.final_test_loss,
    )
    assert ours.final_test_error is not None and 0 < ours.final_test_error < 1
    evals = [(e.step, e.train_error, e.test_error, e.train_loss, e.test_loss) for e in store.evals]
    assert evals == [
        (e.step, e.train_error, e.test_error, e.train_loss, e.test_loss) for e in items if isinstance(e, EvalRecord)
    ]
    assert [e[0] for e in evals] == [20, 40]
    losses = np.array([loss for i in items if type(i).__name__ == "TrainChunk" for loss in i.loss])
    assert np.array_equal(store.scalar("loss"), losses)


def test_a_killed_worker_fails_its_run_and_a_stopped_run_evaluates(backend):
    """Two runs at once: one's worker is SIGKILLed (failed, records kept), the other is paused, then stopped."""
    scheduler = Scheduler(backend, mode="parallel", parallel=2, cores=2)
    doomed = add(scheduler, endless(mlp_config()), "killed")
    stopped = add(scheduler, endless(mlp_config(seed=1)), "stopped")
    scheduler.start()
    poll_until(scheduler, lambda: doomed.store.steps_done >= 5 and stopped.store.steps_done >= 5)
    scheduler.pause(stopped)
    paused_at, deadline = -1, time.monotonic() + 20
    while stopped.store.steps_done != paused_at:  # the pause acts within a step; records on their way arrive
        assert time.monotonic() < deadline, "the run did not pause"
        paused_at, doomed_at = stopped.store.steps_done, doomed.store.steps_done
        time.sleep(0.5)
        scheduler.poll()
    assert doomed.store.steps_done > doomed_at  # no step of the paused run in 0.5 s while the other trains on
    handle = scheduler.handle(doomed)
    assert handle is not None and handle.pid is not None and handle.pid != os.getpid()
    os.kill(handle.pid, signal.SIGKILL)
    scheduler.stop(stopped)
    poll_until(scheduler, lambda: not scheduler.busy)

    assert doomed.state is RunStatus.FAILED
    assert doomed.message.startswith("the Ray worker died at step "), doomed.message
    reached = int(doomed.message.removeprefix("the Ray worker died at step ").split()[0])
    assert 5 <= reached == doomed.store.steps_done  # every record it sent before its death is kept
    assert doomed.store.finished is not None and doomed.store.finished.status == RunStatus.FAILED

    assert stopped.state is RunStatus.STOPPED, stopped.message
    last = stopped.store.steps_done
    assert last == paused_at and [e.step for e in stopped.store.evals] == [last]  # the final evaluation
    assert stopped.store.finished is not None and stopped.store.finished.extra["final_eval_step"] == last


def test_through_ray_client_the_records_are_polled(backend):
    """Ray Client cannot stream an actor's generator: the driver polls the trial for its batches instead."""
    backend.streaming = False  # as after connecting to a "ray://" address
    scheduler = Scheduler(backend, mode="parallel", parallel=1, cores=1)
    run = add(scheduler, quick(mlp_config(steps=20)), "polled")
    scheduler.start()
    poll_until(scheduler, lambda: not scheduler.busy)
    assert run.status == RunStatus.FINISHED, run.message
    assert run.store.steps_done == 20 and [e.step for e in run.store.evals] == [20]
    assert RayBackend(RayResources(address="ray://head:10001")).streaming is False


def test_a_stop_before_the_actor_started_cancels_the_run(backend):
    out: RecordStream = queue.SimpleQueue()
    handle = backend.launch(1, mlp_config(), out)
    handle.stop()
    handle.start()
    items = drain_until_exited(out)
    assert [type(i).__name__ for i in items if type(i).__name__ != "Progress"] == ["Cancelled", "Exited"]
    assert handle.join(5.0)


def test_a_trial_that_cannot_be_created_on_its_node_says_why():
    class ActorDiedError(Exception):  # Ray's, as raised when a node lacks resnet_viz (text as Ray 2.60 words it)
        pass

    handle = RayBackend(RESOURCES).launch(1, mlp_config(), queue.SimpleQueue())
    error = ActorDiedError(
        "The actor died because of an error raised in its creation task, \x1b[36mray::TrialActor.__init__()"
        "\x1b[39m (pid=1, ip=10.0.0.2)\n  File ...\nModuleNotFoundError: No module named 'resnet_viz'"
    )
    failed = handle._end_item(error)
    assert isinstance(failed, Failed)
    assert failed.message == (
        "the Ray worker could not create the trial: ModuleNotFoundError: No module named 'resnet_viz'"
        " (install resnet-viz on every node of the cluster)"
    )
    assert "\x1b" not in failed.detail and failed.detail.startswith("ActorDiedError: The actor died")


def test_the_trial_cancels_a_stop_before_its_data_and_drops_stale_controls():
    """The actor's class without Ray (gpus=1: it leaves this process's CUDA devices visible)."""
    trial = TrialActor(mlp_config(), threads=1, gpus=1, splits=None)
    assert trial.engine is not None
    trial.control(2, "resume")
    trial.control(1, "pause")  # older than the resume already applied: a threaded actor's reordering
    assert not trial.engine.paused
    trial.control(3, "pause")
    assert trial.engine.paused
    trial.control(0, "stop")  # a stop is never stale
    assert trial.engine.stop_requested and not trial.engine.paused
    trial.control(4, "pause")  # nothing pauses a stopped run
    assert not trial.engine.paused
    batches = list(trial.records())
    assert [[type(i).__name__ for i in batch] for batch in batches] == [["Cancelled"]]


def test_connect_reuses_the_running_ray_and_describes_it(backend):
    assert backend.connect() == "local Ray, 2 CPUs, 0 GPUs"
    assert backend.capacity() == 2  # trials of 1 CPU
    for cpus, fits in ((0.5, 4), (1.5, 1)):
        other = RayBackend(RayResources(cpus_per_trial=cpus))
        assert other.capacity() == fits
        other.close()
    backend.close()
    assert ray.is_initialized()  # this backend did not start it: it leaves it running


def test_a_trial_larger_than_the_local_ray_fails_at_once(local_ray):
    backend = RayBackend(RayResources(gpus_per_trial=1))
    with pytest.raises(RayUnavailable, match=r"^--gpus-per-trial 1 is more than the local Ray has: 0 GPUs$"):
        backend.connect()
    out: RecordStream = queue.SimpleQueue()
    backend.launch(1, mlp_config(), out).start()
    items = drain_until_exited(out, timeout_s=10)
    assert [type(i).__name__ for i in items] == ["Failed", "Exited"]
    assert items[0].message.startswith("--gpus-per-trial 1 is more")
    backend.close()


def test_ray_started_by_a_backend_is_shut_down_when_the_last_backend_using_it_closes(local_ray, monkeypatch):
    """Ray is one per process: two sweeps' backends share it; the first to close must not end the other's."""
    module = sys.modules[RayBackend.__module__]
    monkeypatch.setattr(module, "SHARED_RAY", SharedRay())  # whatever other tests left open
    state = {"initialised": False, "shutdowns": 0}
    monkeypatch.setattr(ray, "is_initialized", lambda: state["initialised"])
    monkeypatch.setattr(ray, "init", lambda **_kwargs: state.update(initialised=True))
    monkeypatch.setattr(ray, "shutdown", lambda: state.update(shutdowns=state["shutdowns"] + 1))
    first, second = RayBackend(RESOURCES), RayBackend(RESOURCES)
    first.ray()  # starts "Ray"
    second.ray()  # reuses it
    first.close()
    assert state["shutdowns"] == 0
    second.close()
    assert state["shutdowns"] == 1
    second.close()  # a second close does nothing
    assert state["shutdowns"] == 1


def test_another_process_connects_to_the_running_ray_by_its_address(local_ray):
    address = ray.get_runtime_context().gcs_address
    code = (
        "from resnet_viz.runs.ray_backend import RayBackend, RayResources\n"
        f"backend = RayBackend(RayResources(address={address!r}))\n"
        "print(backend.connect())\n"
        "backend.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == f"Ray at {address}: 2 CPUs, 0 GPUs\n"
    assert done.stderr == ""  # no banner, no warning


def test_without_ray_the_backend_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert not ray_available()
    importlib.reload(importlib.import_module("resnet_viz.runs.ray_backend"))  # no ray import at module level
    with pytest.raises(RayUnavailable) as raised:
        RayBackend().connect()
    assert str(raised.value) == RAY_EXTRA_MESSAGE == 'Ray is not installed: pip install "resnet-viz[ray]"'


def test_an_unreachable_address_is_one_line_within_seconds(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    t0 = time.monotonic()
    with pytest.raises(RayUnavailable, match=rf"^cannot reach Ray at 127\.0\.0\.1:{port}: "):
        RayBackend(RayResources(address=f"127.0.0.1:{port}")).connect()
    assert time.monotonic() - t0 < 6.0
    with pytest.raises(RayUnavailable, match="not"):
        probe_address("no-port-here")

    def nothing_running(_address):
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray._private.services, "canonicalize_bootstrap_address", nothing_running)
    with pytest.raises(RayUnavailable, match=r'^no running Ray found for the address "auto": start one with'):
        RayBackend(RayResources(address="auto")).connect()


@pytest.mark.parametrize(
    ("resources", "field"),
    [
        (RayResources(cpus_per_trial=0), "--cpus-per-trial"),
        (RayResources(gpus_per_trial=-1), "--gpus-per-trial"),
        (RayResources(local_cpus=0), "--local-cpus"),
        (RayResources(address=" "), "--ray-address"),
    ],
)
def test_resources_are_checked(resources, field):
    with pytest.raises(ConfigError) as raised:
        RayBackend(resources)
    assert raised.value.field == field
    RayResources(cpus_per_trial=0.5, gpus_per_trial=0.25, local_cpus=2).validate()


def test_the_driver_loads_each_data_config_once_and_puts_it_in_the_object_store_once():
    from resnet_viz.runs.ray_data import SharedSplits

    class FakeRay:
        def __init__(self) -> None:
            self.puts: list[object] = []

        def put(self, value: object) -> str:
            self.puts.append(value)
            return f"ref{len(self.puts)}"

    fake, shared, progress = FakeRay(), SharedSplits(), []
    data = mlp_config().data
    first = shared.ref(fake, data, lambda text, fraction: progress.append(fraction))
    assert shared.ref(fake, data, lambda *_: None) == first == "ref1" and len(fake.puts) == 1
    assert fake.puts[0].train_x.shape[0] == data.subset and progress[-1] == 1.0
    assert shared.ref(fake, replace(data, subset=data.subset // 2), lambda *_: None) == "ref2"
    shared.clear()
    assert shared.ref(fake, data, lambda *_: None) == "ref3"  # cleared: put again (the load itself is cached by data)


def test_a_ray_client_timeout_names_the_token_authentication_of_ray_clusters():
    from resnet_viz.runs.ray_connect import connect_hint

    assert "RAY_AUTH_MODE=token" in connect_hint("ray://head:10001", "ray client connection timeout")
    assert connect_hint("head:6379", "ray client connection timeout") == ""
    assert connect_hint("ray://head:10001", "Connection refused") == ""
