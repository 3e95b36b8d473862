"""``resnet-viz reproduce``: list, bad input, and a preset run end to end (figures, report, runs, index)."""

import xml.etree.ElementTree as ET

import pytest

from resnet_viz.cli import main
from resnet_viz.export.run_folder import read_run_folder


def test_list_names_every_preset(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name in (
        "degradation",
        "residual",
        "init",
        "vanishing",
        "shortcuts",
        "after-add",
        "batchnorm",
        "optimisers",
        "landscape",
    ):
        assert name in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["reproduce", "nope"], "NAME = 'nope' is not allowed"),
        (["reproduce", "init", "--steps", "0"], "--steps = 0"),
        (["reproduce", "init", "--parallel", "0"], "--parallel = 0 is not allowed: a number of runs from 1 to 64"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_reproduce_writes_figures_report_runs_and_index(tmp_path, capsys):
    out = tmp_path / "van"
    index = tmp_path / "docs" / "gallery.md"
    assert main(["reproduce", "vanishing", "--steps", "2", "--out", str(out), "--index", str(index), "--quiet"]) == 0
    stdout = capsys.readouterr().out
    assert "3 of 3 expected directions held" in stdout
    for key in ("out_grad_depth", "grad_norm_depth", "error"):
        assert (out / f"{key}.png").stat().st_size > 5000
        ET.parse(out / f"{key}.svg")  # well-formed SVG
    for run in ("sigmoid", "relu", "residual-sigmoid"):
        assert (out / f"grad_heatmap-{run}.png").exists()
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Expected directions: 3 of 3 held" in report
    assert "![out_grad_depth](out_grad_depth.png)" in report and "size `quick`" in report
    assert report.count("✓ yes") == 3
    folders = sorted((out / "runs").iterdir())
    assert [f.name for f in folders] == ["01-sigmoid", "02-relu", "03-residual-sigmoid"]
    run = read_run_folder(folders[0])
    assert run.run["config"]["model"]["activation"] == "sigmoid" and run.summary["steps"] == 2
    page = index.read_text(encoding="utf-8")
    assert "](../van/out_grad_depth.png)" in page and "3 of 3 held" in page
    # a second preset written beside it: the index keeps both, in preset order, each with its command
    assert (
        main(
            [
                "reproduce",
                "init",
                "--steps",
                "1",
                "--out",
                str(tmp_path / "init"),
                "--index",
                str(index),
                "--quiet",
                "--no-figures",
                "--no-run-folders",
            ]
        )
        == 0
    )
    page = index.read_text(encoding="utf-8")
    assert page.index("`init`") < page.index("`vanishing`") and page.count("## ") == 2
    assert "Made with `resnet-viz reproduce vanishing --steps 2" in page and "2 of 2 held" in page


def test_optimisers_preset_also_races_in_2d(tmp_path, capsys):
    out = tmp_path / "opt"
    assert main(["reproduce", "optimisers", "--steps", "1", "--out", str(out), "--quiet", "--no-run-folders"]) == 0
    assert (out / "race.png").stat().st_size > 10000 and (out / "race-trajectories.csv").exists()
    rows = (out / "race-trajectories.csv").read_text().splitlines()
    assert len(rows) == 1 + 5 * 501  # five racers, start + 500 steps each
    assert not (out / "runs").exists()


def test_a_preset_without_checks_at_this_size_says_so(tmp_path, capsys):
    out, index = tmp_path / "after-add", tmp_path / "gallery.md"
    assert (
        main(
            [
                "reproduce",
                "after-add",
                "--steps",
                "1",
                "--out",
                str(out),
                "--index",
                str(index),
                "--quiet",
                "--no-figures",
                "--no-run-folders",
            ]
        )
        == 0
    )
    assert "no expected direction is checked at the quick size" in capsys.readouterr().out
    assert "None is checked at the quick size" in (out / "report.md").read_text(encoding="utf-8")
    assert "No expected direction is checked at the quick size" in index.read_text(encoding="utf-8")


def test_parallel_runs_each_preset_run_in_its_own_process_with_the_same_numbers(tmp_path, capsys):
    """--parallel 3: three child processes at once; the numbers equal those of the runs in turn."""
    import numpy as np

    argv = ["reproduce", "vanishing", "--steps", "3", "--quiet", "--no-figures"]
    assert main([*argv, "--out", str(tmp_path / "seq")]) == 0
    assert main([*argv, "--parallel", "3", "--out", str(tmp_path / "par")]) == 0
    assert "3 of 3 expected directions held" in capsys.readouterr().out
    for name in ("01-sigmoid", "02-relu", "03-residual-sigmoid"):
        seq, par = read_run_folder(tmp_path / "seq" / "runs" / name), read_run_folder(tmp_path / "par" / "runs" / name)
        assert par.status == "finished" and par.summary["steps"] == 3
        np.testing.assert_allclose(par.metrics["loss"], seq.metrics["loss"], rtol=1e-4)


def test_a_preset_with_a_landscape_computes_one_per_run_and_draws_them_side_by_side(tmp_path, capsys):
    import json

    import numpy as np

    preset = {
        "name": "tiny-landscape",
        "title": "Two tiny MLPs and their landscapes",
        "base": {
            "model": {"arch": "mlp", "width": 16, "depth": 3},
            "train": {"steps": 4, "eval_every": 2, "eval_train_samples": 200, "batch_size": 32},
            "data": {"subset": 500},
        },
        "runs": [{"name": "relu", "config": {}}, {"name": "tanh", "config": {"model": {"activation": "tanh"}}}],
        "sizes": {"quick": {"note": "quick: tiny", "minutes": 1}},
        "landscape": {"quick": {"directions": "random", "grid": 3, "range": [-0.5, 0.5], "samples": 64}},
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(preset))
    out = tmp_path / "out"
    assert main(["reproduce", str(path), "--out", str(out), "--quiet", "--device", "cpu"]) == 0
    for folder in ("01-relu", "02-tanh"):
        with np.load(out / "landscapes" / folder / "landscape.npz") as z:
            assert z["loss"].shape == (3, 3) and np.isfinite(z["loss"]).all()
            np.testing.assert_allclose(z["alpha"], [-0.5, 0.0, 0.5])
    assert (out / "landscape.png").stat().st_size > 5000
    ET.parse(out / "landscape.svg")
    assert "landscape.png" in (out / "report.md").read_text()
    capsys.readouterr()
    assert main(["reproduce", str(path), "--out", str(tmp_path / "o2"), "--quiet", "--no-run-folders"]) == 0
    assert "no landscapes: they are computed from the run folders" in capsys.readouterr().err
