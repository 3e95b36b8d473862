"""``resnet-viz landscape`` end to end on a tiny run folder made by ``resnet-viz run``: the files, the
errors (one line, exit 2) and Ctrl-C (one line, exit 130, nothing written)."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from resnet_viz.cli import main

TINY = ["--arch", "resnet", "--depth", "8", "--width", "4", "--subset", "500", "--batch-size", "16", "--no-probes"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("landscape-cli") / "run"
    args = ["run", *TINY, "--eval-train-samples", "64", "--steps", "30", "--snapshots", "4", "--lr", "0.05"]
    assert main([*args, "--quiet", "--out", str(out)]) == 0
    return out


def test_landscape_writes_data_json_and_figures(run_folder, tmp_path, capsys):
    out = tmp_path / "pca"
    code = main(
        [
            "landscape",
            str(run_folder),
            "--directions",
            "pca",
            "--grid",
            "5",
            "--samples",
            "64",
            "--mp4",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "pca, 5×5 grid around the path, 64 training images" in captured.err
    assert "PCA: the two components explain" in captured.out
    names = {p.name for p in out.iterdir()}
    assert {"landscape.npz", "landscape.json"} <= names
    if "landscape.png" not in names:  # Qt could not draw here: then the command says so in one line
        assert "resnet-viz: no figures (" in captured.err
    else:
        assert "landscape.svg" in names and (out / "landscape.png").stat().st_size > 1000
        import av  # the path video: decodes as H.264 at the figure's size, its path drawn snapshot by snapshot

        with av.open(str(out / "landscape-path.mp4")) as video:
            stream = video.streams.video[0]
            frames = [f.to_ndarray(format="rgb24") for f in video.decode(stream)]
        assert stream.codec_context.name == "h264" and frames[0].shape == (860, 880, 3)
        assert len(frames) >= 4 and not np.array_equal(frames[0], frames[-1])
    with np.load(out / "landscape.npz") as npz:
        assert npz["loss"].shape == (5, 5) and list(npz["path_steps"]) == [0, 10, 20, 30]
        assert npz["path_alpha"][-1] == 0 and npz["explained_variance"].shape == (2,)
    doc = json.loads((out / "landscape.json").read_text())
    assert doc["spec"] == {
        "directions": "pca", "grid": 5, "range": None, "samples": 64, "seed": 0, "include_biasbn": False,
        "precision": None,
    }  # fmt: skip
    assert (
        doc["precision"] == "fp32"
        and doc["samples_used"] == 64
        and doc["elapsed_s"] > 0
        and doc["step"] == 30
        and doc["source"] == str(run_folder)
    )


def test_interpolate_on_the_checkpoint_file_of_a_run_and_data_only(run_folder, tmp_path, capsys):
    out = tmp_path / "line"
    argv = ["landscape", str(run_folder / "checkpoint.pt"), "--directions", "interpolate", "--grid", "6"]
    assert main([*argv, "--samples", "16", "--range=-0.5,1.5", "--no-figure", "--quiet", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"landscape.npz", "landscape.json"}
    with np.load(out / "landscape.npz") as npz:
        assert "beta" not in npz.files and np.allclose(npz["alpha"], np.linspace(-0.5, 1.5, 6))
    assert capsys.readouterr().out.startswith("wrote ")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--grid", "1"], "--grid 1 is not allowed: must be an integer ≥ 2"),
        (["--range=1,-1"], "--range 1,-1 is not allowed: two numbers LO < HI"),
        (["--samples", "0"], "--samples 0 is not allowed"),
        (["--device", "tpu"], "--device tpu is not allowed"),
        (["--mp4"], "--mp4 animates the training path, which only --directions pca has (not random)"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(run_folder, tmp_path, capsys, argv, fragment):
    assert main(["landscape", str(run_folder), *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


def test_a_source_that_cannot_give_the_slice_is_one_line(run_folder, tmp_path, capsys):
    assert main(["landscape", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"resnet-viz: error: {tmp_path / 'none'}: no such run folder or checkpoint file"
    )
    alone = tmp_path / "w.pt"
    alone.write_bytes((run_folder / "checkpoint.pt").read_bytes())
    assert main(["landscape", str(alone), "--directions", "pca", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs the run's parameter snapshots" in err and len(err.splitlines()) == 1
    assert "train the run with --snapshots ≥ 3" in err  # the field named by its flag


def test_ctrl_c_is_one_line_and_writes_nothing(run_folder, tmp_path):
    out = tmp_path / "big"
    argv = [sys.executable, "-m", "resnet_viz.cli", "landscape", str(run_folder), "--grid", "101", "--samples", "400"]
    # the child gets Ctrl-C's default handling whatever the test worker's own signal state is
    harness = (signal.getsignal(signal.SIGINT), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))
    proc = subprocess.Popen(
        [*argv, "--out", str(out)],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        lines = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            lines.append(proc.stderr.readline())
            if "training images" in lines[-1]:  # the header: computing from here on
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, f"{err} (worker's SIGINT handler, blocked: {harness})"
    assert err.strip().splitlines()[-1] == "resnet-viz: interrupted; nothing written"
    assert "Traceback" not in err and not out.exists()


def _default_sigint() -> None:
    """In the child before exec: SIGINT unblocked and at its default, so Python installs KeyboardInterrupt."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_number_list_that_begins_with_a_minus_is_taken_as_the_flags_value():
    from resnet_viz.cli import build_parser, joined_number_lists

    argv = joined_number_lists(["landscape", "runs/a", "--range", "-1,1", "--out", "x"])
    assert argv == ["landscape", "runs/a", "--range=-1,1", "--out", "x"]
    assert build_parser().parse_args(argv).out == "x"
    assert joined_number_lists(["surfaces", "--start", "-.5,2", "--steps", "-3"]) == [
        "surfaces", "--start=-.5,2", "--steps", "-3",
    ]  # fmt: skip
