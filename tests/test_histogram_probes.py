"""Histograms binned on the device (issue 18): counts equal numpy's (and torch.histc's where the bins
coincide) for every kind and layer of a real training step; histograms at every multiple of
histogram_every whatever probe_every; the "weight" kind and dead_fraction in run folders, and older
folders without them still read."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from resnet_viz.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from resnet_viz.data import DatasetSplits
from resnet_viz.data.splits import channel_stats
from resnet_viz.export.replay import store_from_run_folder
from resnet_viz.export.run_folder import (
    RunFolderWriter,
    histogram_record_dtype,
    layers_record_dtype,
    read_run_folder,
    read_streamed_histograms,
)
from resnet_viz.metrics.records import HISTOGRAM_KINDS, LAYER_QUANTITIES
from resnet_viz.train import probes as probes_module
from resnet_viz.train.engine import Engine
from resnet_viz.train.histograms import bin_tensor
from resnet_viz.train.prepared import prepare_run
from resnet_viz.train.step import train_step


def toy_splits(n: int = 64, n_test: int = 32, size: int = 8) -> DatasetSplits:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    tx = torch.randint(0, 256, (n_test, 3, size, size), generator=g, dtype=torch.uint8)
    mean, std = channel_stats(x)
    classes = [str(i) for i in range(10)]
    return DatasetSplits(
        "toy", x, torch.arange(n) % 10, tx, torch.arange(n_test) % 10, classes, mean, std, "toy", False
    )


def toy_config(model: ModelConfig, **train) -> RunConfig:
    base = dict(batch_size=16, steps=1, eval_every=10**6, eval_train_samples=16, histogram_bins=8)
    return RunConfig(
        model=model,
        optim=OptimConfig(name="sgd", lr=0.1, momentum=0.9),
        data=DataConfig(augment=False),
        train=TrainConfig(**{**base, **train}),
    )


def split(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    return values[: bins + 1], values[bins + 1 :].astype(np.int64)


# --- binning one tensor ------------------------------------------------------------------------------
@pytest.mark.parametrize("accelerator", [False, True])
def test_counts_equal_numpy_with_values_at_the_min_the_max_and_every_edge(accelerator):
    x = torch.randn(3000, generator=torch.Generator().manual_seed(1))
    first, _ = split(bin_tensor(x, 16, accelerator).numpy(), 16)
    x = torch.cat([x, torch.from_numpy(first).float(), torch.from_numpy(first).float()])  # min and max unchanged
    edges, counts = split(bin_tensor(x, 16, accelerator).numpy(), 16)
    np.testing.assert_array_equal(edges, first)
    assert np.array_equal(edges, edges.astype(np.float32)) and np.all(np.diff(edges) > 0)  # widened float32
    assert edges[0] == x.min().item() and edges[-1] == x.max().item()
    reference, _ = np.histogram(x.numpy(), bins=edges)
    np.testing.assert_array_equal(counts, reference)
    assert counts.sum() == x.numel() and counts[-1] >= 2  # the max (twice) is in the closed last bin


@pytest.mark.parametrize("accelerator", [False, True])
def test_counts_equal_histc_where_its_bins_coincide(accelerator):
    x = torch.arange(0, 257, dtype=torch.float32).repeat(3) / 4  # 0, 0.25, ... 64: edges 0..64 exactly
    x = x[torch.randperm(x.numel(), generator=torch.Generator().manual_seed(0))]
    edges, counts = split(bin_tensor(x, 64, accelerator).numpy(), 64)
    np.testing.assert_array_equal(edges, np.arange(65))
    np.testing.assert_array_equal(counts, torch.histc(x, 64, 0, 64).long().numpy())
    np.testing.assert_array_equal(counts, np.histogram(x.numpy(), bins=edges)[0])


def test_channels_last_and_bf16_tensors_bin_as_their_values():
    x = torch.randn(4, 5, 3, 3, generator=torch.Generator().manual_seed(2))
    expected = bin_tensor(x, 8, False)
    assert torch.equal(bin_tensor(x.contiguous(memory_format=torch.channels_last), 8, True), expected)
    half = x.bfloat16()
    edges, counts = split(bin_tensor(half, 8, False).numpy(), 8)
    np.testing.assert_array_equal(counts, np.histogram(half.float().numpy(), bins=edges)[0])


def test_constant_and_non_finite_tensors():
    edges, counts = split(bin_tensor(torch.full((2, 5), 3.0), 4, False).numpy(), 4)
    np.testing.assert_array_equal(edges, [2.5, 2.75, 3.0, 3.25, 3.5])  # numpy's ± 0.5
    np.testing.assert_array_equal(counts, np.histogram(np.full(10, 3.0, np.float32), bins=edges)[0])
    for bad in (float("nan"), float("inf")):
        edges, counts = split(bin_tensor(torch.tensor([1.0, bad, 2.0]), 4, True).numpy(), 4)
        assert np.isnan(edges).all() and not counts.any()


# --- a real training step ----------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[False, True], ids=["cpu-path", "accelerator-path"])
def stepped(request):
    """One histogram step of a resnet-8 with projection shortcuts, with its tensors captured by the test's
    own hooks: ``(histograms, {layer: output}, {layer: grad}, {layer: weight after the update})``."""
    patch = pytest.MonkeyPatch()
    patch.setattr(probes_module, "accelerator_path", lambda device: request.param)
    cfg = toy_config(ModelConfig(arch="resnet", depth=8, width=4, shortcut="B"), histogram_every=1)
    run = prepare_run(cfg.resolved(), toy_splits(), torch.device("cpu"))
    modules = dict(run.model.named_modules())
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str, output: torch.Tensor) -> None:
        outputs[name] = output.detach().clone()

    for li in run.layers:
        modules[li.name].register_forward_hook(lambda m, i, o, n=li.name: keep(n, o))
    x, y = run.data.next_batch()
    result = train_step(run, x, y, 1)
    patch.undo()
    names = [li.name for li in run.layers]
    grads = {n: modules[n].weight.grad.detach().clone() for n in names}
    weights = {n: modules[n].weight.detach().clone() for n in names}
    assert any(li.role == "shortcut" for li in run.layers)
    return result.histograms, {"activation": outputs, "gradient": grads, "weight": weights}, names


def test_every_kind_and_layer_counts_what_numpy_counts(stepped):
    histograms, tensors, names = stepped
    assert [h.kind for h in histograms] == list(HISTOGRAM_KINDS) == ["activation", "gradient", "weight"]
    for h in histograms:
        assert h.step == 1 and h.edges.shape == (len(names), 9) and h.counts.shape == (len(names), 8)
        assert h.edges.dtype == np.float64 and h.counts.dtype == np.int64
        for layer, name in enumerate(names):
            values = tensors[h.kind][name].float().numpy().ravel()
            edges = h.edges[layer]
            assert edges[0] == values.min() and edges[-1] == values.max(), (h.kind, name)
            reference, _ = np.histogram(values, bins=edges)
            np.testing.assert_array_equal(h.counts[layer], reference, err_msg=f"{h.kind} {name}")
            assert h.counts[layer].sum() == values.size


# --- the schedule, and run folders -------------------------------------------------------------------
@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An MLP trained 20 steps with probe_every 10 and histogram_every 5, written to a run folder."""
    out = tmp_path_factory.mktemp("hist") / "run"
    cfg = toy_config(ModelConfig(arch="mlp", depth=3, width=8), steps=20, probe_every=10, histogram_every=5)
    writer = RunFolderWriter(out, durable=False)
    result = Engine(cfg, writer, splits=toy_splits()).run()
    assert result.status == "finished"
    return out, writer.store


def test_histograms_at_every_multiple_of_histogram_every_whatever_probe_every(folder):
    _, store = folder
    assert list(store.layer_step) == [1, 11]  # layer rows stay on the probe grid
    assert [(h.step, h.kind) for h in store.histograms] == [(s, k) for s in (5, 10, 15, 20) for k in HISTOGRAM_KINDS]
    assert all(h.counts.sum(axis=1).min() > 0 for h in store.histograms)


def _assert_same_histograms(got, expected):
    assert [(h.step, h.kind) for h in got] == [(h.step, h.kind) for h in expected]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a.edges, b.edges)
        np.testing.assert_array_equal(a.counts, b.counts)


def test_weight_histograms_and_dead_fraction_round_trip_through_the_run_folder(folder, tmp_path):
    out, store = folder
    _assert_same_histograms(store_from_run_folder(out).histograms, store.histograms)
    _assert_same_histograms(read_streamed_histograms(out), store.histograms)
    dead = store.layer("dead_fraction")
    assert dead.shape == (2, 3) and np.isnan(dead[:, 2]).all() and np.all((dead[:, :2] >= 0) & (dead[:, :2] <= 1))
    streamed = tmp_path / "streamed"
    shutil.copytree(out, streamed)
    (streamed / "layers.npz").unlink()
    for path in (out, streamed):
        np.testing.assert_array_equal(store_from_run_folder(path).layer("dead_fraction"), dead)


def test_a_folder_without_weight_histograms_or_dead_fraction_still_reads(folder, tmp_path):
    """Older folders: layers without dead_fraction, histograms of two kinds (archives, then streams)."""
    out, store = folder
    old = tmp_path / "old"
    shutil.copytree(out, old)
    with np.load(old / "layers.npz") as npz:
        np.savez(old / "layers.npz", **{k: npz[k] for k in npz.files if k != "dead_fraction"})
    with np.load(old / "histograms.npz") as npz:
        np.savez(old / "histograms.npz", **{k: npz[k] for k in npz.files if not k.startswith("weight_")})
    two_kinds = [h for h in store.histograms if h.kind != "weight"]
    _assert_reads_as_old(old, store, two_kinds)
    # the streams as an older writer left them, without the archives
    (old / "layers.npz").unlink()
    (old / "histograms.npz").unlink()
    _write_old_streams(old, store, two_kinds)
    _assert_reads_as_old(old, store, two_kinds)


def _assert_reads_as_old(old, store, two_kinds):
    read = store_from_run_folder(old)
    assert read.layer("dead_fraction").shape == (2, 3) and np.isnan(read.layer("dead_fraction")).all()
    np.testing.assert_array_equal(read.layer("grad_norm"), store.layer("grad_norm"))
    _assert_same_histograms(read.histograms, two_kinds)


def _write_old_streams(old, store, two_kinds):
    quantities = [q for q in LAYER_QUANTITIES if q != "dead_fraction"]
    head = json.loads((old / "layers.json").read_text())
    n = head["n_layers"]
    dtype = layers_record_dtype(len(quantities), n)
    head.update(quantities=quantities, record_bytes=dtype.itemsize)
    (old / "layers.json").write_text(json.dumps(head))
    records = np.zeros(len(store.layer_step), dtype=dtype)
    records["step"] = store.layer_step
    for i, q in enumerate(quantities):
        records["values"][:, i, :] = store.layer(q)
    records.tofile(old / "layers.bin")
    head = json.loads((old / "histograms.json").read_text())
    head["kinds"] = ["activation", "gradient"]
    (old / "histograms.json").write_text(json.dumps(head))
    hist = np.zeros(len(two_kinds), dtype=histogram_record_dtype(n, head["bins"]))
    hist["step"] = [h.step for h in two_kinds]
    hist["kind"] = [head["kinds"].index(h.kind) for h in two_kinds]
    hist["edges"] = [h.edges for h in two_kinds]
    hist["counts"] = [h.counts for h in two_kinds]
    hist.tofile(old / "histograms.bin")
    assert not (old / "layers.npz").exists() and read_run_folder(old).layers["step"].shape == (2,)
