"""Parameter snapshots during training: the plan of steps, the host copy, what the engine emits and when."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from resnet_viz.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from resnet_viz.metrics.records import ModelWeights, ParameterSnapshot, RunFinished, RunStarted, TrainChunk
from resnet_viz.metrics.store import RunStore
from resnet_viz.train.engine import Engine
from resnet_viz.train.snapshots import SNAPSHOT_BUDGET_BYTES, plan_snapshots, snapshot_bytes, take_snapshot


def tiny_config(steps: int = 20, lr: float = 0.05, **train) -> RunConfig:
    """resnet-8 of width 4 on 600 embedded images: a run of a few seconds on the CPU."""
    defaults = dict(batch_size=32, steps=steps, eval_every=10, eval_train_samples=200, device="cpu")
    return RunConfig(
        model=ModelConfig(arch="resnet", depth=8, width=4),
        optim=OptimConfig(name="sgd", lr=lr, momentum=0.9),
        data=DataConfig(subset=600),
        train=TrainConfig(**{**defaults, **train}),
    )


def test_plan_spreads_steps_evenly_with_step_0_and_the_last():
    plan = plan_snapshots(100, 5, 1000)
    assert sorted(plan.steps) == [0, 25, 50, 75, 100]
    assert plan.note == "" and plan.total_bytes == 5000
    assert sorted(plan_snapshots(3, 50, 10).steps) == [0, 1, 2, 3]  # fewer steps than asked: each once
    assert sorted(plan_snapshots(7, 1, 10).steps) == [0, 7]  # never without step 0 and the last
    assert plan_snapshots(100, 0, 10).steps == frozenset()


def test_plan_keeps_within_the_budget_and_says_so_in_one_line():
    per = 60 << 20  # 60 MiB per snapshot: 4 fit in 256 MiB
    plan = plan_snapshots(1000, 50, per)
    assert len(plan.steps) == 4 and plan.total_bytes <= SNAPSHOT_BUDGET_BYTES
    assert {0, 1000} <= plan.steps
    assert "4 instead of 50" in plan.note and "256 MiB" in plan.note and "\n" not in plan.note
    huge = plan_snapshots(1000, 50, SNAPSHOT_BUDGET_BYTES)  # one would fill the budget: still 2
    assert sorted(huge.steps) == [0, 1000] and huge.note


def test_take_snapshot_copies_parameters_as_float32_and_refuses_non_finite():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    snap = take_snapshot(model, 7)
    assert snap is not None and snap.step == 7
    assert list(snap.params) == [name for name, _ in model.named_parameters()]  # no BN buffers
    for name, p in model.named_parameters():
        assert snap.params[name].dtype == np.float32 and snap.params[name].shape == tuple(p.shape)
        np.testing.assert_array_equal(snap.params[name], p.detach().numpy())
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not np.array_equal(snap.params["0.weight"], model[0].weight.detach().numpy())  # a copy, not a view
    assert snap.nbytes == 4 * sum(p.numel() for p in model.parameters())
    assert snapshot_bytes(model) >= snap.nbytes
    with torch.no_grad():
        model[2].bias[0] = float("nan")
    assert take_snapshot(model, 8) is None


def test_engine_emits_snapshots_at_the_planned_steps_after_their_chunk():
    records: list = []
    engine = Engine(tiny_config(steps=20, snapshots=5), records.append)
    result = engine.run()
    assert result.status == "finished"
    snaps = [r for r in records if isinstance(r, ParameterSnapshot)]
    assert [s.step for s in snaps] == [0, 5, 10, 15, 20]
    started = records[0]
    assert isinstance(started, RunStarted) and started.resolved["snapshots"] == 5
    # step 0 is the initialisation: before the first chunk; step k after the chunk holding k
    reported = 0
    for r in records:
        if isinstance(r, TrainChunk):
            reported = int(r.step[-1])
        elif isinstance(r, ParameterSnapshot):
            assert r.step <= reported
    final = next(r for r in records if isinstance(r, ModelWeights))
    for name, value in snaps[-1].params.items():  # the last snapshot is the final weights
        np.testing.assert_array_equal(value, final.state[name])
    assert not np.array_equal(snaps[0].params["fc.weight"], snaps[-1].params["fc.weight"])
    assert isinstance(records[-1], RunFinished)


def test_snapshots_off_and_a_stopped_run_snapshots_its_last_step():
    store = RunStore()
    Engine(tiny_config(steps=6, snapshots=0), store.add).run()
    assert store.snapshots == []

    store = RunStore()
    engine = Engine(tiny_config(steps=400, snapshots=3, eval_every=1000), store.add)

    def stop_after_a_few_steps(record):
        store.add(record)
        if isinstance(record, TrainChunk) and record.step[-1] >= 7:
            threading.Thread(target=engine.stop).start()

    engine._emit = stop_after_a_few_steps
    result = engine.run()
    assert result.status == "stopped" and 7 <= result.steps < 200
    assert [s.step for s in store.snapshots] == [0, result.steps]


def test_a_diverged_run_has_no_snapshot_of_non_finite_weights():
    store = RunStore()
    cfg = tiny_config(steps=200, snapshots=200, eval_every=1000, lr=1e4)
    cfg.model = ModelConfig(arch="plain", depth=8, width=8, batch_norm=False)
    result = Engine(cfg, store.add).run()
    assert result.status.startswith("diverged")
    assert store.snapshots and all(s.step <= result.steps for s in store.snapshots)
    for s in store.snapshots:
        assert all(np.isfinite(a).all() for a in s.params.values())


@pytest.mark.parametrize("bad", [-1, 1001])
def test_snapshots_out_of_range_is_refused_in_one_line(bad):
    from resnet_viz.config import ConfigError

    with pytest.raises(ConfigError, match="snapshots"):
        RunConfig(train=TrainConfig(snapshots=bad)).validate()
