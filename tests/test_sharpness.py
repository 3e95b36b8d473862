"""The sharpness probe during training: when it measures, what, and that it leaves training untouched."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnet_viz.metrics.records import SharpnessRecord
from resnet_viz.metrics.store import RunStore
from resnet_viz.train.engine import Engine
from resnet_viz.train.hessian import top_hessian_eigenvalue
from resnet_viz.train.sharpness import SHARPNESS_ITERS, SHARPNESS_SAMPLES, SHARPNESS_TOL
from tests.test_snapshots import tiny_config


@pytest.fixture(scope="module")
def probed():
    store = RunStore()
    engine = Engine(tiny_config(steps=10, snapshots=0, sharpness_every=5, eval_train_samples=64), store.add)
    result = engine.run()
    assert result.status == "finished"
    return engine, store


def test_probe_records_positive_finite_eigenvalues_at_the_expected_steps(probed):
    _, store = probed
    assert [r.step for r in store.sharpness] == [0, 5, 10]
    for r in store.sharpness:
        assert isinstance(r, SharpnessRecord)
        assert math.isfinite(r.top_eigenvalue) and r.top_eigenvalue > 0
        assert math.isnan(r.trace)  # trace off
        assert 1 <= r.iterations <= SHARPNESS_ITERS
        assert r.samples == 64  # at most SHARPNESS_SAMPLES: the whole 64-image training sample


def test_step_0_value_equals_a_direct_recomputation_on_the_same_weights_and_batch(probed):
    _, store = probed
    fresh = Engine(tiny_config(steps=10, snapshots=0, sharpness_every=5, eval_train_samples=64))
    fresh.prepare()  # the same seed: the same initial weights and training sample
    model = fresh.prepared.model.eval()
    x, y = next(fresh.data.eval_batches("train_sample", SHARPNESS_SAMPLES))
    params = list(model.parameters())
    value, iters = top_hessian_eigenvalue(
        lambda: F.cross_entropy(model(x), y),
        params,
        iters=SHARPNESS_ITERS,
        tol=SHARPNESS_TOL,
        generator=torch.Generator().manual_seed(fresh.config.train.seed),
    )
    assert store.sharpness[0].top_eigenvalue == pytest.approx(value, rel=1e-3)
    assert store.sharpness[0].iterations == iters


def test_last_value_is_near_the_converged_eigenvalue_of_the_final_weights(probed):
    engine, store = probed
    model = engine.prepared.model
    assert model.training  # the probe put it back in train mode
    model.eval()
    x, y = next(engine.data.eval_batches("train_sample", SHARPNESS_SAMPLES))
    converged, _ = top_hessian_eigenvalue(
        lambda: F.cross_entropy(model(x), y), list(model.parameters()), iters=300, tol=1e-7
    )
    model.train()
    assert store.sharpness[-1].top_eigenvalue == pytest.approx(converged, rel=2e-2)


def test_the_probe_changes_no_training_number_and_the_trace_is_recorded():
    off, on = RunStore(), RunStore()
    Engine(tiny_config(steps=6, snapshots=0, eval_train_samples=32), off.add).run()
    Engine(
        tiny_config(steps=6, snapshots=0, eval_train_samples=32, sharpness_every=3, sharpness_trace=True), on.add
    ).run()
    np.testing.assert_array_equal(off.scalar("loss"), on.scalar("loss"))
    np.testing.assert_array_equal(off.layer("act_std"), on.layer("act_std"))
    assert [r.step for r in on.sharpness] == [0, 3, 6]
    assert all(math.isfinite(r.trace) for r in on.sharpness)
    assert off.sharpness == []


def test_the_command_line_writes_sharpness_and_snapshots(tmp_path, capsys):
    from resnet_viz.cli import main

    out = tmp_path / "run"
    args = ["run", "--arch", "mlp", "--depth", "3", "--width", "16", "--subset", "200", "--eval-train-samples", "40"]
    args += ["--batch-size", "16", "--steps", "6", "--eval-every", "3", "--device", "cpu", "--quiet"]
    code = main([*args, "--snapshots", "3", "--sharpness-every", "3", "--sharpness-trace", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    from resnet_viz.export.snapshots_io import read_sharpness, read_snapshots

    assert [r.step for r in read_sharpness(out)] == [0, 3, 6]
    assert all(math.isfinite(r.trace) and r.samples == 40 for r in read_sharpness(out))
    assert [s.step for s in read_snapshots(out)] == [0, 3, 6]
    run_json = (out / "run.json").read_text()
    assert '"snapshots": 3' in run_json and '"sharpness_every": 3' in run_json


def test_the_probe_time_is_not_training_time(monkeypatch):
    import time as _time

    from resnet_viz.train import sharpness as sharpness_module

    measured = sharpness_module.SharpnessProbe.measure

    def slow(self, model, step):
        _time.sleep(2.0)
        return measured(self, model, step)

    monkeypatch.setattr(sharpness_module.SharpnessProbe, "measure", slow)
    store = RunStore()
    engine = Engine(tiny_config(steps=3, snapshots=0, eval_train_samples=16, sharpness_every=1), store.add)
    result = engine.run()
    assert [r.step for r in store.sharpness] == [0, 1, 2, 3]
    assert result.elapsed_s > 8.0  # four probes of more than 2 s each ...
    assert engine.train_time < 2.0 and store.scalar("step_time_s").max() < 2.0  # ... none in the steps
