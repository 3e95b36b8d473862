"""MP4 videos of the optimiser race and of the landscape path: they decode (PyAV) to the frames drawn, each
repeated so that a short animation lasts VIDEO_MIN_S, plus the held last frame; cancelling leaves nothing (an
older file is kept); ``resnet-viz surfaces --mp4`` writes race.mp4, and says what to install without PyAV."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PySide6 import QtWidgets
from test_gui_landscape import hand_result

from resnet_viz.cli import main
from resnet_viz.export.video import VIDEO_FPS, VideoCancelled
from resnet_viz.gui.animation import HOLD_S, VIDEO_MIN_S, video_repeats
from resnet_viz.gui.landscape.export import write_landscape_file, write_path_mp4
from resnet_viz.gui.landscape.figure import LandscapeFigure
from resnet_viz.gui.landscape.tab_files import LandscapeFiles
from resnet_viz.gui.qt_app import dispose
from resnet_viz.gui.race.race_export import write_race_file
from resnet_viz.gui.race.render import figure_image, offscreen_figure, write_race_mp4
from resnet_viz.surfaces.functions import SurfaceConfig, build_surface
from resnet_viz.surfaces.race import OptimizerRace, parse_optimizers

STEPS = 4
HOLD = round(HOLD_S * VIDEO_FPS)


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and container.format.name.startswith("mov,mp4")
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)]


@pytest.fixture(scope="module")
def race_figure(qapp):
    surface = build_surface(SurfaceConfig(name="quadratic", condition=10.0))
    race = OptimizerRace(surface, surface.start, parse_optimizers("sgd:lr=0.05,adam:lr=0.3"))
    race.run(STEPS)
    fig = offscreen_figure(race, (320, 200), mode="heatmap")
    yield fig, race
    dispose(fig)


def test_race_mp4_has_a_frame_per_step_repeated_and_the_held_end(race_figure, tmp_path) -> None:
    fig, race = race_figure
    seen: list[tuple[int, int]] = []
    path = write_race_mp4(fig, race, tmp_path / "race.mp4", lambda done, total: seen.append((done, total)) or True)
    frames = decoded(path)
    repeats = video_repeats(STEPS + 1)
    assert repeats * (STEPS + 1) / VIDEO_FPS >= VIDEO_MIN_S and repeats == 24
    assert len(frames) == (STEPS + 1) * repeats + HOLD
    image = figure_image(fig, max(fig.graphics.width(), 100))  # the on-screen size, padded to even
    assert frames[0].shape == (image.height() + image.height() % 2, image.width() + image.width() % 2, 3)
    assert seen[-1] == ((STEPS + 1) * repeats, (STEPS + 1) * repeats)
    first, last = frames[0].astype(int), frames[-1].astype(int)
    assert np.abs(first - last).mean() > 1.0  # the paths grew (the caption's step changed too)
    repeated = np.abs(frames[repeats - 1].astype(int) - first).mean()  # H.264 is lossy: not exactly 0
    stepped = np.abs(frames[repeats].astype(int) - first).mean()
    assert repeated < 0.2 < 1.0 < stepped  # step 0 lasts `repeats` frames, then step 1 is drawn
    assert fig._racers[0].path.getData()[0].size == STEPS + 1  # the whole race is shown again afterwards


def test_cancelled_race_mp4_leaves_nothing_and_keeps_an_older_file(race_figure, tmp_path) -> None:
    fig, race = race_figure
    with pytest.raises(VideoCancelled):
        write_race_file("mp4", tmp_path / "new.mp4", fig, race, progress=lambda done, total: done < 30)
    old = tmp_path / "old.mp4"
    old.write_bytes(b"old")
    with pytest.raises(InterruptedError):
        write_race_file("mp4", old, fig, race, progress=lambda done, total: done < 30)
    assert old.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["old.mp4"]  # no temp file
    assert fig._racers[0].path.getData()[0].size == STEPS + 1


class FilesHost:
    """What the landscape tab's files need of the tab: its figure, a window, the message bar."""

    settings = None

    def __init__(self, figure: LandscapeFigure) -> None:
        self.figure, self.result, self.messages = figure, figure.results[0], []

    def window(self) -> QtWidgets.QWidget:
        return self.figure

    def show_message(self, text: str, level: str = "error") -> None:
        self.messages.append((text, level))


def test_landscape_path_mp4_has_a_frame_per_snapshot(qapp, tmp_path, monkeypatch) -> None:
    fig = LandscapeFigure()
    fig.resize(300, 260)
    fig.set_results([hand_result()])  # a path of 12 snapshots
    fig.show()
    qapp.processEvents()
    try:
        frames = decoded(write_path_mp4(fig, tmp_path / "path.mp4"))
        assert len(frames) == 12 * video_repeats(12) + HOLD
        assert len(fig.plots2d[0].path.getData()[0]) == 12  # the whole path is drawn again afterwards
        with pytest.raises(VideoCancelled):
            write_landscape_file("mp4", tmp_path / "c.mp4", fig, progress=lambda done, total: done < 2)
        assert not (tmp_path / "c.mp4").exists()
        host = FilesHost(fig)  # the tab's export menu: a progress dialog whose Cancel stops the video
        monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "d.mp4"), ""))
        monkeypatch.setattr(QtWidgets.QProgressDialog, "wasCanceled", lambda self: True)
        LandscapeFiles(host).export_dialog("mp4")
        assert host.messages == [("MP4 export cancelled; nothing was written.", "info")]
        assert [p.name for p in tmp_path.iterdir()] == ["path.mp4"]
    finally:
        dispose(fig)


def test_surfaces_mp4_from_the_command_line(tmp_path, capsys, monkeypatch) -> None:
    args = ["surfaces", "--surface", "quadratic", "--optims", "sgd:lr=0.05", "--steps", "2", "--view", "heatmap"]
    out = tmp_path / "r"
    assert main([*args, "--size", "400x300", "--mp4", "--quiet", "--out", str(out)]) == 0, capsys.readouterr().err
    assert {"race.mp4", "race.png", "race.svg", "trajectories.csv", "race.json"} == {p.name for p in out.iterdir()}
    frames = decoded(out / "race.mp4")
    assert len(frames) == 3 * video_repeats(3) + HOLD and frames[0].shape == (540, 1000, 3)
    assert "race.mp4" in capsys.readouterr().out
    monkeypatch.setattr("resnet_viz.export.video.video_missing", lambda: "MP4 videos need PyAV: pip install x")
    assert main([*args, "--mp4", "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == "resnet-viz: error: --mp4: MP4 videos need PyAV: pip install x\n"
    assert not (tmp_path / "m").exists()  # said before the race, nothing written
