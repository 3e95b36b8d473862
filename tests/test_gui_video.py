"""Videos of a run's plots over training: QImage frames, the replay, ``resnet-viz video`` and the Export menu."""

from __future__ import annotations

import dataclasses
import os
import signal

import av  # the tests install PyAV (extra "video")
import numpy as np
import pytest
from conftest import tiny_run_config
from PySide6 import QtGui

from resnet_viz.cli import main
from resnet_viz.export.run_folder import RunFolderWriter
from resnet_viz.train.engine import Engine

STEPS = 12


@pytest.fixture(scope="module")
def run_folders(tmp_path_factory):
    """(a plain-8 run folder probed at every one of its 12 steps, a run folder without probes)."""
    root = tmp_path_factory.mktemp("runs")
    probed = tiny_run_config("plain", 8, steps=STEPS)
    probed = dataclasses.replace(probed, train=dataclasses.replace(probed.train, eval_every=STEPS))
    unprobed = dataclasses.replace(probed, train=dataclasses.replace(probed.train, steps=2, probes=False))
    for name, config in (("plain", probed), ("no-probes", unprobed)):
        assert Engine(config, RunFolderWriter(root / name, durable=False)).run().status == "finished"
    return root / "plain", root / "no-probes"


def _decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream, [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_qimage_rgb_converts_the_format_and_drops_the_row_padding(qtbot):
    from resnet_viz.gui.video_frames import qimage_rgb

    want = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3) * 5
    for fmt in (QtGui.QImage.Format.Format_RGB888, QtGui.QImage.Format.Format_ARGB32):
        image = QtGui.QImage(5, 3, fmt)  # 5 px a row: RGB888 rows are padded from 15 to 16 bytes
        for y in range(3):
            for x in range(5):
                image.setPixelColor(x, y, QtGui.QColor(*(int(v) for v in want[y, x])))
        got = qimage_rgb(image)
        assert got.dtype == np.uint8 and got.shape == (3, 5, 3)
        np.testing.assert_array_equal(got, want)
        image.fill(0)
        np.testing.assert_array_equal(got, want)  # a copy


def test_frame_steps_and_the_replay_rebuild_the_run_step_by_step(run_folders):
    from resnet_viz.gui.run_video import _Replay, entries_from_run_folders, frame_steps

    (entry,) = entries_from_run_folders([run_folders[0]])
    np.testing.assert_array_equal(frame_steps([entry], 100), np.arange(1, STEPS + 1))
    np.testing.assert_array_equal(frame_steps([entry], 4), [1, 5, 8, 12])
    np.testing.assert_array_equal(frame_steps([entry], 1), [12])
    replay = _Replay(entry)
    replay.advance(5)
    store = replay.entry.store
    assert store.steps_done == 5 and store.layer_step.tolist() == [1, 2, 3, 4, 5]
    assert store.evals == [] and replay.entry.version == 1  # the evaluation of step 12 waits for its step
    replay.advance(STEPS)
    np.testing.assert_array_equal(store.layer("grad_norm"), entry.store.layer("grad_norm"))
    assert [e.step for e in store.evals] == [e.step for e in entry.store.evals] and store.finished is not None


def test_cli_writes_a_heatmap_video_of_the_requested_frames_and_size(run_folders, tmp_path, capsys):
    out = tmp_path / "heatmap.mp4"
    argv = ["video", str(run_folders[0]), "--plot", "heatmap", "--out", str(out), "--frames", "4"]
    assert main([*argv, "--size", "320x200", "--fps", "10", "--quiet"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    stream, frames = _decode(out)
    assert len(frames) == 4 + 10  # 4 frames, the last held 1 s at 10 fps
    assert (stream.width, stream.height, stream.codec_context.name) == (320, 200, "h264")
    first, last = (f.astype(int) for f in (frames[0], frames[3]))
    plot_area = (slice(40, 180), slice(60, 240))
    assert np.abs(last[plot_area] - first[plot_area]).mean() > 10  # the heatmap fills up over training


def test_cli_overlays_runs_in_a_depth_profile_video(run_folders, tmp_path):
    out = tmp_path / "act.mp4"
    argv = ["video", str(run_folders[0]), str(run_folders[0]), "--plot", "act-depth", "--out", str(out)]
    assert main([*argv, "--frames", "2", "--size", "400x240", "--fps", "2", "--quiet"]) == 0
    stream, frames = _decode(out)
    assert len(frames) == 2 + 2 and (stream.width, stream.height) == (400, 240)


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("no-probes", "no per-layer data (probes were off)"),
        ("not-a-folder", "is not a run folder"),
        ("two-runs-heatmap", "the gradient heatmap shows one run, not 2"),
        ("under-a-file", "cannot be written: "),
        ("tiny", "is too small"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(run_folders, tmp_path, capsys, case, why):
    probed, unprobed = (str(p) for p in run_folders)
    (tmp_path / "file").write_text("x")
    out = tmp_path / "v.mp4"
    folders, extra = [probed], []
    if case == "no-probes":
        folders = [unprobed]
    elif case == "not-a-folder":
        folders = [str(tmp_path)]
    elif case == "two-runs-heatmap":
        folders = [probed, probed]
    elif case == "under-a-file":
        out = tmp_path / "file" / "v.mp4"
    else:
        extra = ["--size", "100x50"]
    assert main(["video", *folders, "--plot", "heatmap", "--out", str(out), "--quiet", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert why in err and "\n" not in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_ctrl_c_cancels_cleanly_and_keeps_the_older_video(run_folders, tmp_path, monkeypatch):
    from resnet_viz.gui import figure_export

    render, calls = figure_export.render_image, []

    def render_then_ctrl_c(panel, width=None):
        calls.append(width)
        if len(calls) == 3:  # the pre-pass, then frame 1 and frame 2: Ctrl-C while drawing frame 2
            os.kill(os.getpid(), signal.SIGINT)
        return render(panel, width)

    monkeypatch.setattr(figure_export, "render_image", render_then_ctrl_c)
    out = tmp_path / "v.mp4"
    out.write_bytes(b"older video")
    argv = ["video", str(run_folders[0]), "--plot", "grad-depth", "--out", str(out), "--size", "320x200"]
    assert main([*argv, "--quiet"]) == 130
    assert out.read_bytes() == b"older video" and list(tmp_path.iterdir()) == [out]
    assert len(calls) <= 4  # it stopped at the frame after Ctrl-C, not at the end of the run


def test_export_menu_writes_the_visible_runs_history(window, run_folders, tmp_path, monkeypatch):
    from resnet_viz.gui import video_export

    window.files.open_run_folder(run_folders[0])
    menus = {key: _menu_texts(window.panel[key]) for key in ("grad_heatmap", "grad_norm_depth", "loss")}
    assert "Video (MP4)…" in menus["grad_heatmap"] and "Video (MP4)…" in menus["grad_norm_depth"]
    assert "Video (MP4)…" not in menus["loss"]
    out = tmp_path / "depth.mp4"
    window.export_panel(window.panel["grad_norm_depth"], "mp4", path=str(out))
    assert window.message_bar.text == f"Wrote {out}"
    stream, frames = _decode(out)
    assert len(frames) == STEPS + 30 and (stream.width, stream.height) == (1280, 720)
    # Cancel in the progress dialog: nothing written, one line saying so
    monkeypatch.setattr(video_export, "progress_dialog", lambda parent, text: (_Closable(), lambda d, t: d < 2))
    window.export_panel(window.panel["grad_heatmap"], "mp4", path=str(tmp_path / "cancelled.mp4"))
    assert window.message_bar.text == f"Video cancelled: nothing was written to {tmp_path / 'cancelled.mp4'}"
    assert not (tmp_path / "cancelled.mp4").exists()
    # a path that cannot be written, and no PyAV: one line each
    heatmap = window.panel["grad_heatmap"]
    (tmp_path / "file").write_text("x")
    window.export_panel(heatmap, "mp4", path=str(tmp_path / "file" / "v.mp4"))
    assert window.message_bar.level == "error" and window.message_bar.text.startswith(
        f"Could not write the video of “{heatmap.title}”: {tmp_path / 'file' / 'v.mp4'}: "
    )
    monkeypatch.setattr(video_export, "video_missing", lambda: "MP4 videos need PyAV: pip install 'resnet-viz[video]'")
    window.export_panel(heatmap, "mp4", path=str(tmp_path / "v.mp4"))
    assert window.message_bar.text == (
        f"Could not make a video of “{heatmap.title}”: MP4 videos need PyAV: pip install 'resnet-viz[video]'"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["depth.mp4", "file"]


class _Closable:
    def close(self) -> None:
        pass


def _menu_texts(panel) -> list[str]:
    from PySide6 import QtWidgets

    texts = []
    for button in panel.findChildren(QtWidgets.QToolButton):
        if button.menu() is not None:
            texts += [a.text() for a in button.menu().actions()]
    return texts
