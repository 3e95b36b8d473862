"""Snapshots and sharpness in the run folder: written as they arrive, read back, replayed; a failed write."""

from __future__ import annotations

import errno
import json
import math

import numpy as np
import pytest

from resnet_viz.export import snapshots_io
from resnet_viz.export.replay import records_from_store, store_from_run_folder, write_run_folder
from resnet_viz.export.run_folder import RunFolderError, RunFolderWriter, estimate_run_bytes
from resnet_viz.export.snapshots_io import read_sharpness, read_snapshots
from resnet_viz.metrics.records import ParameterSnapshot, SharpnessRecord, TrainChunk
from resnet_viz.metrics.store import RunStore
from resnet_viz.train.engine import Engine
from tests.test_snapshots import tiny_config


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A tiny run (6 snapshots, sharpness every 4 steps with the trace) written by a RunFolderWriter."""
    out = tmp_path_factory.mktemp("run") / "r"
    writer = RunFolderWriter(out, durable=False)
    seen_on_disk = []

    def emit(record):
        writer(record)
        if isinstance(record, ParameterSnapshot):  # on disk as it arrives, not at the end
            seen_on_disk.append(snapshots_io.snapshot_path(out, record.step).is_file())

    result = Engine(
        tiny_config(steps=10, snapshots=6, sharpness_every=4, sharpness_trace=True, eval_train_samples=32), emit
    ).run()
    assert result.status == "finished"
    return out, writer.store, seen_on_disk


def test_snapshots_are_written_as_they_arrive_and_read_back_exactly(written):
    out, store, seen_on_disk = written
    assert seen_on_disk and all(seen_on_disk)
    names = sorted(p.name for p in (out / "snapshots").iterdir())
    assert names == [f"step_{s:07d}.npz" for s in (0, 2, 4, 6, 8, 10)]
    back = read_snapshots(out)
    assert [s.step for s in back] == [s.step for s in store.snapshots]
    for a, b in zip(back, store.snapshots):
        assert list(a.params) == list(b.params)
        for name in a.params:
            assert a.params[name].dtype == np.float32
            np.testing.assert_array_equal(a.params[name], b.params[name])


def test_sharpness_csv_and_replay_fill_the_store(written):
    out, store, _ = written
    lines = (out / "sharpness.csv").read_text().splitlines()
    assert lines[0] == "step,top_eigenvalue,trace,iterations,samples" and len(lines) == 1 + 3  # steps 0, 4, 8
    assert read_sharpness(out) == store.sharpness  # repr() round-trips floats exactly
    back = store_from_run_folder(out)
    assert [s.step for s in back.snapshots] == [0, 2, 4, 6, 8, 10]
    assert back.sharpness == store.sharpness
    np.testing.assert_array_equal(back.sharpness_arrays()["step"], [0, 4, 8])


def test_replay_puts_observations_after_the_chunk_of_their_step(written):
    _, store, _ = written
    reported, order = 0, []
    for record in records_from_store(store, chunk_steps=3):
        if isinstance(record, TrainChunk):
            reported = int(record.step[-1])
        elif isinstance(record, (ParameterSnapshot, SharpnessRecord)):
            assert record.step <= reported or record.step == 0
            order.append((type(record).__name__, record.step))
    assert order[:2] == [("ParameterSnapshot", 0), ("SharpnessRecord", 0)]
    again = RunStore()
    for record in records_from_store(store):
        again.add(record)
    assert [s.step for s in again.snapshots] == [s.step for s in store.snapshots] and again.sharpness == store.sharpness


def test_a_session_copy_keeps_sharpness_and_snapshots(written, tmp_path):
    _, store, _ = written
    out = write_run_folder(store, tmp_path / "copy")
    back = store_from_run_folder(out)
    assert [s.step for s in back.snapshots] == [s.step for s in store.snapshots]
    assert back.sharpness == store.sharpness


def test_a_new_run_removes_the_previous_runs_snapshots_only(written, tmp_path):
    _, store, _ = written
    out = write_run_folder(store, tmp_path / "again")
    (out / "snapshots" / "mine.txt").write_text("keep me")
    (out / "snapshots" / "step_0000999.npz").write_bytes(b"old")
    few = RunStore()
    for record in records_from_store(store):
        if not isinstance(record, (ParameterSnapshot, SharpnessRecord)) or record.step == 0:
            few.add(record)
    write_run_folder(few, out)
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["mine.txt", "step_0000000.npz"]
    assert len(read_sharpness(out)) == 1


def test_an_unreadable_snapshot_is_named_in_one_line(written, tmp_path):
    _, store, _ = written
    out = write_run_folder(store, tmp_path / "bad")
    bad = out / "snapshots" / "step_0000004.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RunFolderError) as info:
        read_snapshots(out)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
    assert read_snapshots(tmp_path) == []


def test_a_failed_snapshot_write_is_one_line_and_the_run_keeps_its_data(tmp_path, monkeypatch):
    real = snapshots_io.write_snapshot

    def disk_full_at_step_4(folder, snap, durable=True):
        if snap.step >= 4:
            raise OSError(errno.ENOSPC, "No space left on device", str(snapshots_io.snapshot_path(folder, snap.step)))
        return real(folder, snap, durable)

    monkeypatch.setattr(snapshots_io, "write_snapshot", disk_full_at_step_4)
    out = tmp_path / "full"
    writer = RunFolderWriter(out, durable=False)
    result = Engine(tiny_config(steps=10, snapshots=6), writer).run()
    assert result.status == "finished" and writer.write_error is None
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished"
    line = summary["snapshots_error"]
    assert line.startswith("write failed at step 4: No space left on device (") and "step_0000004.npz" in line
    assert [s.step for s in read_snapshots(out)] == [0, 2]  # the ones before, whole
    back = store_from_run_folder(out)
    assert back.steps_done == 10 and (out / "checkpoint.pt").is_file()  # nothing else lost
    assert not any(p.name.endswith(".tmp") for p in (out / "snapshots").iterdir())


def test_the_free_space_estimate_counts_snapshots_and_sharpness():
    engine = Engine(tiny_config(steps=10, snapshots=6))
    engine.prepare()
    plan = engine.snapshot_plan
    assert len(plan.steps) == 6 and plan.total_bytes >= 6 * 4 * engine.prepared.params
    base = estimate_run_bytes(10, 8)
    assert estimate_run_bytes(10, 8, snapshot_bytes=plan.total_bytes) == base + plan.total_bytes
    assert estimate_run_bytes(10, 8, sharpness_every=5) > base
    assert not math.isnan(base)
