"""ConfigPanel: round trips, depth stepping and snapping, disabled combinations, errors, signals."""

from __future__ import annotations

import pytest
from PySide6 import QtCore, QtWidgets

from resnet_viz.config import (
    ConfigError,
    DataConfig,
    InitConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
)
from resnet_viz.gui.controls import Choice, ConfigPanel
from resnet_viz.train.optim import torch_default


@pytest.fixture
def panel(qtbot) -> ConfigPanel:
    p = ConfigPanel()
    qtbot.addWidget(p)
    return p


@pytest.fixture
def edits(panel: ConfigPanel) -> list[int]:
    """Counts configChanged emissions."""
    count: list[int] = []
    panel.configChanged.connect(lambda: count.append(1))
    return count


ROUND_TRIPS = {
    "defaults": RunConfig(),
    "plain-56": RunConfig(
        model=ModelConfig(arch="plain", depth=56), optim=OptimConfig(lr=0.1, momentum=0.9, weight_decay=1e-4)
    ),
    "resnet-110 preact": RunConfig(
        model=ModelConfig(arch="resnet", depth=110, block="preact", width=32), init=InitConfig(zero_init_residual=True)
    ),
    "bottleneck-29 B": RunConfig(
        model=ModelConfig(depth=29, block="bottleneck", shortcut="B", after_add="bn_relu", stochastic_depth=True)
    ),
    "mlp sigmoid residual": RunConfig(
        model=ModelConfig(arch="mlp", depth=30, activation="sigmoid", residual=True, batch_norm=True, width=512),
        init=InitConfig(scheme="xavier", distribution="uniform"),
    ),
    "variants": RunConfig(
        model=ModelConfig(
            shortcut_variant="scale",
            shortcut_scale=0.25,
            shortcut="C",
            activation="leaky_relu",
            leaky_slope=0.2,
            batch_norm=False,
            after_add="none",
        )
    ),
    "dropout shortcut": RunConfig(model=ModelConfig(shortcut_variant="dropout", shortcut_dropout=0.1)),
    "adam": RunConfig(optim=OptimConfig(name="adam", lr=3e-4, betas=(0.85, 0.995), eps=1e-6, weight_decay=0.0)),
    "adamw cosine": RunConfig(optim=OptimConfig(name="adamw", schedule="cosine", warmup_steps=500)),
    "rmsprop": RunConfig(optim=OptimConfig(name="rmsprop", momentum=0.5, alpha=0.9, eps=1e-5)),
    "adagrad": RunConfig(optim=OptimConfig(name="adagrad", lr=0.05, eps=1e-9)),
    "nesterov step": RunConfig(
        optim=OptimConfig(lr=0.1, momentum=0.9, nesterov=True, schedule="step", milestones=(0.3, 0.6, 0.9), gamma=0.2)
    ),
    "init normal": RunConfig(init=InitConfig(scheme="normal", std=0.05)),
    "init lecun fan_out": RunConfig(init=InitConfig(scheme="lecun", mode="fan_out", distribution="uniform")),
    "epochs": RunConfig(train=TrainConfig(epochs=30.0, batch_size=64, eval_every=250, seed=7, probes=False)),
    "steps": RunConfig(train=TrainConfig(steps=64000, probe_every=10, device="cpu")),
    "subset": RunConfig(data=DataConfig(subset=5000, augment=False, normalize=False)),
    "cifar10 root": RunConfig(data=DataConfig(dataset="cifar10", root="/data/cifar", download=True)),
    "folder": RunConfig(data=DataConfig(dataset="folder", root="/data/images")),
    "hidden fields": RunConfig(
        data=DataConfig(embedded_seed=3),
        train=TrainConfig(eval_train_samples=500, histogram_every=50, histogram_bins=32, deterministic=False),
    ),
    "unavailable device": RunConfig(train=TrainConfig(device="cuda:1")),
}


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_round_trip(panel: ConfigPanel, name: str) -> None:
    cfg = ROUND_TRIPS[name].validate()
    panel.set_config(cfg)
    assert panel.error_text() == ""
    assert panel.config() == cfg


def test_set_config_emits_nothing_and_reset(panel: ConfigPanel, edits: list[int]) -> None:
    panel.set_config(ROUND_TRIPS["mlp sigmoid residual"])
    panel.set_config(ROUND_TRIPS["adam"])
    assert edits == []
    panel.reset_to_defaults()
    assert edits == []
    assert panel.config() == RunConfig()


def test_depth_steps_through_valid_depths(panel: ConfigPanel) -> None:
    panel.set_config(RunConfig(model=ModelConfig(depth=20)))
    panel.depth.stepBy(1)
    assert panel.depth.value() == 26
    panel.depth.stepBy(1)
    assert panel.depth.value() == 32
    panel.depth.stepBy(-2)
    assert panel.depth.value() == 20
    panel.set_config(RunConfig(model=ModelConfig(depth=20, block="bottleneck")))
    panel.depth.stepBy(1)
    assert panel.depth.value() == 29
    panel.set_config(RunConfig(model=ModelConfig(arch="mlp", depth=30)))
    panel.depth.stepBy(1)
    assert panel.depth.value() == 31


def test_depth_snaps_when_block_or_arch_changes(panel: ConfigPanel) -> None:
    panel.set_config(RunConfig(model=ModelConfig(depth=32)))
    panel.block.set_value("bottleneck")
    assert panel.depth.value() == 29  # 29 and 38 are the neighbours; 29 is closer
    panel.block.set_value("basic")
    assert panel.depth.value() == 26  # 26 and 32 are equally near: the lower one
    panel.arch.buttons["mlp"].click()
    panel.depth.setValue(30)
    panel.arch.buttons["resnet"].click()
    assert panel.depth.value() == 32
    assert panel.error_text() == ""


def test_typed_invalid_depth_is_kept_and_explained(panel: ConfigPanel, qtbot) -> None:
    panel.depth.lineEdit().selectAll()
    qtbot.keyClicks(panel.depth.lineEdit(), "30")
    assert panel.depth.value() == 30
    assert "model.depth" in panel.error_text()
    assert "26 and 32" in panel.error_text()
    with pytest.raises(ConfigError):
        panel.config()


def test_quick_depth_buttons(panel: ConfigPanel, edits: list[int]) -> None:
    assert set(panel.depth_buttons) == {20, 32, 44, 56, 110, 164}
    shortcut_default = panel.shortcut.buttons[panel.shortcut.values()[0]]
    assert shortcut_default.text() == "default (A)"
    panel.depth_buttons[56].click()
    assert panel.depth.value() == 56 and edits == [1]
    panel.block.set_value("bottleneck")
    assert panel.depth.value() == 56  # 9·6+2
    assert shortcut_default.text() == "default (B)"  # the papers' bottleneck nets use projections
    assert not panel.depth_buttons[32].isEnabled()
    assert not panel.depth_buttons[44].isEnabled()
    assert "9n+2" in panel.depth_buttons[32].toolTip()
    assert all(panel.depth_buttons[d].isEnabled() for d in (20, 56, 110, 164))
    panel.block.set_value("preact_bottleneck")
    panel.depth_buttons[164].click()
    assert panel.config().model.depth == 164 and panel.config().model.resolved().shortcut == "B"
    panel.depth_buttons[110].click()
    assert panel.config().model.depth == 110


def test_disabled_combinations_name_the_reason(panel: ConfigPanel) -> None:
    panel.arch.buttons["mlp"].click()
    for widget in (panel.block, panel.shortcut, panel.shortcut_variant, panel.after_add, panel.stochastic_depth):
        assert not widget.isEnabled()
    assert "MLP" in panel.block.toolTip() and "disabled" in panel.block.toolTip()
    assert panel.residual.isEnabled()
    assert all("disabled" in b.toolTip() for b in panel.shortcut.buttons.values())

    panel.arch.buttons["plain"].click()
    for widget in (
        panel.shortcut,
        panel.shortcut_variant,
        panel.after_add,
        panel.stochastic_depth,
        panel.zero_init_residual,
        panel.residual,
    ):
        assert not widget.isEnabled()
    assert "a plain net has no shortcuts" in panel.shortcut.toolTip()
    assert "A: zero-padding identity" in panel.shortcut.toolTip()  # the normal meaning stays
    assert panel.block.isEnabled()

    panel.arch.buttons["resnet"].click()
    assert panel.after_add.isEnabled() and panel.zero_init_residual.isEnabled()
    panel.block.set_value("preact")
    assert not panel.after_add.isEnabled()
    assert "pre-activation blocks have nothing after the addition" in panel.after_add.toolTip()

    panel.block.set_value("basic")
    panel.batch_norm.set_value(False)
    assert not panel.after_add.item_enabled("bn_relu")
    assert "batch norm" in panel.after_add.item_tooltip("bn_relu")
    assert not panel.zero_init_residual.isEnabled()
    assert "batch norm" in panel.zero_init_residual.toolTip()


def test_disabled_values_never_cause_errors(panel: ConfigPanel) -> None:
    panel.set_config(
        RunConfig(
            model=ModelConfig(stochastic_depth=True, shortcut_variant="conv1x1"),
            optim=OptimConfig(momentum=0.9, nesterov=True),
        )
    )
    panel.arch.buttons["plain"].click()
    panel.optimizer.set_value("adam")
    cfg = panel.config()
    assert cfg.model.stochastic_depth is False and cfg.model.shortcut_variant == "identity"
    assert cfg.optim.momentum is None and cfg.optim.nesterov is False
    assert panel.error_text() == ""


def test_optimiser_dependent_fields(panel: ConfigPanel, qtbot) -> None:
    assert panel.optimizer.value() == "sgd"
    assert not panel.nesterov.isEnabled() and "momentum > 0" in panel.nesterov.toolTip()
    qtbot.keyClicks(panel.momentum, "0.9")
    assert panel.nesterov.isEnabled()
    assert not panel.eps.isEnabled() and "eps does not apply to sgd" in panel.eps.toolTip()
    assert not panel.betas.isEnabled() and "betas apply to adam and adamw" in panel.betas.toolTip()
    assert not panel.alpha.isEnabled() and "alpha applies to rmsprop" in panel.alpha.toolTip()
    panel.optimizer.set_value("adam")
    assert panel.betas.isEnabled() and panel.eps.isEnabled()
    assert not panel.momentum.isEnabled() and "momentum applies to sgd and rmsprop" in panel.momentum.toolTip()
    assert not panel.nesterov.isEnabled() and "needs optimiser sgd" in panel.nesterov.toolTip()
    panel.optimizer.set_value("rmsprop")
    assert panel.momentum.isEnabled() and panel.alpha.isEnabled() and not panel.betas.isEnabled()
    assert not panel.milestones.isEnabled() and "step schedule" in panel.milestones.toolTip()
    assert not panel.gamma.isEnabled()
    panel.schedule.set_value("step")
    assert panel.milestones.isEnabled() and panel.gamma.isEnabled()


def test_init_and_data_dependent_fields(panel: ConfigPanel) -> None:
    panel.init_scheme.set_value("xavier")
    assert not panel.init_mode.isEnabled() and "fan" in panel.init_mode.toolTip()
    assert panel.init_distribution.isEnabled()
    panel.init_scheme.set_value("orthogonal")
    assert not panel.init_distribution.isEnabled() and "orthogonal" in panel.init_distribution.toolTip()
    panel.init_scheme.set_value("normal")
    assert panel.config().init.scheme == "normal"

    assert not panel.download.isEnabled() and "torchvision" in panel.download.toolTip()
    panel.dataset.set_value("cifar100")
    assert panel.download.isEnabled() and "internet" in panel.download.toolTip()
    panel.dataset.set_value("folder")
    assert not panel.download.isEnabled()
    assert "data.root" in panel.error_text()  # an image folder needs a folder


def test_bad_lr_text_is_an_error_naming_the_field(panel: ConfigPanel, qtbot) -> None:
    panel.show()
    qtbot.keyClicks(panel.lr, "abc")
    assert "optim.lr" in panel.error_text()
    with pytest.raises(ConfigError) as info:
        panel.config()
    assert info.value.field == "optim.lr"
    assert panel.error_label.isVisible() and panel.error_label.text() == panel.error_text()
    assert panel.error_label.wordWrap()

    panel.lr.clear()
    qtbot.keyClicks(panel.lr, "-1")
    assert "optim.lr" in panel.error_text()
    panel.lr.setText("1e-4")
    assert panel.error_text() == "" and not panel.error_label.isVisible()
    assert panel.config().optim.lr == 1e-4


def test_bad_betas_and_epochs(panel: ConfigPanel, qtbot) -> None:
    panel.optimizer.set_value("adam")
    qtbot.keyClicks(panel.betas, "0.9")
    assert "optim.betas" in panel.error_text()
    qtbot.keyClicks(panel.betas, ", 0.99")
    assert panel.config().optim.betas == (0.9, 0.99)
    panel.length_epochs.click()
    assert "train.epochs" in panel.error_text()
    qtbot.keyClicks(panel.epochs, "2.5")
    cfg = panel.config()
    assert cfg.train.epochs == 2.5 and cfg.train.steps is None


def test_config_changed_once_per_edit(panel: ConfigPanel, edits: list[int], qtbot, monkeypatch) -> None:
    with qtbot.waitSignal(panel.configChanged, timeout=1000):
        panel.arch.buttons["plain"].click()
    assert len(edits) == 1
    panel.block.set_value("bottleneck")  # snaps the depth too: still one edit
    assert len(edits) == 2
    qtbot.keyClicks(panel.lr, "0.1")  # three keystrokes
    assert len(edits) == 5
    panel.augment.click()
    assert len(edits) == 6
    panel.length_epochs.click()
    assert len(edits) == 7
    panel.depth.stepBy(1)
    assert len(edits) == 8
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", lambda *a, **k: "/tmp/data")
    panel.dataset.set_value("cifar10")
    panel.browse_root.click()
    assert len(edits) == 10 and panel.data_root.text() == "/tmp/data"


def test_device_combo(panel: ConfigPanel) -> None:
    texts = [panel.device.itemText(i) for i in range(panel.device.count())]
    assert "CPU" in texts
    assert texts[0].startswith("Auto (") and panel.device.itemData(0) == "auto"
    assert panel.config().train.device == "auto"
    panel.device.set_value("cpu")
    assert panel.config().train.device == "cpu"


def test_placeholders_show_torch_defaults(panel: ConfigPanel) -> None:
    panel.optimizer.set_value("adam")
    assert panel.lr.placeholderText() == "default: 0.001"
    assert torch_default("adam", "lr") == 0.001
    assert panel.betas.placeholderText() == "default: 0.9, 0.999"
    assert panel.eps.placeholderText() == "default: 1e-08"
    panel.optimizer.set_value("adamw")
    assert panel.weight_decay.placeholderText() == "default: 0.01"
    panel.optimizer.set_value("rmsprop")
    assert panel.lr.placeholderText() == "default: 0.01"
    assert panel.alpha.placeholderText() == "default: 0.99"
    assert panel.config().optim.lr is None  # empty: torch's default


def test_sub_parameters_shown_only_when_used(panel: ConfigPanel) -> None:
    def visible(widget: QtWidgets.QWidget) -> bool:
        return panel.is_row_visible(widget)

    assert not visible(panel.shortcut_scale) and not visible(panel.shortcut_dropout)
    panel.shortcut_variant.set_value("scale")
    assert visible(panel.shortcut_scale) and not visible(panel.shortcut_dropout)
    panel.shortcut_variant.set_value("dropout")
    assert visible(panel.shortcut_dropout)
    assert not visible(panel.leaky_slope)
    panel.activation.set_value("leaky_relu")
    assert visible(panel.leaky_slope)
    assert not visible(panel.init_std)
    panel.init_scheme.set_value("normal")
    assert visible(panel.init_std)


def test_width_and_bn_defaults_follow_arch(panel: ConfigPanel) -> None:
    assert panel.width.specialValueText() == "default (16)"
    assert panel.batch_norm.itemText(0) == "default (on)"
    panel.arch.buttons["mlp"].click()
    assert panel.width.specialValueText() == "default (256)"
    assert panel.batch_norm.itemText(0) == "default (off)"
    panel.width.stepBy(1)
    assert panel.width.value() == 256
    panel.width.stepBy(1)
    assert panel.config().model.width == 512


def test_every_control_has_a_tooltip(panel: ConfigPanel) -> None:
    body = panel.scroll_area.widget()
    for kind in (QtWidgets.QComboBox, QtWidgets.QLineEdit, QtWidgets.QAbstractSpinBox, QtWidgets.QAbstractButton):
        for widget in body.findChildren(kind):
            if isinstance(widget, QtWidgets.QLineEdit) and isinstance(widget.parent(), QtWidgets.QAbstractSpinBox):
                continue  # a spin box's own editor
            if widget.parent() is not None and isinstance(widget.parent(), QtWidgets.QComboBox):
                continue
            assert widget.toolTip(), f"{type(widget).__name__} {getattr(widget, 'text', lambda: '')()!r}"


def test_render(panel: ConfigPanel, qtbot, tmp_path) -> None:
    panel.resize(340, 1000)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.scroll_area.widget().minimumSizeHint().width() <= 326  # fits a ~330 px dock
    assert not panel.grab().isNull()
    panel.resize(340, panel.scroll_area.widget().sizeHint().height() + 10)
    image = panel.grab()
    assert image.save(str(tmp_path / "controls.png"))
    assert image.size() == QtCore.QSize(340, panel.height())


def test_rows_are_generated_from_the_field_table(panel: ConfigPanel) -> None:
    from resnet_viz.config import all_fields
    from resnet_viz.gui.setup_panel.extras import ATTRIBUTES

    def squeeze(text: str) -> str:
        return "".join(text.split())

    body = panel.scroll_area.widget()
    labels = {lab.text() for lab in body.findChildren(QtWidgets.QLabel)}
    for info in all_fields():
        attribute = ATTRIBUTES.get(info.path, info.name)
        if not info.spec.panel:
            assert not hasattr(panel, attribute), info.path
            continue
        widget = getattr(panel, attribute)
        assert squeeze(info.spec.help.rstrip(".")) in squeeze(widget.toolTip()), info.path  # the folder adds the cache
        if info.spec.label:
            assert info.spec.label in labels, info.path
        else:
            assert widget.text() == info.spec.text, info.path
        for option in info.spec.options:
            if isinstance(widget, Choice):
                assert option.label in [widget.itemText(i) for i in range(widget.count())], info.path
            else:
                assert widget.buttons[option.value].text() == option.label


@pytest.mark.parametrize("name", ["defaults", "plain-56", "mlp sigmoid residual", "adam", "rmsprop", "init normal"])
def test_enabled_and_shown_controls_follow_the_rules_table(panel: ConfigPanel, name: str) -> None:
    from resnet_viz.config import all_fields, field_state
    from resnet_viz.gui.setup_panel.extras import ATTRIBUTES

    cfg = ROUND_TRIPS[name]
    panel.set_config(cfg)
    for info in all_fields():
        if not info.spec.panel or info.path in ("train.steps", "train.epochs"):
            continue
        widget = getattr(panel, ATTRIBUTES.get(info.path, info.name))
        state = field_state(cfg, info.path)
        assert widget.isEnabled() == state.enabled, info.path
        assert panel.is_row_visible(widget) == state.visible, info.path
        if state.reason and not state.enabled:
            assert state.reason in widget.toolTip(), info.path


def test_depth_box_reaches_max_depth_stepping_arithmetically(panel: ConfigPanel) -> None:
    from resnet_viz.config import MAX_DEPTH

    assert panel.depth.maximum() == MAX_DEPTH
    panel.set_config(RunConfig(model=ModelConfig(depth=9992)))
    panel.depth.stepBy(5)
    assert panel.depth.value() == 9998  # the last 6n+2 below 10000; no step beyond it
    assert not panel.depth.stepEnabled() & QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
    panel.depth.stepBy(-2)
    assert panel.depth.value() == 9986
    panel.set_config(RunConfig(model=ModelConfig(arch="mlp", depth=MAX_DEPTH - 1)))
    panel.depth.stepBy(3)
    assert panel.depth.value() == MAX_DEPTH
    panel.set_config(RunConfig(model=ModelConfig(depth=8)))
    assert not panel.depth.stepEnabled() & QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
