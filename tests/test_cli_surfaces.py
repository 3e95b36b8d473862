"""``resnet-viz surfaces``: the race folder (trajectories.csv, race.json, race.png, race.svg, race.gif)
against an in-test race, and bad input."""

import csv
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from resnet_viz.cli import main
from resnet_viz.export.trajectories import read_trajectories_csv
from resnet_viz.surfaces.functions import SurfaceConfig, build_surface
from resnet_viz.surfaces.race import OptimizerRace, parse_optimizers

ISSUE_OPTIMS = "sgd:lr=0.001,momentum:lr=0.001,adam:lr=0.02"


def strict_json(path):
    """json.loads that refuses NaN/Infinity (not JSON, though Python writes and reads them)."""

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name} in {path}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def image_rgb(path):
    from PySide6 import QtGui

    image = QtGui.QImage(str(path))
    assert not image.isNull(), path
    rgb = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    return (
        np.frombuffer(rgb.constBits(), np.uint8, count=stride * h)
        .reshape(h, stride)[:, : w * 3]
        .reshape(h, w, 3)
        .copy()
    )


def pixels_near(rgb, colour, tol=10):
    from PySide6 import QtGui

    c = QtGui.QColor(colour)
    target = np.array([c.red(), c.green(), c.blue()])
    return int((np.abs(rgb.astype(int) - target).max(axis=2) <= tol).sum())


def test_surfaces_writes_the_race_folder(tmp_path, capsys):
    out = tmp_path / "race"
    code = main(
        [
            "surfaces",
            "--surface",
            "rosenbrock",
            "--optims",
            ISSUE_OPTIMS,
            "--start=-1.5,2",
            "--steps",
            "500",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == ["race.json", "race.png", "race.svg", "trajectories.csv"]
    assert captured.out.strip().splitlines()[-1].startswith("wrote ")
    assert "momentum" in captured.out and "Adam lr=0.02" in captured.out

    # the same race, run here
    race = OptimizerRace(build_surface(SurfaceConfig("rosenbrock")), (-1.5, 2.0), parse_optimizers(ISSUE_OPTIMS))
    race.run(500)

    with (out / "trajectories.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["optimizer", "step", "x", "y", "loss"]
    assert len(rows) == 1 + 3 * 501
    assert [r[0] for r in rows[1::501]] == ["sgd", "momentum", "adam"]
    for r in rows[1::501]:
        assert r[1] == "0" and (float(r[2]), float(r[3])) == (-1.5, 2.0) and float(r[4]) == 12.5
    back = read_trajectories_csv(out / "trajectories.csv")
    assert list(back) == ["sgd", "momentum", "adam"]
    for t in race.trajectories:
        arr = back[t.label]
        assert arr.shape == (501, 4)
        np.testing.assert_array_equal(arr[:, 0], np.arange(501))
        np.testing.assert_array_equal(arr[:, 1:3], t.positions.values)
        np.testing.assert_array_equal(arr[:, 3], t.losses.values)

    record = strict_json(out / "race.json")
    assert record["surface"]["name"] == "rosenbrock" and record["surface"]["minima"] == [[1.0, 1.0]]
    assert record["surface"]["min_value"] == 0.0
    assert record["start"] == [-1.5, 2.0] and record["steps"] == 500
    assert [o["label"] for o in record["optimizers"]] == ["sgd", "momentum", "adam"]
    assert record["optimizers"][1]["torch_kwargs"] == {"momentum": 0.9, "lr": 0.001}
    assert record["optimizers"][2]["set"] == {"lr": 0.02}
    assert record["summary"] == race.summary()
    momentum = record["summary"][1]
    assert momentum["steps"] == 500 and momentum["status"] == "running"
    assert (momentum["x"], momentum["y"]) == tuple(race.trajectories[1].positions.values[-1])
    assert momentum["loss"] < record["summary"][0]["loss"]  # momentum gets further than SGD at the same lr

    rgb = image_rgb(out / "race.png")
    h, w, _ = rgb.shape
    assert w >= 1000 and h >= 400
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) > 100  # a filled contour map, not a blank page
    white = (rgb == 255).all(axis=2).mean()
    assert white < 0.9
    from resnet_viz.gui.race.optimizer_table import DEFAULT_COLOURS

    for key in ("sgd", "momentum", "adam"):  # every racer's path is drawn in its colour ...
        assert pixels_near(rgb, DEFAULT_COLOURS[key]) > 50, key
    assert pixels_near(rgb, DEFAULT_COLOURS["rmsprop"], tol=4) == 0  # ... and no racer that is not in it

    svg = ET.parse(out / "race.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(list(svg.iter())) > 50


def test_surfaces_gif_has_a_frame_per_step_and_loops(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "g"
    code = main(
        [
            "surfaces",
            "--surface",
            "quadratic",
            "--condition",
            "20",
            "--optims",
            "sgd:lr=0.05,adam:lr=0.1",
            "--steps",
            "30",
            "--gif",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert {"race.gif", "race.png", "race.svg", "trajectories.csv", "race.json"} == {p.name for p in out.iterdir()}
    with Image.open(out / "race.gif") as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 31
        assert gif.info.get("loop") == 0
        assert gif.size[0] >= 500
        gif.seek(0)
        first = np.asarray(gif.convert("RGB")).copy()
        gif.seek(30)
        last = np.asarray(gif.convert("RGB"))
    assert (first != last).any()  # the paths grow
    record = strict_json(out / "race.json")
    assert record["surface"]["condition"] == 20.0 and record["steps"] == 30


def test_diverging_racer_is_reported_and_written(tmp_path, capsys):
    out = tmp_path / "d"
    code = main(
        ["surfaces", "--optims", "sgd:lr=10,adam:lr=0.02", "--start=-1.5,2", "--steps", "60", "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    race = OptimizerRace(build_surface(SurfaceConfig()), (-1.5, 2.0), parse_optimizers("sgd:lr=10,adam:lr=0.02"))
    race.run(60)
    k = race.trajectories[0].diverged_at
    assert k is not None
    assert f"diverged at step {k}" in captured.out
    record = strict_json(out / "race.json")  # non-finite numbers as strings, never NaN/Infinity
    sgd, adam = record["summary"]
    assert sgd["status"] == f"diverged at step {k}" and sgd["steps"] == k
    assert "inf" in (sgd["x"], sgd["y"], sgd["loss"]) or "nan" in (sgd["x"], sgd["y"], sgd["loss"])
    assert adam["status"] == "running" and adam["steps"] == 60
    back = read_trajectories_csv(out / "trajectories.csv")
    assert back["sgd"].shape == (k + 1, 4) and back["adam"].shape == (61, 4)
    assert not np.isfinite(back["sgd"][-1, 1:]).all()
    np.testing.assert_array_equal(back["sgd"][:, 3], race.trajectories[0].losses.values)
    assert (out / "race.png").stat().st_size > 1000


def test_formula_without_surface_races_the_formula_and_with_another_surface_is_refused(tmp_path, capsys):
    assert (
        main(
            [
                "surfaces",
                "--formula",
                "x^2 + y^2",
                "--optims",
                "sgd:lr=0.1",
                "--start=1,1",
                "--steps",
                "3",
                "--no-figure",
                "--quiet",
                "--out",
                str(tmp_path / "f"),
            ]
        )
        == 0
    )
    assert strict_json(tmp_path / "f" / "race.json")["surface"]["formula"] == "x^2 + y^2"
    capsys.readouterr()
    assert (
        main(["surfaces", "--surface", "beale", "--formula", "x^2", "--no-figure", "--out", str(tmp_path / "g")]) == 2
    )
    assert "--formula" in capsys.readouterr().err and not (tmp_path / "g").exists()


def test_no_figure_writes_only_the_data(tmp_path, capsys):
    out = tmp_path / "n"
    code = main(
        [
            "surfaces",
            "--surface",
            "formula",
            "--formula",
            "x^2 + 10*sin(y)^2",
            "--optims",
            "adam:lr=0.05",
            "--start=1,1",
            "--steps",
            "20",
            "--no-figure",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["race.json", "trajectories.csv"]
    assert capsys.readouterr().out.strip() == f"wrote {out / 'trajectories.csv'}, {out / 'race.json'}"
    record = strict_json(out / "race.json")
    assert record["surface"]["name"] == "formula" and record["surface"]["minima"] == []
    assert record["surface"]["min_value"] is None and record["surface"]["condition"] is None
    race = OptimizerRace(
        build_surface(SurfaceConfig(name="formula", formula="x^2 + 10*sin(y)^2")),
        (1.0, 1.0),
        parse_optimizers("adam:lr=0.05"),
    ).run(20)
    back = read_trajectories_csv(out / "trajectories.csv")
    np.testing.assert_array_equal(back["adam"][:, 1:3], race.trajectories[0].positions.values)
    assert record["summary"][0]["steps_to_minimum_1e-3"] is None


def test_default_start_and_suggested_learning_rates(tmp_path, capsys):
    out = tmp_path / "s"
    code = main(
        [
            "surfaces",
            "--surface",
            "quadratic",
            "--condition",
            "100",
            "--optims",
            "sgd,momentum:lr=0.001,adam",
            "--suggested",
            "--steps",
            "5",
            "--no-figure",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    record = strict_json(out / "race.json")
    surface = build_surface(SurfaceConfig(name="quadratic", condition=100.0))
    assert record["start"] == list(surface.start)
    lrs = [o["set"]["lr"] for o in record["optimizers"]]
    assert lrs == [surface.suggested["sgd"]["lr"], 0.001, surface.suggested["adam"]["lr"]]  # what was set wins
    assert lrs[0] == pytest.approx(1.8 / 100) and lrs[2] == 0.1
    assert [row["lr"] for row in record["summary"]] == lrs


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--surface", "formula", "--formula", "x +* y"], "surface.formula"),
        (["--optims", "lbfgs:lr=0.1"], "optims"),
        (["--optims", "sgd:betas=0.9/0.99"], "optims.sgd.betas"),
        (["--optims", "adam:lr=-1"], "optims.adam.lr"),
        (["--optims", "nesterov:momentum=0"], "optimizers.nesterov"),
        (["--steps", "-3"], "steps"),
        (["--start=nan,1"], "start"),
        (["--surface", "quadratic", "--condition", "0.1"], "surface.condition"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, fragment):
    out = tmp_path / "x"
    steps = [] if "--steps" in argv else ["--steps", "3"]
    code = main(["surfaces", *argv, *steps, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("resnet-viz: error: " + fragment + " = "), lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists()


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--start=1"], "expected two numbers X,Y, got '1'"),
        (["--start=1,2,3"], "expected two numbers X,Y"),
        (["--start=a,b"], "expected comma-separated numbers"),
        (["--surface", "banana"], "invalid choice: 'banana'"),
        (["--range", "1,0,0,1"], "XMIN < XMAX"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path, capsys, argv, fragment):
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as info:
        main(["surfaces", *argv, "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and fragment in errors[0], err
    assert "Traceback" not in err and not out.exists()


def test_help_lists_the_optimisers(capsys):
    with pytest.raises(SystemExit) as info:
        main(["surfaces", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for key in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "two_minima", "formula"):
        assert key in text
