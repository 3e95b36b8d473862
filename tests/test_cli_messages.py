"""The core names fields, the command line names flags: the flags come from the field table, and a
config error printed by the CLI names the flags of the fields it mentions."""

from __future__ import annotations

import argparse
import itertools

import pytest

from resnet_viz.cli import build_parser, main
from resnet_viz.cli.messages import error_text, with_flags
from resnet_viz.config import (
    ARCHS,
    DATASETS,
    INITS,
    OPTIMIZERS,
    RULES,
    SCHEDULES,
    ConfigError,
    DataConfig,
    InitConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    all_fields,
)


def _run_options() -> dict[str, argparse.Action]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {flag: action for action in sub.choices["run"]._actions for flag in action.option_strings}


def test_every_flag_of_the_table_is_a_run_flag_storing_its_field():
    options = _run_options()
    for info in all_fields():
        for flag, value in info.spec.switches:
            assert options[flag].dest == info.path and options[flag].const is value
        if info.spec.flag is not None:
            action = options[info.spec.flag]
            assert action.dest == info.path and action.default is argparse.SUPPRESS
            assert info.spec.help.replace("%", "%%") in action.help
            assert tuple(action.choices or ()) == info.spec.choices


def test_flags_parse_to_the_fields_types():
    args = build_parser().parse_args(
        ["run", "--depth", "32", "--lr", "0.05", "--betas", "0.8,0.9", "--shortcut", "b", "--no-bn", "--device", "cpu"]
    )
    given = {k: v for k, v in vars(args).items() if "." in k}
    assert given == {
        "model.depth": 32,
        "optim.lr": 0.05,
        "optim.betas": (0.8, 0.9),
        "model.shortcut": "B",
        "model.batch_norm": False,
        "train.device": "cpu",
    }


def test_a_bad_tuple_is_one_argparse_line(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--milestones", "0.5,x"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --milestones: expected comma-separated numbers, got '0.5,x'" in err


def test_bn_relu_without_batch_norm_names_the_flags(tmp_path, capsys):
    assert main(["run", "--after-add", "bn_relu", "--no-bn", "--steps", "5", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "resnet-viz: error: --after-add bn_relu is not allowed: bn_relu needs batch norm, which is off (--no-bn)\n"
    )
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "argv, line",
    [
        (["--steps", "5", "--epochs", "2"], "--epochs 2 is not allowed: set either --steps or --epochs, not both"),
        (["--arch", "mlp", "--stochastic-depth"], "--stochastic-depth is not allowed: stochastic depth drops"),
        (["--arch", "mlp", "--after-add", "bn_relu"], "which is off (--bn/--no-bn)"),
        (["--schedule", "step", "--milestones", "0.7,0.5"], "--milestones 0.7,0.5 is not allowed: increasing"),
        (["--dataset", "folder"], "--data-root (not given) is not allowed: dataset 'folder' needs --data-root:"),
    ],
)
def test_config_errors_name_flags(tmp_path, capsys, argv, line):
    assert main(["run", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("resnet-viz: error: --") and line in err and err.count("\n") == 1, err
    assert "model." not in err and "train." not in err and "data." not in err


def test_error_text_maps_the_field_and_every_path_in_the_reason():
    err = ConfigError("model.shortcut_variant", "scale", "an MLP has no shortcuts (see model.residual); train.steps")
    assert (
        error_text(err) == "--shortcut-variant scale is not allowed: an MLP has no shortcuts (see --residual); --steps"
    )
    # a switch is named by the switch that sets the value, else by all of its switches
    assert error_text(ConfigError("model.batch_norm", False, "x")) == "--no-bn is not allowed: x"
    assert with_flags("off (model.batch_norm)") == "off (--bn/--no-bn)"
    assert with_flags("off (model.batch_norm)", {"model.batch_norm": False}) == "off (--no-bn)"
    assert with_flags("train.deterministic") == "--nondeterministic"


def test_paths_without_a_flag_and_other_errors_stay_as_they_are():
    assert with_flags("model.unknown and config.x and resnet.20") == "model.unknown and config.x and resnet.20"
    err = ConfigError("config", "/no/such.json", "an existing JSON file")
    assert error_text(err) == str(err)
    err = ConfigError("--size", "1x1", "at least 1280x800 pixels")
    assert error_text(err) == "--size = '1x1' is not allowed: at least 1280x800 pixels"


def _runs_for_reasons() -> list[RunConfig]:
    """Configs (not validated) over the values the rules read, so that every reason is produced."""
    runs = []
    for arch, bn, scheme, optim, schedule, dataset in itertools.product(
        ARCHS, (None, False, True), INITS, OPTIMIZERS, SCHEDULES, DATASETS
    ):
        runs.append(
            RunConfig(
                model=ModelConfig(arch=arch, batch_norm=bn, block="preact" if bn else "basic"),
                init=InitConfig(scheme=scheme),
                optim=OptimConfig(name=optim, schedule=schedule),
                data=DataConfig(dataset=dataset),
                train=TrainConfig(steps=5 if bn else None, probes=bn is not False),
            )
        )
    return runs


def test_no_core_reason_names_a_flag():
    reasons = set()
    for run in _runs_for_reasons():
        for rule in RULES:
            reasons.add(rule.why(run if rule.scope == "run" else getattr(run, rule.section)))
    assert len(reasons) > 20  # the grid reaches the rules' reasons
    flagged = [r for r in reasons if "--" in r]
    assert not flagged, flagged
    for info in all_fields():  # and no help of the table names another flag ("--depth"): the CLI adds none
        assert "--" not in info.spec.help, info.path


def test_no_core_validation_message_names_a_flag():
    bad = [
        RunConfig(model=ModelConfig(depth=57)),
        RunConfig(model=ModelConfig(arch="mlp", after_add="bn_relu")),
        RunConfig(optim=OptimConfig(name="adam", momentum=0.9)),
        RunConfig(train=TrainConfig(steps=5, epochs=1.0)),
        RunConfig(data=DataConfig(dataset="folder")),
        RunConfig(init=InitConfig(zero_init_residual=True), model=ModelConfig(arch="plain")),
    ]
    for config in bad:
        with pytest.raises(ConfigError) as info:
            config.validate()
        assert "--" not in str(info.value) and info.value.field in str(info.value)


def test_a_config_files_values_are_named_by_field_and_file_not_by_flags_never_typed(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": {"after_add": "bn_relu", "batch_norm": false}}')
    assert main(["run", "--config", str(bad), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"resnet-viz: error: model.after_add = 'bn_relu' (from {bad}) is not allowed: "
        "bn_relu needs batch norm, which is off (model.batch_norm)"
    )
    # a flag given on top of the file is named as a flag
    assert main(["run", "--config", str(bad), "--depth", "21", "--bn", "--out", str(tmp_path / "run")]) == 2
    assert "error: --depth 21 is not allowed: depth must be 6n+2" in capsys.readouterr().err


def test_a_flag_can_mend_a_config_files_combination(tmp_path, capsys):
    # the file alone is refused (bn_relu without batch norm); the file and the flags together are valid
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": {"after_add": "bn_relu", "batch_norm": false}}')
    out = tmp_path / "run"
    argv = ["run", "--config", str(bad), "--bn", "--depth", "8", "--width", "4", "--steps", "2"]
    argv += ["--eval-train-samples", "50", "--out", str(out), "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    assert RunConfig.load(out).model.after_add == "bn_relu"
    assert RunConfig.load(out).model.batch_norm is True
