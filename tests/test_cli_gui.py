"""The window's command-line entry points: ``resnet-viz`` opens it; ``snapshot`` pictures it headless."""

import pytest
from PySide6 import QtGui

from resnet_viz.cli import main

TINY = [
    "--width",
    "4",
    "--steps",
    "12",
    "--eval-every",
    "6",
    "--subset",
    "1000",
    "--batch-size",
    "32",
    "--eval-train-samples",
    "200",
    "--quiet",
]


def test_no_command_opens_the_window(monkeypatch):
    calls = []
    import resnet_viz.gui.app as app

    monkeypatch.setattr(app, "run_app", lambda session=None, runs=(): calls.append((session, list(runs))) or 0)
    assert main([]) == 0
    assert main(["gui", "--session", "x.rvsession"]) == 0
    assert main(["gui", "--run", "a", "--run", "b"]) == 0
    assert calls == [(None, []), ("x.rvsession", []), (None, ["a", "b"])]


def test_snapshot_trains_offscreen_and_saves_the_whole_window(tmp_path, capsys):
    out = tmp_path / "shot.png"
    code = main(["snapshot", "--compare", "plain-8,resnet-8", *TINY, "--size", "1280x800", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    image = QtGui.QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
    # not a blank picture: the plots drew many distinct colours
    colours = {image.pixel(x, y) for x in range(0, 1280, 7) for y in range(0, 800, 7)}
    assert len(colours) > 50
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--size", "800x600"], "at least 1280x800"),
        (["--compare", "plain-57"], "depth"),
        (["--compare", "plain-8,resnet-8", "--select", "3"], "--select = 3 is not allowed: a run number from 1 to 2"),
    ],
)
def test_snapshot_refuses_bad_input_with_one_line(tmp_path, capsys, argv, fragment):
    code = main(["snapshot", *TINY, *argv, "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()
