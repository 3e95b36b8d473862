"""Fault matrix of the run folder: signals sent to a real `resnet-viz run` child, torn files, a disk
that fills up, folders that cannot be written, and --overwrite when the new run fails to start."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from resnet_viz.cli import build_parser, main
from resnet_viz.export import run_folder, run_folder_read
from resnet_viz.export.replay import store_from_run_folder
from resnet_viz.export.run_folder import LOCK_FILE, layers_record_dtype, read_run_folder
from resnet_viz.metrics.records import LAYER_QUANTITIES

RECORD_BYTES = layers_record_dtype(len(LAYER_QUANTITIES), 3).itemsize
TINY: list[str] = []  # set by the images fixture: a tiny net (3 weight layers) on 80 tiny images


@pytest.fixture(scope="module", autouse=True)
def images(tmp_path_factory):
    """An ImageFolder tree of 2 classes × 40 random 8×8 PNGs: it loads in no time (the embedded set
    takes seconds to generate in every process)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c, scale in (("dark", 0.5), ("bright", 1.0)):
        (root / c).mkdir()
        for i in range(40):
            Image.fromarray((rng.random((8, 8, 3)) * 255 * scale).astype(np.uint8)).save(root / c / f"{i}.png")
    TINY[:] = [
        "--arch",
        "mlp",
        "--depth",
        "3",
        "--width",
        "16",
        "--dataset",
        "folder",
        "--data-root",
        str(root),
        "--eval-train-samples",
        "50",
        "--batch-size",
        "16",
        "--nondeterministic",
    ]
    return root


def _spawn(out: Path, steps: int = 1_000_000, histograms: bool = True) -> subprocess.Popen:
    extra = ["--histogram-every", "5", "--histogram-bins", "8"] if histograms else []
    extra += ["--snapshots", "0"]  # the tiny filesystem has no room for 50 snapshots
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "resnet_viz.cli",
            "run",
            *TINY,
            *extra,
            "--steps",
            str(steps),
            "--eval-every",
            "10",
            "--out",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_records(children: list[tuple[subprocess.Popen, Path]], records: int = 30, timeout_s: float = 180):
    """Until every child's layers.bin holds ``records`` records (and so metrics.csv as many rows)."""
    deadline = time.monotonic() + timeout_s
    pending = list(children)
    while pending and time.monotonic() < deadline:
        for proc, out in list(pending):
            assert proc.poll() is None, proc.communicate()
            binary = out / "layers.bin"
            if binary.exists() and binary.stat().st_size >= records * RECORD_BYTES:
                pending.remove((proc, out))
        time.sleep(0.1)
    assert not pending, "the runs wrote no records in time"


@pytest.fixture(scope="module")
def signalled(tmp_path_factory, images):
    """Two real runs started together: one gets SIGTERM, the other SIGKILL (read once while alive)."""
    base = tmp_path_factory.mktemp("signalled")
    term, kill = base / "term", base / "kill"
    children = [(_spawn(term), term), (_spawn(kill), kill)]
    try:
        _wait_for_records(children)
        live = read_run_folder(kill)
        (pt, _), (pk, _) = children
        pk.send_signal(signal.SIGKILL)
        pt.send_signal(signal.SIGTERM)
        out, err = pt.communicate(timeout=60)
        pk.wait(timeout=60)
        return {
            "term": term,
            "term_code": pt.returncode,
            "term_out": out,
            "term_err": err,
            "kill": kill,
            "kill_pid": pk.pid,
            "kill_code": pk.returncode,
            "live": live,
        }
    finally:
        for proc, _ in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _assert_consistent(folder):
    steps = folder.metrics["step"]
    assert steps.shape[0] > 0 and np.array_equal(steps, np.arange(1, steps.shape[0] + 1))
    assert np.all(np.isfinite(folder.metrics["loss"])) and np.all(np.isfinite(folder.metrics["step_time_s"]))
    k = folder.layers["step"].shape[0]
    assert k > 0 and np.array_equal(folder.layers["step"], np.arange(1, k + 1))
    for q in LAYER_QUANTITIES:
        assert folder.layers[q].shape == (k, 3) and folder.layers[q].dtype == np.float32
    assert np.all(folder.layers["act_std"] > 0)


def test_sigterm_stops_flushes_and_exits_0(signalled):
    assert signalled["term_code"] == 0, signalled["term_err"]
    assert signalled["term_out"].startswith("stopped ·") and "Traceback" not in signalled["term_err"]
    out = signalled["term"]
    folder = read_run_folder(out)
    assert folder.status == "stopped" and folder.summary["status"] == "stopped" and not folder.live
    _assert_consistent(folder)
    assert folder.summary["steps"] == folder.metrics["step"].shape[0] == folder.layers["step"].shape[0]
    streamed = run_folder_read._read_streamed_layers(out)  # layers.bin holds what layers.npz holds
    for key, value in folder.layers.items():
        assert np.array_equal(streamed[key], value, equal_nan=value.dtype.kind == "f"), key
    with np.load(out / "histograms.npz") as npz:  # and histograms.bin what histograms.npz holds
        hists = run_folder.read_streamed_histograms(out)
        for kind in ("activation", "gradient"):
            mine = [h for h in hists if h.kind == kind]
            assert [h.step for h in mine] == npz[f"{kind}_step"].tolist() and len(mine) > 0
            assert np.array_equal(np.stack([h.counts for h in mine]), npz[f"{kind}_counts"])
            assert np.array_equal(np.stack([h.edges for h in mine]), npz[f"{kind}_edges"], equal_nan=True)
    assert not (out / LOCK_FILE).exists()


def test_a_live_folder_reads_as_running(signalled):
    live = signalled["live"]
    assert live.live and live.status == "running" and live.summary["status"] == "running"
    assert live.summary["writer"]["pid"] == signalled["kill_pid"] and str(signalled["kill_pid"]) in live.message
    assert live.last_step >= 30
    assert store_from_run_folder(live).finished is None


def test_sigkill_leaves_a_readable_interrupted_folder(signalled):
    out = signalled["kill"]
    assert signalled["kill_code"] == -signal.SIGKILL
    assert json.loads((out / "summary.json").read_text())["status"] == "running"
    assert not (out / "layers.npz").exists() and (out / LOCK_FILE).exists()  # the lock's flock died with it
    folder = read_run_folder(out)
    _assert_consistent(folder)
    k = folder.last_step
    assert k >= signalled["live"].last_step and k == max(folder.metrics["step"][-1], folder.layers["step"][-1])
    assert folder.status == f"interrupted at step {k}" and folder.interrupted and not folder.live
    # metrics.csv and layers.bin are written per chunk, a few steps apart at most
    assert abs(int(folder.metrics["step"][-1]) - int(folder.layers["step"][-1])) <= 256
    store = store_from_run_folder(out)
    assert store.finished.status == f"interrupted at step {k}" and not store.finished.ok
    assert store.started.layers.names == ["input.fc", "hidden1.fc", "fc"]
    assert store.layer("grad_norm").shape == (folder.layers["step"].shape[0], 3)
    assert [e.step for e in store.evals] == list(range(10, int(folder.metrics["step"][-1]) + 1, 10))
    assert store.finished.extra["final_eval_step"] == store.evals[-1].step
    # histograms (every 5 steps) are streamed too: every one up to the last on disk
    hist_steps = sorted({h.step for h in store.histograms})
    assert hist_steps[0] == 5 and hist_steps == list(range(5, hist_steps[-1] + 1, 5))
    assert hist_steps[-1] > int(folder.metrics["step"][-1]) - 10
    assert all(h.counts.shape == (3, 8) and h.counts.sum() > 0 for h in store.histograms)


def test_torn_tails_are_dropped(signalled, tmp_path):
    out = tmp_path / "torn"
    shutil.copytree(signalled["kill"], out)
    whole = read_run_folder(out)
    with open(out / "metrics.csv", "ab") as f:
        f.write(b"999999,0.53")  # a row cut by the kill: no newline
    with open(out / "layers.bin", "ab") as f:
        f.write(b"\x07" * (RECORD_BYTES // 2))  # half a record
    n_hist = len(run_folder.read_streamed_histograms(out))
    with open(out / "histograms.bin", "ab") as f:
        f.write(b"\x07" * 100)
    assert len(run_folder.read_streamed_histograms(out)) == n_hist
    torn = read_run_folder(out)
    for key in whole.metrics:
        np.testing.assert_array_equal(torn.metrics[key], whole.metrics[key])
    assert torn.layers["step"].shape == whole.layers["step"].shape and torn.last_step == whole.last_step
    # a power cut can leave whole records of zeros, and a damaged row with a newline
    size = (out / "layers.bin").stat().st_size
    os.truncate(out / "layers.bin", size - size % RECORD_BYTES)
    with open(out / "layers.bin", "ab") as f:
        f.write(b"\0" * 2 * RECORD_BYTES)
    text = (out / "metrics.csv").read_bytes()
    (out / "metrics.csv").write_bytes(text[: text.rfind(b"\n") + 1] + b"\0\0\0,\0\n")
    damaged = read_run_folder(out)
    np.testing.assert_array_equal(damaged.metrics["step"], whole.metrics["step"])
    np.testing.assert_array_equal(damaged.layers["step"], whole.layers["step"])
    assert damaged.status == whole.status


def test_a_damaged_layers_npz_falls_back_to_the_stream(signalled, tmp_path):
    out = tmp_path / "damaged"
    shutil.copytree(signalled["term"], out)
    whole = read_run_folder(out)
    npz = (out / "layers.npz").read_bytes()
    (out / "layers.npz").write_bytes(npz[: len(npz) // 2])  # e.g. a copy cut short
    folder = read_run_folder(out)
    for key, value in whole.layers.items():
        assert np.array_equal(folder.layers[key], value, equal_nan=value.dtype.kind == "f"), key


def test_a_hand_truncated_metrics_csv_loses_only_the_cut_row(signalled, tmp_path):
    out = tmp_path / "cut"
    shutil.copytree(signalled["kill"], out)
    text = (out / "metrics.csv").read_bytes()
    lines = text.splitlines(keepends=True)
    (out / "metrics.csv").write_bytes(b"".join(lines[:11]) + lines[11][:7])  # header, 10 rows, 7 bytes of row 11
    folder = read_run_folder(out)
    np.testing.assert_array_equal(folder.metrics["step"], np.arange(1, 11))
    assert not np.isnan(folder.metrics["lr"]).any()


# --- folders that cannot be written ---------------------------------------------------------------
def _run(out, capsys, *extra):
    code = main(["run", *TINY, "--steps", "3", "--eval-every", "3", "--out", str(out), "--quiet", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(err: str, *fragments: str) -> None:
    assert err.startswith("resnet-viz: error: --out ") and err.count("\n") == 1 and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


def test_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("mine")
    code, _, err = _run(target, capsys)
    assert code == 2
    _one_line_error(err, str(target), "is a file, not a folder")
    assert target.read_text() == "mine"


def test_out_under_a_file(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("mine")
    code, _, err = _run(target / "runs" / "x", capsys)
    assert code == 2
    _one_line_error(err, f"{target} is a file, not a folder")


def test_missing_parents_are_created(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "run"
    code, stdout, _ = _run(out, capsys)
    assert code == 0 and stdout.startswith("finished ·")
    folder = read_run_folder(out)
    assert folder.status == "finished" and folder.metrics["step"].tolist() == [1, 2, 3]


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder no file can be created in: chmod 0555 where that binds (not for root), else sysfs."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except PermissionError:
        return folder
    (folder / "probe").unlink()
    folder.chmod(0o755)
    # root ignores permissions; sysfs refuses new files even to root (EACCES, or EROFS when mounted read-only)
    sysfs = Path("/sys/kernel")
    if sysfs.is_dir():
        try:
            (sysfs / "resnet-viz-probe").touch()
        except OSError:
            return sysfs
    pytest.skip("no folder here refuses new files to this user (root, and no sysfs)")


def test_out_cannot_be_written(tmp_path, capsys):
    folder = _unwritable_folder(tmp_path)
    try:
        code, _, err = _run(folder / "run", capsys)
    finally:
        if folder.is_relative_to(tmp_path):
            folder.chmod(0o755)
    assert code == 2
    _one_line_error(err, f"{folder / 'run'}: cannot write in {folder}")
    assert "Permission denied" in err or "Read-only file system" in err


def test_not_enough_free_space_is_refused_before_training(tmp_path, capsys, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=50_000))
    out = tmp_path / "run"
    code, _, err = _run(out, capsys, "--steps", "200000", "--snapshots", "0")
    assert code == 2
    need = run_folder.estimate_run_bytes(200000, 3)
    _one_line_error(err, str(out), f"will write about {need / 1e6:.1f} MB", "only 50 kB is free")
    assert not out.exists()


def test_files_the_tool_did_not_write_are_never_replaced(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "metrics.csv").write_text("my own numbers\n")
    code, _, err = _run(out, capsys, "--overwrite")
    assert code == 2
    _one_line_error(err, "holds metrics.csv, which resnet-viz did not write")
    assert (out / "metrics.csv").read_text() == "my own numbers\n"


# --- a disk that fills up while training ----------------------------------------------------------
def test_disk_full_mid_run_stops_with_a_status_and_keeps_the_data(tmp_path, capsys, monkeypatch):
    real_write = os.write
    calls = {"layers.bin": 0}

    def write(fd, data):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) if os.path.exists(f"/proc/self/fd/{fd}") else ""
        if name == "layers.bin":
            calls[name] += 1
            if calls[name] == 4:  # half of the fourth chunk fits, then the disk is full
                return real_write(fd, bytes(data)[: len(data) // 2])
            if calls[name] > 4:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell the files apart")
    monkeypatch.setattr(run_folder.os, "write", write)
    out = tmp_path / "full"
    code = main(["run", *TINY, "--steps", "100000", "--eval-every", "20", "--out", str(out), "--quiet"])
    monkeypatch.undo()
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    first = captured.out.splitlines()[0]
    assert first.startswith("write failed at step ") and f"No space left on device ({out / 'layers.bin'})" in first
    folder = read_run_folder(out)
    assert folder.status == folder.summary["status"] == first.split(" · ")[0]
    assert "the files keep every step up to" in folder.summary["message"] and not (out / LOCK_FILE).exists()
    assert (out / "layers.bin").stat().st_size % RECORD_BYTES == 0  # the half-written chunk was cut back
    _assert_consistent(folder)
    assert folder.layers["step"].shape[0] < folder.metrics["step"].shape[0] < 100000  # it stopped at once


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 1 MB tmpfs (root with mount rights only, e.g. not in most CI containers)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tiny filesystem needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_disk_mid_run(tiny_filesystem):
    out = tiny_filesystem / "run"
    proc = _spawn(out, steps=1500, histograms=False)  # about 0.55 MB estimated: it passes the check
    try:
        _wait_for_records([(proc, out)], records=20)
        with open(tiny_filesystem / "filler", "wb", buffering=0) as f:  # fill the disk while it trains
            with pytest.raises(OSError) as full:
                while True:
                    f.write(b"\0" * 4096)
            assert full.value.errno == errno.ENOSPC
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1 and "Traceback" not in stderr
    assert stdout.startswith("write failed at step ") and "No space left on device" in stdout
    folder = read_run_folder(out)  # summary.json rewritten in place: there was no room for a new file
    assert folder.status.startswith("write failed at step ") and "No space left on device" in folder.status
    _assert_consistent(folder)


# --- --overwrite -----------------------------------------------------------------------------------
def test_overwrite_keeps_the_old_run_when_the_new_one_cannot_start(tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(out, capsys)[0] == 0
    (out / "notes.txt").write_text("keep me")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, _, err = _run(out, capsys, "--overwrite", "--dataset", "folder", "--data-root", str(tmp_path / "none"))
    assert code == 2 and err.startswith("resnet-viz: error:") and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    # a successful overwrite replaces the run's files and nothing else
    code, _, _ = _run(out, capsys, "--overwrite", "--steps", "2")
    assert code == 0 and read_run_folder(out).metrics["step"].tolist() == [1, 2]
    assert (out / "notes.txt").read_text() == "keep me"
    # without --overwrite the old run is kept and the message says how to replace it
    code, _, err = _run(out, capsys)
    assert code == 2
    _one_line_error(err, "holds a previous run; add --overwrite to replace it")


def test_overwriting_an_interrupted_run(signalled, tmp_path, capsys):
    out = tmp_path / "again"
    shutil.copytree(signalled["kill"], out)
    code, _, err = _run(out, capsys)
    assert code == 2 and "holds a previous run" in err
    code, _, _ = _run(out, capsys, "--overwrite")
    assert code == 0 and read_run_folder(out).status == "finished" and not (out / LOCK_FILE).exists()


# --- the window -----------------------------------------------------------------------------------
def test_gui_run_flag_is_repeatable():
    args = build_parser().parse_args(["gui", "--run", "a", "--run", "b"])
    assert args.run == ["a", "b"] and args.session is None


def test_window_shows_an_interrupted_run_folder_and_keeps_it_in_a_session(window, signalled, tmp_path):
    folder = read_run_folder(signalled["kill"])
    entry = window.open_run_folder(signalled["kill"])
    status = f"interrupted at step {folder.last_step}"
    assert entry is not None and entry.status == status and entry.store.steps_done == folder.metrics["step"].shape[0]
    item = window.run_list.topLevelItem(window.run_list.topLevelItemCount() - 1)
    assert item.text(1) == status
    assert window.message_bar.level == "warning"
    # saved in a session and opened again (gui --session), it is still interrupted at the same step
    path = window.save_session(tmp_path / "with-interrupted")
    window.open_session(path)
    (again,) = window.manager.entries
    assert again.status == status and again.store.finished.status == status
    assert again.store.layer("act_std").shape == entry.store.layer("act_std").shape


def test_window_says_why_a_folder_cannot_be_opened(window, tmp_path):
    (tmp_path / "empty").mkdir()
    assert window.open_run_folder(tmp_path / "empty") is None
    assert window.message_bar.level == "error" and "run.json" in window.message_bar.history[-1][1]
    assert window.manager.entries == []


def test_a_killed_reproduce_keeps_the_run_it_was_training(tmp_path, images):
    """`reproduce` streams each run's folder while it trains (it used to write them at the end)."""
    preset = {
        "name": "tiny",
        "title": "Tiny",
        "summary": "One endless MLP.",
        "plots": ["error"],
        "base": {
            "model": {"arch": "mlp", "depth": 3, "width": 16},
            "train": {
                "steps": 1_000_000,
                "eval_every": 10,
                "eval_train_samples": 50,
                "batch_size": 16,
                "deterministic": False,
            },
        },
        "runs": [{"name": "first"}, {"name": "second"}],
        "sizes": {"quick": {"note": "endless", "minutes": 1}},
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(preset))
    out = tmp_path / "repro"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "resnet_viz.cli",
            "reproduce",
            str(path),
            "--dataset",
            "folder",
            "--data-root",
            str(images),
            "--no-figures",
            "--quiet",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    folder = out / "runs" / "01-first"
    try:
        _wait_for_records([(proc, folder)], records=20)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    read = read_run_folder(folder)
    assert read.interrupted and read.status == f"interrupted at step {read.last_step}" and read.last_step >= 20
    assert read.layers["step"].shape[0] >= 20
    assert not (out / "runs" / "02-second").exists()  # not started: no folder


def test_reproduce_refuses_an_output_under_a_file_before_training(tmp_path, capsys):
    (tmp_path / "afile").write_text("mine")
    code = main(["reproduce", "vanishing", "--steps", "2", "--no-figures", "--out", str(tmp_path / "afile" / "x")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is a file, not a folder" in err
    assert (tmp_path / "afile").read_text() == "mine"
