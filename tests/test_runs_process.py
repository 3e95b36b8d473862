"""The process backend: runs in spawned children behind one record stream; control, crashes, shutdown.

Children import torch (seconds on this machine), so each test starts its children together and
waits for them together. The entries that tests substitute for the real child live in
tests/process_entries.py (spawn finds an entry by module and name).
"""

from __future__ import annotations

import os
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import replace

import psutil
import pytest
from conftest import tiny_run_config
from process_entries import EVAL_MARK, FLOOD, flood_child, slow_eval_child

from resnet_viz.config import DataConfig, RunConfig, TrainConfig
from resnet_viz.metrics.records import EvalRecord, RunFinished, RunStarted, TrainChunk
from resnet_viz.runs.backend import RecordStream
from resnet_viz.runs.exit_reason import exit_reason
from resnet_viz.runs.items import Cancelled, Exited, Failed, Progress, StreamItem
from resnet_viz.runs.process_backend import ProcessBackend, ProcessRunHandle
from resnet_viz.runs.thread_backend import ThreadBackend


def drain(
    out: RecordStream, until: Callable[[list[tuple[int, StreamItem]]], bool], timeout_s: float = 60.0, items=None
):
    """Items from ``out`` appended to ``items`` (a new list when None) until ``until(items)`` holds
    (or ``timeout_s`` passes: the test fails); returns ``items``."""
    items = [] if items is None else items
    deadline = time.monotonic() + timeout_s
    while not until(items):
        try:
            items.append(out.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            pytest.fail(f"timed out after {timeout_s} s; got {[type(i).__name__ for _, i in items][-10:]}")
    return items


def of_run(items, run_id: int) -> list[StreamItem]:
    return [item for rid, item in items if rid == run_id]


def exited(*run_ids: int):
    return lambda items: all(any(r == rid and isinstance(i, Exited) for r, i in items) for rid in run_ids)


def seen(run_id: int, kind: type, count: int = 1, text: str | None = None):
    def check(items) -> bool:
        hits = [i for r, i in items if r == run_id and isinstance(i, kind)]
        return len([i for i in hits if text is None or getattr(i, "text", None) == text]) >= count

    return check


def kinds(items: list[StreamItem]) -> list[str]:
    """Record kinds in order, consecutive TrainChunks merged (their split depends on timing)."""
    names = [type(i).__name__ for i in items if not isinstance(i, Progress)]
    return [n for k, n in enumerate(names) if n != "TrainChunk" or k == 0 or names[k - 1] != "TrainChunk"]


def steps(items: list[StreamItem]) -> list[int]:
    return [int(s) for i in items if isinstance(i, TrainChunk) for s in i.step]


def spawned_children() -> list[psutil.Process]:
    """Live children of this process started by spawn (not multiprocessing's resource tracker)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.fixture
def backend():
    b = ProcessBackend()
    yield b
    b.close()


def start(b: ProcessBackend, run_id: int, config: RunConfig, out: RecordStream) -> ProcessRunHandle:
    handle = b.launch(run_id, config, out, threads=1)
    handle.start()
    return handle


def quick_config(steps: int = 100_000, eval_every: int = 100_000) -> RunConfig:
    """The tiny plain-8 of conftest, without torch's deterministic switch (it imports torch._inductor:
    seconds in every child; these tests check the backend, not the kernels)."""
    cfg = tiny_run_config("plain", 8, steps=steps)
    return replace(cfg, train=replace(cfg.train, eval_every=eval_every, deterministic=False))


def test_a_run_in_a_child_gives_what_the_thread_backend_gives():
    cfg = quick_config(steps=30, eval_every=10)
    cfg = replace(cfg, train=replace(cfg.train, snapshots=2))  # snapshots of steps 0 and 30
    out: RecordStream = queue.SimpleQueue()
    backend = ProcessBackend(spare=True)  # a child started ahead, which the launch takes
    spare = backend._spare
    assert spare is not None and spare.process.is_alive()
    handle = start(backend, 1, cfg, out)
    assert handle.pid == spare.process.pid
    ThreadBackend(backend.cache).launch(2, cfg, out, threads=1).start()
    items = drain(out, exited(1, 2))
    assert handle.join(5.0) and not handle.alive()
    child, thread = of_run(items, 1), of_run(items, 2)
    assert isinstance(child[-1], Exited) and isinstance(thread[-1], Exited)
    assert (
        kinds(child)
        == kinds(thread)
        == ["RunStarted", "ParameterSnapshot", "TrainChunk", "EvalRecord", "TrainChunk", "EvalRecord"]
        + [
            "TrainChunk",
            "EvalRecord",
            "TrainChunk",
            "ParameterSnapshot",
            "ModelWeights",  # pickled through the pipe like every record
            "RunFinished",
            "Exited",
        ]
    )
    assert steps(child) == steps(thread) == list(range(1, 31))
    evals = [
        [(e.step, e.train_error, e.test_loss) for e in run if isinstance(e, EvalRecord)] for run in (child, thread)
    ]
    assert evals[0] == evals[1]  # same seed, same thread count: the same numbers
    assert [i.status for i in child if isinstance(i, RunFinished)] == ["finished"]
    assert any(isinstance(i, Progress) for i in child)  # the data was loaded in this process
    assert backend._spare is not None  # the next spare, started once run 1 had started
    ours = {spare.process.pid, backend._spare.process.pid}
    backend.close()
    assert not [p for p in spawned_children() if p.pid in ours]  # close() ends the spare


def test_pause_resume_and_stop_children_mid_evaluation(backend):
    """Child 1: paused, resumed and stopped while it evaluates (the evaluation finishes); child 2:
    stopped without evaluating while it evaluates (abandoned within one batch)."""
    out: RecordStream = queue.SimpleQueue()
    cfg = quick_config(eval_every=20)
    backend.entry = slow_eval_child
    handle, abandon = start(backend, 1, cfg, out), start(backend, 2, cfg, out)
    items = drain(out, lambda it: seen(1, Progress, 1, EVAL_MARK)(it) and seen(2, Progress, 1, EVAL_MARK)(it))
    handle.pause()
    abandon.stop(evaluate=False)
    t_stop = time.monotonic()
    drain(out, seen(2, RunFinished), timeout_s=5, items=items)
    assert time.monotonic() - t_stop < 1.0  # within one evaluation batch
    time.sleep(0.3)  # a batch of child 1 may have begun before the pause arrived
    drain(out, lambda it: out.empty(), items=items)
    paused_at = len(items)
    time.sleep(0.5)
    drain(out, lambda it: out.empty(), items=items)
    assert not [i for r, i in items[paused_at:] if r == 1]  # paused between two evaluation batches
    handle.resume()
    drain(out, lambda it: any(r == 1 for r, _ in it[paused_at:]), timeout_s=5, items=items)
    handle.stop()
    drain(out, exited(1, 2), timeout_s=30, items=items)
    ended = [i for i in of_run(items, 1) if isinstance(i, RunFinished)]
    assert ended[0].status == "stopped" and ended[0].steps == 20
    assert [e.step for e in of_run(items, 1) if isinstance(e, EvalRecord)] == [20]  # the running one finished
    gave_up = [i for i in of_run(items, 2) if isinstance(i, RunFinished)][0]
    assert gave_up.status == "stopped" and "evaluation at step 20 was abandoned" in gave_up.message
    assert not [e for e in of_run(items, 2) if isinstance(e, EvalRecord)]


def test_a_killed_child_is_a_failed_run_with_its_records_and_the_other_runs_go_on(backend):
    out: RecordStream = queue.SimpleQueue()
    victim = start(backend, 1, quick_config(), out)
    other = start(backend, 2, quick_config(steps=60), out)
    items = drain(out, lambda it: seen(1, TrainChunk, 2)(it) and seen(2, RunStarted)(it))
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    drain(out, exited(1, 2), items=items)
    run1 = of_run(items, 1)
    last_step = steps(run1)[-1]
    assert last_step > 0 and steps(run1) == list(range(1, last_step + 1))  # every record received is kept
    failed = [i for i in run1 if isinstance(i, Failed)]
    assert [type(i).__name__ for i in run1[-2:]] == ["Failed", "Exited"]
    assert failed[0].message == (
        f"the training process was killed by SIGKILL at step {last_step} (out of memory? the system may have killed it)"
    )
    finished = [i for i in of_run(items, 2) if isinstance(i, RunFinished)]
    assert finished[0].status == "finished" and finished[0].steps == 60
    assert victim.join(2.0) and other.join(2.0)


def test_closing_with_four_children_running_leaves_no_process(backend):
    out: RecordStream = queue.SimpleQueue()
    handles = [start(backend, run_id, quick_config(), out) for run_id in range(1, 5)]
    items = drain(out, lambda it: all(seen(rid, TrainChunk)(it) for rid in range(1, 5)))
    assert {h.pid for h in handles} <= {p.pid for p in spawned_children()}
    handles[3]._close_control()  # as if this process died: the child ends at once, without evaluating
    drain(out, exited(4), timeout_s=2.0, items=items)
    t0 = time.monotonic()
    for handle in handles:
        handle.kill()
    assert all(handle.join(max(0.0, 2.0 - (time.monotonic() - t0))) for handle in handles)
    assert time.monotonic() - t0 < 2.0
    live = [p for p in spawned_children() if p.pid in {h.pid for h in handles}]
    assert live == [], live
    drain(out, exited(1, 2, 3), timeout_s=1.0, items=items)
    ends = [i for _, i in items if isinstance(i, (RunFinished, Failed))]
    assert [i.status for i in ends if isinstance(i, RunFinished)] == ["stopped"] * 3  # SIGTERM: stop at once
    orphaned = of_run(items, 4)
    last = steps(orphaned)[-1]
    assert orphaned[-2] == Failed(f"the training process ended at step {last} without finishing its run")


def test_a_run_the_child_cannot_build_fails_in_one_line(backend):
    out: RecordStream = queue.SimpleQueue()
    cfg = RunConfig(data=DataConfig(subset=16), train=TrainConfig(batch_size=32, steps=5))
    handle = start(backend, 1, cfg, out)
    run = of_run(drain(out, exited(1)), 1)
    failed = [i for i in run if isinstance(i, Failed)]
    assert [type(i).__name__ for i in run if not isinstance(i, Progress)] == ["Failed", "Exited"]
    assert "batch size 32" in failed[0].message and "\n" not in failed[0].message
    assert handle.join(2.0)


def test_a_stop_while_the_data_loads_cancels_the_run(backend):
    out: RecordStream = queue.SimpleQueue()
    handle = start(backend, 1, RunConfig(data=DataConfig(embedded_seed=12345)), out)
    drain(out, seen(1, Progress))
    handle.stop()
    run = of_run(drain(out, exited(1), timeout_s=10), 1)
    assert [type(i).__name__ for i in run if not isinstance(i, Progress)] == ["Cancelled", "Exited"]
    assert isinstance(run[-2], Cancelled) and handle.join(2.0)


def test_a_flood_of_records_keeps_this_process_flat(backend):
    backend.entry = flood_child
    out: RecordStream = queue.SimpleQueue()
    me = psutil.Process()
    start(backend, 1, quick_config(), out)
    count, rss = 0, []
    t0 = time.monotonic()
    while True:
        _, item = out.get(timeout=60)
        count += 1
        if count % (FLOOD // 10) == 0:
            rss.append(me.memory_info().rss)
        if isinstance(item, Exited):
            break
    elapsed = time.monotonic() - t0
    print(f"{FLOOD} records in {elapsed:.1f} s; RSS MB {[round(r / 2**20, 1) for r in rss]}")
    assert count >= FLOOD + 2
    assert rss[-1] - rss[1] < 16 * 2**20  # flat after the first tenth (the stream never holds the backlog)


@pytest.mark.parametrize(
    ("code", "step", "killed", "text"),
    [
        (-signal.SIGKILL, 37, False, "was killed by SIGKILL at step 37 (out of memory? the system may have killed it)"),
        (-signal.SIGABRT, None, False, "was ended by SIGABRT before training started (a crash in native code)"),
        (-signal.SIGSEGV, 5, False, "was ended by SIGSEGV at step 5 (a crash in native code)"),
        (-signal.SIGTERM, 5, False, "was ended by SIGTERM at step 5"),
        (3, 2, False, "exited with status 3 at step 2"),
        (0, 9, False, "ended at step 9 without finishing its run"),
        (-signal.SIGKILL, 4, True, "was killed at step 4: it did not stop within 0.5 s of the request to end"),
    ],
)
def test_exit_reasons_name_the_signal_or_status(code, step, killed, text):
    assert exit_reason(code, step, killed=killed) == "the training process " + text
