"""Replay (store → records → store / run folder → store) and session files, on real tiny engine runs."""

import dataclasses
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_run_config

from resnet_viz.config import RunConfig
from resnet_viz.data import load_dataset
from resnet_viz.export.replay import (
    provisional_finished,
    records_from_store,
    store_from_run_folder,
    write_run_folder,
)
from resnet_viz.export.run_folder import RunFolderWriter, read_run_folder
from resnet_viz.export.session import Session, SessionError, SessionRun, load_session, save_session
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    HistogramRecord,
    ParameterSnapshot,
    RunFinished,
    RunStarted,
    TrainChunk,
)
from resnet_viz.metrics.store import RunStore
from resnet_viz.train.engine import Engine

CSV_RTOL = 1e-8  # metrics.csv keeps 9 significant digits


# --- comparison helpers ----------------------------------------------------------------------------
def _json(value):
    return json.loads(json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else list(o)))


def assert_values_close(x, y, rtol=0.0, what=""):
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        assert type(x) is type(y), what
        for f in dataclasses.fields(x):
            assert_values_close(getattr(x, f.name), getattr(y, f.name), rtol, f"{what}.{f.name}")
    elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray) or (isinstance(x, float) and isinstance(y, float)):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape, what
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            # NaN and ±inf must sit in the same places
            np.testing.assert_allclose(
                x.astype(np.float64), y.astype(np.float64), rtol=rtol, atol=0, equal_nan=True, err_msg=what
            )
        else:
            assert np.array_equal(x, y), what
    elif isinstance(x, dict) and isinstance(y, dict):
        assert x.keys() == y.keys(), what
        for key in x:
            assert_values_close(x[key], y[key], rtol, f"{what}[{key!r}]")
    else:
        assert _json(x) == _json(y), what


def assert_stores_equal(a: RunStore, b: RunStore, rtol: float = 0.0, eval_time: bool = True) -> None:
    """Same per-step and per-layer arrays (floats to ``rtol``), evaluations, histograms, started, finished."""
    assert a.steps_done == b.steps_done
    for name in ("step", "loss", "batch_error", "lr", "step_time_s"):
        assert_values_close(a.scalar(name), b.scalar(name), rtol, name)
    assert a.scalar("step").dtype == b.scalar("step").dtype == np.int64
    assert np.array_equal(a.layer_step, b.layer_step)
    for q in LAYER_QUANTITIES:  # float32, exact in both ways
        assert a.layer(q).dtype == b.layer(q).dtype
        assert_values_close(a.layer(q), b.layer(q), 0.0, q)
    assert len(a.evals) == len(b.evals)
    for x, y in zip(a.evals, b.evals):
        if not eval_time:
            y = dataclasses.replace(y, eval_time_s=x.eval_time_s)
        assert_values_close(x, y, rtol, f"eval {x.step}")
    assert len(a.histograms) == len(b.histograms)
    for x, y in zip(a.histograms, b.histograms):
        assert_values_close(x, y, 0.0, f"histogram {x.step} {x.kind}")
    assert (a.started is None) == (b.started is None)
    if a.started is not None:
        assert_values_close(a.started, b.started, 0.0, "started")
    assert (a.finished is None) == (b.finished is None)
    if a.finished is not None:
        assert_values_close(a.finished, b.finished, 0.0, "finished")


# --- the runs ------------------------------------------------------------------------------------
@dataclasses.dataclass
class Recorded:
    name: str
    config: RunConfig
    records: list
    store: RunStore
    folder: Path  # written by the engine's own RunFolderWriter while training


def _record(name, cfg, out, stop_after_first_chunk=False, **engine_kw) -> Recorded:
    records = []
    writer = RunFolderWriter(out / name)
    engine = None

    def emit(record):
        records.append(record)
        writer(record)
        if stop_after_first_chunk and isinstance(record, TrainChunk):
            engine.stop()

    engine = Engine(cfg, emit, **engine_kw)
    engine.run()
    store = RunStore()
    for r in records:
        store.add(r)
    return Recorded(name, cfg, records, store, out / name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Recorded]:
    out = tmp_path_factory.mktemp("engine-folders")
    splits = load_dataset(tiny_run_config().data)  # the same 1,000 embedded images for every run
    # evaluations (4,000 test images) cost most of the time: 5 in all
    probed = tiny_run_config("plain", 8, steps=12)
    probed.train = dataclasses.replace(probed.train, probe_every=3, histogram_every=2, histogram_bins=8, eval_every=7)
    no_probes = tiny_run_config("resnet", 8, steps=40)
    no_probes.train = dataclasses.replace(no_probes.train, probes=False)
    got = [
        _record("finished", tiny_run_config("plain", 8, steps=20), out, splits=splits),
        _record("diverged", tiny_run_config("plain", 8, lr=1e4, batch_norm=False), out, splits=splits),
        _record("stopped", no_probes, out, stop_after_first_chunk=True, max_chunk=4, splits=splits),
        _record("probe3", probed, out, splits=splits),
    ]
    return {r.name: r for r in got}


def test_runs_are_what_the_tests_need(runs):
    assert runs["finished"].store.finished.status == "finished"
    diverged = runs["diverged"].store
    assert diverged.finished.status.startswith("diverged")
    assert not np.isfinite(diverged.scalar("loss")[-1])
    stopped = runs["stopped"].store
    assert stopped.finished.status == "stopped" and stopped.steps_done < 40
    assert stopped.layer_step.shape == (0,) and stopped.evals[-1].step == stopped.steps_done
    probed = runs["probe3"].store
    assert np.array_equal(probed.layer_step, [1, 4, 7, 10]) and [e.step for e in probed.evals] == [7, 12]
    assert sorted({h.step for h in probed.histograms}) == [2, 4, 6, 8, 10, 12]  # whatever probe_every
    assert {h.kind for h in probed.histograms} == {"activation", "gradient", "weight"}


# --- records_from_store ----------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_steps", [1, 3, 7, 4096])
def test_records_from_store_rebuild_an_equal_store_in_the_engine_order(runs, chunk_steps):
    for run in runs.values():
        records = list(records_from_store(run.store, chunk_steps=chunk_steps))
        assert isinstance(records[0], RunStarted) and isinstance(records[-1], RunFinished)
        seen: set[int] = set()
        chunks = [r for r in records if isinstance(r, TrainChunk)]
        for r in records:
            if isinstance(r, TrainChunk):
                assert 1 <= len(r) <= chunk_steps
                if r.layers is None:
                    assert r.layer_step is None
                else:
                    assert r.layers.grad_norm.shape == (r.layer_step.shape[0], 8)
                    assert set(r.layer_step.tolist()) <= set(r.step.tolist())
                seen.update(r.step.tolist())
            elif isinstance(r, (EvalRecord, HistogramRecord)):
                assert r.step not in seen  # before the chunk holding its step
        # each evaluation comes right before the chunk holding its step (or after the last chunk)
        for i, r in enumerate(records):
            if isinstance(r, EvalRecord):
                nxt = next((c for c in records[i + 1 :] if isinstance(c, TrainChunk)), None)
                assert nxt is None or r.step in nxt.step.tolist() or r.step > chunks[-1].step[-1]
        rebuilt = RunStore()
        for r in records:
            rebuilt.add(r)
        assert_stores_equal(run.store, rebuilt)


def test_records_from_store_of_an_eval_beyond_the_last_step_and_a_store_without_steps(runs):
    store = runs["finished"].store
    records = list(records_from_store(store))
    late = EvalRecord(step=store.steps_done + 5, train_error=0.5, train_loss=1.0, test_error=0.5, test_loss=1.0)
    store2 = RunStore()
    for r in records[:-2] + [late] + records[-2:]:  # the engine's last records: ModelWeights, RunFinished
        store2.add(r)
    again = list(records_from_store(store2, chunk_steps=8))
    assert again[-3] is late and again[-2] is store.weights
    assert isinstance(again[-4], ParameterSnapshot) and again[-4].step == store.steps_done  # after the last chunk
    empty = RunStore()
    empty.add(store.started)
    assert [type(r) for r in records_from_store(empty)] == [RunStarted]
    with pytest.raises(ValueError):
        list(records_from_store(store, chunk_steps=0))


# --- run folders -----------------------------------------------------------------------------------
def _npz(path: Path) -> dict:
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def test_write_run_folder_matches_the_engine_folder(runs, tmp_path):
    for run in runs.values():
        out = write_run_folder(run.store, tmp_path / run.name)
        engine, ours = run.folder, out
        assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in engine.iterdir())
        assert (ours / "metrics.csv").read_text() == (engine / "metrics.csv").read_text()
        assert (ours / "summary.json").read_text() == (engine / "summary.json").read_text()
        a, b = json.loads((ours / "run.json").read_text()), json.loads((engine / "run.json").read_text())
        a.pop("created"), b.pop("created")
        assert a == b
        for npz in ("layers.npz", "histograms.npz"):
            if (engine / npz).exists():
                x, y = _npz(ours / npz), _npz(engine / npz)
                assert x.keys() == y.keys()
                for k in x:
                    assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f")
        folder = read_run_folder(out)
        assert folder.summary["status"] == run.store.finished.status


def test_store_from_run_folder_is_the_original_store(runs, tmp_path):
    for run in runs.values():
        for folder in (run.folder, write_run_folder(run.store, tmp_path / run.name)):
            loaded = store_from_run_folder(folder)
            assert_stores_equal(run.store, loaded, rtol=CSV_RTOL, eval_time=False)
    # the diverged run's last loss stays non-finite, as it was
    diverged = store_from_run_folder(runs["diverged"].folder)
    a, b = runs["diverged"].store.scalar("loss"), diverged.scalar("loss")
    assert np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(np.isinf(a), np.isinf(b))
    assert not np.isfinite(b[-1]) and np.all(np.isfinite(b[:-1]))


def test_failed_run_keeps_its_traceback(runs, tmp_path):
    store = RunStore()
    for r in records_from_store(runs["finished"].store):
        if isinstance(r, RunFinished):
            r = dataclasses.replace(
                r,
                status="failed",
                message="RuntimeError: boom",
                final_train_error=None,
                final_test_error=None,
                final_train_loss=None,
                final_test_loss=None,
                extra={"traceback": "Traceback...\nRuntimeError: boom\n", "final_eval_step": None},
            )
        store.add(r)
    out = write_run_folder(store, tmp_path / "failed")
    assert (out / "error.log").read_text() == "Traceback...\nRuntimeError: boom\n"
    assert_stores_equal(store, store_from_run_folder(out), rtol=CSV_RTOL, eval_time=False)


def test_a_running_store_writes_a_complete_folder_that_reads_back_unfinished(runs, tmp_path):
    store = RunStore()
    for r in runs["probe3"].records:
        if not isinstance(r, RunFinished):
            store.add(r)
    out = write_run_folder(store, tmp_path / "running")
    folder = read_run_folder(out)
    assert folder.layers is not None and folder.summary["status"] == "running"
    assert folder.summary["steps"] == store.steps_done
    assert folder.summary["final_eval_step"] == store.evals[-1].step
    assert provisional_finished(store).steps_per_s > 0
    loaded = store_from_run_folder(out)
    assert loaded.finished is None
    assert_stores_equal(store, loaded, rtol=CSV_RTOL, eval_time=False)
    with pytest.raises(ValueError, match="not started"):
        write_run_folder(RunStore(), tmp_path / "none")


def test_a_killed_run_folder_loads_what_metrics_csv_has(runs, tmp_path):
    killed = tmp_path / "killed"  # as an older version left a killed run: no layer files, no summary
    shutil.copytree(runs["finished"].folder, killed)
    for name in ("layers.npz", "summary.json", "layers.json", "layers.bin"):
        (killed / name).unlink()
    store = store_from_run_folder(killed)
    original = runs["finished"].store
    assert store.finished.status == "interrupted at step 20" and store.started.layers.names == []
    assert store.started.total_steps == original.started.total_steps and store.started.label == original.started.label
    assert store.layer("grad_norm").shape == (0, 0) and store.layer_step.shape == (0,)
    np.testing.assert_allclose(store.scalar("loss"), original.scalar("loss"), rtol=CSV_RTOL)
    assert [e.step for e in store.evals] == [e.step for e in original.evals]


# --- sessions --------------------------------------------------------------------------------------
def _session(runs) -> Session:
    queued = tiny_run_config("resnet", 14)
    return Session(
        runs=[
            SessionRun(
                name=r.name + " · run/ü",
                color=f"#00{i}0ff",
                visible=i != 1,
                status=r.store.finished.status,
                message=r.store.finished.message,
                config=r.config,
                store=r.store,
            )
            for i, r in enumerate(runs.values())
        ]
        + [
            SessionRun(
                name="queued", color="#123456", visible=True, status="queued", message="", config=queued, store=None
            ),
            SessionRun(
                name="failed while preparing",
                color="#654321",
                visible=True,
                status="failed",
                message="DataError: no data",
                config=queued,
                store=RunStore(),
            ),
        ],
        settings={"selected": 2, "train_mode": "parallel", "nested": {"a": [1, 2.5, None]}},
    )


def test_session_round_trip(runs, tmp_path):
    session = _session(runs)
    path = save_session(tmp_path / "mine", session)
    assert path == tmp_path / "mine.rvsession" and path.exists()
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        doc = json.loads(zf.read("session.json"))
    assert doc["format"] == "resnet-viz session" and doc["version"] == 1 and doc["created"]
    folders = [r["folder"] for r in doc["runs"]]
    assert folders[0] == "runs/01-finished-run-u" and folders[-2:] == [None, None]
    assert f"{folders[3]}/histograms.npz" in names and f"{folders[0]}/metrics.csv" in names

    loaded = load_session(path)
    assert loaded.settings == session.settings
    assert len(loaded.runs) == len(session.runs)
    for a, b in zip(session.runs, loaded.runs):
        assert (a.name, a.color, a.visible, a.status, a.message, a.config) == (
            b.name,
            b.color,
            b.visible,
            b.status,
            b.message,
            b.config,
        )
        if a.store is None or a.store.started is None:
            assert b.store is None
        else:
            assert_stores_equal(a.store, b.store, rtol=CSV_RTOL, eval_time=False)
    # saving again over the file keeps a loadable session (atomic replace)
    save_session(path, loaded)
    assert len(load_session(path).runs) == len(session.runs)


def test_a_failing_save_leaves_the_old_file(runs, tmp_path):
    path = save_session(tmp_path / "keep.rvsession", Session(runs=[], settings={"a": 1}))
    before = path.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        save_session(path, Session(runs=[], settings={"bad": object()}))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.rvsession"]  # no temporary file left


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def test_not_a_session_raises_session_error_naming_the_file(runs, tmp_path):
    good = json.loads(zipfile.ZipFile(save_session(tmp_path / "good", _session(runs))).read("session.json"))
    random_bytes = tmp_path / "random.rvsession"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(2000))
    bad_config = json.loads(json.dumps(good))
    bad_config["runs"][4]["config"]["model"]["depth"] = 9
    for entry in bad_config["runs"]:
        entry["folder"] = None
    cases = {
        random_bytes: "zip",
        _zip(tmp_path / "nojson.rvsession", {"other.txt": "x"}): "no session.json",
        _zip(tmp_path / "v99.rvsession", {"session.json": json.dumps({**good, "version": 99})}): "newer",
        _zip(tmp_path / "format.rvsession", {"session.json": json.dumps({**good, "format": "x"})}): "format",
        _zip(tmp_path / "garbage.rvsession", {"session.json": "{not json"}): "session.json",
        _zip(tmp_path / "config.rvsession", {"session.json": json.dumps(bad_config)}): "model.depth",
        _zip(tmp_path / "nofolder.rvsession", {"session.json": json.dumps(good)}): "missing",
        tmp_path / "absent.rvsession": "no such file",
    }
    for path, why in cases.items():
        with pytest.raises(SessionError) as info:
            load_session(path)
        message = str(info.value)
        assert isinstance(info.value, ValueError)
        assert path.name in message and why in message and "\n" not in message, message
