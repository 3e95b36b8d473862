"""RunConfig validation: every bad value names the field, the value and what is allowed."""

import json

import pytest

from resnet_viz.config import (
    ConfigError,
    DataConfig,
    InitConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    nearest_valid_depths,
)


def error_of(**sections) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        RunConfig(**sections).validate()
    return info.value


def test_depth_outside_family_names_nearest_valid_depths():
    err = error_of(model=ModelConfig(arch="resnet", depth=57))
    assert err.field == "model.depth" and err.value == 57
    assert "6n+2" in str(err) and "56" in str(err) and "62" in str(err)
    err = error_of(model=ModelConfig(arch="plain", depth=57, block="bottleneck"))
    assert "9n+2" in str(err) and "56" in str(err) and "65" in str(err)


@pytest.mark.parametrize(
    "depth,arch,block,expected",
    [
        (57, "resnet", "basic", [56, 62]),
        (3, "resnet", "basic", [8]),
        (21, "plain", "preact", [20, 26]),
        (100, "resnet", "bottleneck", [92, 101]),
    ],
)
def test_nearest_valid_depths(depth, arch, block, expected):
    assert nearest_valid_depths(depth, arch, block) == expected


@pytest.mark.parametrize("depth", [8, 14, 20, 32, 44, 56, 110, 1202])
def test_cifar_depths_are_valid(depth):
    RunConfig(model=ModelConfig(depth=depth)).validate()


def test_bad_values_name_field_value_and_what_is_allowed():
    err = error_of(optim=OptimConfig(lr=-1.0))
    assert (err.field, err.value) == ("optim.lr", -1.0) and "> 0" in str(err)
    err = error_of(optim=OptimConfig(name="lbfgs"))
    assert err.field == "optim.name" and "'lbfgs'" in str(err) and "adam" in str(err)
    err = error_of(train=TrainConfig(batch_size=0))
    assert err.field == "train.batch_size" and "≥ 1" in str(err)
    err = error_of(optim=OptimConfig(name="adam", momentum=0.9))
    assert err.field == "optim.momentum" and "betas" in str(err)
    err = error_of(optim=OptimConfig(name="sgd", nesterov=True))
    assert err.field == "optim.nesterov"
    err = error_of(train=TrainConfig(steps=10, epochs=1.0))
    assert err.field == "train.epochs"
    err = error_of(model=ModelConfig(block="preact", after_add="relu"))
    assert err.field == "model.after_add"
    err = error_of(model=ModelConfig(arch="plain", shortcut_variant="scale"))
    assert err.field == "model.shortcut_variant"
    err = error_of(data=DataConfig(dataset="folder"))
    assert err.field == "data.root"
    err = error_of(train=TrainConfig(device="tpu"))
    assert err.field == "train.device" and "cuda" in str(err)
    err = error_of(optim=OptimConfig(lr=float("nan")))
    assert err.field == "optim.lr"
    err = error_of(optim=OptimConfig(milestones=(0.75, 0.5)))
    assert err.field == "optim.milestones"


def test_resolved_defaults_depend_on_arch():
    conv = RunConfig(model=ModelConfig(arch="resnet")).resolved().model
    assert (conv.width, conv.batch_norm, conv.after_add) == (16, True, "relu")
    mlp = RunConfig(model=ModelConfig(arch="mlp", depth=10)).resolved().model
    assert (mlp.width, mlp.batch_norm) == (256, False)
    pre = RunConfig(model=ModelConfig(block="preact")).resolved().model
    assert pre.after_add == "none"


def test_json_round_trip_and_unknown_fields(tmp_path):
    cfg = RunConfig(
        model=ModelConfig(arch="plain", depth=56),
        init=InitConfig(scheme="xavier"),
        optim=OptimConfig(name="adam", lr=1e-3, betas=(0.8, 0.99)),
        train=TrainConfig(steps=50, seed=3),
    ).resolved()
    again = RunConfig.from_dict(json.loads(cfg.to_json()))
    assert again == cfg
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"config": cfg.to_dict(), "label": "x"}))
    assert RunConfig.load(path) == cfg
    assert RunConfig.load(tmp_path) == cfg
    bad = cfg.to_dict()
    bad["model"]["dept"] = 20
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict(bad)
    assert info.value.field == "model.dept" and "depth" in str(info.value)
    with pytest.raises(ConfigError) as info:
        RunConfig.load(tmp_path / "missing.json")
    assert "missing.json" in str(info.value)


def test_label_names_the_run():
    cfg = RunConfig(model=ModelConfig(arch="plain", depth=56), optim=OptimConfig(lr=0.1))
    assert cfg.label() == "plain-56 · he · sgd 0.1"
    cfg = RunConfig(
        model=ModelConfig(arch="mlp", depth=20, activation="sigmoid", residual=True),
        init=InitConfig(scheme="normal", std=0.01),
        optim=OptimConfig(name="adam"),
    )
    assert cfg.label() == "mlp-20 sigmoid residual · normal(0.01) · adam"
