"""TensorBoard output (issue 18): the events, read back with TensorBoard's own reader, hold the run folder's
values; ``run --tensorboard`` and ``export tensorboard`` write them; bad folders and a missing package are
one line; a write that fails while training stops TensorBoard only."""

from __future__ import annotations

import errno
import shutil
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from resnet_viz.cli import main
from resnet_viz.export import tensorboard as tb
from resnet_viz.export.run_folder import read_run_folder
from resnet_viz.export.run_folder_read import read_histograms
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    HistogramRecord,
    LayerInfoRecord,
    LayerStats,
    RunFinished,
    RunStarted,
    SharpnessRecord,
    TrainChunk,
)
from resnet_viz.runs import process_backend
from resnet_viz.runs.thread_backend import ThreadBackend

TINY = ["--arch", "plain", "--depth", "8", "--width", "4", "--subset", "1000", "--batch-size", "32", "--lr", "0.05",
        "--snapshots", "0", "--eval-train-samples", "200", "--quiet"]  # fmt: skip
EVERYTHING = {"scalars": 0, "histograms": 0, "tensors": 0}


def events(log_dir) -> EventAccumulator:
    assert len(tb.event_files(log_dir)) == 1, list(log_dir.iterdir())
    acc = EventAccumulator(str(log_dir), size_guidance=EVERYTHING)
    acc.Reload()
    return acc


def scalars(acc: EventAccumulator, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps (int64) and values (float32, as TensorBoard keeps them) of a scalar tag."""
    got = acc.Scalars(tag)
    return np.array([e.step for e in got], dtype=np.int64), np.array([e.value for e in got], dtype=np.float32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One run trained with ``run --tensorboard`` (20 steps, evaluations and histograms every 10), and its
    run folder exported again with ``export tensorboard``."""
    root = tmp_path_factory.mktemp("tensorboard")
    out = root / "runs" / "tiny"
    argv = ["run", *TINY, "--steps", "20", "--eval-every", "10", "--histogram-every", "10"]
    assert main([*argv, "--out", str(out), "--tensorboard", str(root / "live")]) == 0
    assert main(["export", "tensorboard", str(out), "--out", str(root / "replayed")]) == 0
    return out, events(root / "live" / "tiny"), events(root / "replayed" / "tiny")


def test_scalars_equal_the_run_folders_metrics(trained):
    """metrics.csv keeps 9 significant digits of each float64 and an event float32 of it: float32 of the csv
    value can differ from the event's by one float32 ulp (rounding twice); exactness is tested with records."""
    out, live, _ = trained
    m = read_run_folder(out).metrics
    for tag, column in [("train/loss", "loss"), ("train/batch_error", "batch_error"), ("train/lr", "lr")]:
        steps, values = scalars(live, tag)
        assert steps.tolist() == list(range(1, 21)), tag
        np.testing.assert_array_max_ulp(values, m[column].astype(np.float32), maxulp=1)
    evaluated = ~np.isnan(m["test_error"])
    for column in tb.EVAL_SCALARS:
        steps, values = scalars(live, f"eval/{column}")
        assert steps.tolist() == m["step"][evaluated].tolist() == [10, 20], column
        np.testing.assert_array_max_ulp(values, m[column][evaluated].astype(np.float32), maxulp=1)
        assert values.min() >= 0 and (values.max() <= 1 or "loss" in column)  # errors are fractions


def test_layer_quantities_equal_layers_npz_grouped_by_layer(trained):
    out, live, _ = trained
    layers = read_run_folder(out).layers
    labels = tb.layer_labels(layers["layer_names"])
    assert labels[0] == "00-" + str(layers["layer_names"][0]) and len(set(labels)) == len(labels)
    tags = set(live.Tags()["scalars"])
    for q in LAYER_QUANTITIES:  # every quantity, dead_fraction included
        for i, label in enumerate(labels):
            tag = tb.layer_tag(label, q)
            column = layers[q][:, i]  # float32, exactly what the events hold
            finite = np.isfinite(column)
            if not finite.any():  # NaN (no ReLU after the layer, say): no events at all
                assert tag not in tags
                continue
            steps, values = scalars(live, tag)
            assert steps.tolist() == layers["step"][finite].tolist()
            np.testing.assert_array_equal(values, column[finite])
    assert sorted(t.split("/")[0] for t in tags if t.startswith("layer-"))[0] == "layer-" + labels[0]


def test_histograms_equal_the_run_folders(trained):
    out, live, _ = trained
    names = read_run_folder(out).layers["layer_names"]
    labels = tb.layer_labels(names)
    records = read_histograms(out)
    assert {h.kind for h in records} >= {"activation", "gradient"} and [h.step for h in records][-1] == 20
    for h in records:
        for i, label in enumerate(labels):
            edges, counts = h.edges[i], h.counts[i]
            found = [e for e in live.Histograms(tb.histogram_tag(h.kind, label)) if e.step == h.step]
            if not np.isfinite(edges).all() or counts.sum() == 0:
                assert not found
                continue
            (event,) = found
            v = event.histogram_value
            assert list(v.bucket_limit) == edges[1:].tolist() and list(v.bucket) == counts.tolist()
            assert (v.min, v.max, v.num) == (edges[0], edges[-1], counts.sum())
            centres = (edges[:-1] + edges[1:]) / 2
            assert v.sum == pytest.approx(counts @ centres) and v.sum_squares == pytest.approx(counts @ centres**2)


def test_the_config_is_text_at_step_0(trained):
    _, live, _ = trained
    (event,) = live.Tensors("config/text_summary")
    text = event.tensor_proto.string_val[0].decode()
    assert event.step == 0 and text.startswith("**plain-8") and '"depth": 8' in text


def test_export_of_the_saved_folder_equals_the_live_events(trained):
    """Layers and histograms are exact in a run folder; scalars come back from metrics.csv (≤ 1 ulp)."""
    _, live, replayed = trained
    assert set(replayed.Tags()["scalars"]) == set(live.Tags()["scalars"])
    for tag in live.Tags()["scalars"]:
        steps, values = scalars(live, tag)
        steps2, values2 = scalars(replayed, tag)
        assert steps2.tolist() == steps.tolist(), tag
        if tag.startswith("layer-"):
            np.testing.assert_array_equal(values2, values)
        else:
            np.testing.assert_array_max_ulp(values2, values, maxulp=1)
    assert set(replayed.Tags()["histograms"]) == set(live.Tags()["histograms"])
    for tag in live.Tags()["histograms"]:
        assert [e.histogram_value for e in replayed.Histograms(tag)] == [
            e.histogram_value for e in live.Histograms(tag)
        ]


# --- records, no training ----------------------------------------------------------------------------
def _started(names=("stem.conv", "stage1.conv", "fc")) -> RunStarted:
    n = len(names)
    ints, floats = np.arange(n, dtype=np.int64), np.ones(n)
    info = LayerInfoRecord(list(names), ["conv"] * n, ["hidden"] * n, ints, ints, ints, ints)
    return RunStarted("net · test", {"model": {"depth": 3}}, {}, "cpu", {}, info, 10, 4, floats, floats, floats,
                      floats, floats)  # fmt: skip


def _chunk(steps: list[int], loss: list[float], layer_rows: np.ndarray | None = None) -> TrainChunk:
    k = len(steps)
    stats = None if layer_rows is None else LayerStats(**{q: layer_rows.copy() for q in LAYER_QUANTITIES})
    return TrainChunk(np.array(steps, dtype=np.int64), np.array(loss), np.full(k, 0.25), np.full(k, 0.1),
                      np.full(k, 0.01), stats, None if layer_rows is None else np.array(steps, dtype=np.int64))  # fmt: skip


def _finished() -> RunFinished:
    return RunFinished("finished", 3, 0.5, 0.5, 1.0, 1.0, 10.0, 1.0, 10, "cpu")


def test_scalars_are_float32_of_the_records_and_non_finite_values_are_skipped(tmp_path):
    """Exact: each event is float32 of the record's float64; NaN, ±inf and values beyond float32 skipped."""
    loss = [2.302585092994046, np.nan, 1e300, 0.1 + 0.2]
    rows = np.array([[0.1, np.nan, 3.0], [np.inf, 2.0, 3.0], [1.0, 2.0, 3.0], [1e-7, 2.5, np.nan]], np.float32)
    writer = tb.TensorBoardWriter(tmp_path / "tb")
    for record in [
        _started(),
        EvalRecord(0, 0.9, 2.3, 0.875, float("nan")),
        _chunk([1, 2, 3, 4], loss, rows),
        SharpnessRecord(4, 12.5, float("nan"), 20, 256),
        _finished(),
    ]:
        writer(record)
    assert writer.error is None and writer.closed
    acc = events(tmp_path / "tb")
    steps, values = scalars(acc, "train/loss")
    assert steps.tolist() == [1, 4] and values.tolist() == np.float32([loss[0], loss[3]]).tolist()
    assert scalars(acc, "eval/train_error")[1].tolist() == [np.float32(0.9)]
    assert "eval/test_loss" not in acc.Tags()["scalars"] and "sharpness/trace" not in acc.Tags()["scalars"]
    assert [(e.step, e.value) for e in acc.Scalars("sharpness/top_eigenvalue")] == [(4, 12.5)]
    assert scalars(acc, "layer-00-stem.conv/grad_norm")[0].tolist() == [1, 3, 4]
    assert scalars(acc, "layer-00-stem.conv/grad_norm")[1].tolist() == rows[[0, 2, 3], 0].tolist()
    assert scalars(acc, "layer-02-fc/update_ratio")[0].tolist() == [1, 2, 3]


def test_histogram_rows_without_data_are_skipped(tmp_path):
    edges = np.array([[-1.0, 0.0, 1.0], [np.nan] * 3, [2.0, 2.5, 3.0]])
    counts = np.array([[3, 1], [0, 0], [0, 0]], dtype=np.int64)
    writer = tb.TensorBoardWriter(tmp_path / "tb")
    for record in [_started(), HistogramRecord(5, "weight", edges, counts), _finished()]:
        writer(record)
    acc = events(tmp_path / "tb")
    assert acc.Tags()["histograms"] == ["histograms/weight/00-stem.conv"]
    (event,) = acc.Histograms("histograms/weight/00-stem.conv")
    v = event.histogram_value
    assert (event.step, v.min, v.max, v.num, v.sum, v.sum_squares) == (5, -1.0, 1.0, 4, -1.0, 1.0)
    assert list(v.bucket_limit) == [0.0, 1.0] and list(v.bucket) == [3, 1]


def test_layer_labels_sort_by_depth():
    labels = tb.layer_labels([f"l{i}" for i in range(120)])
    assert labels[5] == "005-l5" and sorted(labels) == labels
    assert tb.layer_labels(["a/b c"]) == ["00-a_b_c"]


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # no traceback of the writer thread
def test_a_write_failing_while_training_is_one_error_and_the_writer_stops(tmp_path):
    """The folder removed under a live writer: one WriteError naming it, on_error once, later records ignored."""
    seen = []
    writer = tb.TensorBoardWriter(tmp_path / "tb", on_error=seen.append)
    writer(_started())
    shutil.rmtree(tmp_path / "tb")
    for record in [_chunk([1], [1.0]), _chunk([2], [1.0]), _finished(), _chunk([3], [1.0])]:
        writer(record)  # never raises
    assert len(seen) == 1 and seen[0] is writer.error and writer.closed
    assert str(writer.error) == f"{tmp_path / 'tb'}: the folder does not exist"
    assert not (tmp_path / "tb").exists()


def test_tensorboard_missing_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` fails as when not installed
    assert tb.tensorboard_missing() == tb.MISSING
    with pytest.raises(tb.TensorBoardUnavailable, match=r"pip install 'resnet-viz\[tensorboard\]'"):
        tb.TensorBoardWriter(tmp_path / "tb")


# --- the command line -------------------------------------------------------------------------------
def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_cli_without_the_package_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    assert main(["export", "tensorboard", str(tmp_path)]) == 2
    assert _one_line(capsys.readouterr().err) == f"resnet-viz: error: {tb.MISSING}"
    argv = ["run", *TINY, "--steps", "2", "--out", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb")]
    assert main(argv) == 2  # refused before anything is trained or written
    assert _one_line(capsys.readouterr().err) == f"resnet-viz: error: --tensorboard: {tb.MISSING}"
    assert not (tmp_path / "run").exists()


def test_cli_refuses_a_log_folder_it_cannot_use(tmp_path, capsys, trained):
    out, _, _ = trained
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["run", *TINY, "--steps", "2", "--out", str(tmp_path / "run")]
    assert main([*argv, "--tensorboard", str(blocker)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == f"resnet-viz: error: --tensorboard {blocker / 'run'}: {blocker} is a file, not a folder"
    earlier = out.parent.parent / "live"  # holds tiny/ of the fixture's run
    assert main([*argv[:-1], str(tmp_path / "x" / "tiny"), "--tensorboard", str(earlier)]) == 2
    assert _one_line(capsys.readouterr().err).endswith(f"{tb.EARLIER_EVENTS}; add --overwrite to replace them")
    assert main(["export", "tensorboard", str(out), "--out", str(blocker)]) == 2
    assert _one_line(capsys.readouterr().err).endswith(f"{blocker} is a file, not a folder")
    assert not (tmp_path / "run").exists()


def test_export_of_a_garbage_folder_is_one_line_and_the_others_are_written(tmp_path, capsys, trained):
    out, _, _ = trained
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "run.json").write_text("[1")
    (garbage / "metrics.csv").write_text("")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", "tensorboard", str(garbage), str(empty), str(out), "--out", str(tmp_path / "tb")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert lines[0].startswith(f"resnet-viz: error: {garbage}: the run folder cannot be read: JSONDecodeError")
    assert lines[1] == f"resnet-viz: error: {empty} is not a run folder: {empty / 'run.json'} is missing"
    assert len(lines) == 2 and captured.out.strip() == f"{out} → {tmp_path / 'tb' / 'tiny'}"
    assert len(tb.event_files(tmp_path / "tb" / "tiny")) == 1


def test_a_failing_tensorboard_write_does_not_stop_the_run(tmp_path, capsys, monkeypatch):
    def full(self, chunk):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tb.TensorBoardWriter, "_chunk", full)
    out, log = tmp_path / "run", tmp_path / "tb"
    assert main(["run", *TINY, "--steps", "3", "--out", str(out), "--tensorboard", str(log)]) == 0
    captured = capsys.readouterr()
    assert _one_line(captured.err) == (
        f"resnet-viz: TensorBoard events stopped: {log / 'run'}: no space left on the disk; the run goes on"
    )
    assert read_run_folder(out).status == "finished" and read_run_folder(out).metrics["step"].tolist() == [1, 2, 3]
    assert "TensorBoard events →" not in captured.out


def test_a_sweep_writes_one_log_folder_per_trial(tmp_path, monkeypatch):
    monkeypatch.setattr(process_backend, "ProcessBackend", ThreadBackend)  # the trials in threads: no start-up
    argv = ["sweep", "--arch", "mlp", "--width", "8", "--subset", "300", "--batch-size", "32", "--steps", "4",
            "--eval-every", "2", "--eval-train-samples", "100", "--vary", "model.depth=2", "--seeds", "0-1",
            "--parallel", "2", "--quiet", "--out", str(tmp_path / "sw"), "--tensorboard", str(tmp_path / "tb")]  # fmt: skip
    assert main(argv) == 0
    trials = sorted(p.name for p in (tmp_path / "sw" / "trials").iterdir())
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == trials and len(trials) == 2
    for name in trials:
        steps, values = scalars(events(tmp_path / "tb" / name), "train/loss")
        loss = read_run_folder(tmp_path / "sw" / "trials" / name).metrics["loss"]
        assert steps.tolist() == [1, 2, 3, 4]
        np.testing.assert_array_max_ulp(values, loss.astype(np.float32), maxulp=1)
