"""ConfigPanel: the left-panel editor of one run's configuration (a :class:`RunConfig`).

Six compact groups (architecture, initialisation, optimiser, training, data, device) in a scroll
area, with the current validation error pinned under it in red. Options that make no sense for the
rest of the configuration are disabled, and their tooltip says why; their values are left out of
:meth:`ConfigPanel.config` (dataclass defaults), so a disabled control never causes an error.
Empty optimiser fields mean torch.optim's default, shown as placeholder text.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Signal

from resnet_viz.config import (
    DEFAULT_CONV_WIDTH,
    DEFAULT_MLP_WIDTH,
    DEFAULT_STEPS,
    ConfigError,
    DataConfig,
    InitConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    depth_rule,
    nearest_valid_depths,
    valid_depths,
)
from resnet_viz.data import default_data_root
from resnet_viz.data.torchvision_sets import TORCHVISION_SETS
from resnet_viz.models.budget import check_fits
from resnet_viz.train.device import available_devices, device_label, resolve_device

MAX_DEPTH = 2000
QUICK_DEPTHS = (20, 32, 44, 56, 110)
TOOLTIP_WIDTH = 64  # characters per tooltip line

_TORCH_OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}
_OPTIM_NAMES = {"sgd": "SGD", "adagrad": "AdaGrad", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}


def torch_default(optimizer: str, name: str) -> Any:
    """The default of hyperparameter ``name`` in ``torch.optim``'s class for ``optimizer`` (None if it has none)."""
    param = inspect.signature(_TORCH_OPTIMIZERS[optimizer]).parameters.get(name)
    if param is None or param.default is inspect.Parameter.empty:
        return None
    value = param.default
    if isinstance(value, torch.Tensor):
        value = value.item()
    return value


def _fmt(value: Any) -> str:
    """A number as text that parses back to the same value (``0.1``, ``1e-08``, ``0.9, 0.999``)."""
    if isinstance(value, (tuple, list)):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _wrap(text: str) -> str:
    """Wrap each paragraph of a plain-text tooltip (plain-text tooltips are not wrapped by Qt)."""
    return "\n".join(textwrap.fill(line, TOOLTIP_WIDTH) if line else "" for line in text.split("\n"))


# --------------------------------------------------------------------------------------------- widgets


class Choice(QtWidgets.QComboBox):
    """A combo box of config values: ``value()`` / ``set_value()`` speak the config's strings (or None/bools)."""

    def __init__(self, items: Sequence[tuple[Any, str, str]], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(6)
        self._tips: dict[int, str] = {}
        for value, text, tip in items:
            self.addItem(text, value)
            self._tips[self.count() - 1] = tip
            if tip:
                self.setItemData(self.count() - 1, _wrap(tip), QtCore.Qt.ItemDataRole.ToolTipRole)

    def values(self) -> list[Any]:
        return [self.itemData(i) for i in range(self.count())]

    def value(self) -> Any:
        return self.currentData()

    def set_value(self, value: Any) -> None:
        """Select the item whose value is ``value`` (``==`` with matching type, so ``None``, ``True`` and
        ``1`` differ); unknown values are ignored."""
        for i in range(self.count()):
            data = self.itemData(i)
            if type(data) is type(value) and data == value:
                self.setCurrentIndex(i)
                return

    def set_item_enabled(self, value: Any, enabled: bool, reason: str = "") -> None:
        """Enable or disable one item; a disabled item's tooltip ends with the reason."""
        model = self.model()
        for i in range(self.count()):
            data = self.itemData(i)
            if type(data) is type(value) and data == value:
                item = model.item(i) if isinstance(model, QtGui.QStandardItemModel) else None
                if item is not None:
                    item.setEnabled(enabled)
                tip = self._tips.get(i, "")
                if not enabled:
                    tip = f"{tip}\n— disabled: {reason}" if tip else f"Disabled: {reason}"
                self.setItemData(i, _wrap(tip) if enabled else tip, QtCore.Qt.ItemDataRole.ToolTipRole)

    def item_enabled(self, value: Any) -> bool:
        model = self.model()
        for i in range(self.count()):
            data = self.itemData(i)
            if type(data) is type(value) and data == value and isinstance(model, QtGui.QStandardItemModel):
                return model.item(i).isEnabled()
        return False

    def item_tooltip(self, value: Any) -> str:
        for i in range(self.count()):
            data = self.itemData(i)
            if type(data) is type(value) and data == value:
                return str(self.itemData(i, QtCore.Qt.ItemDataRole.ToolTipRole) or "")
        return ""


class Segmented(QtWidgets.QWidget):
    """A row of exclusive toggle buttons (a segmented control) with the same API as :class:`Choice`.

    ``buttons`` maps each value to its button; ``valueChanged(str)`` fires when the selection changes.
    """

    valueChanged = Signal(str)

    def __init__(self, items: Sequence[tuple[str, str, str]], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.group = QtWidgets.QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QtWidgets.QToolButton] = {}
        self._values: list[str] = []
        for i, (value, text, tip) in enumerate(items):
            button = QtWidgets.QToolButton(self)
            button.setText(text)
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.setToolTip(_wrap(tip))
            button.setProperty("baseToolTip", _wrap(tip))
            button.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
            self.group.addButton(button, i)
            layout.addWidget(button)
            self.buttons[value] = button
            self._values.append(value)
        self.buttons[self._values[0]].setChecked(True)
        self.group.idToggled.connect(self._toggled)

    def _toggled(self, index: int, checked: bool) -> None:
        if checked:
            self.valueChanged.emit(self._values[index])

    def values(self) -> list[str]:
        return list(self._values)

    def value(self) -> str:
        return self._values[max(self.group.checkedId(), 0)]

    def set_value(self, value: str) -> None:
        if value in self.buttons:
            self.buttons[value].setChecked(True)


class NumberEdit(QtWidgets.QLineEdit):
    """A line edit for one float; empty means the default shown as placeholder text.

    Any text can be typed (``1e-4`` included); :meth:`value` raises :class:`ConfigError` naming
    ``field`` when the text is not a number, so the panel can say which field is wrong.
    """

    def __init__(self, field_name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field_name
        self.setClearButtonEnabled(False)

    def value(self) -> float | None:
        """The number typed, or None when empty."""
        text = self.text().strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(self.field, text, "must be a number, e.g. 0.1 or 1e-4") from None
        if not math.isfinite(value):
            raise ConfigError(self.field, text, "must be a finite number")
        return value

    def set_value(self, value: float | None) -> None:
        self.setText("" if value is None else _fmt(value))


class ListEdit(NumberEdit):
    """A line edit for comma-separated numbers (betas, milestones); empty means None."""

    def __init__(self, field_name: str, count: int | None = None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(field_name, parent)
        self.count = count

    def value(self) -> tuple[float, ...] | None:  # type: ignore[override]
        text = self.text().strip()
        if not text:
            return None
        parts = [p.strip() for p in text.replace(";", ",").split(",")]
        want = f"{self.count} comma-separated numbers" if self.count else "comma-separated numbers"
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            raise ConfigError(
                self.field, text, f"must be {want}, e.g. {self.placeholderText().split(': ')[-1]}"
            ) from None
        if self.count is not None and len(values) != self.count:
            raise ConfigError(self.field, text, f"must be {want}")
        return values

    def set_value(self, value: Sequence[float] | None) -> None:  # type: ignore[override]
        self.setText("" if value is None else _fmt(tuple(value)))


class DepthSpinBox(QtWidgets.QSpinBox):
    """Depth (weight layers). Arrows and the wheel step through the depths valid for the current
    arch/block (6n+2 basic/preact, 9n+2 bottleneck, any ≥ 1 for an MLP); typed values are kept as
    typed, valid or not (the panel shows the error)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(1, MAX_DEPTH)
        self.arch = "resnet"
        self.block = "basic"

    def set_rule(self, arch: str, block: str) -> None:
        self.arch, self.block = arch, block

    def valid(self) -> list[int]:
        return valid_depths(self.arch, self.block, MAX_DEPTH)

    def is_valid(self, depth: int) -> bool:
        return self.arch == "mlp" or depth in self.valid()

    def nearest(self, depth: int) -> int:
        """The valid depth closest to ``depth`` (the lower one on a tie)."""
        if self.is_valid(depth):
            return depth
        near = nearest_valid_depths(depth, self.arch, self.block)
        return min(near, key=lambda d: (abs(d - depth), d))

    def stepBy(self, steps: int) -> None:
        value = self.value()
        valid = self.valid()
        for _ in range(abs(steps)):
            if steps > 0:
                above = [d for d in valid if d > value]
                if not above:
                    break
                value = above[0]
            else:
                below = [d for d in valid if d < value]
                if not below:
                    break
                value = below[-1]
        self.setValue(value)
        self.selectAll()

    def stepEnabled(self) -> QtWidgets.QAbstractSpinBox.StepEnabledFlag:
        flags = QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepNone
        valid = self.valid()
        if valid and valid[0] < self.value():
            flags |= QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        if valid and valid[-1] > self.value():
            flags |= QtWidgets.QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        return flags


class DoublingSpinBox(QtWidgets.QSpinBox):
    """An integer spin box whose arrows double / halve the value. With a special value at the minimum
    (``special`` text, e.g. "default (16)"), stepping up from it goes to ``first`` and halving below the
    smallest regular value goes back to it."""

    def __init__(
        self, lo: int, hi: int, *, special: str = "", first: int | None = None, parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setRange(lo, hi)
        self.first = first
        if special:
            self.setSpecialValueText(special)

    def stepBy(self, steps: int) -> None:
        value = self.value()
        special = bool(self.specialValueText())
        for _ in range(abs(steps)):
            if steps > 0:
                value = (self.first or self.minimum() + 1) if special and value == self.minimum() else value * 2
            else:
                value = value // 2
                if value < self.minimum() + (1 if special else 0):
                    value = self.minimum()
        self.setValue(max(self.minimum(), min(self.maximum(), value)))
        self.selectAll()


# ------------------------------------------------------------------------------------------- tooltips

TIPS: dict[str, str] = {
    "arch": "Network family.",
    "arch.plain": "plain: the same stack of conv layers as the ResNet, without shortcuts.",
    "arch.resnet": "resnet: residual network of He et al. (2016), CIFAR variant.",
    "arch.mlp": "MLP: fully connected layers on the flattened image.",
    "depth": "Weight layers (convs + the final linear layer): 6n+2 for basic/preact blocks "
    "(20, 32, 44, 56, 110, 1202), 9n+2 for bottleneck, any n ≥ 1 for an MLP.\n"
    "Arrows and the mouse wheel step through the valid depths.",
    "width": "Base width: conv channels of stage 1 (default 16) or hidden width of the MLP (default 256).\n"
    "Arrows double / halve.",
    "block": "Residual block.",
    "block.basic": "basic: two 3×3 convs.",
    "block.bottleneck": "bottleneck: 1×1, 3×3, 1×1 convs (depth 9n+2).",
    "block.preact": "pre-activation: BN-ReLU-conv, nothing after the addition (Identity Mappings, He et al. 2016).",
    "shortcut": "Shortcut type (He et al. 2016, options A, B, C).",
    "shortcut.A": "A: zero-padding identity (no parameters).",
    "shortcut.B": "B: projection (1×1 conv) where dimensions change, identity elsewhere.",
    "shortcut.C": "C: projection on every shortcut.",
    "variant": "Shortcut h(x) of Identity Mappings (He et al. 2016, Fig. 2).",
    "variant.identity": "identity: y = F(x) + x (the original ResNet).",
    "variant.scale": "constant scaling: y = (1−λ) F(x) + λ x.",
    "variant.exclusive_gate": "exclusive gating: y = g F(x) + (1−g) x, g = sigmoid(1×1 conv), gate bias −6.",
    "variant.shortcut_gate": "shortcut-only gating: y = F(x) + (1−g) x, g = sigmoid(1×1 conv), gate bias 0.",
    "variant.conv1x1": "1×1 conv shortcut: y = F(x) + conv1×1(x).",
    "variant.dropout": "dropout shortcut: y = F(x) + dropout_p(x).",
    "scale": "λ of the constant-scaling shortcut (default 0.5).",
    "dropout": "p of the dropout shortcut, in [0, 1) (default 0.5).",
    "after_add": "Mapping after the addition, f in y = f(h(x) + F(x)): ReLU (original ResNet), BN + ReLU, "
    "or none. Default: ReLU (none for pre-activation blocks).",
    "batch_norm": "Batch normalisation. Default: on for conv nets (plain / resnet), off for the MLP.",
    "activation": "Nonlinearity everywhere the paper uses ReLU.",
    "slope": "Negative slope of leaky ReLU (default 0.01).",
    "stochastic_depth": "Stochastic depth (Huang et al. 2016): drop whole residual blocks while training; "
    "the survival probability falls linearly from 1 to 0.5 with depth.",
    "residual": "MLP: identity skip around every hidden layer.",
    "init": "Weight initialisation (torch.nn.init): He (MSRA), Xavier (Glorot), LeCun, normal N(0, std²), "
    "orthogonal. Biases start at 0, BN at γ = 1, β = 0.",
    "mode": "He / LeCun: keep the variance of fan_in (forward signal) or fan_out (backward gradient).",
    "distribution": "Normal or uniform, with the same variance.",
    "std": "Standard deviation of the normal init N(0, std²) (default 0.01).",
    "zero_init": "The last BN of each residual branch starts at γ = 0, so every block starts as the identity.",
    "optim": "Optimiser (torch.optim).",
    "lr": "Learning rate. Empty: torch.optim's default for this optimiser (He et al.: SGD 0.1).",
    "momentum": "Momentum (SGD, RMSprop). Empty: 0 (He et al.: 0.9).",
    "nesterov": "Nesterov momentum (SGD with momentum > 0).",
    "weight_decay": "L2 weight decay (He et al.: 1e-4). Empty: torch.optim's default.",
    "betas": "Adam / AdamW β1, β2: two numbers, e.g. 0.9, 0.999.",
    "eps": "Epsilon of adaptive optimisers, added to the denominator.",
    "alpha": "RMSprop smoothing constant of the squared-gradient average.",
    "schedule": "Learning-rate schedule.",
    "schedule.constant": "constant: lr fixed.",
    "schedule.step": "step: lr × gamma at each milestone (He et al.: ÷10 at 50 % and 75 % of the run).",
    "schedule.cosine": "cosine: cosine annealing to 0 over the run.",
    "milestones": "Step schedule milestones as fractions of the run, comma-separated, increasing in (0, 1) "
    "(default 0.5, 0.75).",
    "gamma": "Step schedule factor at each milestone (default 0.1, i.e. ÷10).",
    "warmup": "Linear warm-up from lr/10 over this many steps, before the schedule (0: none).",
    "batch_size": "Mini-batch size (default 128). Arrows double / halve.",
    "length": "Training length: optimiser steps (default 2000) or epochs (passes over the training set).",
    "steps": "Training steps (default 2000). Arrows double / halve.",
    "epochs": "Training length in epochs (passes over the training set), e.g. 30 or 0.5.",
    "eval_every": "Steps between evaluations (test set and a fixed training sample, in eval mode) "
    "(default 100). Arrows double / halve.",
    "seed": "Random seed for initialisation and batch order (default 0).",
    "probes": "Record per-layer statistics (activation variance, gradient norms) during training.",
    "probe_every": "Record per-layer statistics every K steps (1: every step).",
    "dataset": "Dataset.",
    "dataset.embedded": "embedded: synthetic images generated in memory, no download (default).",
    "dataset.cifar10": "CIFAR-10 (torchvision): 32×32 colour images, 10 classes.",
    "dataset.cifar100": "CIFAR-100 (torchvision): 32×32 colour images, 100 classes.",
    "dataset.mnist": "MNIST (torchvision): 28×28 handwritten digits.",
    "dataset.fashion-mnist": "Fashion-MNIST (torchvision): 28×28 clothing images, 10 classes.",
    "dataset.svhn": "SVHN (torchvision): 32×32 house-number digits (needs scipy).",
    "dataset.folder": "image folder: an ImageFolder tree (one sub-folder per class) in the data folder.",
    "root": "Folder with the torchvision layout (or an ImageFolder tree). Empty: the per-user cache",
    "download": "Download the dataset into the data folder: fetches it from the internet when the run starts.",
    "subset": "Use only the first N training images (all: the whole training set).",
    "augment": "Augmentation: pad 4 + random crop + horizontal flip, on the training device.",
    "normalize": "Normalise each channel with the mean / std of the training split.",
    "device": "Where the run trains. Auto picks CUDA, then MPS, then CPU.",
}

_ARCH_ITEMS = [
    ("plain", "plain", TIPS["arch.plain"]),
    ("resnet", "resnet", TIPS["arch.resnet"]),
    ("mlp", "MLP", TIPS["arch.mlp"]),
]
_BLOCK_ITEMS = [
    ("basic", "basic", TIPS["block.basic"]),
    ("bottleneck", "bottleneck", TIPS["block.bottleneck"]),
    ("preact", "pre-activation", TIPS["block.preact"]),
]
_SHORTCUT_ITEMS = [(s, s, TIPS[f"shortcut.{s}"]) for s in ("A", "B", "C")]
_VARIANT_ITEMS = [
    ("identity", "identity", TIPS["variant.identity"]),
    ("scale", "scale λ", TIPS["variant.scale"]),
    ("exclusive_gate", "exclusive gate", TIPS["variant.exclusive_gate"]),
    ("shortcut_gate", "shortcut-only gate", TIPS["variant.shortcut_gate"]),
    ("conv1x1", "1×1 conv", TIPS["variant.conv1x1"]),
    ("dropout", "dropout", TIPS["variant.dropout"]),
]
_ACTIVATION_ITEMS = [
    ("relu", "ReLU", ""),
    ("leaky_relu", "leaky ReLU", ""),
    ("tanh", "tanh", ""),
    ("sigmoid", "sigmoid", ""),
]
_INIT_ITEMS = [
    ("he", "He (Kaiming)", "He et al. 2015: variance 2 / fan."),
    ("xavier", "Xavier (Glorot)", "Glorot & Bengio 2010: variance 2 / (fan_in + fan_out)."),
    ("lecun", "LeCun", "LeCun et al. 1998: variance 1 / fan."),
    ("normal", "normal (std)", "N(0, std²) with a fixed std."),
    ("orthogonal", "orthogonal", "Orthogonal matrix (Saxe et al. 2014), gain from the activation."),
]
_SCHEDULE_ITEMS = [
    ("constant", "constant", TIPS["schedule.constant"]),
    ("step", "step ÷10 at milestones", TIPS["schedule.step"]),
    ("cosine", "cosine", TIPS["schedule.cosine"]),
]
_DATASET_ITEMS = [
    ("embedded", "embedded synthetic", TIPS["dataset.embedded"]),
    ("cifar10", "CIFAR-10", TIPS["dataset.cifar10"]),
    ("cifar100", "CIFAR-100", TIPS["dataset.cifar100"]),
    ("mnist", "MNIST", TIPS["dataset.mnist"]),
    ("fashion-mnist", "Fashion-MNIST", TIPS["dataset.fashion-mnist"]),
    ("svhn", "SVHN", TIPS["dataset.svhn"]),
    ("folder", "image folder", TIPS["dataset.folder"]),
]


def _home_short(path: Path) -> str:
    """``/home/me/.cache/x`` as ``~/.cache/x``."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------- panel


class ConfigPanel(QtWidgets.QWidget):
    """Editor of one run's :class:`RunConfig`: grouped controls in a scroll area, the error in red below.

    Signals: ``configChanged()`` once per user edit (never from :meth:`set_config`).
    Methods: :meth:`config`, :meth:`set_config`, :meth:`error_text`, :meth:`reset_to_defaults`.

    Widgets (attributes), by group. Choices are :class:`Choice` combos or :class:`Segmented` button
    rows, both with ``value()`` / ``set_value()`` in config terms; numbers typed as text are
    :class:`NumberEdit` / :class:`ListEdit` (empty = default, shown as placeholder):

    * architecture: ``arch`` (Segmented: plain / resnet / mlp), ``depth`` (:class:`DepthSpinBox`),
      ``depth_buttons`` (dict depth → QToolButton: 20, 32, 44, 56, 110), ``block`` (Choice),
      ``shortcut`` (Segmented A/B/C), ``shortcut_variant`` (Choice), ``shortcut_scale`` (λ),
      ``shortcut_dropout`` (p), ``after_add`` (Choice: None = default, relu, bn_relu, none),
      ``width`` (spin, 0 = default), ``batch_norm`` (Choice: None / True / False), ``activation``,
      ``leaky_slope``, ``stochastic_depth`` (QCheckBox), ``residual`` (QCheckBox);
    * initialisation: ``init_scheme``, ``init_mode``, ``init_distribution``, ``init_std``, ``zero_init_residual``;
    * optimiser: ``optimizer``, ``lr``, ``momentum``, ``nesterov``, ``weight_decay``, ``betas``, ``eps``,
      ``alpha``, ``schedule``, ``milestones``, ``gamma``, ``warmup_steps``;
    * training: ``batch_size``, ``length_steps`` / ``length_epochs`` (radio buttons), ``steps``
      (spin, 0 = default 2000), ``epochs`` (NumberEdit), ``eval_every``, ``seed``, ``probes``, ``probe_every``;
    * data: ``dataset``, ``data_root`` (QLineEdit), ``browse_root`` (QToolButton), ``download``,
      ``subset`` (spin, 0 = all), ``augment``, ``normalize``;
    * device: ``device`` (Choice: "auto", "cuda", "cpu", ...);
    * ``error_label`` (red QLabel, visible only on an error), ``scroll`` (the QScrollArea).

    Config fields without a control (``data.embedded_seed``, ``train.eval_train_samples``,
    ``histogram_every``, ``histogram_bins``, ``deterministic``) keep the values of the last
    :meth:`set_config`.
    """

    configChanged = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._base = RunConfig()
        self._quiet = 0
        self._tips: dict[QtWidgets.QWidget, str] = {}
        self._labels: dict[QtWidgets.QWidget, QtWidgets.QLabel] = {}
        self._forms: dict[QtWidgets.QWidget, QtWidgets.QFormLayout] = {}
        self._error = ""

        body = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(body)
        column.setContentsMargins(4, 4, 4, 4)
        column.setSpacing(6)
        column.addWidget(self._build_architecture())
        column.addWidget(self._build_init())
        column.addWidget(self._build_optim())
        column.addWidget(self._build_training())
        column.addWidget(self._build_data())
        column.addWidget(self._build_device())
        column.addStretch(1)
        labels = body.findChildren(QtWidgets.QLabel)
        label_width = max(lab.sizeHint().width() for lab in labels)
        for lab in labels:
            lab.setMinimumWidth(label_width)
            lab.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)

        self.scroll = QtWidgets.QScrollArea(self)
        self.scroll.setWidget(body)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.error_label = QtWidgets.QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(
            "QLabel { color: #b00020; background: #fdecee; border: 1px solid #e8a0a8; border-radius: 3px;"
            " padding: 4px; }"
        )
        self.error_label.setVisible(False)

        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        outer.addWidget(self.scroll, 1)
        outer.addWidget(self.error_label)

        self._connect()
        self._load(RunConfig())

    # ------------------------------------------------------------------------------------ building

    def _form(self, title: str) -> tuple[QtWidgets.QGroupBox, QtWidgets.QFormLayout]:
        box = QtWidgets.QGroupBox(title)
        form = QtWidgets.QFormLayout(box)
        form.setContentsMargins(6, 4, 6, 6)
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.DontWrapRows)
        return box, form

    def _row(
        self,
        form: QtWidgets.QFormLayout,
        label: str,
        widget: QtWidgets.QWidget,
        tip: str,
        field: QtWidgets.QWidget | None = None,
    ) -> None:
        """Add a labelled row; ``tip`` goes on the widget and the label. ``field`` is what is laid out
        when it differs from the widget (a widget with buttons next to it)."""
        self._set_tip(widget, tip)
        if label:
            lab = QtWidgets.QLabel(label)
            lab.setToolTip(_wrap(tip))
            lab.setBuddy(widget)
            form.addRow(lab, field or widget)
            self._labels[widget] = lab
        else:  # in the field column, aligned with the other fields
            form.addRow(QtWidgets.QLabel(""), field or widget)
        self._forms[widget] = form

    def _set_tip(self, widget: QtWidgets.QWidget, tip: str) -> None:
        self._tips[widget] = _wrap(tip)
        widget.setToolTip(self._tips[widget])

    def _check(self, text: str) -> QtWidgets.QCheckBox:
        return QtWidgets.QCheckBox(text)

    def _build_architecture(self) -> QtWidgets.QGroupBox:
        box, form = self._form("Architecture")
        self.arch = Segmented(_ARCH_ITEMS)
        self._row(form, "arch", self.arch, TIPS["arch"] + "\n" + "\n".join(t for _, _, t in _ARCH_ITEMS))

        self.depth = DepthSpinBox()
        self._row(form, "depth", self.depth, TIPS["depth"])
        quick = QtWidgets.QWidget()
        quick_row = QtWidgets.QHBoxLayout(quick)
        quick_row.setContentsMargins(0, 0, 0, 0)
        quick_row.setSpacing(2)
        self.depth_buttons: dict[int, QtWidgets.QToolButton] = {}
        for d in QUICK_DEPTHS:
            button = QtWidgets.QToolButton()
            button.setText(str(d))
            button.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _checked=False, d=d: self._quick_depth(d))
            self.depth_buttons[d] = button
            self._tips[button] = f"Depth {d}."
            button.setToolTip(self._tips[button])
            quick_row.addWidget(button)
        form.addRow(QtWidgets.QLabel(""), quick)

        self.block = Choice(_BLOCK_ITEMS)
        self._row(form, "block", self.block, TIPS["block"] + "\n" + "\n".join(t for _, _, t in _BLOCK_ITEMS))
        self.shortcut = Segmented(_SHORTCUT_ITEMS)
        self._row(
            form, "shortcut", self.shortcut, TIPS["shortcut"] + "\n" + "\n".join(t for _, _, t in _SHORTCUT_ITEMS)
        )
        self.shortcut_variant = Choice(_VARIANT_ITEMS)
        self._row(
            form, "variant", self.shortcut_variant, TIPS["variant"] + "\n" + "\n".join(t for _, _, t in _VARIANT_ITEMS)
        )
        self.shortcut_scale = NumberEdit("model.shortcut_scale")
        self.shortcut_scale.setPlaceholderText(f"default: {_fmt(ModelConfig.shortcut_scale)}")
        self._row(form, "λ", self.shortcut_scale, TIPS["scale"])
        self.shortcut_dropout = NumberEdit("model.shortcut_dropout")
        self.shortcut_dropout.setPlaceholderText(f"default: {_fmt(ModelConfig.shortcut_dropout)}")
        self._row(form, "p", self.shortcut_dropout, TIPS["dropout"])
        self.after_add = Choice(
            [
                (None, "default (ReLU)", "The block's default: ReLU (none for pre-activation)."),
                ("relu", "ReLU (original)", "ReLU after the addition (He et al. 2016a)."),
                ("bn_relu", "BN + ReLU", "BN, then ReLU after the addition."),
                ("none", "none", "Nothing after the addition (identity)."),
            ]
        )
        self._row(form, "after add", self.after_add, TIPS["after_add"])
        self.width = DoublingSpinBox(0, 4096, special="default (16)", first=DEFAULT_CONV_WIDTH)
        self._row(form, "width", self.width, TIPS["width"])
        self.batch_norm = Choice(
            [
                (None, "default (on)", "On for conv nets, off for the MLP."),
                (True, "on", "Batch normalisation."),
                (False, "off", "No batch normalisation."),
            ]
        )
        self._row(form, "batch norm", self.batch_norm, TIPS["batch_norm"])
        self.activation = Choice(_ACTIVATION_ITEMS)
        self._row(form, "activation", self.activation, TIPS["activation"])
        self.leaky_slope = NumberEdit("model.leaky_slope")
        self.leaky_slope.setPlaceholderText(f"default: {_fmt(ModelConfig.leaky_slope)}")
        self._row(form, "slope", self.leaky_slope, TIPS["slope"])
        self.stochastic_depth = self._check("stochastic depth (1 → 0.5)")
        self._row(form, "", self.stochastic_depth, TIPS["stochastic_depth"])
        self.residual = self._check("residual connections")
        self._row(form, "", self.residual, TIPS["residual"])
        return box

    def _build_init(self) -> QtWidgets.QGroupBox:
        box, form = self._form("Initialisation")
        self.init_scheme = Choice(_INIT_ITEMS)
        self._row(form, "scheme", self.init_scheme, TIPS["init"])
        self.init_mode = Choice(
            [
                ("fan_in", "fan_in", "Keep the forward signal's variance."),
                ("fan_out", "fan_out", "Keep the backward gradient's variance."),
            ]
        )
        self._row(form, "mode", self.init_mode, TIPS["mode"])
        self.init_distribution = Choice([("normal", "normal", ""), ("uniform", "uniform", "")])
        self._row(form, "distribution", self.init_distribution, TIPS["distribution"])
        self.init_std = NumberEdit("init.std")
        self.init_std.setPlaceholderText(f"default: {_fmt(InitConfig.std)}")
        self._row(form, "std", self.init_std, TIPS["std"])
        self.zero_init_residual = self._check("zero-init last BN of branches")
        self._row(form, "", self.zero_init_residual, TIPS["zero_init"])
        return box

    def _build_optim(self) -> QtWidgets.QGroupBox:
        box, form = self._form("Optimiser")
        self.optimizer = Choice(
            [(k, v, f"torch.optim.{_TORCH_OPTIMIZERS[k].__name__}") for k, v in _OPTIM_NAMES.items()]
        )
        self._row(form, "optimiser", self.optimizer, TIPS["optim"])
        self.lr = NumberEdit("optim.lr")
        self._row(form, "lr", self.lr, TIPS["lr"])
        self.momentum = NumberEdit("optim.momentum")
        self._row(form, "momentum", self.momentum, TIPS["momentum"])
        self.nesterov = self._check("Nesterov momentum")
        self._row(form, "", self.nesterov, TIPS["nesterov"])
        self.weight_decay = NumberEdit("optim.weight_decay")
        self._row(form, "weight decay", self.weight_decay, TIPS["weight_decay"])
        self.betas = ListEdit("optim.betas", count=2)
        self._row(form, "betas", self.betas, TIPS["betas"])
        self.eps = NumberEdit("optim.eps")
        self._row(form, "eps", self.eps, TIPS["eps"])
        self.alpha = NumberEdit("optim.alpha")
        self._row(form, "alpha", self.alpha, TIPS["alpha"])
        self.schedule = Choice(_SCHEDULE_ITEMS)
        self._row(
            form, "schedule", self.schedule, TIPS["schedule"] + "\n" + "\n".join(t for _, _, t in _SCHEDULE_ITEMS)
        )
        self.milestones = ListEdit("optim.milestones")
        self.milestones.setPlaceholderText("default: " + _fmt(OptimConfig.milestones))
        self._row(form, "milestones", self.milestones, TIPS["milestones"])
        self.gamma = NumberEdit("optim.gamma")
        self.gamma.setPlaceholderText(f"default: {_fmt(OptimConfig.gamma)}")
        self._row(form, "gamma", self.gamma, TIPS["gamma"])
        self.warmup_steps = QtWidgets.QSpinBox()
        self.warmup_steps.setRange(0, 10_000_000)
        self.warmup_steps.setSingleStep(100)
        self.warmup_steps.setSpecialValueText("none")
        self.warmup_steps.setSuffix(" steps")
        self._row(form, "warm-up", self.warmup_steps, TIPS["warmup"])
        return box

    def _build_training(self) -> QtWidgets.QGroupBox:
        box, form = self._form("Training")
        self.batch_size = DoublingSpinBox(1, 65536)
        self._row(form, "batch size", self.batch_size, TIPS["batch_size"])
        length = QtWidgets.QWidget()
        length_row = QtWidgets.QHBoxLayout(length)
        length_row.setContentsMargins(0, 0, 0, 0)
        self.length_steps = QtWidgets.QRadioButton("steps")
        self.length_epochs = QtWidgets.QRadioButton("epochs")
        self._length_group = QtWidgets.QButtonGroup(self)
        for radio in (self.length_steps, self.length_epochs):
            self._length_group.addButton(radio)
            self._set_tip(radio, TIPS["length"])
            length_row.addWidget(radio)
        length_row.addStretch(1)
        self.length_steps.setChecked(True)
        lab = QtWidgets.QLabel("length")
        lab.setToolTip(_wrap(TIPS["length"]))
        form.addRow(lab, length)
        self.steps = DoublingSpinBox(0, 100_000_000, special=f"default ({DEFAULT_STEPS})", first=DEFAULT_STEPS)
        self._row(form, "steps", self.steps, TIPS["steps"])
        self.epochs = NumberEdit("train.epochs")
        self.epochs.setPlaceholderText("e.g. 30")
        self._row(form, "epochs", self.epochs, TIPS["epochs"])
        self.eval_every = DoublingSpinBox(1, 10_000_000)
        self.eval_every.setSuffix(" steps")
        self._row(form, "eval every", self.eval_every, TIPS["eval_every"])
        self.seed = QtWidgets.QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self._row(form, "seed", self.seed, TIPS["seed"])
        self.probes = self._check("per-layer probes")
        self._row(form, "", self.probes, TIPS["probes"])
        self.probe_every = DoublingSpinBox(1, 1_000_000)
        self.probe_every.setSpecialValueText("step")
        self.probe_every.setSuffix(" steps")
        self._row(form, "probe every", self.probe_every, TIPS["probe_every"])
        return box

    def _build_data(self) -> QtWidgets.QGroupBox:
        box, form = self._form("Data")
        self.dataset = Choice(_DATASET_ITEMS)
        self._row(form, "dataset", self.dataset, TIPS["dataset"] + "\n" + "\n".join(t for _, _, t in _DATASET_ITEMS))
        root = QtWidgets.QWidget()
        root_row = QtWidgets.QHBoxLayout(root)
        root_row.setContentsMargins(0, 0, 0, 0)
        root_row.setSpacing(2)
        self.data_root = QtWidgets.QLineEdit()
        cache = default_data_root()
        self.data_root.setPlaceholderText(_home_short(cache))
        self.browse_root = QtWidgets.QToolButton()
        self.browse_root.setText("…")
        self.browse_root.setToolTip("Choose the data folder.")
        self.browse_root.clicked.connect(self._browse_root)
        root_row.addWidget(self.data_root, 1)
        root_row.addWidget(self.browse_root)
        self._row(form, "folder", self.data_root, f"{TIPS['root']} ({cache}).", field=root)
        self.download = self._check("download if missing")
        self._row(form, "", self.download, TIPS["download"])
        self.subset = QtWidgets.QSpinBox()
        self.subset.setRange(0, 100_000_000)
        self.subset.setSingleStep(1000)
        self.subset.setSpecialValueText("all")
        self.subset.setSuffix(" images")
        self._row(form, "subset", self.subset, TIPS["subset"])
        flags = QtWidgets.QWidget()
        flags_row = QtWidgets.QHBoxLayout(flags)
        flags_row.setContentsMargins(0, 0, 0, 0)
        self.augment = self._check("augment")
        self.normalize = self._check("normalise")
        self._set_tip(self.augment, TIPS["augment"])
        self._set_tip(self.normalize, TIPS["normalize"])
        flags_row.addWidget(self.augment)
        flags_row.addWidget(self.normalize)
        flags_row.addStretch(1)
        form.addRow(QtWidgets.QLabel(""), flags)
        return box

    def _build_device(self) -> QtWidgets.QGroupBox:
        box, form = self._form("Device")
        names = available_devices()
        labels = {name: device_label(torch.device(name)) for name in names}
        items: list[tuple[Any, str, str]] = [("auto", f"Auto ({labels[names[0]]})", TIPS["device"])]
        items += [(name, labels[name], f"Train on {labels[name]}.") for name in names]
        self.device = Choice(items)
        self._row(form, "device", self.device, TIPS["device"])
        return box

    def _connect(self) -> None:
        def on(signal: Any, source: str) -> None:
            signal.connect(lambda *_args: self._on_edit(source))

        on(self.arch.valueChanged, "arch")
        on(self.block.currentIndexChanged, "block")
        on(self.depth.valueChanged, "depth")
        for name in ("shortcut",):
            on(getattr(self, name).valueChanged, name)
        for name in (
            "shortcut_variant",
            "after_add",
            "batch_norm",
            "activation",
            "init_scheme",
            "init_mode",
            "init_distribution",
            "optimizer",
            "schedule",
            "dataset",
            "device",
        ):
            on(getattr(self, name).currentIndexChanged, name)
        for name in (
            "shortcut_scale",
            "shortcut_dropout",
            "leaky_slope",
            "init_std",
            "lr",
            "momentum",
            "weight_decay",
            "betas",
            "eps",
            "alpha",
            "milestones",
            "gamma",
            "epochs",
            "data_root",
        ):
            on(getattr(self, name).textChanged, name)
        for name in ("width", "warmup_steps", "batch_size", "steps", "eval_every", "seed", "probe_every", "subset"):
            on(getattr(self, name).valueChanged, name)
        for name in (
            "stochastic_depth",
            "residual",
            "zero_init_residual",
            "nesterov",
            "probes",
            "download",
            "augment",
            "normalize",
        ):
            on(getattr(self, name).toggled, name)
        on(self.length_epochs.toggled, "length")  # the pair toggles this one exactly once per switch

    # ------------------------------------------------------------------------------------- editing

    def _quick_depth(self, depth: int) -> None:
        self.depth.setValue(depth)  # emits configChanged through valueChanged (once; none if unchanged)

    def _browse_root(self) -> None:
        start = self.data_root.text() or str(default_data_root())
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Data folder", start)
        if folder:
            self.data_root.setText(folder)

    def _on_edit(self, source: str) -> None:
        if self._quiet:
            return
        self._quiet += 1
        try:
            self._sync(snap=source in ("arch", "block"))
        except Exception as exc:  # noqa: BLE001 - never raise into the event loop
            self._error = f"{type(exc).__name__}: {exc}"
            self.error_label.setText(self._error)
            self.error_label.setVisible(True)
        finally:
            self._quiet -= 1
        self.configChanged.emit()

    def _enable(self, widget: QtWidgets.QWidget, enabled: bool, reason: str = "") -> None:
        """Enable a control, or disable it with the reason appended to its tooltip (its label too)."""
        widget.setEnabled(enabled)
        tip = self._tips.get(widget, "")
        if not enabled and reason:
            tip = f"{tip}\n— disabled: {reason}" if tip else f"Disabled: {reason}"
        widget.setToolTip(tip)
        if isinstance(widget, Segmented):  # its buttons show their own tooltips: add the reason there
            for button in widget.buttons.values():
                base = button.property("baseToolTip")
                button.setToolTip(base if enabled or not reason else f"{base}\n— disabled: {reason}")
        label = self._labels.get(widget)
        if label is not None:
            label.setEnabled(enabled)
            label.setToolTip(tip)

    def _show(self, widget: QtWidgets.QWidget, visible: bool) -> None:
        form = self._forms.get(widget)
        if form is not None:
            form.setRowVisible(self._labels.get(widget, widget), visible)

    def _bn_on(self) -> bool:
        bn = self.batch_norm.value()
        return bn if bn is not None else self.arch.value() != "mlp"

    def _momentum_positive(self) -> bool:
        try:
            m = self.momentum.value()
        except ConfigError:
            return False
        return bool(m) and m > 0

    def _sync(self, snap: bool = False) -> None:
        """Bring dependent controls in line with the others: enabled states and their reasons, visible
        rows, default texts, placeholders, the depth rule (snapping depth if ``snap``), the error."""
        arch, block = self.arch.value(), self.block.value()
        mlp, plain, resnet = arch == "mlp", arch == "plain", arch == "resnet"
        bn = self._bn_on()

        # architecture
        self._enable(self.block, not mlp, "an MLP has linear layers, not blocks")
        no_shortcut = "a plain net has no shortcuts" if plain else "an MLP has no shortcuts (see residual connections)"
        self._enable(self.shortcut, resnet, no_shortcut)
        self._enable(self.shortcut_variant, resnet, no_shortcut)
        variant = self.shortcut_variant.value()
        self._show(self.shortcut_scale, resnet and variant == "scale")
        self._show(self.shortcut_dropout, resnet and variant == "dropout")
        preact = block == "preact"
        if not resnet:
            self._enable(self.after_add, False, no_shortcut + ", so no addition")
        else:
            self._enable(self.after_add, not preact, "pre-activation blocks have nothing after the addition")
        self.after_add.setItemText(0, "default (none)" if preact and resnet else "default (ReLU)")
        self.after_add.set_item_enabled("bn_relu", bn, "BN + ReLU needs batch norm, which is off")
        if not bn and self.after_add.isEnabled():
            self.after_add.setToolTip(self.after_add.toolTip() + "\nBN + ReLU is unavailable: batch norm is off.")
        self.width.setSpecialValueText(f"default ({DEFAULT_MLP_WIDTH if mlp else DEFAULT_CONV_WIDTH})")
        self.width.first = DEFAULT_MLP_WIDTH if mlp else DEFAULT_CONV_WIDTH
        self.batch_norm.setItemText(0, "default (off)" if mlp else "default (on)")
        self._show(self.leaky_slope, self.activation.value() == "leaky_relu")
        self._enable(self.stochastic_depth, resnet, "stochastic depth drops residual blocks; it needs arch resnet")
        self._enable(
            self.residual,
            mlp,
            "residual connections are the MLP's option; use arch resnet for a convolutional net with shortcuts",
        )

        # depth
        eff_block = "basic" if mlp else block
        self.depth.set_rule(arch, eff_block)
        if snap:
            self.depth.setValue(self.depth.nearest(self.depth.value()))
        rule = depth_rule(arch, eff_block)
        self._tips[self.depth] = _wrap(TIPS["depth"] + f"\nNow: {rule}.")
        self._enable(self.depth, True)
        for d, button in self.depth_buttons.items():
            ok = self.depth.is_valid(d)
            self._enable(button, ok, f"{d} is not {rule}")

        # initialisation
        scheme = self.init_scheme.value()
        self._enable(
            self.init_mode,
            scheme in ("he", "lecun"),
            {
                "xavier": "Xavier averages fan_in and fan_out",
                "normal": "normal init uses a fixed std",
                "orthogonal": "orthogonal init does not depend on the fan",
            }.get(scheme, ""),
        )
        self._enable(
            self.init_distribution,
            scheme in ("he", "xavier", "lecun"),
            {
                "normal": "normal init draws from N(0, std²)",
                "orthogonal": "orthogonal init draws an orthogonal matrix",
            }.get(scheme, ""),
        )
        self._show(self.init_std, scheme == "normal")
        if not resnet:
            reason = "a plain net has no residual branches" if plain else "an MLP has no residual branches (no BN)"
        else:
            reason = "needs batch norm, which is off"
        self._enable(self.zero_init_residual, resnet and bn, reason)

        # optimiser
        name = self.optimizer.value()
        for edit, key in (
            (self.lr, "lr"),
            (self.momentum, "momentum"),
            (self.weight_decay, "weight_decay"),
            (self.betas, "betas"),
            (self.eps, "eps"),
            (self.alpha, "alpha"),
        ):
            default = torch_default(name, key)
            edit.setPlaceholderText("—" if default is None else f"default: {_fmt(default)}")
        title = _OPTIM_NAMES[name]
        self._enable(
            self.momentum,
            name in ("sgd", "rmsprop"),
            f"momentum applies to SGD and RMSprop; {title} has none"
            + (" (use betas)" if name in ("adam", "adamw") else ""),
        )
        if name != "sgd":
            self._enable(self.nesterov, False, f"Nesterov needs SGD, not {title}")
        else:
            self._enable(self.nesterov, self._momentum_positive(), "Nesterov needs momentum > 0")
        self._enable(self.betas, name in ("adam", "adamw"), f"betas apply to Adam and AdamW, not {title}")
        self._enable(self.eps, name != "sgd", "SGD has no epsilon")
        self._enable(self.alpha, name == "rmsprop", f"alpha is RMSprop's smoothing constant; {title} has none")
        step = self.schedule.value() == "step"
        self._enable(self.milestones, step, "milestones apply to the step schedule")
        self._enable(self.gamma, step, "gamma applies to the step schedule")

        # training
        epochs = self.length_epochs.isChecked()
        self._show(self.steps, not epochs)
        self._show(self.epochs, epochs)
        self._enable(self.probe_every, self.probes.isChecked(), "per-layer probes are off")

        # data
        dataset = self.dataset.value()
        self._enable(self.data_root, dataset != "embedded", "the embedded set is generated in memory")
        self.browse_root.setEnabled(dataset != "embedded")
        self._enable(
            self.download,
            dataset in TORCHVISION_SETS,
            "only the torchvision sets (CIFAR-10/100, MNIST, Fashion-MNIST, SVHN) can be downloaded",
        )
        self.data_root.setPlaceholderText(
            "required: an ImageFolder tree" if dataset == "folder" else _home_short(default_data_root())
        )

        self._update_error()

    def _update_error(self) -> None:
        try:
            config = self.config()
            try:
                device = resolve_device(config.train.device)
            except ConfigError:  # a device of another machine (shown, not an error): check building only
                device = None
            check_fits(config, device)  # a run that cannot fit in this machine's memory is refused here
            self._error = ""
        except ConfigError as exc:
            self._error = str(exc)
        except Exception as exc:  # noqa: BLE001 - never raise into the event loop
            self._error = f"{type(exc).__name__}: {exc}"
        self.error_label.setText(self._error)
        self.error_label.setVisible(bool(self._error))

    # ------------------------------------------------------------------------------------------ API

    def error_text(self) -> str:
        """``""`` when the controls make a valid config that fits this machine's memory, else the
        :class:`ConfigError` message (one line)."""
        return self._error

    def config(self) -> RunConfig:
        """The validated config the controls show; disabled / hidden controls contribute the dataclass
        defaults. Raises :class:`ConfigError` for an invalid value or combination."""
        base = self._base

        def on(widget: QtWidgets.QWidget) -> bool:
            return widget.isEnabled()

        def shown(widget: QtWidgets.QWidget) -> bool:
            form = self._forms[widget]
            return form.isRowVisible(self._labels.get(widget, widget))

        def number(edit: NumberEdit, default: Any) -> Any:
            value = edit.value()
            return default if value is None else value

        arch = self.arch.value()
        variant = self.shortcut_variant.value() if on(self.shortcut_variant) else "identity"
        model = ModelConfig(
            arch=arch,
            depth=self.depth.value(),
            width=self.width.value() or None,
            block=self.block.value() if on(self.block) else "basic",
            shortcut=self.shortcut.value() if on(self.shortcut) else "A",
            shortcut_variant=variant,
            shortcut_scale=number(self.shortcut_scale, ModelConfig.shortcut_scale)
            if shown(self.shortcut_scale)
            else ModelConfig.shortcut_scale,
            shortcut_dropout=number(self.shortcut_dropout, ModelConfig.shortcut_dropout)
            if shown(self.shortcut_dropout)
            else ModelConfig.shortcut_dropout,
            after_add=self.after_add.value() if on(self.after_add) else None,
            batch_norm=self.batch_norm.value(),
            activation=self.activation.value(),
            leaky_slope=number(self.leaky_slope, ModelConfig.leaky_slope)
            if shown(self.leaky_slope)
            else ModelConfig.leaky_slope,
            stochastic_depth=self.stochastic_depth.isChecked() if on(self.stochastic_depth) else False,
            residual=self.residual.isChecked() if on(self.residual) else False,
        )
        scheme = self.init_scheme.value()
        init = InitConfig(
            scheme=scheme,
            mode=self.init_mode.value() if on(self.init_mode) else InitConfig.mode,
            distribution=self.init_distribution.value() if on(self.init_distribution) else InitConfig.distribution,
            std=number(self.init_std, InitConfig.std) if shown(self.init_std) else InitConfig.std,
            zero_init_residual=self.zero_init_residual.isChecked() if on(self.zero_init_residual) else False,
        )
        optim = OptimConfig(
            name=self.optimizer.value(),
            lr=self.lr.value(),
            momentum=self.momentum.value() if on(self.momentum) else None,
            nesterov=self.nesterov.isChecked() if on(self.nesterov) else False,
            weight_decay=self.weight_decay.value(),
            betas=self.betas.value() if on(self.betas) else None,  # type: ignore[arg-type]
            eps=self.eps.value() if on(self.eps) else None,
            alpha=self.alpha.value() if on(self.alpha) else None,
            schedule=self.schedule.value(),
            milestones=(self.milestones.value() or OptimConfig.milestones)
            if on(self.milestones)
            else OptimConfig.milestones,
            gamma=number(self.gamma, OptimConfig.gamma) if on(self.gamma) else OptimConfig.gamma,
            warmup_steps=self.warmup_steps.value(),
        )
        dataset = self.dataset.value()
        data = DataConfig(
            dataset=dataset,
            root=(self.data_root.text().strip() or None) if on(self.data_root) else None,
            download=self.download.isChecked() if on(self.download) else False,
            subset=self.subset.value() or None,
            augment=self.augment.isChecked(),
            normalize=self.normalize.isChecked(),
            embedded_seed=base.data.embedded_seed,
        )
        steps: int | None = None
        epochs: float | None = None
        if self.length_epochs.isChecked():
            epochs = self.epochs.value()
            if epochs is None:
                raise ConfigError("train.epochs", "", "enter the number of epochs (or choose steps)")
        else:
            steps = self.steps.value() or None
        train = dataclasses.replace(
            base.train,
            batch_size=self.batch_size.value(),
            steps=steps,
            epochs=epochs,
            eval_every=self.eval_every.value(),
            device=self.device.value(),
            seed=self.seed.value(),
            probes=self.probes.isChecked(),
            probe_every=self.probe_every.value() if on(self.probe_every) else TrainConfig.probe_every,
        )
        return RunConfig(model=model, init=init, optim=optim, data=data, train=train).validate()

    def set_config(self, cfg: RunConfig) -> None:
        """Show ``cfg`` (emits nothing); :meth:`config` then returns it unchanged, except for values of
        controls disabled for it (e.g. a plain net's shortcut type), which come back as the defaults.
        Values the controls cannot hold are clamped; an invalid config is shown with its error."""
        self._load(cfg)

    def reset_to_defaults(self) -> None:
        """Show ``RunConfig()``'s defaults (emits nothing)."""
        self._load(RunConfig())

    def _load(self, cfg: RunConfig) -> None:
        self._base = copy.deepcopy(cfg)
        m, i, o, d, t = cfg.model, cfg.init, cfg.optim, cfg.data, cfg.train
        self._quiet += 1
        try:
            self.arch.set_value(m.arch)
            self.block.set_value(m.block)
            self.depth.set_rule(m.arch, m.block)
            self.depth.setValue(m.depth)
            self.width.setValue(m.width or 0)
            self.shortcut.set_value(m.shortcut)
            self.shortcut_variant.set_value(m.shortcut_variant)
            self.shortcut_scale.set_value(m.shortcut_scale)
            self.shortcut_dropout.set_value(m.shortcut_dropout)
            self.after_add.set_value(m.after_add)
            self.batch_norm.set_value(m.batch_norm)
            self.activation.set_value(m.activation)
            self.leaky_slope.set_value(m.leaky_slope)
            self.stochastic_depth.setChecked(bool(m.stochastic_depth))
            self.residual.setChecked(bool(m.residual))

            self.init_scheme.set_value(i.scheme)
            self.init_mode.set_value(i.mode)
            self.init_distribution.set_value(i.distribution)
            self.init_std.set_value(i.std)
            self.zero_init_residual.setChecked(bool(i.zero_init_residual))

            self.optimizer.set_value(o.name)
            self.lr.set_value(o.lr)
            self.momentum.set_value(o.momentum)
            self.nesterov.setChecked(bool(o.nesterov))
            self.weight_decay.set_value(o.weight_decay)
            self.betas.set_value(o.betas)
            self.eps.set_value(o.eps)
            self.alpha.set_value(o.alpha)
            self.schedule.set_value(o.schedule)
            self.milestones.set_value(o.milestones)
            self.gamma.set_value(o.gamma)
            self.warmup_steps.setValue(int(o.warmup_steps))

            self.batch_size.setValue(int(t.batch_size))
            (self.length_epochs if t.epochs is not None else self.length_steps).setChecked(True)
            self.steps.setValue(int(t.steps or 0))
            self.epochs.set_value(t.epochs)
            self.eval_every.setValue(int(t.eval_every))
            self.seed.setValue(int(t.seed))
            self.probes.setChecked(bool(t.probes))
            self.probe_every.setValue(int(t.probe_every))
            self._set_device(t.device)

            self.dataset.set_value(d.dataset)
            self.data_root.setText(d.root or "")
            self.download.setChecked(bool(d.download))
            self.subset.setValue(int(d.subset or 0))
            self.augment.setChecked(bool(d.augment))
            self.normalize.setChecked(bool(d.normalize))
            self._sync(snap=False)
        finally:
            self._quiet -= 1

    def _set_device(self, name: str) -> None:
        """Select a device, adding an entry for one this machine does not have (so it round-trips)."""
        if name not in self.device.values():
            self.device.addItem(f"{name} (not available here)", name)
            self.device.setItemData(
                self.device.count() - 1,
                "This device is not available on this machine.",
                QtCore.Qt.ItemDataRole.ToolTipRole,
            )
        self.device.set_value(name)


__all__ = [
    "Choice",
    "ConfigPanel",
    "DepthSpinBox",
    "DoublingSpinBox",
    "ListEdit",
    "NumberEdit",
    "Segmented",
    "torch_default",
]
