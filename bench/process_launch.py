"""Launch to first record of a run in a child process (ProcessBackend), default RunConfig().

Prints, for a cold launch (the parent generates the data while the child starts) and a warm one
(data cached and already in shared memory): seconds from ``launch`` to the child's ``RunStarted``
and to its first ``TrainChunk`` (the first live point), and where a child's start goes: interpreter,
``import torch``, ``import resnet_viz.runs.child`` (what the spawn target imports).

    .venv/bin/python bench/process_launch.py
    .venv/bin/python bench/process_launch.py --pipe   # seconds per record through a child's pipe
"""

from __future__ import annotations

import importlib
import queue
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler

import numpy as np

from resnet_viz.config import RunConfig
from resnet_viz.data import load_dataset
from resnet_viz.metrics.records import LayerStats, RunStarted, TrainChunk
from resnet_viz.runs.items import Exited, Progress
from resnet_viz.runs.process_backend import ProcessBackend
from resnet_viz.train.engine import Engine
from resnet_viz.train.started import started_record

SPARE_WARM_S = 15.0  # s to let a spare child finish its imports (generous: the machine may be loaded)


def launch_once(backend: ProcessBackend, run_id: int) -> tuple[float, float, float]:
    """(s to the last Progress, s to RunStarted, s to the first TrainChunk) of one launch."""
    out: queue.SimpleQueue = queue.SimpleQueue()
    t0 = time.perf_counter()
    handle = backend.launch(run_id, RunConfig(), out)
    handle.start()
    loaded = started = first = float("nan")
    while True:
        _, item = out.get()
        now = time.perf_counter() - t0
        if isinstance(item, Progress):
            loaded = now
        elif isinstance(item, RunStarted):
            started = now
        elif isinstance(item, TrainChunk):
            first = now
            handle.kill()
        elif isinstance(item, Exited):
            break
    handle.join(5.0)
    return loaded, started, first


def chunk(k: int, layers: int) -> TrainChunk:
    """A TrainChunk of ``k`` steps with per-layer statistics of ``layers`` layers (0: probes off)."""
    stats = LayerStats(*(np.zeros((k, layers), np.float32) for _ in range(6))) if layers else None
    steps = np.arange(1, k + 1)
    return TrainChunk(steps, *(np.zeros(k) for _ in range(4)), layers=stats, layer_step=steps if layers else None)


PIPE_CASES = ((256, 22, 2000), (1, 0, 20000))  # (steps, layers, count): ResNet-20's full chunk; a tiny one


def send_chunks(records: Connection, control: Connection) -> None:
    """A child entry: sends every case's chunks as fast as it can, then ends."""
    control.recv()
    for k, layers, count in PIPE_CASES:
        one = chunk(k, layers)
        for _ in range(count):
            records.send(one)


def pipe_cost() -> None:
    """Seconds per record through the pipe, child to stream (pickle, write, read, unpickle, put)."""
    backend = ProcessBackend(entry=send_chunks)
    out: queue.SimpleQueue = queue.SimpleQueue()
    backend.shared_splits(RunConfig().data, lambda text, fraction: None)  # no data generation meanwhile
    handle = backend.launch(9, RunConfig(), out)
    handle.start()
    for k, layers, count in PIPE_CASES:
        out.get()
        t0 = time.perf_counter()
        for _ in range(count - 1):
            out.get()
        per = (time.perf_counter() - t0) / (count - 1)
        size = len(ForkingPickler.dumps(chunk(k, layers)))
        print(f"TrainChunk {k} steps x {layers} layers ({size / 1024:.1f} KiB pickled): {per * 1e6:.0f} us a record")
    handle.kill()  # its data may still be loading here: a thread in torch code must not outlive the interpreter
    handle.join(10.0)
    backend.close()


def child_work() -> tuple[float, float]:
    """Seconds of a child's work once it has the data, measured here (threads as in a child, imports
    done): ``Engine.prepare`` (model, optimiser, probes) and the step-0 record (RunStarted)."""
    importlib.import_module("torch._inductor.config")
    engine = Engine(RunConfig(), splits=load_dataset(RunConfig().data))
    t0 = time.perf_counter()
    engine.prepare()
    t1 = time.perf_counter()
    run = engine._ready()
    started_record(run, *run.data.next_batch())
    return t1 - t0, time.perf_counter() - t1


def seconds(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def main() -> None:
    if "--pipe" in sys.argv:
        pipe_cost()
        return
    backend = ProcessBackend()
    for label, run_id in (("cold (data generated in the parent meanwhile)", 1), ("warm (data cached)", 2), ("warm", 3)):
        loaded, started, first = launch_once(backend, run_id)
        print(f"{label}: data ready {loaded:.2f} s, RunStarted {started:.2f} s, first TrainChunk {first:.2f} s")
    backend.close()
    backend = ProcessBackend(spare=True)
    time.sleep(SPARE_WARM_S)  # the spare imports torch and the engine meanwhile
    for label, run_id in (("spare child", 4), ("spare child (the next one)", 5)):
        if run_id == 5:
            time.sleep(SPARE_WARM_S)  # the next spare was started when run 4 started
        loaded, started, first = launch_once(backend, run_id)
        print(f"{label}: data ready {loaded:.2f} s, RunStarted {started:.2f} s, first TrainChunk {first:.2f} s")
    backend.close()
    bare = seconds("pass")
    torch_s = seconds("import torch")
    child_s = seconds("import resnet_viz.runs.child")
    inductor_s = seconds("import resnet_viz.runs.child, torch._inductor.config")
    prepare_s, started_s = child_work()
    print(f"child work once the data is there: prepare {prepare_s:.2f} s, step-0 record {started_s:.2f} s")
    print(
        f"child start: interpreter {bare:.2f} s, + import torch {torch_s - bare:.2f} s, "
        f"+ resnet_viz (engine, models, data) {child_s - torch_s:.2f} s = {child_s:.2f} s; "
        f"torch.use_deterministic_algorithms imports torch._inductor: + {inductor_s - child_s:.2f} s"
    )


if __name__ == "__main__":
    main()
