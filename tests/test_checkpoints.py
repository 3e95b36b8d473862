"""Checkpoints in and out: the PyTorch CIFAR reproduction's layout loads with identical outputs, this
project's own format round-trips, mismatched files get one line naming the first tensor that does not
fit, a loaded run is evaluated at step 0, and a run folder keeps its weights as checkpoint.pt."""

import contextlib
import dataclasses
import errno

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_run_config
from torch import nn

from resnet_viz.config import ConfigError, InitConfig, ModelConfig, RunConfig
from resnet_viz.metrics.records import EvalRecord, ModelWeights, RunFinished, RunStarted
from resnet_viz.metrics.store import RunStore
from resnet_viz.models import build_model
from resnet_viz.models.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from resnet_viz.models.checkpoint_layouts import stream_permutations


# --- a reference written from akamaster/pytorch_resnet_cifar10 (resnet.py, option A) ----------------
class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class RefBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:  # pads planes // 4 zero channels on BOTH sides
            self.shortcut = LambdaLayer(
                lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class RefResNet(nn.Module):
    def __init__(self, n, width=16, num_classes=10):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._make_layer(width, n, 1)
        self.layer2 = self._make_layer(2 * width, n, 2)
        self.layer3 = self._make_layer(4 * width, n, 2)
        self.linear = nn.Linear(4 * width, num_classes)

    def _make_layer(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(RefBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3]).view(out.size(0), -1)
        return self.linear(out)


def trained_looking(model, seed=0):
    """Random BN affine parameters and running statistics, so that every channel differs (float64)."""
    g = torch.Generator().manual_seed(seed)
    model = model.double()
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g, dtype=t.dtype) + 0.5)
            elif name.endswith(("running_mean", "bn1.bias", "bn2.bias")):
                t.copy_(torch.randn(t.shape, generator=g, dtype=t.dtype) * 0.2)
            elif name.endswith(("bn1.weight", "bn2.weight")):
                t.copy_(torch.rand(t.shape, generator=g, dtype=t.dtype) + 0.5)
    return model.eval()


def save_akamaster(path, n=3, width=16, seed=0, prefix="module.", wrapped=True):
    ref = trained_looking(RefResNet(n, width), seed)
    state = {prefix + k: v for k, v in ref.state_dict().items()}
    torch.save({"state_dict": state, "best_prec1": 91.0} if wrapped else state, path)
    return ref


def ours_loaded(path):
    ckpt = read_checkpoint(path)
    model = build_model(ckpt.model, 3, 32, 10).double()
    load_checkpoint(path, model, ckpt.model)
    return ckpt, model.eval()


def assert_same_outputs(ref, model, seed=1):
    x = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    with torch.no_grad():
        want, got = ref(x), model(x)
    assert want.abs().max() > 0.1  # a real signal, not a dead net
    torch.testing.assert_close(got, want, atol=1e-10, rtol=0)


# --- the reproduction's layout ----------------------------------------------------------------------
def test_the_stream_permutation_puts_the_padded_input_first():
    p1, p2, p3 = stream_permutations(16)
    assert p1 == list(range(16))
    assert p2 == [*range(8, 24), *range(8), *range(24, 32)]
    assert sorted(p3) == list(range(64)) and p3[:32] == [16 + q for q in p2]


@pytest.mark.parametrize("width", [16, 8])
def test_akamaster_resnet20_loads_with_identical_outputs(tmp_path, width):
    path = tmp_path / "resnet20.th"
    ref = save_akamaster(path, n=3, width=width)
    ckpt, model = ours_loaded(path)
    assert ckpt.layout == "akamaster"
    assert (ckpt.model.arch, ckpt.model.depth, ckpt.model.width, ckpt.model.block, ckpt.model.shortcut) == (
        "resnet", 20, width, "basic", "A",
    )  # fmt: skip
    assert ckpt.params == sum(p.numel() for p in ref.parameters())
    if width == 16:
        assert ckpt.params == 269_722  # the reproduction's 0.27M
    assert ckpt.extra == {"best_prec1": 91.0}
    assert_same_outputs(ref, model)


def test_without_the_permutation_the_outputs_differ(tmp_path):
    """The check above can fail: the reproduction's names loaded in its own channel order give another net."""
    path = tmp_path / "resnet20.th"
    ref = save_akamaster(path)
    _ckpt, model = ours_loaded(path)
    renamed = {k.replace("module.", ""): v for k, v in ref.state_dict().items()}
    naive = {}
    for k, v in renamed.items():
        k = k.replace("linear.", "fc.").replace("layer", "stage")
        k = k if not k.startswith(("conv1.", "bn1.")) else "stem." + k.replace("conv1", "conv").replace("bn1", "bn")
        parts = k.split(".")
        if parts[0].startswith("stage"):
            parts[1] = f"block{parts[1]}"
        naive[".".join(parts)] = v
    model.load_state_dict(naive)
    x = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        assert (model(x) - ref(x)).abs().max() > 1e-3


def test_bare_state_dicts_with_and_without_module_prefix(tmp_path):
    for prefix in ("module.", ""):
        path = tmp_path / f"bare{prefix}.pth"
        ref = save_akamaster(path, n=1, width=8, prefix=prefix, wrapped=False)
        ckpt, model = ours_loaded(path)
        assert (ckpt.model.depth, ckpt.model.width, ckpt.extra) == (8, 8, {})
        assert_same_outputs(ref, model)


def test_an_older_file_without_num_batches_tracked_loads(tmp_path):
    ref = trained_looking(RefResNet(1, 8))
    state = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": state}, tmp_path / "old.th")
    _ckpt, model = ours_loaded(tmp_path / "old.th")
    assert_same_outputs(ref, model)


# --- this project's format ---------------------------------------------------------------------------
def test_own_format_round_trip(tmp_path):
    cfg = RunConfig(model=ModelConfig(arch="resnet", depth=14, width=4, block="preact"))
    model = build_model(cfg.model, 3, 32, 10)
    trained_looking(model, seed=3)
    path = save_checkpoint(tmp_path / "c.pt", cfg.to_dict(), 123, model.state_dict())
    assert not [p for p in tmp_path.iterdir() if p.name != "c.pt"]  # no temporary file left
    ckpt = read_checkpoint(path)
    assert (ckpt.layout, ckpt.step, ckpt.model) == ("resnet-viz", 123, cfg.model)
    again = build_model(ckpt.model, 3, 32, 10).double()
    load_checkpoint(path, again, ckpt.model)
    assert_same_outputs(model.eval(), again.eval())


def test_save_checkpoint_failure_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    cfg = RunConfig(model=ModelConfig(depth=8, width=4))
    state = build_model(cfg.model, 3, 32, 10).state_dict()
    with pytest.raises(CheckpointError, match=r"^c\.pt: could not write the checkpoint \(.+\)$"):
        save_checkpoint(tmp_path / "missing" / "c.pt", cfg.to_dict(), 0, state)
    old = save_checkpoint(tmp_path / "c.pt", cfg.to_dict(), 1, state)

    def full_disk(obj, f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointError, match=r"^c\.pt: could not write the checkpoint \(No space left on device\)$"):
        save_checkpoint(tmp_path / "c.pt", cfg.to_dict(), 2, state)
    monkeypatch.undo()
    assert read_checkpoint(old).step == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]  # the temporary file is gone


# --- files that do not fit ----------------------------------------------------------------------------
def _resnet20():
    cfg = ModelConfig(arch="resnet", depth=20)
    return build_model(cfg, 3, 32, 10), cfg


def _one_line_error(path, model=None, cfg=None):
    with pytest.raises(CheckpointError) as info:
        if model is None:
            read_checkpoint(path)
        else:
            load_checkpoint(path, model, cfg)
    text = str(info.value)
    assert "\n" not in text and text.startswith(path.name + ": ")
    return text


def test_a_deeper_file_names_its_first_extra_tensor(tmp_path):
    save_akamaster(tmp_path / "r32.th", n=5)
    text = _one_line_error(tmp_path / "r32.th", *_resnet20())
    assert text == (
        "r32.th: stage1.block3.conv1.weight [16, 16, 3, 3] is in the file but not in resnet-20 "
        "(the file holds a resnet-32, akamaster layout)"
    )


def test_a_wider_file_names_the_first_tensor_of_another_shape(tmp_path):
    save_akamaster(tmp_path / "w32.th", n=3, width=32)
    text = _one_line_error(tmp_path / "w32.th", *_resnet20())
    assert text.startswith("w32.th: stem.conv.weight is [32, 3, 3, 3] in the file but [16, 3, 3, 3] in resnet-20")


def test_a_changed_shape_a_missing_and_an_extra_tensor(tmp_path):
    ref = trained_looking(RefResNet(3))
    state = {"module." + k: v for k, v in ref.state_dict().items()}
    changed = dict(state)
    changed["module.layer3.2.conv1.weight"] = torch.zeros(64, 64, 1, 1, dtype=torch.float64)
    torch.save({"state_dict": changed}, tmp_path / "shape.th")
    text = _one_line_error(tmp_path / "shape.th", *_resnet20())
    assert "stage3.block2.conv1.weight is [64, 64, 1, 1] in the file but [64, 64, 3, 3] in resnet-20" in text
    missing = {k: v for k, v in state.items() if k != "module.layer2.1.bn2.running_var"}
    torch.save({"state_dict": missing}, tmp_path / "missing.th")
    text = _one_line_error(tmp_path / "missing.th", *_resnet20())
    assert "stage2.block1.bn2.running_var [32] of resnet-20 is missing from the file" in text
    extra = {**state, "module.layer1.0.shortcut.0.weight": torch.zeros(16, 16, 1, 1)}
    torch.save({"state_dict": extra}, tmp_path / "extra.th")
    text = _one_line_error(tmp_path / "extra.th", *_resnet20())
    assert "layer1.0.shortcut.0.weight [16, 16, 1, 1] is in the file but not in resnet-20" in text


def test_files_that_are_not_checkpoints(tmp_path):
    save_akamaster(tmp_path / "good.th", n=1, width=8)
    data = (tmp_path / "good.th").read_bytes()
    (tmp_path / "truncated.th").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.th").write_bytes(b"\x80\x04 this is not a pickle" * 10)
    (tmp_path / "empty.th").write_bytes(b"")
    (tmp_path / "folder.th").mkdir()
    torch.save({"best_prec1": 3.0}, tmp_path / "nodict.th")
    torch.save({"weights": [1, 2]}, tmp_path / "list.th")
    for name in ("truncated.th", "garbage.th", "empty.th", "folder.th", "nodict.th", "list.th", "absent.th"):
        _one_line_error(tmp_path / name)
    assert "folder" in _one_line_error(tmp_path / "folder.th")
    assert _one_line_error(tmp_path / "absent.th").endswith("absent.th: no such file")
    assert "damaged or truncated" in _one_line_error(tmp_path / "truncated.th")
    assert "empty, damaged or truncated" in _one_line_error(tmp_path / "empty.th")
    assert "safe loader" in _one_line_error(tmp_path / "garbage.th")


def test_a_pickle_with_code_is_refused_not_run(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"state_dict": Evil()}, tmp_path / "evil.th")
    text = _one_line_error(tmp_path / "evil.th")
    assert "the safe loader, which runs no code from the file, refused it: Unsupported global" in text
    assert "Please" not in text  # torch's advice to load unsafely is not repeated


# --- the engine: init.from_file ------------------------------------------------------------------------
def _run(cfg):
    from resnet_viz.train.engine import Engine

    records = []
    engine = Engine(cfg, records.append)
    engine.run()
    return records, engine


def _loaded_config(path, steps=4, scheme="he"):
    cfg = tiny_run_config("resnet", 8, steps=steps)
    return dataclasses.replace(cfg, init=InitConfig(scheme=scheme, from_file=str(path)))


def test_engine_evaluates_loaded_weights_at_step_0_and_keeps_them_at_the_end(tmp_path):
    from resnet_viz.train.evaluation import EVAL_BATCH_SIZE, evaluate_model

    base = tiny_run_config("resnet", 8, steps=6)
    records, _ = _run(base)
    weights = [r for r in records if isinstance(r, ModelWeights)]
    assert len(weights) == 1 and weights[0].step == 6 and isinstance(records[-1], RunFinished)
    assert records[-2] is weights[0]
    path = save_checkpoint(tmp_path / "w.pt", base.resolved().to_dict(), 6, weights[0].state)

    records, engine = _run(_loaded_config(path, scheme="normal"))  # the scheme is not used
    started = records[0]
    assert isinstance(started, RunStarted) and np.isnan(started.theory_act_std_init).all()
    first_eval = records[1]
    assert isinstance(first_eval, EvalRecord) and first_eval.step == 0
    # the evaluation at step 0 is the loaded model's, evaluated directly
    cfg = engine.config
    model = build_model(cfg.model, 3, 32, 10)
    load_checkpoint(path, model, cfg.model)
    model.eval()
    direct = evaluate_model(
        model, engine.data, torch.device("cpu"), lambda: False, EVAL_BATCH_SIZE, contextlib.nullcontext
    )
    assert direct is not None
    assert first_eval.test_error == pytest.approx(direct[2], abs=1e-12)
    assert first_eval.train_error == pytest.approx(direct[0], abs=1e-12)


def test_step0_statistics_are_the_loaded_nets(tmp_path):
    """A checkpoint of a run's initial weights, loaded into a run of another init and the same data order,
    gives the same step-0 statistics: the loaded weights are the ones inspected, unchanged."""
    from resnet_viz.train.engine import Engine

    base = tiny_run_config("resnet", 8, steps=1)
    engine = Engine(base)
    engine.prepare()
    state = engine.prepared.model.state_dict()
    path = save_checkpoint(tmp_path / "init.pt", base.resolved().to_dict(), 0, state)
    first, _ = _run(base)
    loaded, _ = _run(dataclasses.replace(_loaded_config(path, steps=1, scheme="normal"), train=base.train))
    np.testing.assert_allclose(loaded[0].act_std_init, first[0].act_std_init, rtol=1e-6)
    np.testing.assert_allclose(loaded[0].grad_norm_init, first[0].grad_norm_init, rtol=1e-5)
    fresh, _ = _run(dataclasses.replace(base, init=InitConfig(scheme="normal")))
    assert not np.allclose(fresh[0].act_std_init, first[0].act_std_init, rtol=1e-2)


def test_a_file_that_does_not_fit_is_a_config_error_at_prepare(tmp_path):
    from resnet_viz.train.engine import Engine

    save_akamaster(tmp_path / "r20.th", n=3)
    engine = Engine(_loaded_config(tmp_path / "r20.th"))
    with pytest.raises(ConfigError) as info:
        engine.prepare()
    assert info.value.field == "init.from_file" and "\n" not in str(info.value)
    assert "r20.th: stem.conv.weight is [16, 3, 3, 3] in the file but [4, 3, 3, 3] in resnet-8 width 4" in str(
        info.value
    )


def test_a_diverged_run_has_no_weights():
    records, _ = _run(tiny_run_config("plain", 8, steps=30, lr=1e4, batch_norm=False))
    assert records[-1].status.startswith("diverged")
    assert not any(isinstance(r, ModelWeights) for r in records)


# --- run folders, stores, CLI ----------------------------------------------------------------------------
def test_run_folder_writes_the_checkpoint_and_the_step0_evaluation(tmp_path):
    from resnet_viz.export.replay import store_from_run_folder, write_run_folder
    from resnet_viz.export.run_folder import RunFolderWriter

    base = tiny_run_config("resnet", 8, steps=3)
    writer = RunFolderWriter(tmp_path / "a", durable=False)
    _run_into(base, writer)
    ckpt = read_checkpoint(tmp_path / "a" / "checkpoint.pt")
    assert ckpt.step == 3 and ckpt.model == base.resolved().model
    loaded = _loaded_config(tmp_path / "a" / "checkpoint.pt", steps=3)
    writer = RunFolderWriter(tmp_path / "b", durable=False)
    _run_into(loaded, writer)
    lines = (tmp_path / "b" / "metrics.csv").read_text().splitlines()
    assert lines[1].startswith("0,,,,,") and lines[2].startswith("1,")
    store = store_from_run_folder(tmp_path / "b")
    assert [e.step for e in store.evals] == [0, 3] and list(store.scalar("step")) == [1, 2, 3]
    assert store.evals[0].test_error == pytest.approx(writer.store.evals[0].test_error, rel=1e-8)
    assert store.weights is not None and store.weights.step == 3
    for name, array in writer.store.weights.state.items():
        np.testing.assert_array_equal(store.weights.state[name], array)
    again = write_run_folder(store, tmp_path / "c")  # a session's way: store -> folder
    assert read_checkpoint(again / "checkpoint.pt").step == 3


def _run_into(cfg, writer):
    from resnet_viz.train.engine import Engine

    Engine(cfg, writer).run()


def test_store_keeps_the_latest_weights():
    store = RunStore()
    store.add(ModelWeights(step=1, state={"a": np.zeros(2)}))
    store.add(ModelWeights(step=5, state={"a": np.ones(2)}))
    assert store.weights.step == 5


def test_cli_run_leaves_a_checkpoint_and_init_from_trains_it_further(tmp_path, capsys):
    from resnet_viz.cli import main

    fast = ["--subset", "600", "--batch-size", "32", "--eval-train-samples", "100", "--quiet", "--steps", "3"]
    assert main(["run", "--arch", "resnet", "--depth", "8", "--width", "4", *fast, "--out", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "checkpoint.pt").is_file()
    ckpt = str(tmp_path / "a" / "checkpoint.pt")
    assert main(["run", *fast, "--init-from", ckpt, "--out", str(tmp_path / "b")]) == 0  # the model from the file
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "resnet-8" in line and "from checkpoint.pt" in line
    lines = (tmp_path / "b" / "metrics.csv").read_text().splitlines()
    assert lines[1].startswith("0,,,,,")
    assert main(["run", "--depth", "20", *fast, "--init-from", ckpt, "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "--init-from" in err and "stem.conv.weight is [4, 3, 3, 3] in the file" in err


def test_cli_describe_inspects_and_evaluates_a_checkpoint(tmp_path, capsys):
    """describe --init-from prints the loaded net's step-0 statistics and the same evaluation a run starts with."""
    from resnet_viz.cli import main

    fast = ["--subset", "600", "--batch-size", "32"]
    ckpt = tmp_path / "resnet8.th"
    save_akamaster(ckpt, n=1, width=8)
    assert main(["describe", "--init-from", str(ckpt), *fast]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(out) if line.startswith(f"the weights of {ckpt}"))
    rows = out[header + 2 : header + 2 + 8]
    assert [row.split()[1] for row in rows] == [
        "stem.conv",
        *(f"stage{s}.block0.conv{c}" for s in (1, 2, 3) for c in (1, 2)),
        "fc",
    ]
    assert all(float(row.split()[2]) > 0 for row in rows)  # std of each layer's output
    evaluation = out[header + 10]
    assert main(["run", "--init-from", str(ckpt), *fast, "--steps", "1", "--quiet", "--out", str(tmp_path / "r")]) == 0
    step0 = (tmp_path / "r" / "metrics.csv").read_text().splitlines()[1].split(",")
    header_row = (tmp_path / "r" / "metrics.csv").read_text().splitlines()[0].split(",")
    test_error = float(step0[header_row.index("test_error")])
    assert evaluation.startswith("evaluation (eval mode): train error ")
    assert f"test error {test_error:.2%}" in evaluation


# --- the window ----------------------------------------------------------------------------------------
def test_window_opens_a_checkpoint_into_the_setup(qtbot, window, tmp_path, monkeypatch):
    from PySide6 import QtWidgets

    from resnet_viz.gui import checkpoint_files

    path = tmp_path / "ckpts" / "resnet20.th"
    path.parent.mkdir()
    save_akamaster(path, n=3)
    asked = []

    def fake_open(parent, title, start, filters):
        asked.append((title, filters))
        return str(path), filters

    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", fake_open)
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    texts = [a.text() for a in file_menu.actions()]
    assert "Open &checkpoint…" in texts and "Save chec&kpoint…" in texts
    next(a for a in file_menu.actions() if a.text() == "Open &checkpoint…").trigger()
    assert asked == [("Open checkpoint", checkpoint_files.CHECKPOINT_FILTER)] and "*.th" in asked[0][1]
    cfg = window.config_panel.config()
    assert (cfg.model.arch, cfg.model.depth, cfg.model.width, cfg.model.block) == ("resnet", 20, 16, "basic")
    assert cfg.init.from_file == str(path)
    assert window.message_bar.text == (
        "Loaded resnet20.th: resnet-20 (0.27M parameters, akamaster layout) — Start evaluates it at step 0 "
        "and trains it further"
    )
    assert window.settings.value(checkpoint_files.DIR_KEY) == str(path.parent)
    assert not window.config_panel._controls["init.scheme"].widget.isEnabled()  # the weights come from the file

    (tmp_path / "bad.th").write_bytes(b"garbage")
    assert checkpoint_files.open_checkpoint(window, tmp_path / "bad.th") is None
    assert window.message_bar.level == "error" and window.message_bar.text.startswith(
        "Could not open the checkpoint: bad.th: not a torch checkpoint of tensors"
    )
    assert "\n" not in window.message_bar.text
    assert window.config_panel.config().init.from_file == str(path)  # the setup is unchanged

    # the setup's "from file" button "…" opens the same dialog and sets up the file's network
    other = tmp_path / "ckpts" / "resnet32.th"
    save_akamaster(other, n=5)
    path = other
    assert window.config_panel.browse_checkpoint.isEnabled()
    window.config_panel.browse_checkpoint.click()
    assert len(asked) == 2
    cfg = window.config_panel.config()
    assert cfg.model.depth == 32 and cfg.init.from_file == str(other)


def test_window_saves_the_selected_runs_weights(qtbot, window, tmp_path, monkeypatch, recorded_runs):
    from PySide6 import QtWidgets

    from resnet_viz.gui import checkpoint_files

    entry = recorded_runs[1]  # resnet-14, finished: the engine kept its weights
    assert entry.store.weights is not None
    window.manager.adopt(dataclasses.replace(entry, run_id=0))
    window.run_list.select(window.manager.entries[-1].run_id)
    target = tmp_path / "saved.pt"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a: (str(target), ""))
    assert checkpoint_files.save_state(window)[0] is not None
    assert checkpoint_files.save_checkpoint_dialog(window) == target
    ckpt = read_checkpoint(target)
    assert ckpt.step == entry.store.weights.step and ckpt.model == entry.config.resolved().model

    diverged = recorded_runs[2]
    window.manager.adopt(dataclasses.replace(diverged, run_id=0))
    window.run_list.select(window.manager.entries[-1].run_id)
    run, why = checkpoint_files.save_state(window)
    assert run is None and "has no weights to save" in why


def test_a_session_keeps_the_weights(tmp_path):
    from resnet_viz.export.session import Session, SessionRun, load_session, save_session

    cfg = tiny_run_config("resnet", 8, steps=2)
    store = RunStore()
    _run_into(cfg, store.add)
    path = save_session(
        tmp_path / "s.rvsession", Session(runs=[SessionRun("r", "#000000", True, "finished", "", cfg, store)])
    )
    loaded = load_session(path).runs[0].store
    assert loaded is not None and loaded.weights is not None and loaded.weights.step == 2
    for name, array in store.weights.state.items():
        np.testing.assert_array_equal(loaded.weights.state[name], array)
