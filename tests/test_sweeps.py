"""Sweeps (Qt-free core): the spec and its trials, --vary values read by the field table, sweep.json and
resume, the summary's numbers against numpy, the published numbers against the papers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import tiny_run_config

from resnet_viz.config import ConfigError, ModelConfig, RunConfig
from resnet_viz.sweeps.folder import SweepError, SweepFolder, read_state
from resnet_viz.sweeps.published import published_error
from resnet_viz.sweeps.spec import SweepSpec, parse_seeds, parse_vary
from resnet_viz.sweeps.spec_file import load_spec_file, spec_from_dict
from resnet_viz.sweeps.summary import summarize, summary_csv, summary_table


def two_by_two() -> SweepSpec:
    return SweepSpec(tiny_run_config("mlp", 3), (parse_vary("model.depth=2,3"),), parse_seeds("0-1"), "t").validate()


def test_vary_values_are_read_as_the_fields_type_and_checked():
    assert parse_vary("model.depth=20,32,44").values == (20, 32, 44)
    assert parse_vary("optim.lr=0.1, 0.01").values == (0.1, 0.01)
    assert parse_vary("model.shortcut=a,B").values == ("A", "B")  # the field's own parser (upper case)
    assert parse_vary("model.batch_norm=on,off").values == (True, False)
    assert parse_vary("optim.milestones=0.5,0.75;0.3").values == ((0.5, 0.75), (0.3,))
    with pytest.raises(ConfigError, match=r"--vary model.depth = 'x' .*int"):
        parse_vary("model.depth=20,x")
    with pytest.raises(ConfigError, match="choose one of plain, resnet, mlp"):
        parse_vary("model.arch=resnet,foo")
    with pytest.raises(ConfigError, match=r"did you mean model.depth\?"):
        parse_vary("depth=20")
    with pytest.raises(ConfigError, match="FIELD=V1,V2"):
        parse_vary("model.depth")


def test_seeds_ranges_and_lists():
    assert parse_seeds("0-4") == (0, 1, 2, 3, 4)
    assert parse_seeds("0,3,7") == (0, 3, 7)
    assert parse_seeds("0-2,9") == (0, 1, 2, 9)
    for bad in ("5-2", "a", "-1", "0-99999"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)


def test_trials_are_the_product_of_the_axes_times_the_seeds():
    spec = SweepSpec(
        RunConfig(), (parse_vary("model.depth=20,32"), parse_vary("optim.lr=0.1,0.01")), (0, 1, 2)
    ).validate()
    trials = spec.trials()
    assert len(trials) == 2 * 2 * 3 and spec.n_points == 4
    assert [t.seed for t in trials[:3]] == [0, 1, 2]
    assert trials[4].values == {"model.depth": 20, "optim.lr": 0.01}
    assert trials[4].config.model.depth == 20 and trials[4].config.optim.lr == 0.01 and trials[4].config.train.seed == 1
    assert len({t.trial_id for t in trials}) == len(trials)
    assert trials[4].trial_id == "002-depth-20-lr-0.01-seed1"
    with pytest.raises(ConfigError, match="--seeds"):
        SweepSpec(RunConfig(), (parse_vary("train.seed=1,2"),), (0,)).validate()
    with pytest.raises(ConfigError, match="depth"):  # a value the model rejects is named when the trials are made
        SweepSpec(RunConfig(), (parse_vary("model.depth=21"),), (0,)).trials()


def test_a_spec_file_in_json_and_yaml(tmp_path):
    (tmp_path / "s.json").write_text(
        json.dumps(
            {"name": "t6", "base": {"model": {"arch": "resnet"}}, "vary": {"model.depth": [20, 32]}, "seeds": "0-2"}
        )
    )
    spec = load_spec_file(tmp_path / "s.json")
    assert spec.name == "t6" and spec.axes[0].values == (20, 32) and spec.seeds == (0, 1, 2)
    assert spec.base.model.arch == "resnet"
    (tmp_path / "s.yaml").write_text(
        "name: t6\nbase: {model: {arch: resnet}}\nvary:\n  model.depth: [20, 32]\nseeds: [0, 1, 2]\n"
    )
    assert load_spec_file(tmp_path / "s.yaml").to_dict() == spec.to_dict()
    assert spec_from_dict(spec.to_dict()).to_dict() == spec.to_dict()  # sweep.json's spec reads back the same
    (tmp_path / "bad.yaml").write_text("vary: [1, 2\n")
    with pytest.raises(ConfigError, match="valid YAML"):
        load_spec_file(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="unknown key"):
        spec_from_dict({"vary": {}, "seed": 1})
    with pytest.raises(ConfigError, match="model.depht"):
        spec_from_dict({"vary": {"model.depht": [1]}})


def test_a_new_folder_resumes_and_refuses_another_spec(tmp_path):
    spec = two_by_two()
    state = SweepFolder(tmp_path / "sw").open(spec, {"name": "process"}, {"torch": "x"})
    assert [t.status for t in state.trials] == ["queued"] * 4
    doc = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert doc["format"] == "resnet-viz sweep" and doc["spec"]["seeds"] == [0, 1] and len(doc["trials"]) == 4
    # a finished trial whose run folder says so is kept; one whose folder is gone is trained again
    state.trials[0].status = state.trials[1].status = "finished"
    folder0 = tmp_path / "sw" / state.trials[0].folder
    folder0.mkdir(parents=True)
    (folder0 / "summary.json").write_text(json.dumps({"status": "finished"}))
    SweepFolder(tmp_path / "sw").save(state)
    again = SweepFolder(tmp_path / "sw").open(spec, {"name": "process"}, {})
    assert [t.status for t in again.trials] == ["finished", "queued", "queued", "queued"]
    assert len(again.resumed) == 1
    other = SweepSpec(spec.base, (parse_vary("model.depth=2,4"),), (0, 1)).validate()
    with pytest.raises(SweepError, match="holds another sweep"):
        SweepFolder(tmp_path / "sw").open(other, {}, {})
    (tmp_path / "sw" / "sweep.json").write_text("{not json")
    with pytest.raises(SweepError, match="damaged"):
        read_state(tmp_path / "sw")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="not empty"):
        SweepFolder(tmp_path / "full").open(spec, {}, {})
    with pytest.raises(SweepError, match="nothing to resume"):
        SweepFolder(tmp_path / "none").open(None, {}, {})


def test_the_summary_is_numpys_mean_and_std_over_the_finished_seeds(tmp_path):
    state = SweepFolder(tmp_path / "sw").open(two_by_two(), {}, {})
    errors = {0: (0.30, 0.40), 1: (0.20, 0.35), 2: (0.10, 0.25), 3: (None, None)}
    for i, (train, test) in errors.items():
        t = state.trials[i]
        t.status = "finished" if train is not None else "failed"
        t.final_train_error, t.final_test_error = train, test
    rows = summarize(state)
    assert [r.label for r in rows] == ["depth 2", "depth 3"]
    assert rows[0].seeds_done == 2 and rows[0].seeds_total == 2 and rows[0].failed == 0
    assert rows[0].train_mean == pytest.approx(np.mean([0.30, 0.20]), abs=0)
    assert rows[0].test_std == pytest.approx(np.std([0.40, 0.35]), abs=0)
    assert rows[1].seeds_done == 1 and rows[1].failed == 1 and rows[1].test_std == 0.0
    table = summary_table(rows)
    assert "25.00 ± 5.00%" in table and "2/2" in table and "1/2 (1 failed)" in table
    lines = summary_csv(rows).splitlines()
    assert lines[0].startswith("model.depth,seeds_done,seeds_total,failed,train_error_mean")
    assert lines[1].split(",")[4] == repr(float(np.mean([0.30, 0.20])))


@pytest.mark.parametrize(
    ("model", "value", "source"),
    [
        (dict(arch="resnet", depth=20), "8.75%", "Table 6"),
        (dict(arch="resnet", depth=56), "6.97%", "Table 6"),
        (dict(arch="resnet", depth=1202), "7.93%", "Table 6"),
        (dict(arch="resnet", depth=110, shortcut_variant="scale"), "12.35%", "Identity Mappings), Table 1"),
        (dict(arch="resnet", depth=110, shortcut_variant="exclusive_gate"), "8.70%", "Table 1"),
        (dict(arch="resnet", depth=110, shortcut_variant="shortcut_gate"), "12.86%", "Table 1"),
        (dict(arch="resnet", depth=110, shortcut_variant="conv1x1"), "12.22%", "Table 1"),
        (dict(arch="resnet", depth=110, shortcut_variant="dropout"), "> 20%", "Table 1"),
        (dict(arch="resnet", depth=164, block="preact_bottleneck"), "5.46%", "Table 2"),
        (dict(arch="resnet", depth=164, block="bottleneck"), "5.93%", "Table 2"),
    ],
)
def test_published_numbers_are_the_papers(model, value, source):
    found = published_error(RunConfig(model=ModelConfig(**model)))
    assert found is not None and found.value == value and source in found.source


@pytest.mark.parametrize(
    "model",
    [dict(arch="plain", depth=56), dict(arch="resnet", depth=56, shortcut="B"), dict(arch="resnet", depth=26),
     dict(arch="resnet", depth=110, shortcut_variant="scale", shortcut_scale=0.8), dict(arch="mlp", depth=20)],
)  # fmt: skip
def test_no_published_number_for_networks_the_papers_did_not_train(model):
    assert published_error(RunConfig(model=ModelConfig(**model))) is None


def test_a_yaml_spec_without_pyyaml_says_what_to_install(tmp_path, monkeypatch):
    import sys

    (tmp_path / "s.yaml").write_text("seeds: 0-1\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml raises ImportError
    with pytest.raises(ConfigError, match=r"pip install pyyaml"):
        load_spec_file(tmp_path / "s.yaml")
