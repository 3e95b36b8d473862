"""InitSampler: init ensembles measured in a nice-19 child process, the same numbers as in-process, a
cancel that kills the child without waiting, and a child that dies reported in one line."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

from resnet_viz.config import InitConfig, ModelConfig, RunConfig, TrainConfig
from resnet_viz.runs.init_sampler import InitSampler, SamplingRequest
from resnet_viz.train.init_ensemble import SamplingCancelled, measure_init_ensemble


def _config(depth: int = 6) -> RunConfig:
    return RunConfig(
        model=ModelConfig(arch="mlp", depth=depth, width=32),
        init=InitConfig(scheme="he"),
        train=TrainConfig(batch_size=16),
    )


def _batch() -> torch.Tensor:
    return torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_the_child_measures_what_the_parent_would_and_runs_at_nice_19():
    sampler = InitSampler()
    seen: list[tuple[int, int]] = []
    try:
        ens = sampler.measure(
            SamplingRequest(_config(), _batch().numpy(), 3, 5, 10), lambda: False, lambda *a: seen.append(a)
        )
        child = sampler._child
        assert child is not None and os.getpriority(os.PRIO_PROCESS, child.pid) == 19
        again = sampler.measure(SamplingRequest(_config(4), _batch().numpy(), 2, 5, 10), lambda: False)
        assert sampler._child is child, "one child serves later requests"
    finally:
        sampler.close()
    here = measure_init_ensemble(_config(), _batch(), 3, seed=5, num_classes=10)
    np.testing.assert_allclose(ens.act_std, here.act_std, rtol=1e-5)
    np.testing.assert_array_equal(ens.seeds, here.seeds)
    assert ens.layer_names == here.layer_names and ens.act_std.shape == (3, len(here.layer_names))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert again.act_std.shape[0] == 2


def test_cancel_kills_the_child_at_once():
    sampler = InitSampler()
    progress: list[int] = []
    t0 = [0.0]

    def cancelled() -> bool:
        if progress and not t0[0]:
            t0[0] = time.perf_counter()
        return bool(progress)

    big = RunConfig(model=ModelConfig(arch="resnet", depth=56, width=16), train=TrainConfig(batch_size=16))
    children = []

    def seen(done: int, k: int) -> None:
        progress.append(done)
        children.append(sampler._child)

    with pytest.raises(SamplingCancelled):
        sampler.measure(SamplingRequest(big, _batch().numpy(), 500, 0, 10), cancelled, seen)
    assert time.perf_counter() - t0[0] < 0.5
    assert sampler._child is None
    deadline = time.monotonic() + 30
    while children[0].returncode is None and time.monotonic() < deadline:  # reaped: no zombie stays
        time.sleep(0.05)
    assert children[0].returncode == -9


def test_a_child_that_dies_is_one_line_and_the_next_request_starts_a_new_one():
    sampler = InitSampler()
    big = RunConfig(model=ModelConfig(arch="resnet", depth=56, width=16), train=TrainConfig(batch_size=16))
    progress: list[int] = []

    def kill_after_first(done: int, k: int) -> None:
        progress.append(done)
        if done == 1:
            os.kill(sampler._child.pid, 9)

    with pytest.raises(RuntimeError, match=r"^the sampling process was ended by SIGKILL"):
        sampler.measure(SamplingRequest(big, _batch().numpy(), 500, 0, 10), lambda: False, kill_after_first)
    try:
        ens = sampler.measure(SamplingRequest(_config(), _batch().numpy(), 2, 0, 10), lambda: False)
        assert ens.act_std.shape[0] == 2
    finally:
        sampler.close()


def test_a_refused_request_is_an_error_line_and_the_child_lives_on():
    sampler = InitSampler()
    try:
        with pytest.raises(RuntimeError, match=r"^ValueError: k 0"):
            sampler.measure(SamplingRequest(_config(), _batch().numpy(), 0, 0, 10), lambda: False)
        assert (
            sampler.measure(SamplingRequest(_config(), _batch().numpy(), 1, 0, 10), lambda: False).act_std.shape[0] == 1
        )
    finally:
        sampler.close()
