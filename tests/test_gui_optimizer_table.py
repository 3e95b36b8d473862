"""OptimizerTable: specs from the fields, torch-default placeholders, errors, colours, state, signals."""

from __future__ import annotations

import json

import pytest
from PySide6 import QtCore, QtGui

from resnet_viz.config import ConfigError
from resnet_viz.gui.race.optimizer_table import COLUMNS, DEFAULT_COLOURS, OptimizerTable
from resnet_viz.surfaces.race import HYPERPARAMETERS, OPTIMIZERS


@pytest.fixture
def table(qtbot) -> OptimizerTable:
    t = OptimizerTable()
    qtbot.addWidget(t)
    return t


@pytest.fixture
def emitted(table: OptimizerTable) -> list[int]:
    """Counts ``changed`` emissions."""
    count: list[int] = []
    table.changed.connect(lambda: count.append(1))
    return count


def test_default_specs_are_all_seven_with_empty_hyper(table: OptimizerTable) -> None:
    specs = table.specs()
    assert [s.key for s in specs] == list(OPTIMIZERS)
    assert [s.label for s in specs] == list(OPTIMIZERS)
    assert all(s.hyper == {} for s in specs)
    assert table.error_text() == ""
    assert all(table.is_enabled(k) for k in OPTIMIZERS)


def test_typed_lr_goes_into_the_spec(qtbot, table: OptimizerTable) -> None:
    qtbot.keyClicks(table.fields["adam"]["lr"], "0.02")
    by_key = {s.key: s for s in table.specs()}
    assert by_key["adam"].hyper == {"lr": 0.02}
    assert by_key["adamw"].hyper == {}
    table.fields["rmsprop"]["eps"].setText("1e-3")
    table.fields["rmsprop"]["alpha"].setText(" 0.9 ")
    by_key = {s.key: s for s in table.specs()}
    assert by_key["rmsprop"].hyper == {"alpha": 0.9, "eps": 1e-3}
    assert by_key["rmsprop"].torch_kwargs() == {"alpha": 0.9, "eps": 1e-3}


def test_placeholders_show_torch_defaults(table: OptimizerTable) -> None:
    f = table.fields
    assert f["adam"]["lr"].placeholderText() == "0.001"
    assert f["momentum"]["momentum"].placeholderText() == "0.9"
    assert f["rmsprop"]["alpha"].placeholderText() == "0.99"
    assert f["rmsprop"]["momentum"].placeholderText() == "0"
    assert f["adagrad"]["lr"].placeholderText() == "0.01"
    assert f["adam"]["eps"].placeholderText() == "1e-08"
    assert f["adamw"]["weight_decay"].placeholderText() == "0.01"
    assert "0.001" in f["adam"]["lr"].toolTip() and "default" in f["adam"]["lr"].toolTip()
    assert all(e.text() == "" for row in f.values() for e in row.values())


def test_cells_an_optimiser_does_not_take_are_disabled_and_blank(table: OptimizerTable) -> None:
    for name in ("momentum", "beta1", "beta2", "alpha", "eps"):
        edit = table.fields["sgd"][name]
        assert not edit.isEnabled()
        assert edit.text() == "" and edit.placeholderText() == ""
    assert table.fields["sgd"]["momentum"].toolTip() == "SGD has no momentum"
    assert table.fields["sgd"]["beta1"].toolTip() == "SGD has no β1"
    assert table.fields["sgd"]["lr"].isEnabled() and table.fields["sgd"]["weight_decay"].isEnabled()
    for key in OPTIMIZERS:
        for name in COLUMNS:
            assert table.fields[key][name].isEnabled() == (name in HYPERPARAMETERS[key]), (key, name)


@pytest.mark.parametrize("text", ["abc", "-1", "0", "nan"])
def test_bad_field_raises_and_is_marked(qtbot, table: OptimizerTable, text: str) -> None:
    edit = table.fields["adam"]["lr"]
    plain_tip = edit.toolTip()
    qtbot.keyClicks(edit, text)
    with pytest.raises(ConfigError) as info:
        table.specs()
    assert info.value.field == "optimizers.adam.lr"
    error = table.error_text()
    assert error == str(info.value)
    assert "optimizers.adam.lr" in error
    assert "#b00020" in edit.styleSheet()
    assert "optimizers.adam.lr" in edit.toolTip()
    assert table.fields["adamw"]["lr"].styleSheet() == ""

    edit.clear()
    assert table.error_text() == ""
    assert table.specs()[5].hyper == {}
    assert edit.styleSheet() == ""
    assert edit.toolTip() == plain_tip


def test_out_of_range_beta_names_its_field(table: OptimizerTable) -> None:
    table.fields["adamw"]["beta2"].setText("1")
    with pytest.raises(ConfigError) as info:
        table.specs()
    assert info.value.field == "optimizers.adamw.beta2"


def test_unticked_rows_are_left_out_and_their_errors_ignored(table: OptimizerTable) -> None:
    table.fields["sgd"]["lr"].setText("abc")
    assert table.error_text() != ""
    table.set_enabled("sgd", False)
    assert not table.is_enabled("sgd")
    assert table.error_text() == ""
    assert table.fields["sgd"]["lr"].styleSheet() == ""
    assert [s.key for s in table.specs()] == list(OPTIMIZERS[1:])


def test_untick_all_raises(qtbot, table: OptimizerTable) -> None:
    for key in OPTIMIZERS:
        qtbot.mouseClick(
            table.checks[key], QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(5, table.checks[key].height() // 2)
        )
    assert not any(table.is_enabled(k) for k in OPTIMIZERS)
    with pytest.raises(ConfigError) as info:
        table.specs()
    assert info.value.field == "optimizers"
    assert "tick at least one optimiser" in table.error_text()
    table.set_enabled("nesterov", True)
    assert [s.key for s in table.specs()] == ["nesterov"]


def test_set_hyperparameters_sets_and_clears_the_row(table: OptimizerTable, emitted: list[int]) -> None:
    table.fields["adam"]["beta1"].setText("0.5")
    table.fields["adam"]["eps"].setText("1e-6")
    table.fields["sgd"]["lr"].setText("0.3")
    emitted.clear()
    table.set_hyperparameters({"adam": {"lr": 0.0125}, "momentum": {"lr": 1e-4, "momentum": 0.8}})
    assert len(emitted) == 1
    assert table.fields["adam"]["lr"].text() == "0.0125"
    assert table.fields["adam"]["beta1"].text() == "" and table.fields["adam"]["eps"].text() == ""
    assert table.fields["sgd"]["lr"].text() == "0.3"  # not named: untouched
    by_key = {s.key: s for s in table.specs()}
    assert by_key["adam"].hyper == {"lr": 0.0125}
    assert by_key["momentum"].hyper == {"lr": 1e-4, "momentum": 0.8}
    assert by_key["sgd"].hyper == {"lr": 0.3}


def test_state_round_trip(qtbot, table: OptimizerTable) -> None:
    table.set_enabled("adagrad", False)
    table.set_enabled("sgd", False)
    table.set_colour("adam", QtGui.QColor("#123456"))
    table.set_colour("sgd", "#00ff00")
    table.fields["adam"]["lr"].setText("0.02")
    table.fields["rmsprop"]["alpha"].setText("0.9")
    table.fields["nesterov"]["momentum"].setText("abc")  # kept as typed
    state = json.loads(json.dumps(table.state()))

    fresh = OptimizerTable()
    qtbot.addWidget(fresh)
    fresh.set_state(state)
    assert fresh.state() == state
    assert not fresh.is_enabled("adagrad") and not fresh.is_enabled("sgd") and fresh.is_enabled("adam")
    assert fresh.colour("adam").name() == "#123456"
    assert fresh.colour("sgd").name() == "#00ff00"
    assert fresh.colour("momentum").name() == DEFAULT_COLOURS["momentum"]
    assert fresh.fields["adam"]["lr"].text() == "0.02"
    assert fresh.fields["nesterov"]["momentum"].text() == "abc"
    assert fresh.error_text() != ""  # the bad text is marked in the fresh table as well
    assert "#b00020" in fresh.fields["nesterov"]["momentum"].styleSheet()


def test_set_state_ignores_garbage(table: OptimizerTable, emitted: list[int]) -> None:
    before = table.state()
    table.set_state({"adam": 5, "nope": {}})
    table.set_state({"sgd": {"enabled": "yes", "colour": "not a colour", "fields": ["lr"]}})
    table.set_state({"rmsprop": {"fields": {"lr": None, "beta1": "0.5", "bogus": "1", "eps": True}}})
    table.set_state("garbage")  # type: ignore[arg-type]
    table.set_state(None)  # type: ignore[arg-type]
    assert table.state() == before
    table.set_state({"rmsprop": {"fields": {"lr": 0.05}}, "adam": {"enabled": False}})
    assert table.fields["rmsprop"]["lr"].text() == "0.05"
    assert not table.is_enabled("adam")


def test_colours_default_and_set(table: OptimizerTable, emitted: list[int]) -> None:
    assert {k: table.colour(k).name() for k in OPTIMIZERS} == DEFAULT_COLOURS
    assert len(set(DEFAULT_COLOURS.values())) == len(OPTIMIZERS)
    table.set_colour("adamw", QtGui.QColor(10, 20, 30))
    assert table.colour("adamw").name() == "#0a141e"
    assert "#0a141e" in table.swatches["adamw"].styleSheet()
    assert len(emitted) == 1
    table.set_colour("adamw", "#0a141e")  # same colour: nothing changes
    table.set_colour("adamw", "no such colour")
    assert len(emitted) == 1 and table.colour("adamw").name() == "#0a141e"
    table.colour("adamw").setRed(255)  # a copy
    assert table.colour("adamw").name() == "#0a141e"


def test_changed_on_toggle(qtbot, table: OptimizerTable) -> None:
    with qtbot.waitSignal(table.changed, timeout=1000):
        table.checks["rmsprop"].click()
    assert not table.is_enabled("rmsprop")


def test_changed_once_per_finished_edit(qtbot, table: OptimizerTable, emitted: list[int]) -> None:
    edit = table.fields["adam"]["lr"]
    qtbot.keyClicks(edit, "0.05")
    assert emitted == []  # not on every keystroke
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_Return)
    assert len(emitted) == 1
    edit.editingFinished.emit()  # e.g. focus leaving after Return: same text, no second emission
    assert len(emitted) == 1
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, "7")
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_Return)
    assert len(emitted) == 2
    assert {s.key: s for s in table.specs()}["adam"].hyper == {"lr": 0.07}


def test_title_tooltips_give_update_rules(table: OptimizerTable) -> None:
    assert table.checks["sgd"].text() == "SGD"
    assert "w ← w − lr·g" in table.checks["sgd"].toolTip()
    assert "μm + g" in table.checks["momentum"].toolTip()
    assert "(1−α)g²" in table.checks["rmsprop"].toolTip()
    assert "decoupled weight decay" in table.checks["adamw"].toolTip()
    assert "smoothing" in table.headers["alpha"].toolTip()
    assert table.headers["alpha"].text() == "α"
