"""The headless command line: run folders, re-running from run.json, describe, error messages."""

import csv
import json

import numpy as np
import pytest

from resnet_viz.cli import main
from resnet_viz.export.run_folder import read_run_folder

FAST = [
    "--arch",
    "resnet",
    "--depth",
    "8",
    "--width",
    "8",
    "--subset",
    "2000",
    "--batch-size",
    "32",
    "--eval-train-samples",
    "300",
    "--quiet",
]


def test_run_writes_a_complete_run_folder(tmp_path, capsys):
    out = tmp_path / "r8"
    code = main(
        [
            "run",
            *FAST,
            "--optim",
            "sgd",
            "--lr",
            "0.05",
            "--momentum",
            "0.9",
            "--steps",
            "25",
            "--eval-every",
            "10",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("finished · resnet-8 · he · sgd 0.05 m0.9 · 25 steps") and "%" in line

    run = json.loads((out / "run.json").read_text())
    assert run["config"]["model"]["depth"] == 8 and run["config"]["train"]["seed"] == 0
    assert run["resolved"]["optimizer"]["lr"] == 0.05 and run["resolved"]["optimizer"]["momentum"] == 0.9
    assert run["resolved"]["optimizer"]["dampening"] == 0  # torch's default, recorded
    assert run["resolved"]["total_steps"] == 25 and run["device"] == "CPU"
    assert {"torch", "torchvision", "numpy", "python"} <= set(run["versions"])

    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == [str(i) for i in range(1, 26)]
    assert list(rows[0]) == [
        "step",
        "loss",
        "batch_error",
        "lr",
        "step_time_s",
        "train_error",
        "test_error",
        "train_loss",
        "test_loss",
    ]
    eval_rows = [int(r["step"]) for r in rows if r["test_error"] != ""]
    assert eval_rows == [10, 20, 25]
    assert all(0.0 <= float(r["batch_error"]) <= 1.0 for r in rows)
    assert float(rows[0]["lr"]) == 0.05

    layers = np.load(out / "layers.npz")
    n_layers = len(layers["layer_names"])
    assert n_layers == 8
    for key in ("grad_norm", "out_grad_norm", "act_mean", "act_std", "update_ratio", "response_std"):
        assert layers[key].shape == (25, n_layers), key
    for key in ("act_std_init", "out_grad_norm_init", "theory_act_std_init"):
        assert layers[key].shape == (n_layers,), key
    assert np.array_equal(layers["step"], np.arange(1, 26))

    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == 25
    assert 0 <= summary["final_train_error"] <= 1 and 0 <= summary["final_test_error"] <= 1
    assert summary["final_test_error"] == pytest.approx(float(rows[-1]["test_error"]))
    assert summary["steps_per_s"] > 0 and summary["params"] > 0 and summary["device"] == "CPU"

    # the same run again from its saved config gives the same numbers (deterministic on CPU)
    again = tmp_path / "again"
    assert main(["run", "--config", str(out / "run.json"), "--out", str(again), "--quiet"]) == 0
    a, b = read_run_folder(out), read_run_folder(again)
    np.testing.assert_array_equal(a.metrics["loss"], b.metrics["loss"])
    np.testing.assert_array_equal(a.layers["grad_norm"], b.layers["grad_norm"])
    assert b.run["config"] == a.run["config"]

    # flags override the config file
    third = tmp_path / "third"
    assert main(["run", "--config", str(out / "run.json"), "--steps", "3", "--out", str(third), "--quiet"]) == 0
    assert read_run_folder(third).summary["steps"] == 3

    # an existing run folder is not overwritten silently
    assert main(["run", *FAST, "--steps", "2", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,field,fragment",
    [
        (["--depth", "57"], "--depth 57 is not allowed", "nearest valid: 56 and 62"),
        (["--lr", "-1"], "--lr -1 is not allowed", "must be a number > 0"),
        (["--batch-size", "0"], "--batch-size 0 is not allowed", "≥ 1"),
        (["--optim", "adam", "--momentum", "0.9"], "--momentum 0.9 is not allowed", "(use --betas for adam)"),
    ],
)
def test_bad_configs_give_one_clear_line(tmp_path, capsys, argv, field, fragment):
    assert main(["run", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("resnet-viz: error: " + field) and fragment in err
    assert "Traceback" not in err


def test_unknown_optimiser_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--optim", "lbfgs"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--optim" in err and "lbfgs" in err and "adamw" in err


def test_missing_data_root_says_where_it_looked_and_how_to_get_it(tmp_path, capsys):
    root = tmp_path / "nowhere"
    assert (
        main(["run", "--dataset", "cifar10", "--data-root", str(root), "--steps", "1", "--out", str(tmp_path / "x")])
        == 2
    )
    err = capsys.readouterr().err
    assert str(root) in err and "--download" in err and "Traceback" not in err


def test_divergence_exit_status_and_summary(tmp_path, capsys):
    out = tmp_path / "div"
    code = main(["run", *FAST, "--arch", "plain", "--no-bn", "--lr", "10000", "--steps", "100", "--out", str(out)])
    assert code == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"].startswith("diverged at step")
    k = summary["steps"]
    rows = read_run_folder(out)
    assert len(rows.metrics["step"]) == k and rows.layers["grad_norm"].shape[0] == k
    assert "diverged" in capsys.readouterr().out


def test_describe_prints_layer_table_and_totals(capsys):
    assert main(["describe", "--arch", "plain", "--depth", "110"]) == 0
    out = capsys.readouterr().out
    assert "plain-110" in out
    assert out.count("conv") >= 109 and "linear" in out.lower()
    assert "1.7" in out  # about 1.7M parameters
    assert main(["describe", "--arch", "resnet", "--depth", "20", "--dataset", "mnist"]) == 0
    out = capsys.readouterr().out
    assert "1x28x28" in out and "0.27" in out


def test_run_on_mnist_files_in_torchvision_layout(tmp_path):
    """The real loading path end to end: idx files on disk -> torchvision MNIST -> 1x28x28 engine run.

    The images are a learnable toy task (the class is the position of a bright square), so the run
    must also learn: training error falls far below chance.
    """
    from test_data import _write_idx

    rng = np.random.default_rng(0)

    def images(n):
        labels = rng.integers(0, 10, n)
        x = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            r, q = divmod(int(c), 5)
            x[i, 4 + 12 * r : 12 + 12 * r, 1 + 5 * q : 6 + 5 * q] = 255
        return x, labels.astype(np.uint8)

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (train_x, train_y), (test_x, test_y) = images(1200), images(300)
    for name, arr in (
        ("train-images-idx3-ubyte", train_x),
        ("train-labels-idx1-ubyte", train_y),
        ("t10k-images-idx3-ubyte", test_x),
        ("t10k-labels-idx1-ubyte", test_y),
    ):
        _write_idx(raw / name, arr)
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--dataset",
            "mnist",
            "--data-root",
            str(tmp_path),
            "--arch",
            "resnet",
            "--depth",
            "8",
            "--width",
            "8",
            "--batch-size",
            "32",
            "--steps",
            "80",
            "--eval-every",
            "80",
            "--lr",
            "0.05",
            "--momentum",
            "0.9",
            "--no-augment",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    run = json.loads((out / "run.json").read_text())
    assert run["resolved"]["input_shape"] == [1, 28, 28] and run["resolved"]["n_train"] == 1200
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final_train_error"] < 0.3 and summary["final_test_error"] < 0.4
