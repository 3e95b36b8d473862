"""Faults in configs: bad JSON types and files, absurd sizes, Ctrl-C during start-up, and properties.

Every bad input ends in one :class:`ConfigError` line naming the field or file (``resnet-viz: error:
...``, exit 2), before anything is allocated in proportion to it; nothing else escapes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resnet_viz import cli
from resnet_viz.config import (
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    SECTIONS,
    ConfigError,
    DataConfig,
    FieldInfo,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    all_fields,
    is_valid_depth,
    nearest_valid_depths,
)
from resnet_viz.models.budget import check_fits, estimate_run_memory, gb

GB = 10**9
FIELD_PATHS = {f"{section}.{f.name}" for section, klass in SECTIONS.items() for f in dataclasses.fields(klass)}


def write_config(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        RunConfig.load(path)
    return info.value


def assert_one_line(err: ConfigError) -> str:
    text = str(err)
    assert len(text.splitlines()) == 1 and len(text) <= 1000, text
    assert text.startswith(err.field.splitlines()[0][:40])
    return text


def cli_error(capsys, *argv: str) -> str:
    """Run ``resnet-viz argv``; it must exit 2 with one ``resnet-viz: error:`` line on stderr."""
    assert cli.main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("resnet-viz: error: "), err
    return err


# ------------------------------------------------------------------------------------------- JSON types


@pytest.mark.parametrize(
    "section,key,text",
    [
        ("data", "augment", "false"),
        ("train", "probes", "no"),
        ("data", "normalize", "0"),
        ("model", "batch_norm", "true"),
    ],
)
def test_json_booleans_are_json_true_or_false_only(tmp_path, section, key, text):
    err = load_error(write_config(tmp_path / "c.json", {section: {key: text}}))
    assert err.field == f"{section}.{key}" and err.value == text
    assert "true or false" in assert_one_line(err)


@pytest.mark.parametrize(
    "section,key,value,expected",
    [
        ("optim", "betas", 5, "a list of 2 finite numbers"),  # a number where a list is expected
        ("optim", "milestones", 0.5, "a list of finite numbers"),
        ("data", "root", 5, "text"),  # a number for a path
        ("train", "batch_size", True, "an integer"),  # a bool where an int is expected
        ("model", "depth", 20.0, "an integer"),
        ("model", "arch", ["resnet"], "text"),  # lists where scalars are
        ("train", "device", {"cuda": 0}, "text"),
        ("init", "std", [0.1], "a finite number"),
        ("optim", "lr", float("nan"), "a finite number"),  # Python's json reads NaN
        ("train", "epochs", float("inf"), "a finite number"),
        ("model", "shortcut_scale", float("-inf"), "a finite number"),
    ],
)
def test_wrong_types_name_the_field_and_the_type(tmp_path, section, key, value, expected):
    data = {section: {key: value}}
    if key == "betas":
        data["optim"]["name"] = "adam"
    err = load_error(write_config(tmp_path / "c.json", data))
    assert err.field == f"{section}.{key}"
    assert expected in assert_one_line(err)


def test_json_lists_become_tuples_where_the_annotation_says_tuple(tmp_path):
    cfg = RunConfig.load(
        write_config(tmp_path / "c.json", {"optim": {"name": "adam", "betas": [0.8, 0.9], "milestones": [0.3]}})
    )
    assert cfg.optim.betas == (0.8, 0.9) and cfg.optim.milestones == (0.3,)
    assert RunConfig.from_dict(json.loads(cfg.to_json())) == cfg


def test_huge_integer_gives_a_short_message():
    err = pytest.raises(ConfigError, RunConfig.from_dict, {"model": {"depth": 10**5000}}).value
    text = assert_one_line(err)
    assert err.field == "model.depth" and "digits" in text and len(text) < 300


def test_unknown_key_with_line_breaks_gives_one_line():
    err = pytest.raises(ConfigError, RunConfig.from_dict, {"model": {"dep\nth\u2028": [[1] * 1000]}}).value
    assert err.field == "model.dep\nth\u2028" and "unknown field" in assert_one_line(err)


# ------------------------------------------------------------------------------------------- files


def test_run_folder_is_read_as_its_run_json(tmp_path):
    cfg = RunConfig(model=ModelConfig(arch="mlp", depth=3, width=16))
    write_config(tmp_path / "run.json", {"config": cfg.to_dict(), "label": "x"})
    assert RunConfig.load(tmp_path) == cfg.validate()


def test_folder_without_run_json_names_the_folder(tmp_path):
    err = load_error(tmp_path)
    assert err.field == "config" and err.value == str(tmp_path) and "no run.json" in assert_one_line(err)


def test_session_passed_as_config_says_how_to_open_it(tmp_path, capsys):
    session = tmp_path / "s.rvsession"
    with zipfile.ZipFile(session, "w") as z:
        z.writestr("session.json", "{}")
    err = cli_error(capsys, "describe", "--config", str(session))
    assert "saved session" in err and "resnet-viz gui --session" in err and str(session) in err


@pytest.mark.parametrize(
    "content,expected",
    [
        (bytes(range(256)), "NUL bytes"),  # binary
        ('{"model": {"arch": "r\xe9snet"}}'.encode("latin-1"), "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n" + b"\xff" * 20, "not UTF-8"),
        (b'{"model": ', "valid JSON"),
        (b"[" * 100_000, "nested less deeply"),  # json's RecursionError
        (b'{"model": {"depth": ' + b"9" * 5000 + b"}}", "valid JSON"),  # int longer than Python converts
    ],
)
def test_unreadable_content_names_the_file(tmp_path, capsys, content, expected):
    path = tmp_path / "c.json"
    path.write_bytes(content)
    err = cli_error(capsys, "describe", "--config", str(path))
    assert expected in err and str(path) in err


def test_utf8_with_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"train": {"seed": 3}}).encode())
    assert RunConfig.load(path).train.seed == 3


def test_huge_file_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "big.json"
    with path.open("wb") as f:  # sparse: 10 GB of zeros on disk cost nothing
        f.truncate(10 * GB)
    t0 = time.perf_counter()
    err = load_error(path)
    assert time.perf_counter() - t0 < 5
    assert f"at most {MAX_CONFIG_BYTES // 2**20} MB" in assert_one_line(err)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    result: list[BaseException] = []
    worker = threading.Thread(target=lambda: result.append(load_error(fifo)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "reading a FIFO hung"
    assert "FIFO" in assert_one_line(result[0])


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_device_file_is_refused():
    assert "device" in assert_one_line(load_error(Path("/dev/zero")))


def test_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    path = write_config(tmp_path / "c.json", {})
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the open fail as it would for a user
        real_open = os.open

        def deny(p, *args, **kwargs):
            if Path(p) == path:
                raise PermissionError(13, "Permission denied", str(p))
            return real_open(p, *args, **kwargs)

        monkeypatch.setattr(os, "open", deny)
    err = load_error(path)
    assert err.value == str(path) and "permission denied" in assert_one_line(err)


def test_missing_file_names_it(tmp_path, capsys):
    err = cli_error(capsys, "run", "--config", str(tmp_path / "nope.json"))
    assert "nope.json" in err and "existing JSON file" in err


# ------------------------------------------------------------------------------------------- sizes


def test_depth_check_is_arithmetic_and_bounded():
    t0 = time.perf_counter()
    for depth in (10**9 + 1, 10**18, MAX_DEPTH + 6):
        err = pytest.raises(ConfigError, ModelConfig(depth=depth).validate).value
        assert err.field == "model.depth" and f"at most {MAX_DEPTH}" in str(err)
    assert time.perf_counter() - t0 < 0.1  # was ~38 GB of lists for depth 1e9
    ModelConfig(depth=9998).validate()  # 6 * 1666 + 2, the deepest basic net allowed
    ModelConfig(arch="mlp", depth=MAX_DEPTH).validate()
    assert is_valid_depth(1202, "resnet", "basic") and is_valid_depth(164, "resnet", "bottleneck")
    assert not is_valid_depth(1203, "resnet", "basic") and not is_valid_depth(2, "plain", "basic")
    assert nearest_valid_depths(9999, "resnet", "basic") == [9998]  # 10004 is beyond the bound


@pytest.mark.parametrize(
    "section,values,field",
    [
        (TrainConfig, {"steps": 10**10}, "train.steps"),
        (TrainConfig, {"epochs": 1e308}, "train.epochs"),  # ceil(epochs * steps per epoch) overflowed
        (TrainConfig, {"seed": 2**64}, "train.seed"),  # torch.manual_seed overflowed
        (TrainConfig, {"eval_train_samples": 10**12}, "train.eval_train_samples"),
        (TrainConfig, {"batch_size": 10**6}, "train.batch_size"),
        (OptimConfig, {"warmup_steps": 10**400}, "optim.warmup_steps"),
        (DataConfig, {"embedded_seed": 2**40}, "data.embedded_seed"),
        (DataConfig, {"subset": 10**10}, "data.subset"),
        (DataConfig, {"dataset": "folder", "root": "a\x00b"}, "data.root"),
    ],
)
def test_absurd_sizes_are_bounded(section, values, field):
    err = pytest.raises(ConfigError, section(**values).validate).value
    assert err.field == field
    text = assert_one_line(err)
    assert ("path" if field == "data.root" else "≤") in text


@pytest.mark.parametrize(
    "model",
    [
        ModelConfig(arch="resnet", depth=14, width=3, shortcut="B"),
        ModelConfig(arch="resnet", depth=11, width=2, block="bottleneck", shortcut="C", after_add="bn_relu"),
        ModelConfig(arch="resnet", depth=8, width=3, block="preact", shortcut_variant="exclusive_gate"),
        ModelConfig(arch="resnet", depth=8, width=3, shortcut_variant="conv1x1", batch_norm=False),
        ModelConfig(arch="plain", depth=8, width=5, block="preact", batch_norm=False),
        ModelConfig(arch="mlp", depth=1, width=7),
        ModelConfig(arch="mlp", depth=5, width=7, residual=True, batch_norm=True),
    ],
)
def test_estimated_parameters_match_the_built_model(model):
    from resnet_viz.models import build_model

    for shape, classes in (((3, 32, 32), 10), ((1, 28, 28), 100)):
        built = build_model(model, shape[0], shape[1], classes)
        estimate = estimate_run_memory(RunConfig(model=model), shape, classes)
        assert estimate.params == sum(p.numel() for p in built.parameters())
        assert estimate.param_bytes == 4 * estimate.params


def test_estimate_is_closed_form_and_grows_with_width_depth_and_batch():
    t0 = time.perf_counter()
    base = estimate_run_memory(RunConfig(), (3, 32, 32), 10)
    wide = estimate_run_memory(RunConfig(model=ModelConfig(width=4096)), (3, 32, 32), 10)
    deep = estimate_run_memory(RunConfig(model=ModelConfig(depth=9998)), (3, 32, 32), 10)
    assert time.perf_counter() - t0 < 0.05
    assert base.params == 269_722  # ResNet-20: 0.27M (He et al. 2016, Table 6)
    assert wide.params > 16 * 16**2 * base.params * 0.99  # params grow with width squared
    assert wide.total_bytes > 100 * GB and deep.activation_bytes > 100 * GB
    big_batch = estimate_run_memory(RunConfig(train=TrainConfig(batch_size=1024)), (3, 32, 32), 10)
    assert big_batch.activation_bytes > 4 * base.activation_bytes
    adam = estimate_run_memory(RunConfig(optim=OptimConfig(name="adam")), (3, 32, 32), 10)
    assert adam.state_bytes == 3 * adam.param_bytes and base.state_bytes == base.param_bytes


def test_estimate_counts_the_engines_evaluation_batch():
    from resnet_viz.models import budget
    from resnet_viz.train import engine

    assert budget.EVAL_BATCH == engine.EVAL_BATCH_SIZE


def test_too_wide_names_width_the_estimate_and_what_the_machine_has():
    config = RunConfig(model=ModelConfig(width=4096)).validate()
    err = pytest.raises(ConfigError, check_fits, config, "cpu", available=23 * GB).value
    text = assert_one_line(err)
    estimate = estimate_run_memory(config, (3, 32, 32), 10)
    assert err.field == "model.width" and err.value == 4096
    assert f"needs about {gb(estimate.total_bytes)}" in text and "at batch 128" in text
    assert "this machine has 23 GB available" in text
    err = pytest.raises(ConfigError, check_fits, config, None, available=23 * GB).value  # describe
    assert err.field == "model.width" and "building the model needs about" in str(err)


def test_the_field_named_is_the_one_that_drives_the_size():
    deep = RunConfig(model=ModelConfig(depth=1202)).validate()
    assert pytest.raises(ConfigError, check_fits, deep, "cpu", available=2 * GB).value.field == "model.depth"
    batch = RunConfig(train=TrainConfig(batch_size=65536)).validate()
    assert pytest.raises(ConfigError, check_fits, batch, "cpu", available=2 * GB).value.field == "train.batch_size"
    assert check_fits(RunConfig(), "cpu", available=2 * GB).params == 269_722


def test_cli_refuses_absurd_sizes_in_one_line_fast(capsys):
    for argv, field in (
        (("run", "--depth", "1000000001"), "--depth 1000000001"),
        (("run", "--width", "4096"), "--width 4096"),
        (("describe", "--width", "4096"), "--width 4096"),
    ):
        t0 = time.perf_counter()
        err = cli_error(capsys, *argv)
        assert field in err and time.perf_counter() - t0 < 10  # nothing allocated: no model, no data
    assert "needs about" in err and "this machine has" in err


def test_engine_refuses_before_loading_data(monkeypatch):
    from resnet_viz.models import budget
    from resnet_viz.train import engine as engine_module

    monkeypatch.setattr(budget, "host_available_bytes", lambda: (10**8, "available"))
    monkeypatch.setattr(engine_module, "load_dataset", lambda *a, **k: pytest.fail("data loaded before the check"))
    config = RunConfig(model=ModelConfig(width=256), train=TrainConfig(device="cpu"))
    err = pytest.raises(ConfigError, engine_module.Engine(config).prepare).value
    assert err.field == "model.width" and "this machine has 100 MB available" in str(err)


# ------------------------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_while_a_command_starts_is_one_line_and_130(capsys, monkeypatch):
    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_describe", interrupted)
    assert cli.main(["describe"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "resnet-viz: interrupted"


def test_sigint_to_a_starting_process_prints_no_traceback(tmp_path):
    """A real SIGINT while the config is read (the process signals itself at that moment)."""
    code = (
        "import os, signal, time, sys\n"
        "from resnet_viz import cli\n"
        "from resnet_viz.cli import run_cmds\n"
        "def slow(args):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(30)\n"
        "run_cmds.config_from_args = slow\n"
        "sys.exit(cli.main(['describe']))\n"
    )
    harness = (signal.getsignal(signal.SIGINT), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))

    def default_sigint() -> None:  # in the child before exec: Ctrl-C's default, whatever the worker's state
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, preexec_fn=default_sigint
    )
    assert done.returncode == 130, f"{done.stderr[-500:]} (worker's SIGINT handler, blocked: {harness})"
    assert done.stderr.strip() == "resnet-viz: interrupted" and "Traceback" not in done.stderr


# ------------------------------------------------------------------------------------------- window


def test_setup_panel_refuses_a_width_that_cannot_fit(qtbot, monkeypatch):
    from resnet_viz.gui.controls import ConfigPanel
    from resnet_viz.models import budget

    monkeypatch.setattr(budget, "host_available_bytes", lambda: (8 * GB, "available"))
    panel = ConfigPanel()
    qtbot.addWidget(panel)
    panel.set_config(RunConfig(train=TrainConfig(device="cpu")))
    assert panel.error_text() == ""
    panel.width.setValue(4096)
    text = panel.error_text()
    assert text.startswith("model.width = 4096 is not allowed") and "this machine has 8 GB available" in text
    assert len(text.splitlines()) == 1 and panel.error_label.text() == text
    panel.width.setValue(32)
    assert panel.error_text() == ""


def test_starting_a_run_that_cannot_fit_shows_one_line_in_the_window(window, qtbot, monkeypatch, capfd):
    from types import SimpleNamespace

    from resnet_viz.models import budget
    from resnet_viz.runs import splits_cache

    monkeypatch.setattr(budget, "host_available_bytes", lambda: (8 * GB, "available"))
    # the data set's shape is all the check reads (generating the embedded set would take seconds)
    monkeypatch.setattr(
        splits_cache, "load_dataset", lambda *a, **k: SimpleNamespace(input_shape=(3, 32, 32), num_classes=10)
    )
    window.config_panel.set_config(RunConfig(model=ModelConfig(width=4096), train=TrainConfig(device="cpu")))
    assert window.config_panel.error_text().startswith("model.width = 4096")
    window.start()  # queued (the config is valid) and refused by Engine.prepare, before any weight exists
    qtbot.waitUntil(lambda: "model.width" in window.message_bar.text, timeout=60_000)
    text = window.message_bar.text
    assert len(text.splitlines()) == 1 and "this machine has 8 GB available" in text
    qtbot.waitUntil(lambda: window.manager.entries[0].status == "failed", timeout=10_000)
    assert "Traceback" not in capfd.readouterr().err


# ------------------------------------------------------------------------------------------- properties

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([10**400, -0.0, 1e308, 2**63])
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
DEFAULT_DICT = RunConfig().to_dict()
paths = st.sampled_from(sorted(FIELD_PATHS) + list(SECTIONS) + ["model.extra", "extra"])


def plausible(path: str) -> st.SearchStrategy:
    """Values near the valid ones for a field (so that many mutated configs validate), or any JSON value."""
    if "." not in path or path.endswith("extra"):
        return json_values
    section, name = path.split(".")
    default = DEFAULT_DICT[section][name]
    if isinstance(default, bool):
        return st.booleans() | json_values
    if isinstance(default, int) or name in ("width", "steps", "subset"):
        return st.integers(min_value=-3, max_value=5000) | json_values
    if isinstance(default, str):
        return (
            st.sampled_from(
                [
                    "resnet",
                    "plain",
                    "mlp",
                    "basic",
                    "bottleneck",
                    "preact",
                    "sgd",
                    "adam",
                    "cpu",
                    "he",
                    "embedded",
                    "folder",
                    "step",
                    "B",
                    "none",
                ]
            )
            | json_values
        )
    return json_values


@st.composite
def mutated_configs(draw) -> tuple[dict, list[str]]:
    data = json.loads(json.dumps(DEFAULT_DICT))
    changed = []
    for _ in range(draw(st.integers(1, 4))):
        path = draw(paths)
        value = draw(plausible(path))
        if "." in path:
            section, name = path.split(".")
            if isinstance(data.get(section), dict):
                data[section][name] = value
        else:
            data[path] = value
        changed.append(path)
    if draw(st.booleans()):
        data = json.loads(json.dumps(data))  # through JSON text (NaN and Infinity included)
    return data, changed


def assert_named_one_line(err: ConfigError, changed: list[str]) -> None:
    text = str(err)
    assert len(text.splitlines()) == 1 and len(text) <= 1000
    assert (
        err.field in FIELD_PATHS
        or err.field in SECTIONS
        or err.field in changed
        or err.field == "config"
        or err.field.split(".")[0] in SECTIONS
    ), err.field
    assert text.startswith(err.field[:20].splitlines()[0] if err.field else "")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_configs())
def test_any_config_json_validates_or_is_one_named_line(case):
    data, changed = case
    try:
        config = RunConfig.from_dict(data)
    except ConfigError as err:
        assert_named_one_line(err, changed)
        return
    assert RunConfig.from_dict(json.loads(config.to_json())) == config  # a valid config round-trips
    try:
        estimate = check_fits(config, "cpu", available=10**18)
    except ConfigError as err:  # the estimate itself never fails for a valid config
        pytest.fail(f"{err}")
    assert estimate.params > 0 and estimate.total_bytes > estimate.param_bytes


def flag_values(info: FieldInfo) -> st.SearchStrategy:
    if info.spec.options:
        return st.sampled_from(list(info.spec.choices)) | st.text(max_size=8)
    numbers = (
        st.integers(-5, 70000).map(str)
        | st.floats(allow_nan=True, allow_infinity=True).map(repr)
        | st.sampled_from(["1e400", "0x10", "4096", "1000000001", "0.9,0.999", "0.5,0.75", "nan", ""])
    )
    return numbers | st.text(max_size=12)


ALL_FLAGS = [info for info in all_fields() if info.spec.flag or info.spec.switches]


@st.composite
def flag_lists(draw) -> list[str]:
    argv = ["run"]
    for flag in draw(st.lists(st.sampled_from(ALL_FLAGS), max_size=6)):
        name = flag.spec.flag
        if name is None:
            argv.append(draw(st.sampled_from([switch for switch, _ in flag.spec.switches])))
        elif draw(st.booleans()):
            argv.append(f"{name}={draw(flag_values(flag))}")
        else:
            argv += [name, draw(flag_values(flag))]
    return argv


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flag_lists())
def test_any_flag_values_validate_or_are_one_named_line(argv):
    import contextlib
    import io

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = cli.build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: one error line (OneLineParser), exit 2
        assert exc.code == 2
        lines = stderr.getvalue().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("resnet-viz run: error:"), lines
        return
    try:
        config = cli.config_from_args(args)
    except ConfigError as err:
        assert_named_one_line(err, [])
        return
    assert isinstance(config, RunConfig)
    assert all(math.isfinite(v) for v in (config.model.shortcut_scale, config.init.std, config.optim.gamma))


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["run", "--steps", "abc"], "argument --steps: invalid int value: 'abc'"),
        (["run", "--arch", "foo"], "argument --arch: invalid choice: 'foo'"),
        (["surfaces", "--range", "0,0,0,0"], "argument --range: expected XMIN,XMAX,YMIN,YMAX"),
        (["describe", "--depth"], "argument --depth: expected one argument"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_a_bad_flag_is_one_line_naming_it(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and fragment in err and "--help" in err
