"""Child entry points for tests/test_runs_process.py, in a module of their own so that a spawned
child imports only what it runs (spawn finds an entry by module and name)."""

from __future__ import annotations

import os
import time
from multiprocessing.connection import Connection

import numpy as np

from resnet_viz.metrics.records import RunFinished, TrainChunk
from resnet_viz.runs.items import Progress

EVAL_MARK = "evaluation batch"  # Progress text slow_eval_child sends before each evaluation batch
FLOOD = int(os.environ.get("RESNET_VIZ_FLOOD", "100000"))  # records flood_child sends


def slow_eval_child(records: Connection, control: Connection) -> None:
    """The real child, with evaluations slowed by 30 ms a batch and a marker sent before each batch."""
    from resnet_viz.runs import child
    from resnet_viz.train import engine

    real = engine.evaluate_model

    def evaluate(model, data, device, abandoned, *rest):  # type: ignore[no-untyped-def]
        def marked() -> bool:
            records.send(Progress(EVAL_MARK, 0.0))
            time.sleep(0.03)
            return abandoned()

        return real(model, data, device, marked, *rest)

    engine.evaluate_model = evaluate
    child.run_child(records, control)


def flood_child(records: Connection, control: Connection) -> None:
    """Sends FLOOD one-step TrainChunks as fast as it can, then a RunFinished (no torch in this child)."""
    control.recv()
    one = np.zeros(1)
    for step in range(1, FLOOD + 1):
        records.send(TrainChunk(np.array([step]), one, one, one, one))
    records.send(RunFinished("finished", FLOOD, None, None, None, None, 0.0, 0.0, 0, "cpu"))
