"""The Qt-free scheduler: modes, time slices on an injected clock, failures, shutdown; a fake backend
stands in for threads and processes (the real backends are tested in test_runs_process.py and below)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_run_config

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.metrics.records import EvalRecord, RunFinished, TrainChunk
from resnet_viz.runs.backend import RecordStream
from resnet_viz.runs.items import Exited, Failed, Progress
from resnet_viz.runs.run import Run
from resnet_viz.runs.scheduler import Scheduler
from resnet_viz.runs.status import RunStatus
from resnet_viz.runs.thread_backend import ThreadBackend


class FakeHandle:
    killable = True

    def __init__(self, run_id: int, threads: int | None) -> None:
        self.run_id, self.threads = run_id, threads
        self.calls: list[str] = []
        self.stop_requested = False
        self.ends = True  # join() ends it
        self.is_alive = True

    def start(self) -> None:
        self.calls.append("start")

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")

    def stop(self, evaluate: bool = True) -> None:
        self.calls.append(f"stop(evaluate={evaluate})")
        self.stop_requested = True

    def alive(self) -> bool:
        return self.is_alive

    def join(self, timeout_s: float) -> bool:
        if self.ends:
            self.is_alive = False
        return not self.is_alive

    def kill(self) -> None:
        self.calls.append("kill")
        self.is_alive = False


class FakeBackend:
    name = "fake"

    def __init__(self) -> None:
        self.handles: dict[int, FakeHandle] = {}

    def launch(self, run_id: int, config: RunConfig, out: RecordStream, threads: int | None = None) -> FakeHandle:
        self.handles[run_id] = FakeHandle(run_id, threads)
        return self.handles[run_id]

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def chunk(first: int, n: int) -> TrainChunk:
    steps = np.arange(first, first + n, dtype=np.int64)
    ones = np.ones(n)
    return TrainChunk(step=steps, loss=ones, batch_error=ones * 0.5, lr=ones * 0.1, step_time_s=ones * 0.01)


def finished(status: str = "finished", steps: int = 10, message: str = "") -> RunFinished:
    return RunFinished(status, steps, 0.1, 0.2, 0.3, 0.4, 50.0, 1.0, 100, "cpu", message)


def make(mode: str = "sequential", n: int = 3, **kw) -> tuple[Scheduler, FakeBackend, list[Run], Clock]:
    backend, clock = FakeBackend(), Clock()
    sched = Scheduler(backend, mode=mode, clock=clock, **kw)
    runs = [sched.add(Run(0, RunConfig(), f"run{i}")) for i in range(n)]
    return sched, backend, runs, clock


def end(sched: Scheduler, run: Run, status: str = "finished") -> None:
    sched.stream.put((run.run_id, finished(status)))
    sched.stream.put((run.run_id, Exited()))


def test_runs_get_fresh_ids_and_start_queued():
    sched, backend, runs, _ = make()
    assert [r.run_id for r in runs] == [1, 2, 3]
    assert all(r.state is RunStatus.QUEUED for r in runs)
    assert not backend.handles  # nothing starts before start()


def test_sequential_trains_one_at_a_time_in_list_order():
    sched, backend, runs, _ = make("sequential")
    sched.start()
    assert list(backend.handles) == [1] and runs[0].state is RunStatus.PREPARING
    assert backend.handles[1].calls[0] == "start"
    end(sched, runs[0])
    sched.poll()
    assert runs[0].status == "finished" and list(backend.handles) == [1, 2]
    end(sched, runs[1], "diverged at step 7")
    changes = sched.poll()
    assert runs[1].state is RunStatus.DIVERGED and runs[1].status == "diverged at step 7"
    assert changes.messages == ["run1: diverged at step 7"]
    assert list(backend.handles) == [1, 2, 3]
    end(sched, runs[2])
    sched.poll()
    assert not sched.busy and not sched.queued


def test_parallel_runs_n_at_once_and_splits_the_cores():
    sched, backend, runs, _ = make("parallel", n=5, parallel=2, cores=8)
    sched.start()
    assert list(backend.handles) == [1, 2]
    assert [h.threads for h in backend.handles.values()] == [4, 4]
    end(sched, runs[1])
    sched.poll()
    assert list(backend.handles) == [1, 2, 3]  # run 3 took the free slot
    assert [r.run_id for r in sched.running] == [1, 3]


def test_sequential_and_interleaved_runs_leave_torch_threads_alone():
    for mode in ("sequential", "interleaved"):
        sched, backend, _, _ = make(mode, cores=8)
        sched.start()
        assert all(h.threads is None for h in backend.handles.values())


def test_interleaved_hands_the_slice_on_after_slice_s_of_the_clock():
    sched, backend, runs, clock = make("interleaved", slice_s=0.25)
    sched.start()
    h = backend.handles
    assert list(h) == [1, 2, 3]

    def owner() -> int:
        return next(rid for rid, hd in h.items() if hd.calls[-1] == "resume")

    assert owner() == 1 and h[2].calls[-1] == h[3].calls[-1] == "pause"
    clock.t += 0.125
    sched.poll()
    assert owner() == 1
    clock.t += 0.125
    sched.poll()
    assert owner() == 2
    clock.t += 0.25
    sched.poll()
    assert owner() == 3
    clock.t += 0.25
    sched.poll()
    assert owner() == 1
    sched.pause(runs[1])  # a run paused by the user takes no slice
    clock.t += 0.25
    sched.poll()
    assert owner() == 3


def test_pause_resume_and_all_paused():
    sched, backend, runs, _ = make("parallel", n=2, parallel=2)
    sched.start()
    sched.pause_all()
    assert sched.all_paused and all(r.state is RunStatus.PAUSED for r in runs)
    assert backend.handles[1].calls.count("pause") == 1
    sched.resume(runs[0])
    assert not sched.all_paused and runs[0].state is RunStatus.PREPARING  # no RunStarted yet
    assert backend.handles[1].calls[-1] == "resume"


def test_stop_withdraws_a_queued_run_and_wakes_a_paused_one_to_stop():
    sched, backend, runs, _ = make("sequential")
    sched.start()
    sched.stop(runs[2])
    assert runs[2].state is RunStatus.STOPPED and runs[2].message == "stopped before it started"
    sched.pause(runs[0])
    sched.stop(runs[0])
    assert backend.handles[1].calls[-2:] == ["stop(evaluate=True)", "resume"]


def test_records_fill_the_store_and_reach_listeners():
    sched, _, runs, clock = make("sequential", n=1)
    seen: list[tuple[str, str]] = []
    sched.listeners.append(lambda run, rec: seen.append((run.name, type(rec).__name__)))
    sched.start()
    run = runs[0]
    v0 = run.version
    sched.stream.put((1, Progress("generating", 0.5)))
    sched.stream.put((1, chunk(1, 10)))
    sched.stream.put((1, EvalRecord(10, 0.1, 0.2, 0.3, 0.4)))
    changes = sched.poll()
    assert changes.data and changes.progress == ("generating", 0.5)
    assert run.store.steps_done == 10 and len(run.store.evals) == 1 and run.version > v0
    assert seen == [("run0", "TrainChunk"), ("run0", "EvalRecord")]
    clock.t += 1.0
    sched.stream.put((1, chunk(11, 40)))
    sched.poll()
    assert sched.steps_per_s() == pytest.approx(40.0)


def test_a_backend_that_dies_fails_its_run_and_keeps_its_records():
    sched, _, runs, _ = make("parallel", n=2, parallel=2)
    sched.start()
    sched.stream.put((1, chunk(1, 5)))
    sched.stream.put((1, Failed("the training process was killed by SIGKILL at step 5")))
    sched.stream.put((1, Exited()))
    sched.stream.put((2, chunk(1, 3)))
    sched.stream.put((2, Exited()))  # no RunFinished, no Failed: still a failed run, said so
    changes = sched.poll()
    assert runs[0].state is RunStatus.FAILED and "SIGKILL" in runs[0].message
    assert runs[0].store.steps_done == 5
    assert runs[1].state is RunStatus.FAILED and runs[1].message == "the run ended without a final record"
    assert runs[1].store.steps_done == 3
    assert len(changes.messages) == 2 and not sched.busy


def test_shutdown_stops_without_evaluating_and_kills_what_does_not_end():
    sched, backend, runs, _ = make("parallel", n=2, parallel=2)
    sched.start()
    backend.handles[2].ends = False
    assert sched.shutdown(timeout_s=0.01) is False
    assert "stop(evaluate=False)" in backend.handles[1].calls and "kill" not in backend.handles[1].calls
    assert backend.handles[2].calls[-1] == "kill"


def test_removing_a_training_run_kills_it_and_ignores_its_late_records():
    sched, backend, runs, _ = make("sequential", n=2)
    sched.start()
    sched.remove(runs[0])
    assert backend.handles[1].calls[-1] == "kill" and runs[0] not in sched.runs
    sched.stream.put((1, chunk(1, 5)))
    sched.poll()
    assert list(backend.handles) == [1, 2]  # the next one started


def test_bad_mode_and_parallel_are_named():
    sched, _, _, _ = make()
    with pytest.raises(ConfigError, match="train mode = 'fast' is not allowed: one of sequential, interleaved"):
        sched.set_mode("fast")
    with pytest.raises(ConfigError, match="parallel runs = 0 is not allowed: a whole number from 1 to 64"):
        sched.set_mode("parallel", 0)


def test_remaining_steps_counts_training_and_queued_runs():
    sched, _, runs, _ = make("sequential", n=2)
    sched.start()
    sched.stream.put((1, chunk(1, 30)))
    sched.poll()
    planned = runs[0].planned_steps
    assert sched.remaining_steps() == (planned - 30) + runs[1].planned_steps


def test_thread_backend_trains_two_runs_in_parallel_to_the_end():
    sched = Scheduler(ThreadBackend(), mode="parallel", parallel=2, cores=2)
    runs = [sched.add(Run(0, tiny_run_config(steps=20), f"r{i}")) for i in range(2)]
    sched.run_all()
    assert [r.status for r in runs] == ["finished", "finished"]
    assert [r.store.steps_done for r in runs] == [20, 20]
    assert all(r.store.finished is not None and r.store.evals for r in runs)


def test_a_started_run_whose_backend_dies_gets_a_final_failed_record(recorded_runs):
    sched, _, runs, _ = make("sequential", n=1)
    got: list[object] = []
    sched.listeners.append(lambda run, rec: got.append(rec))
    sched.start()
    source = recorded_runs[0].store
    sched.stream.put((1, source.started))
    sched.stream.put((1, chunk(1, 12)))
    sched.stream.put((1, Failed("the training process was killed by SIGKILL at step 12")))
    sched.stream.put((1, Exited()))
    changes = sched.poll()
    fin = runs[0].store.finished
    assert fin is not None and fin.status == "failed" and fin.steps == 12
    assert fin.message == "the training process was killed by SIGKILL at step 12"
    assert fin.steps_per_s == pytest.approx(100.0)  # 12 steps of 0.01 s each
    assert fin.final_test_error is None and fin.params == source.started.params
    assert isinstance(got[-1], RunFinished)  # run folders and sessions see how it ended
    assert runs[0].status == "failed" and changes.messages == [
        "run0: the training process was killed by SIGKILL at step 12"
    ]


def test_a_prefetched_dataset_is_loaded_once_and_handed_to_the_run_that_asks_meanwhile(monkeypatch):
    import threading

    from resnet_viz.config import DataConfig
    from resnet_viz.runs import splits_cache

    calls: list[DataConfig] = []
    release = threading.Event()

    def slow_load(data, progress=None):
        calls.append(data)
        release.wait(5)
        return object()

    monkeypatch.setattr(splits_cache, "load_dataset", slow_load)
    cache = splits_cache.SplitsCache()
    data = DataConfig(subset=1000)
    loading = cache.prefetch(data)
    got: list[object] = []
    asker = threading.Thread(target=lambda: got.append(cache.get(data, lambda text, f: got.append(text))))
    asker.start()
    release.set()
    loading.join(5)
    asker.join(5)
    assert len(calls) == 1  # loaded once, by the prefetch
    assert got[0] == "dataset ready" and got[1] is cache.get(data, lambda *a: None)


def test_a_pool_trains_its_runs_on_its_backend_n_at_once_whatever_the_mode():
    sched, backend, runs, clock = make("interleaved", n=2)
    pool_backend = FakeBackend()
    sched.add_pool("sweep", pool_backend, parallel=2, threads=1)
    trials = [sched.add(Run(0, RunConfig(), f"trial{i}", pool="sweep")) for i in range(3)]
    sched.poll()  # a pool's runs start as soon as they are queued, without start()
    assert list(pool_backend.handles) == [t.run_id for t in trials[:2]] and not backend.handles
    assert [h.threads for h in pool_backend.handles.values()] == [1, 1]
    sched.start()  # the default pool follows its mode: interleaved, both default runs start
    assert sorted(backend.handles) == [runs[0].run_id, runs[1].run_id]
    clock.t += 1.0
    sched.poll()
    for t in trials[:2]:  # never sliced: the pool's runs are not paused by the interleaving
        assert "pause" not in pool_backend.handles[t.run_id].calls
    end(sched, trials[0])
    sched.poll()
    assert trials[2].run_id in pool_backend.handles and trials[2].state is RunStatus.PREPARING
    assert trials[2].run_id not in backend.handles


def test_a_pool_needs_a_name_and_a_valid_parallel():
    sched, _, _, _ = make(n=0)
    with pytest.raises(ConfigError, match="pool"):
        sched.add_pool("", FakeBackend(), parallel=1)
    with pytest.raises(ConfigError, match="parallel runs"):
        sched.add_pool("p", FakeBackend(), parallel=0)
