"""Validated run configuration: what to build, how to initialise, optimise, feed and train it.

A :class:`RunConfig` is four plain dataclasses (model, init, optim, data, train). Every value is
checked by :meth:`RunConfig.validate`; a bad value raises :class:`ConfigError`, whose message names
the field, the value and what is allowed. ``to_dict``/``from_dict`` round-trip through JSON.

Fields left at ``None`` mean "the default": :meth:`RunConfig.resolved` fills the defaults that depend
on other fields (width, after-add mapping, batch norm), optimiser hyperparameters left unset take
``torch.optim``'s own defaults.

Types are checked from the dataclass annotations in one place (:func:`check_field_types`): JSON
``true``/``false`` only for booleans, integers for ints, finite numbers for floats, text for strings.
Sizes are bounded (:data:`MAX_DEPTH`, :data:`MAX_STEPS`, ...) so that no check allocates in proportion
to a value; whether a valid config fits this machine's memory is :mod:`resnet_viz.models.budget`'s job.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import reprlib
import stat
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ARCHS = ("plain", "resnet", "mlp")
BLOCKS = ("basic", "bottleneck", "preact")
SHORTCUTS = ("A", "B", "C")
SHORTCUT_VARIANTS = ("identity", "scale", "exclusive_gate", "shortcut_gate", "conv1x1", "dropout")
AFTER_ADD = ("relu", "bn_relu", "none")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
INITS = ("he", "xavier", "lecun", "normal", "orthogonal")
INIT_MODES = ("fan_in", "fan_out")
INIT_DISTRIBUTIONS = ("normal", "uniform")
OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")
DATASETS = ("embedded", "cifar10", "cifar100", "mnist", "fashion-mnist", "svhn", "folder")
DEVICES = ("auto", "cpu", "cuda", "mps")

#: Default base width of the CIFAR family (He et al. 2016) and hidden width of the MLP.
DEFAULT_CONV_WIDTH = 16
DEFAULT_MLP_WIDTH = 256
DEFAULT_STEPS = 2000

#: Upper bounds, chosen far above any sensible run so that they only stop absurd values. The deepest
#: nets of the papers have 1202 (He et al. 2016a) and 1001 (He et al. 2016b) weight layers.
MAX_DEPTH = 10_000
MAX_WIDTH = 4096
MAX_BATCH_SIZE = 65_536
MAX_STEPS = 1_000_000_000  # also bounds eval_every, warmup_steps, probe_every, histogram_every
MAX_EPOCHS = 100_000
MAX_SAMPLES = 1_000_000_000  # subset, eval_train_samples (no dataset here has more images)
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds both take it (the engine also uses seed + 1)
#: Largest config file read (a run folder's run.json of a 1202-layer net is well under 1 MB).
MAX_CONFIG_BYTES = 16 * 2**20
#: First bytes of a zip file: a saved session (.rvsession) is one.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

_SHORT = reprlib.Repr()
_SHORT.maxstring = 300  # file paths are shown whole
_SHORT.maxother = 80
_SHORT.maxlevel = 2
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to 300 characters of text, 80 of anything else and two levels of nesting (never raises)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    try:
        return _SHORT.repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails still gets a message
        return f"<{type(value).__name__}>"


def one_line(text: str, limit: int = 400) -> str:
    """``text`` with every line break replaced by a space, cut to ``limit`` characters."""
    text = " ".join(str(text).splitlines())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ConfigError(ValueError):
    """A configuration value is not allowed. ``field`` is its dotted path, e.g. ``model.depth``.

    The message is always one line: ``field = value is not allowed: allowed`` with the value's repr
    shortened (:func:`short_repr`).
    """

    def __init__(self, field_name: str, value: Any, allowed: str) -> None:
        self.field = field_name
        self.value = value
        self.allowed = allowed
        super().__init__(one_line(f"{one_line(field_name, 80)} = {short_repr(value)} is not allowed: {allowed}", 1000))


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(name, value, "choose one of " + ", ".join(choices))


def _number(
    name: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> None:
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        raise ConfigError(name, value, f"must be {kind}")
    below = lo is not None and (value <= lo if lo_open else value < lo)
    above = hi is not None and (value >= hi if hi_open else value > hi)
    if below or above:
        parts = []
        if lo is not None:
            parts.append(f"{'>' if lo_open else '≥'} {_bound(lo)}")
        if hi is not None:
            parts.append(f"{'<' if hi_open else '≤'} {_bound(hi)}")
        raise ConfigError(name, value, f"must be {kind} " + " and ".join(parts))


def is_valid_depth(depth: int, arch: str, block: str) -> bool:
    """Whether ``depth`` weight layers make a net of this arch and block (arithmetic, O(1))."""
    if arch == "mlp":
        return 1 <= depth <= MAX_DEPTH
    step = 9 if block == "bottleneck" else 6
    return step + 2 <= depth <= MAX_DEPTH and (depth - 2) % step == 0


def _bound(x: float) -> str:
    """A bound as text: ``1000000000`` (not ``1e+09``) for whole numbers, ``0.5`` otherwise."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def valid_depths(arch: str, block: str, limit: int = 2000) -> list[int]:
    """All valid depths (number of weight layers) up to ``limit`` for an architecture and block."""
    if arch == "mlp":
        return list(range(1, limit + 1))
    step = 9 if block == "bottleneck" else 6
    return list(range(step + 2, limit + 1, step))


def depth_rule(arch: str, block: str) -> str:
    """Human-readable rule for valid depths, e.g. ``6n+2 with n ≥ 1 (8, 14, 20, ...)``."""
    if arch == "mlp":
        return "an integer ≥ 1 (number of linear layers)"
    if block == "bottleneck":
        return "9n+2 with n ≥ 1 for bottleneck blocks (11, 20, 29, ..., 56, 164)"
    return f"6n+2 with n ≥ 1 for {block} blocks (8, 14, 20, 32, 44, 56, 110, 1202)"


def nearest_valid_depths(depth: int, arch: str, block: str) -> list[int]:
    """The valid depths just below and just above ``depth`` (one or two values)."""
    if arch == "mlp":
        return [max(1, depth)]
    step = 9 if block == "bottleneck" else 6
    lower = ((depth - 2) // step) * step + 2
    out = [d for d in (lower, lower + step) if step + 2 <= d <= MAX_DEPTH]
    return out or [step + 2]


def _describe_type(hint: Any) -> str:
    """What a value of type ``hint`` looks like in JSON, e.g. ``an integer or null``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe_type(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return "a list of finite numbers"
        return f"a list of {len(args)} finite numbers"
    return {
        bool: "true or false (a JSON boolean)",
        int: "an integer",
        float: "a finite number",
        str: "text",
        type(None): "null (the default)",
    }[hint]


def _has_type(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the (annotation) type ``hint``; floats must be finite, ints are not bools."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, a) for a in args)
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            return False
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        return len(items) == len(value) and all(_has_type(v, h) for v, h in zip(value, items))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        try:
            return math.isfinite(float(value))
        except OverflowError:  # an integer beyond the float range
            return False
    return isinstance(value, hint)


@functools.cache
def _field_types(klass: type) -> dict[str, Any]:
    return typing.get_type_hints(klass)


def check_field_types(section: str, obj: Any) -> None:
    """Every field of the dataclass ``obj`` has its annotated type (JSON booleans for bools, integers
    for ints, finite numbers for floats, ...); else :class:`ConfigError` naming ``section.field``."""
    for name, hint in _field_types(type(obj)).items():
        value = getattr(obj, name)
        if not _has_type(value, hint):
            raise ConfigError(f"{section}.{name}", value, "must be " + _describe_type(hint))


@dataclass
class ModelConfig:
    """Network architecture. ``depth`` counts weight layers (convs + the final linear layer)."""

    arch: str = "resnet"
    depth: int = 20
    width: int | None = None  # None: 16 for plain/resnet (base width), 256 for mlp (hidden width)
    block: str = "basic"
    shortcut: str = "A"  # on dimension change: A zero-pad, B projection where shape changes, C everywhere
    shortcut_variant: str = "identity"  # h(x) of Identity Mappings (He et al. 2016b)
    shortcut_scale: float = 0.5  # lambda for variant "scale"
    shortcut_dropout: float = 0.5  # p for variant "dropout"
    after_add: str | None = None  # None: "relu" (basic, bottleneck), "none" (preact)
    batch_norm: bool | None = None  # None: True for plain/resnet, False for mlp
    activation: str = "relu"
    leaky_slope: float = 0.01
    stochastic_depth: bool = False  # linear decay of survival probability from 1 to 0.5
    residual: bool = False  # mlp only: identity skip around every hidden layer

    def validate(self) -> None:
        check_field_types("model", self)
        _choice("model.arch", self.arch, ARCHS)
        _choice("model.block", self.block, BLOCKS)
        _number("model.depth", self.depth, lo=1, integer=True)
        if self.depth > MAX_DEPTH:
            raise ConfigError(
                "model.depth",
                self.depth,
                f"at most {MAX_DEPTH} weight layers (the deepest nets of the papers have 1202 and 1001)",
            )
        if not is_valid_depth(self.depth, self.arch, self.block):
            near = " and ".join(str(d) for d in nearest_valid_depths(self.depth, self.arch, self.block))
            raise ConfigError(
                "model.depth", self.depth, f"depth must be {depth_rule(self.arch, self.block)}; nearest valid: {near}"
            )
        if self.width is not None:
            _number("model.width", self.width, lo=1, hi=MAX_WIDTH, integer=True)
        _choice("model.shortcut", self.shortcut, SHORTCUTS)
        _choice("model.shortcut_variant", self.shortcut_variant, SHORTCUT_VARIANTS)
        _number("model.shortcut_scale", self.shortcut_scale, lo=0.0)
        _number("model.shortcut_dropout", self.shortcut_dropout, lo=0.0, hi=1.0, hi_open=True)
        if self.after_add is not None:
            _choice("model.after_add", self.after_add, AFTER_ADD)
            if self.block == "preact" and self.after_add != "none":
                raise ConfigError(
                    "model.after_add",
                    self.after_add,
                    "preact blocks have nothing after the addition; use 'none' or leave unset",
                )
        if self.batch_norm is not None and not isinstance(self.batch_norm, bool):
            raise ConfigError("model.batch_norm", self.batch_norm, "must be true or false")
        if self.after_add == "bn_relu" and self.batch_norm is False:
            raise ConfigError("model.after_add", self.after_add, "bn_relu needs batch norm; drop --no-bn")
        _choice("model.activation", self.activation, ACTIVATIONS)
        _number("model.leaky_slope", self.leaky_slope, lo=0.0, hi=1.0)
        if self.stochastic_depth and self.arch != "resnet":
            raise ConfigError("model.stochastic_depth", True, "stochastic depth needs arch 'resnet'")
        if self.residual and self.arch != "mlp":
            raise ConfigError(
                "model.residual", True, "residual applies to arch 'mlp' (use arch 'resnet' for convolutional nets)"
            )

    def resolved(self) -> ModelConfig:
        """A copy with every ``None`` default filled in."""
        conv = self.arch != "mlp"
        return dataclasses.replace(
            self,
            width=self.width if self.width is not None else (DEFAULT_CONV_WIDTH if conv else DEFAULT_MLP_WIDTH),
            after_add=self.after_add if self.after_add is not None else ("none" if self.block == "preact" else "relu"),
            batch_norm=self.batch_norm if self.batch_norm is not None else conv,
        )


@dataclass
class InitConfig:
    """Weight initialisation through ``torch.nn.init``; biases start at zero, BN at gamma=1, beta=0."""

    scheme: str = "he"
    mode: str = "fan_in"  # he, lecun: which fan keeps the variance
    distribution: str = "normal"  # he, xavier, lecun: normal or uniform with the same variance
    std: float = 0.01  # scheme "normal": N(0, std^2)
    zero_init_residual: bool = False  # last BN of each residual branch starts at gamma = 0

    def validate(self) -> None:
        check_field_types("init", self)
        _choice("init.scheme", self.scheme, INITS)
        _choice("init.mode", self.mode, INIT_MODES)
        _choice("init.distribution", self.distribution, INIT_DISTRIBUTIONS)
        _number("init.std", self.std, lo=0.0, lo_open=True)


@dataclass
class OptimConfig:
    """Optimiser (``torch.optim``) and learning-rate schedule (``torch.optim.lr_scheduler``).

    Hyperparameters left at ``None`` take torch.optim's defaults. ``milestones`` are fractions of
    the total number of steps (He et al.: 32k and 48k of 64k = 0.5, 0.75), each dividing lr by 10.
    """

    name: str = "sgd"
    lr: float | None = None
    momentum: float | None = None  # sgd, rmsprop
    nesterov: bool = False  # sgd with momentum > 0
    weight_decay: float | None = None
    betas: tuple[float, float] | None = None  # adam, adamw
    eps: float | None = None  # adagrad, rmsprop, adam, adamw
    alpha: float | None = None  # rmsprop smoothing constant
    schedule: str = "constant"
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.1  # step schedule: lr multiplier at each milestone
    warmup_steps: int = 0  # linear warm-up from lr/10 over this many steps, before the schedule

    def validate(self) -> None:
        check_field_types("optim", self)
        _choice("optim.name", self.name, OPTIMIZERS)
        if self.lr is not None:
            _number("optim.lr", self.lr, lo=0.0, lo_open=True)
        if self.momentum is not None:
            if self.name not in ("sgd", "rmsprop"):
                raise ConfigError(
                    "optim.momentum",
                    self.momentum,
                    f"momentum applies to sgd and rmsprop, not {self.name} (use betas for adam)",
                )
            _number("optim.momentum", self.momentum, lo=0.0, hi=1.0, hi_open=True)
        if self.nesterov and (self.name != "sgd" or not self.momentum):
            raise ConfigError("optim.nesterov", True, "Nesterov needs optimiser sgd with momentum > 0")
        if self.weight_decay is not None:
            _number("optim.weight_decay", self.weight_decay, lo=0.0)
        if self.betas is not None:
            if self.name not in ("adam", "adamw"):
                raise ConfigError("optim.betas", self.betas, "betas apply to adam and adamw")
            if len(self.betas) != 2:
                raise ConfigError("optim.betas", self.betas, "two numbers in [0, 1)")
            for b in self.betas:
                _number("optim.betas", b, lo=0.0, hi=1.0, hi_open=True)
        if self.eps is not None:
            if self.name == "sgd":
                raise ConfigError("optim.eps", self.eps, "eps does not apply to sgd")
            _number("optim.eps", self.eps, lo=0.0, lo_open=True)
        if self.alpha is not None:
            if self.name != "rmsprop":
                raise ConfigError("optim.alpha", self.alpha, "alpha applies to rmsprop")
            _number("optim.alpha", self.alpha, lo=0.0, hi=1.0)
        _choice("optim.schedule", self.schedule, SCHEDULES)
        prev = 0.0
        for m in self.milestones:
            _number("optim.milestones", m, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
            if m <= prev:
                raise ConfigError(
                    "optim.milestones", self.milestones, "increasing fractions of the run in (0, 1), e.g. 0.5,0.75"
                )
            prev = m
        _number("optim.gamma", self.gamma, lo=0.0, hi=1.0, lo_open=True)
        _number("optim.warmup_steps", self.warmup_steps, lo=0, hi=MAX_STEPS, integer=True)

    def torch_kwargs(self) -> dict[str, Any]:
        """Only the hyperparameters the user set, named as torch.optim names them."""
        kw: dict[str, Any] = {}
        for name in ("lr", "momentum", "weight_decay", "eps", "alpha"):
            value = getattr(self, name)
            if value is not None:
                kw[name] = value
        if self.betas is not None:
            kw["betas"] = tuple(self.betas)
        if self.nesterov:
            kw["nesterov"] = True
        return kw


@dataclass
class DataConfig:
    """Dataset and input pipeline. ``root`` holds the torchvision on-disk layout (or an ImageFolder tree)."""

    dataset: str = "embedded"
    root: str | None = None  # None: the per-user cache (see resnet_viz.data.default_data_root)
    download: bool = False
    subset: int | None = None  # use only the first N training images
    augment: bool = True  # pad 4 + random 32x32 crop + horizontal flip, on the training device
    normalize: bool = True  # per-channel mean/std of the training split
    embedded_seed: int = 0  # the embedded set is the same for every run unless this changes

    def validate(self) -> None:
        check_field_types("data", self)
        _choice("data.dataset", self.dataset, DATASETS)
        if self.dataset == "folder" and not self.root:
            raise ConfigError("data.root", self.root, "dataset 'folder' needs --data-root with an ImageFolder tree")
        if self.root is not None and ("\x00" in self.root or len(self.root) > 4096):
            raise ConfigError("data.root", self.root, "a folder path (no NUL character, at most 4096 characters)")
        if self.subset is not None:
            _number("data.subset", self.subset, lo=1, hi=MAX_SAMPLES, integer=True)
        _number("data.embedded_seed", self.embedded_seed, lo=0, hi=MAX_SEED, integer=True)


@dataclass
class TrainConfig:
    """Training loop: length, evaluation, probes, device, seed.

    Exactly one of ``steps`` and ``epochs`` may be set; neither means ``DEFAULT_STEPS`` steps.
    """

    batch_size: int = 128
    steps: int | None = None
    epochs: float | None = None
    eval_every: int = 100  # steps between evaluations (eval mode on test set and a train sample)
    eval_train_samples: int = 10_000  # size of the fixed training sample for train error
    device: str = "auto"
    seed: int = 0
    probes: bool = True  # per-layer statistics
    probe_every: int = 1  # record per-layer statistics every K steps (1: every step)
    histogram_every: int = 0  # 0: off; else activation/gradient histograms every K steps
    histogram_bins: int = 64
    deterministic: bool = True  # torch.use_deterministic_algorithms where the device allows

    def validate(self) -> None:
        check_field_types("train", self)
        _number("train.batch_size", self.batch_size, lo=1, hi=MAX_BATCH_SIZE, integer=True)
        if self.steps is not None and self.epochs is not None:
            raise ConfigError("train.epochs", self.epochs, "set either steps or epochs, not both")
        if self.steps is not None:
            _number("train.steps", self.steps, lo=1, hi=MAX_STEPS, integer=True)
        if self.epochs is not None:
            _number("train.epochs", self.epochs, lo=0.0, hi=MAX_EPOCHS, lo_open=True)
        _number("train.eval_every", self.eval_every, lo=1, hi=MAX_STEPS, integer=True)
        _number("train.eval_train_samples", self.eval_train_samples, lo=1, hi=MAX_SAMPLES, integer=True)
        dev = self.device
        if not (isinstance(dev, str) and (dev in DEVICES or (dev.startswith("cuda:") and dev[5:].isdigit()))):
            raise ConfigError("train.device", dev, "choose one of " + ", ".join(DEVICES) + " (or cuda:N)")
        _number("train.seed", self.seed, lo=0, hi=MAX_SEED, integer=True)
        _number("train.probe_every", self.probe_every, lo=1, hi=MAX_STEPS, integer=True)
        _number("train.histogram_every", self.histogram_every, lo=0, hi=MAX_STEPS, integer=True)
        _number("train.histogram_bins", self.histogram_bins, lo=2, hi=4096, integer=True)


SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "init": InitConfig,
    "optim": OptimConfig,
    "data": DataConfig,
    "train": TrainConfig,
}


@dataclass
class RunConfig:
    """Everything that defines one training run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    init: InitConfig = field(default_factory=InitConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> RunConfig:
        """Check every field and the combinations; return ``self`` for chaining."""
        for name in SECTIONS:
            getattr(self, name).validate()
        m = self.model.resolved()
        if m.arch == "mlp" and m.block != "basic":
            raise ConfigError("model.block", m.block, "blocks apply to plain/resnet; an mlp has linear layers")
        if m.arch == "plain" and m.shortcut_variant != "identity":
            raise ConfigError(
                "model.shortcut_variant", m.shortcut_variant, "a plain net has no shortcuts; use arch 'resnet'"
            )
        if self.init.zero_init_residual and not (m.arch == "resnet" and m.batch_norm):
            raise ConfigError("init.zero_init_residual", True, "needs arch 'resnet' with batch norm")
        return self

    def resolved(self) -> RunConfig:
        """A validated copy with the dependent defaults filled in (optimiser defaults stay torch's)."""
        self.validate()
        return dataclasses.replace(self, model=self.model.resolved())

    def label(self) -> str:
        """Short automatic name, e.g. ``"resnet-56 · he · sgd 0.1"`` or ``"mlp-20 sigmoid residual · xavier · adam"``."""
        m = self.model.resolved()
        name = f"{m.arch}-{m.depth}"
        if m.arch != "mlp" and m.block != "basic":
            name += f" {m.block}"
        if m.arch == "resnet":
            if m.shortcut != "A":
                name += f" {m.shortcut}"
            if m.shortcut_variant != "identity":
                name += f" {m.shortcut_variant}"
            if m.after_add not in ("relu", "none"):
                name += f" {m.after_add}"
        if m.activation != "relu":
            name += f" {m.activation}"
        if m.arch == "mlp" and m.residual:
            name += " residual"
        if not m.batch_norm and m.arch != "mlp":
            name += " no-bn"
        if m.arch == "mlp" and m.batch_norm:
            name += " bn"
        init = self.init.scheme if self.init.scheme != "normal" else f"normal({self.init.std:g})"
        optim = "nesterov" if self.optim.nesterov else self.optim.name
        if self.optim.lr is not None:
            optim += f" {self.optim.lr:g}"
        if self.optim.momentum:
            optim += f" m{self.optim.momentum:g}"
        return f"{name} · {init} · {optim}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build from a dict shaped like :meth:`to_dict`; unknown keys are errors. Validates."""
        if not isinstance(data, dict):
            raise ConfigError("config", type(data).__name__, "a JSON object with sections " + ", ".join(SECTIONS))
        unknown = set(data) - set(SECTIONS)
        if unknown:
            raise ConfigError(
                sorted(unknown)[0], data[sorted(unknown)[0]], "unknown section; allowed: " + ", ".join(SECTIONS)
            )
        parts = {}
        for name, klass in SECTIONS.items():
            section = data.get(name, {})
            if not isinstance(section, dict):
                raise ConfigError(name, section, "a JSON object")
            known = {f.name for f in fields(klass)}
            for key in section:
                if key not in known:
                    raise ConfigError(
                        f"{name}.{key}", section[key], "unknown field; allowed: " + ", ".join(sorted(known))
                    )
            values = dict(section)
            hints = _field_types(klass)
            for key, value in values.items():  # JSON lists become the tuples the annotations name
                if isinstance(value, list) and "tuple" in str(hints[key]):
                    values[key] = tuple(value)
            parts[name] = klass(**values)
        return cls(**parts).validate()

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a config JSON file, or a run folder's ``run.json`` (its ``config`` entry). Validates.

        Anything that is not a readable UTF-8 JSON file of at most :data:`MAX_CONFIG_BYTES` (a folder
        without run.json, a FIFO or device, a saved session, binary data, nesting too deep for the
        parser) raises :class:`ConfigError` naming the file.
        """
        path = Path(path)
        text = read_config_text(path)
        try:
            data = json.loads(text)
        except RecursionError:
            raise ConfigError(
                "config", str(path), "JSON nested less deeply (the parser's recursion limit was reached)"
            ) from None
        except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
            raise ConfigError("config", str(path), f"valid JSON ({exc})") from None
        if isinstance(data, dict) and "config" in data:
            data = data["config"]
        return cls.from_dict(data)


def read_config_text(path: Path) -> str:
    """The text of config file ``path`` (a run folder means its run.json); :class:`ConfigError` if it is
    missing, not a regular file (a FIFO is refused without opening it for a blocking read), unreadable,
    larger than :data:`MAX_CONFIG_BYTES`, a zip (a saved session), binary or not UTF-8."""
    shown = str(path)
    try:
        if path.is_dir():
            if not (path / "run.json").is_file():
                raise ConfigError(
                    "config",
                    shown,
                    "a config JSON file, or a run folder containing run.json (this folder has no run.json)",
                )
            path = path / "run.json"
            shown = str(path)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ConfigError("config", shown, "an existing JSON file (e.g. a run folder's run.json)") from None
    except PermissionError:
        raise ConfigError("config", shown, "a readable file (permission denied)") from None
    except OSError as exc:
        raise ConfigError("config", shown, f"a readable file ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a FIFO"
                if stat.S_ISFIFO(mode)
                else "a device"
                if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode))
                else "a socket"
                if stat.S_ISSOCK(mode)
                else "not a regular file"
            )
            raise ConfigError("config", shown, f"a regular JSON file (this is {kind})")
        try:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError("config", shown, f"a readable file ({exc.strerror or exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            "config", shown, f"a config file of at most {MAX_CONFIG_BYTES // 2**20} MB (this one is larger)"
        )
    if raw.startswith(ZIP_MAGIC):
        raise ConfigError(
            "config",
            shown,
            f"a JSON config; this is a saved session (a zip file): open it with resnet-viz gui --session {shown}",
        )
    if b"\x00" in raw:
        raise ConfigError("config", shown, "a JSON text file (this one holds NUL bytes: a binary file?)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "config", shown, f"UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start} is not UTF-8)"
        ) from None
