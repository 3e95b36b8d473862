"""Fault matrix, exports and sessions (issue 12): every export claims only files that are there, with one
line naming the path and why when it cannot; a damaged or crafted session is one line (SessionError),
a message in the window, exit 2 on the command line; loading takes memory in proportion to the data.

Targets that cannot be written are made without chmod (the tests may run as root, which ignores it):
a path under a regular file, a folder where a file is expected, a device (/dev/full).
"""

from __future__ import annotations

import errno
import json
import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtWidgets

from resnet_viz import cli
from resnet_viz.config import RunConfig
from resnet_viz.export import session as session_module
from resnet_viz.export.csv_columns import read_csv_columns
from resnet_viz.export.image_limits import MAX_SIDE, image_size_problem
from resnet_viz.export.session import Session, SessionError, SessionRun, load_session, save_session
from resnet_viz.export.written import WriteError, check_writable, reason, write_atomically
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    LayerInfoRecord,
    LayerStats,
    RunFinished,
    RunStarted,
    TrainChunk,
)
from resnet_viz.metrics.store import RunStore


# --- sessions made in the tests ----------------------------------------------------------------------
def _session_of(entries) -> Session:
    return Session(
        runs=[
            SessionRun(
                name=e.name, color=e.color, visible=True, status=e.status, message="", config=e.config, store=e.store
            )
            for e in entries
        ],
        settings={"selected": 0},
    )


@pytest.fixture(scope="module")
def good(tmp_path_factory, recorded_runs) -> Path:
    """A real session: three runs trained by the engine (plain-8, resnet-14, a diverged plain-8)."""
    return save_session(tmp_path_factory.mktemp("good") / "good", _session_of(recorded_runs))


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _doc(path: Path) -> dict:
    return json.loads(_members(path)["session.json"])


def _with_doc(good: Path, out: Path, change) -> Path:
    members = _members(good)
    doc = json.loads(members["session.json"])
    change(doc)
    members["session.json"] = json.dumps(doc).encode()
    return _zip(out, members)


def _first_folder(good: Path) -> str:
    return _doc(good)["runs"][0]["folder"]


def _declare_size(path: Path, member: str, size: int) -> Path:
    """Write ``size`` as the member's uncompressed size in its local header and the central directory:
    a zip bomb's lie (the data stays as it is)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        offset = zf.getinfo(member).header_offset
    assert data[offset : offset + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, offset + 22, size)
    name = member.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        if data[at + 46 : at + 46 + struct.unpack_from("<H", data, at + 28)[0]] == name:
            struct.pack_into("<I", data, at + 24, size)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


def _flip_member_bytes(good: Path, out: Path, member: str) -> Path:
    """Invert 64 bytes in the middle of one member's compressed data (a damaged stream)."""
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # local extra == central here
    middle = start + info.compress_size // 2
    for i in range(middle - 32, middle + 32):
        data[i] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


def _damaged(good: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    """Damaged and crafted sessions made from ``good``: name -> (file, what its message must say)."""
    folder = _first_folder(good)
    raw = good.read_bytes()
    members = _members(good)
    cases: dict[str, tuple[Path, str]] = {}

    def case(name: str, path: Path, why: str) -> None:
        cases[name] = (path, why)

    (tmp / "truncated.rvsession").write_bytes(raw[: len(raw) // 2])
    case("truncated", tmp / "truncated.rvsession", "zip")
    (tmp / "empty.rvsession").write_bytes(b"")
    case("empty", tmp / "empty.rvsession", "zip")
    (tmp / "text.rvsession").write_text("just some text\n")
    case("not a zip", tmp / "text.rvsession", "zip")
    case("flipped bytes", _flip_member_bytes(good, tmp / "flipped.rvsession", f"{folder}/metrics.csv"), folder)
    case(
        "missing member",
        _zip(tmp / "missing.rvsession", {k: v for k, v in members.items() if k != f"{folder}/metrics.csv"}),
        "missing",
    )
    case(
        "non-UTF-8 session.json",
        _zip(tmp / "latin1.rvsession", {**members, "session.json": b"\xff\xfe{\xe9}"}),
        "UTF-8",
    )
    case("deep nesting", _zip(tmp / "deep.rvsession", {"session.json": b"[" * 200_000}), "session.json")
    case(
        "bomb",
        _declare_size(_zip(tmp / "bomb.rvsession", dict(members)), f"{folder}/metrics.csv", 3_900_000_000),
        "crafted",
    )
    case(
        "absurd depth",
        _with_doc(good, tmp / "depth.rvsession", lambda d: d["runs"][0]["config"]["model"].update(depth=10**9)),
        "model.depth",
    )
    case(
        "folder outside",
        _with_doc(good, tmp / "escape.rvsession", lambda d: d["runs"][0].update(folder="../../x")),
        "'folder'",
    )
    case("runs not a list", _with_doc(good, tmp / "runs.rvsession", lambda d: d.update(runs=3)), "'runs'")
    case(
        "visible a string",
        _with_doc(good, tmp / "visible.rvsession", lambda d: d["runs"][1].update(visible="no")),
        "'visible'",
    )
    case("colour a number", _with_doc(good, tmp / "color.rvsession", lambda d: d["runs"][1].update(color=5)), "'color'")
    case(
        "config a list",
        _with_doc(good, tmp / "config.rvsession", lambda d: d["runs"][2].update(config=[1, 2])),
        "'config'",
    )
    case("binary run.json", _zip(tmp / "binary.rvsession", {**members, f"{folder}/run.json": os.urandom(3000)}), folder)
    case("a folder", tmp, "folder")
    return cases


@pytest.fixture(scope="module")
def damaged(good, tmp_path_factory) -> dict[str, tuple[Path, str]]:
    return _damaged(good, tmp_path_factory.mktemp("damaged"))


def test_the_good_session_loads(good):
    steps = [r.store.steps_done for r in load_session(good).runs]
    assert steps[:2] == [40, 40] and 0 < steps[2] < 40  # the third diverged


@pytest.mark.parametrize(
    "name",
    [
        "truncated",
        "empty",
        "not a zip",
        "flipped bytes",
        "missing member",
        "non-UTF-8 session.json",
        "deep nesting",
        "bomb",
        "absurd depth",
        "folder outside",
        "runs not a list",
        "visible a string",
        "colour a number",
        "config a list",
        "binary run.json",
        "a folder",
    ],
)
def test_a_damaged_session_is_one_line_naming_the_file_and_why(damaged, name):
    path, why = damaged[name]
    with pytest.raises(SessionError) as info:
        load_session(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and why in message and "\n" not in message, message
    assert len(message) < 400, message


def test_a_member_named_outside_the_session_is_never_written(good, tmp_path):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    crafted = _zip(inner / "crafted.rvsession", {**_members(good), "../../x": b"payload", "/etc/y": b"payload"})
    session = load_session(crafted)
    assert len(session.runs) == 3
    assert not (tmp_path / "x").exists() and not (tmp_path / "a" / "x").exists()


def test_a_session_that_would_not_fit_in_memory_is_refused_with_the_estimate(good, monkeypatch):
    unpacked = sum(i.file_size for i in zipfile.ZipFile(good).infolist())
    monkeypatch.setattr(session_module, "available_memory", lambda: unpacked)  # less than 4 × unpacked
    with pytest.raises(SessionError) as info:
        load_session(good)
    message = str(info.value)
    assert "needs about" in message and "available" in message and "\n" not in message


def test_a_failed_save_keeps_the_previous_session_and_says_why(good, tmp_path, monkeypatch, recorded_runs):
    path = tmp_path / "mine.rvsession"
    path.write_bytes(good.read_bytes())

    def full_disk(*_args, **_kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(session_module, "write_run_folder", full_disk)
    with pytest.raises(WriteError) as info:
        save_session(path, _session_of(recorded_runs))
    assert str(info.value) == f"{path}: no space left on the disk"
    assert path.read_bytes() == good.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.rvsession"]  # no temporary file left


@pytest.mark.parametrize("where", ["under a file", "a folder"])
def test_a_session_is_not_saved_onto_what_is_not_a_file(tmp_path, where):
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "dir.rvsession").mkdir()
    target = {"under a file": tmp_path / "plain.txt" / "s.rvsession", "a folder": tmp_path / "dir.rvsession"}[where]
    with pytest.raises(WriteError) as info:
        save_session(target, Session())
    why = {"under a file": "is a file, not a folder", "a folder": "it is a folder"}[where]
    assert why in str(info.value) and str(target) in str(info.value)
    assert (tmp_path / "plain.txt").read_text() == "x" and (tmp_path / "dir.rvsession").is_dir()


# --- writing primitives ------------------------------------------------------------------------------
def test_reasons_in_words():
    assert reason(OSError(errno.ENOSPC, "No space left on device")) == "no space left on the disk"
    assert reason(OSError(errno.EACCES, "Permission denied")) == "permission denied"
    assert reason(OSError(errno.EROFS, "Read-only file system")) == "the file system is read-only"
    assert reason(MemoryError()) == "not enough memory"


def test_a_writer_reporting_failure_leaves_the_previous_file(tmp_path):
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")
    with pytest.raises(WriteError, match="reported a failure"):
        write_atomically(target, lambda tmp: False)  # what QImage.save says on failure
    with pytest.raises(WriteError, match="nothing was written"):
        write_atomically(target, lambda tmp: None)  # a writer that fails silently: an empty file
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["figure.png"]
    assert write_atomically(target, lambda tmp: tmp.write_bytes(b"new")) == target
    assert target.read_bytes() == b"new"


def test_a_device_is_never_replaced_by_an_export():
    device = Path("/dev/full")  # writing to it fails with "no space left"; replacing it would break the system
    if not device.exists():
        pytest.skip("no /dev/full here")
    with pytest.raises(WriteError, match="it is not a regular file"):
        write_atomically(device, lambda tmp: tmp.write_bytes(b"x"))
    assert device.is_char_device()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_permission_denied(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(WriteError) as info:
            write_atomically(folder / "plot.png", lambda tmp: tmp.write_bytes(b"x"))
        assert str(info.value) == f"{folder / 'plot.png'}: permission denied"
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_check_writable_creates_nothing_or_says_why(tmp_path):
    assert check_writable(tmp_path / "new" / "deeper" / "x.png") == tmp_path / "new" / "deeper" / "x.png"
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("x")
    with pytest.raises(WriteError, match="is a file, not a folder"):
        check_writable(tmp_path / "f" / "deeper" / "x.png")


def test_image_size_limits():
    assert image_size_problem(1600, 1000) is None and image_size_problem(MAX_SIDE, 100) is None
    assert "at most 16384 pixels a side" in image_size_problem(MAX_SIDE + 1, 100)
    assert "million pixels" in image_size_problem(16000, 16000)
    assert image_size_problem(0, 10) is not None


# --- numeric CSV -------------------------------------------------------------------------------------
def test_csv_columns_read_empty_fields_as_nan_and_drop_a_torn_last_row(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"step,a,b,c\r\n1,0.5,,\r\n2,,inf,3\r\n3,nan,-inf,\r\n4,1,2")  # the last row torn by a kill
    cols = read_csv_columns(path)
    assert list(cols) == ["step", "a", "b", "c"] and cols["step"].tolist() == [1, 2, 3]
    np.testing.assert_array_equal(cols["b"], [np.nan, np.inf, -np.inf])
    np.testing.assert_array_equal(cols["c"], [np.nan, 3.0, np.nan])
    path.write_bytes(b"step,a\n1,2\n2,x\n3,4\n")
    with pytest.raises(ValueError, match="'x'"):
        read_csv_columns(path)
    assert read_csv_columns(path, stop_at_damage=True)["a"].tolist() == [2.0]


def test_csv_columns_are_the_same_whatever_the_block_size(tmp_path):
    rng = np.random.default_rng(0)
    rows = [b"step,x,y"] + [
        b"%d,%s,%s" % (i, b"%.9g" % rng.random() if i % 3 else b"", b"" if i % 5 else b"%.9g" % rng.random())
        for i in range(3000)
    ]
    path = tmp_path / "m.csv"
    path.write_bytes(b"\r\n".join(rows) + b"\r\n")
    whole, blocks = read_csv_columns(path), read_csv_columns(path, block_bytes=997)
    assert whole["step"].shape == (3000,) and int(np.isnan(whole["x"]).sum()) == 1000
    for name in whole:
        np.testing.assert_array_equal(whole[name], blocks[name])


# --- loading is proportional to the data ---------------------------------------------------------------
def _long_store(steps: int, layers: int, probe_every: int) -> RunStore:
    rng = np.random.default_rng(1)
    info = LayerInfoRecord(
        names=[f"l{i}" for i in range(layers)],
        kinds=["conv"] * layers,
        roles=["branch"] * layers,
        stages=np.zeros(layers, np.int64),
        blocks=np.arange(layers, dtype=np.int64),
        fan_in=np.ones(layers, np.int64),
        params=np.ones(layers, np.int64),
    )
    store = RunStore()
    store.add(
        RunStarted(
            label="long",
            config=RunConfig().to_dict(),
            resolved={"total_steps": steps},
            device="cpu",
            versions={},
            layers=info,
            params=layers,
            total_steps=steps,
            **{
                k: rng.random(layers)
                for k in (
                    "act_mean_init",
                    "act_std_init",
                    "out_grad_norm_init",
                    "grad_norm_init",
                    "theory_act_std_init",
                )
            },
        )
    )
    for a in range(1, steps + 1, 1000):
        step = np.arange(a, min(a + 1000, steps + 1), dtype=np.int64)
        store.add(EvalRecord(step=int(step[0]), train_error=0.5, train_loss=1.0, test_error=0.5, test_loss=1.0))
        probed = step[(step - 1) % probe_every == 0]
        store.add(
            TrainChunk(
                step=step,
                loss=rng.random(step.size),
                batch_error=rng.random(step.size),
                lr=np.full(step.size, 0.1),
                step_time_s=rng.random(step.size),
                layers=LayerStats(**{q: rng.random((probed.size, layers), dtype=np.float32) for q in LAYER_QUANTITIES}),
                layer_step=probed,
            )
        )
    store.add(
        RunFinished(
            status="finished",
            steps=steps,
            final_train_error=0.5,
            final_test_error=0.5,
            final_train_loss=1.0,
            final_test_loss=1.0,
            steps_per_s=1.0,
            elapsed_s=1.0,
            params=layers,
            device="cpu",
        )
    )
    return store


def test_loading_a_long_session_takes_memory_in_proportion_to_its_data(tmp_path):
    """60,000 steps (metrics.csv ≈ 5 MB): the load peaks at about 4× the unpacked data (9× when metrics.csv
    was read with a Python object per value). Timing: bench/session_load.py."""
    store = _long_store(60_000, 20, 10)
    path = save_session(
        tmp_path / "long",
        Session(
            runs=[
                SessionRun(
                    name="long",
                    color="#0072B2",
                    visible=True,
                    status="finished",
                    message="",
                    config=RunConfig(),
                    store=store,
                )
            ]
        ),
    )
    del store
    unpacked = sum(i.file_size for i in zipfile.ZipFile(path).infolist())
    tracemalloc.start()
    try:
        session = load_session(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert session.runs[0].store.steps_done == 60_000
    assert peak < 6 * unpacked, f"peak {peak / 1e6:.1f} MB for {unpacked / 1e6:.1f} MB unpacked"


# --- the window ---------------------------------------------------------------------------------------
def test_the_window_shows_a_damaged_session_and_keeps_its_runs(qtbot, window, good, damaged, monkeypatch):
    chosen = {"path": str(good)}
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (chosen["path"], ""))
    window.open_session_dialog()
    assert [e.name for e in window.manager.entries] == [r.name for r in load_session(good).runs]
    for name in ("truncated", "bomb", "non-UTF-8 session.json", "absurd depth", "binary run.json"):
        path, why = damaged[name]
        chosen["path"] = str(path)
        window.open_session_dialog()
        assert path.name in window.message_bar.text and why in window.message_bar.text, name
        assert len(window.manager.entries) == 3  # the runs shown before are kept
    window.refresh_plots()  # and the window still works
    assert window.manager.entries[0].store.steps_done == 40


@pytest.fixture
def blocked(tmp_path) -> dict[str, Path]:
    """Targets that cannot be written, also for root: under a regular file, a folder where a file goes."""
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "taken.png").mkdir()
    return {"under a file": tmp_path / "plain.txt" / "plot.png", "a folder": tmp_path / "taken.png"}


@pytest.mark.parametrize("kind", ["png", "svg", "csv"])
def test_a_plot_export_that_cannot_be_written_says_why_and_claims_nothing(qtbot, window, blocked, kind):
    window.manager.add(RunConfig())  # a queued run: the loss plot has a legend and no data
    panel = window.panels[0]
    for where, why in (("under a file", "is a file, not a folder"), ("a folder", "it is a folder")):
        target = blocked[where].with_suffix(f".{kind}") if where == "under a file" else blocked[where]
        window.export_panel(panel, kind, path=str(target), width=800)
        text = window.message_bar.text
        assert str(target) in text and why in text and "Wrote" not in text, text
    assert blocked["a folder"].is_dir() and (blocked["a folder"].parent / "plain.txt").read_text() == "x"


def test_a_plot_export_too_large_is_refused_before_drawing(qtbot, window, tmp_path):
    target = tmp_path / "huge.png"
    window.export_panel(window.panels[0], "png", path=str(target), width=MAX_SIDE * 2)
    assert "too large" in window.message_bar.text and not target.exists()
    window.export_panel(window.panels[0], "png", path=str(target), width=400)
    assert window.message_bar.text == f"Wrote {target}" and target.stat().st_size > 0


def _adopt_copy(window, entry):
    """A run with data in the window (a copy: the session-wide recorded runs stay as they are)."""
    from resnet_viz.gui.runs import RunEntry

    return window.manager.adopt(
        RunEntry(
            run_id=0,
            config=entry.config,
            name=entry.name,
            color=entry.color,
            store=entry.store,
            status=entry.status,
            version=1,
        )
    )


def test_export_all_with_nothing_recorded_says_so_and_asks_for_no_folder(qtbot, window, monkeypatch):
    def no_dialog(*args, **kwargs):
        raise AssertionError("no folder dialog when there is nothing to export")

    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", no_dialog)
    window.export_all_dialog()
    assert window.message_bar.text.startswith("Nothing to export yet: no run has recorded data")


def test_export_all_with_every_run_hidden_writes_the_rest(qtbot, window, tmp_path, recorded_runs):
    entry = _adopt_copy(window, recorded_runs[0])
    window._set_visible(entry.run_id, False)
    written = window.export_all(tmp_path / "export", png_width=400)
    names = {p.name for p in written}
    assert {
        "window.png",
        "grad_heatmap.png",
        "grad_heatmap.svg",
        "grad_heatmap.pdf",
    } <= names and "grad_heatmap.csv" not in names  # none shown
    assert "run.json" in names and "metrics.csv" in names


def test_export_all_stops_at_the_first_file_it_cannot_write_and_says_so(
    qtbot, window, tmp_path, monkeypatch, recorded_runs
):
    _adopt_copy(window, recorded_runs[0])
    out = tmp_path / "export"
    (out / "window.png").mkdir(parents=True)  # a folder where the window picture goes
    with pytest.raises(WriteError) as info:
        window.export_all(out, png_width=400)
    assert str(info.value) == f"{out / 'window.png'}: it is a folder (0 files written before it)"
    (tmp_path / "plain.txt").write_text("x")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "plain.txt"))
    window.export_all_dialog()
    assert "failed" in window.message_bar.text and "plain.txt" in window.message_bar.text
    assert "Exported" not in window.message_bar.text


def test_saving_a_session_where_it_cannot_be_written_is_a_message(qtbot, window, tmp_path, monkeypatch):
    (tmp_path / "plain.txt").write_text("x")
    target = tmp_path / "plain.txt" / "s.rvsession"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.save_session_dialog()
    assert (
        window.message_bar.text == f"Could not save the session: {target}: {tmp_path / 'plain.txt'} is a file, "
        f"not a folder"
    )


def test_a_race_picture_that_cannot_be_written_raises_write_error(qtbot, window, blocked):
    for kind in ("png", "svg"):
        with pytest.raises(WriteError, match="is a file, not a folder"):
            window.race_tab.export(kind, blocked["under a file"].with_suffix(f".{kind}"))


# --- the command line ----------------------------------------------------------------------------------
def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("resnet-viz: error: ") and err.count("\n") == 1, err
    return err


def test_snapshot_of_a_damaged_session_is_one_line_and_exit_2(damaged, tmp_path, capsys):
    for name in ("truncated", "bomb", "absurd depth"):
        path, why = damaged[name]
        assert cli.main(["snapshot", "--session", str(path), "--out", str(tmp_path / "x.png"), "--quiet"]) == 2
        err = _one_error_line(capsys)
        assert path.name in err and why in err
    assert not (tmp_path / "x.png").exists()


def test_snapshot_refuses_an_output_it_cannot_write_and_a_huge_size_before_training(tmp_path, capsys):
    (tmp_path / "plain.txt").write_text("x")
    assert cli.main(["snapshot", "--out", str(tmp_path / "plain.txt" / "x.png"), "--quiet"]) == 2
    assert "is a file, not a folder" in _one_error_line(capsys)
    assert cli.main(["snapshot", "--out", str(tmp_path / "x.png"), "--size", "100000x100000", "--quiet"]) == 2
    assert "too large" in _one_error_line(capsys) and not (tmp_path / "x.png").exists()


def test_surfaces_refuses_a_huge_figure_and_an_unwritable_folder_before_racing(tmp_path, capsys):
    out = tmp_path / "race"
    assert cli.main(["surfaces", "--size", "100000x100000", "--out", str(out), "--quiet"]) == 2
    err = _one_error_line(capsys)
    assert "--size" in err and "too large" in err and "16384" in err and not out.exists()
    (tmp_path / "plain.txt").write_text("x")
    assert cli.main(["surfaces", "--out", str(tmp_path / "plain.txt" / "race"), "--steps", "5", "--quiet"]) == 2
    assert "is a file, not a folder" in _one_error_line(capsys)


def test_surfaces_reports_a_figure_it_could_not_write(tmp_path, capsys):
    out = tmp_path / "race"
    (out / "race.svg").mkdir(parents=True)  # a folder where the SVG goes
    assert cli.main(["surfaces", "--out", str(out), "--steps", "5", "--quiet"]) == 1
    err = _one_error_line(capsys)
    assert f"{out / 'race.svg'}: it is a folder" in err
    assert "wrote" not in capsys.readouterr().out
