"""The cross-field rules: when a field (or one of its options) applies, and why not when it does not.

One table serves two clients. :meth:`Section.validate` and :meth:`RunConfig.validate` raise
:class:`ConfigError` for an *enforced* rule that is broken (a value other than the default set while the
field does not apply); the setup panel disables (or hides) the control of every field whose rules do not
hold, with the reason in its tooltip. Reasons name fields by their dotted paths, never by CLI flags.

A rule's ``when`` reads one section (``scope="section"``, so the section can check itself) or the whole
:class:`~resnet_viz.config.RunConfig` (``scope="run"``); either way by attribute only, so this module
imports no section class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet_viz.config.depth import PREACT_BLOCKS
from resnet_viz.config.errors import ConfigError
from resnet_viz.config.values import field_defaults

#: ``Rule.option`` when the rule is about the field as a whole.
WHOLE_FIELD = object()
#: Datasets torchvision can download (every dataset but the embedded one and an image folder).
_NOT_DOWNLOADABLE = ("embedded", "folder")


@dataclass(frozen=True)
class Rule:
    """``path`` applies while ``when(obj)`` holds; ``why(obj)`` says why it does not.

    ``enforced``: a value other than the field's default (or one of ``neutral``) while it does not apply
    is a :class:`ConfigError` (else the value is merely ignored, and the panel disables the control).
    ``option``: the rule is about one value of the field (e.g. ``after_add = "bn_relu"``).
    ``required``: the field must be set while ``when`` holds. ``hide``: the panel hides the row rather
    than disabling it. ``scope``: what ``obj`` is, the field's section or the whole run config.
    """

    path: str
    when: Callable[[Any], bool]
    why: Callable[[Any], str]
    enforced: bool = True
    option: Any = WHOLE_FIELD
    neutral: tuple[Any, ...] = ()
    required: bool = False
    hide: bool = False
    scope: str = "section"

    @property
    def section(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.path.split(".", 1)[1]


def _says(text: str) -> Callable[[Any], str]:
    return lambda _obj: text


def batch_norm_on(model: Any) -> bool:
    """Whether a model section has batch norm (``None`` means on for conv nets, off for the MLP)."""
    return bool(model.batch_norm) if model.batch_norm is not None else model.arch != "mlp"


def _no_shortcut(model: Any) -> str:
    return "a plain net has no shortcuts" if model.arch == "plain" else "an MLP has no shortcuts (see model.residual)"


_INIT_MODE_WHY = {
    "xavier": "Xavier averages fan_in and fan_out",
    "normal": "normal init uses a fixed std",
    "orthogonal": "orthogonal init does not depend on the fan",
}
_INIT_DISTRIBUTION_WHY = {
    "normal": "normal init draws from N(0, std²)",
    "orthogonal": "orthogonal init draws an orthogonal matrix",
}

#: Why the init fields do not apply to a run that starts from a checkpoint (not enforced: ignored then).
_FROM_FILE_WHY = "the weights come from init.from_file (clear it to initialise)"


def _zero_init_why(run: Any) -> str:
    m = run.model
    if m.arch != "resnet":
        net = "a plain net" if m.arch == "plain" else "an MLP"
        return f"needs arch 'resnet' with batch norm ({net} has no residual branches)"
    return "needs arch 'resnet' with batch norm (model.batch_norm is off)"


def _momentum_why(optim: Any) -> str:
    hint = " (use optim.betas for adam)" if optim.name in ("adam", "adamw") else ""
    return f"momentum applies to sgd and rmsprop, not {optim.name}{hint}"


RULES: tuple[Rule, ...] = (
    # model
    Rule("model.block", lambda m: m.arch != "mlp", _says("blocks apply to plain/resnet; an MLP has linear layers")),
    Rule("model.shortcut", lambda m: m.arch == "resnet", _no_shortcut, enforced=False),
    Rule("model.shortcut_variant", lambda m: m.arch == "resnet", lambda m: _no_shortcut(m) + "; use arch 'resnet'"),
    Rule(
        "model.shortcut_scale",
        lambda m: m.arch == "resnet" and m.shortcut_variant == "scale",
        _says("λ applies to the shortcut variant 'scale'"),
        enforced=False,
        hide=True,
    ),
    Rule(
        "model.shortcut_dropout",
        lambda m: m.arch == "resnet" and m.shortcut_variant == "dropout",
        _says("p applies to the shortcut variant 'dropout'"),
        enforced=False,
        hide=True,
    ),
    Rule(
        "model.after_add", lambda m: m.arch == "resnet", lambda m: _no_shortcut(m) + ", so no addition", enforced=False
    ),
    Rule(
        "model.after_add",
        lambda m: m.block not in PREACT_BLOCKS,
        _says("pre-activation blocks have nothing after the addition; use 'none' or leave it unset"),
        neutral=("none",),
    ),
    Rule(
        "model.after_add",
        batch_norm_on,
        _says("bn_relu needs batch norm, which is off (model.batch_norm)"),
        option="bn_relu",
    ),
    Rule(
        "model.leaky_slope",
        lambda m: m.activation == "leaky_relu",
        _says("the slope applies to activation 'leaky_relu'"),
        enforced=False,
        hide=True,
    ),
    Rule(
        "model.stochastic_depth",
        lambda m: m.arch == "resnet",
        _says("stochastic depth drops residual blocks; it needs arch 'resnet'"),
    ),
    Rule(
        "model.residual",
        lambda m: m.arch == "mlp",
        _says("residual applies to arch 'mlp' (use arch 'resnet' for convolutional nets)"),
    ),
    # initialisation
    *(
        Rule(f"init.{name}", lambda i: i.from_file is None, _says(_FROM_FILE_WHY), enforced=False)
        for name in ("scheme", "mode", "distribution", "std", "zero_init_residual")
    ),
    Rule(
        "init.mode", lambda i: i.scheme in ("he", "lecun"), lambda i: _INIT_MODE_WHY.get(i.scheme, ""), enforced=False
    ),
    Rule(
        "init.distribution",
        lambda i: i.scheme in ("he", "xavier", "lecun"),
        lambda i: _INIT_DISTRIBUTION_WHY.get(i.scheme, ""),
        enforced=False,
    ),
    Rule("init.std", lambda i: i.scheme == "normal", _says("std applies to init 'normal'"), enforced=False, hide=True),
    Rule(
        "init.zero_init_residual",
        lambda r: r.model.arch == "resnet" and batch_norm_on(r.model),
        _zero_init_why,
        scope="run",
    ),
    # optimiser
    Rule("optim.momentum", lambda o: o.name in ("sgd", "rmsprop"), _momentum_why),
    Rule(
        "optim.nesterov",
        lambda o: o.name == "sgd" and bool(o.momentum),
        _says("Nesterov needs optimiser sgd with momentum > 0"),
    ),
    Rule("optim.betas", lambda o: o.name in ("adam", "adamw"), _says("betas apply to adam and adamw")),
    Rule("optim.eps", lambda o: o.name != "sgd", _says("eps does not apply to sgd")),
    Rule("optim.alpha", lambda o: o.name == "rmsprop", _says("alpha applies to rmsprop (its smoothing constant)")),
    Rule(
        "optim.milestones",
        lambda o: o.schedule == "step",
        _says("milestones apply to the step schedule"),
        enforced=False,
    ),
    Rule("optim.gamma", lambda o: o.schedule == "step", _says("gamma applies to the step schedule"), enforced=False),
    # training
    Rule("train.epochs", lambda t: t.steps is None, _says("set either train.steps or train.epochs, not both")),
    Rule(
        "train.probe_every", lambda t: bool(t.probes), _says("per-layer probes are off (train.probes)"), enforced=False
    ),
    Rule(
        "train.precision",
        lambda t: str(t.device).startswith("cuda"),
        _says("fp16 (with a gradient scaler) needs train.device cuda; use bf16 elsewhere"),
        option="fp16",
    ),
    # data
    Rule(
        "data.root", lambda d: d.dataset != "embedded", _says("the embedded set is generated in memory"), enforced=False
    ),
    Rule(
        "data.root",
        lambda d: d.dataset == "folder",
        _says("dataset 'folder' needs data.root: an ImageFolder tree (one sub-folder per class)"),
        required=True,
    ),
    Rule(
        "data.download",
        lambda d: d.dataset not in _NOT_DOWNLOADABLE,
        _says("only the torchvision sets (CIFAR-10/100, MNIST, Fashion-MNIST, SVHN) can be downloaded"),
        enforced=False,
    ),
)


def broken(rule: Rule, obj: Any, section_obj: Any) -> bool:
    """Whether an enforced ``rule`` is broken by ``section_obj`` (``obj`` is what ``rule.when`` reads)."""
    if not rule.enforced:
        return False
    value = getattr(section_obj, rule.name)
    if rule.required:
        return bool(rule.when(obj)) and not value
    if rule.option is not WHOLE_FIELD:
        return bool(value == rule.option) and not rule.when(obj)
    if value == field_defaults(type(section_obj))[rule.name] or value in rule.neutral:
        return False
    return not rule.when(obj)


def _raise_if_broken(rule: Rule, obj: Any, section_obj: Any) -> None:
    if broken(rule, obj, section_obj):
        raise ConfigError(rule.path, getattr(section_obj, rule.name), rule.why(obj))


def check_section_rules(section: str, section_obj: Any) -> None:
    """Raise :class:`ConfigError` for the first broken enforced rule that reads only ``section_obj``."""
    for rule in RULES:
        if rule.section == section and rule.scope == "section":
            _raise_if_broken(rule, section_obj, section_obj)


def check_run_rules(run: Any) -> None:
    """Raise :class:`ConfigError` for the first broken enforced rule that reads the whole run config."""
    for rule in RULES:
        if rule.scope == "run":
            _raise_if_broken(rule, run, getattr(run, rule.section))


@dataclass(frozen=True)
class FieldState:
    """How the panel shows a field now: ``enabled``, ``visible``, and ``reason`` when it is not."""

    enabled: bool = True
    visible: bool = True
    reason: str = ""


def field_state(run: Any, path: str) -> FieldState:
    """Whether field ``path`` applies to ``run`` (a RunConfig, validated or not), for the panel."""
    for rule in RULES:
        if rule.path != path or rule.option is not WHOLE_FIELD or rule.required:
            continue
        obj = run if rule.scope == "run" else getattr(run, rule.section)
        if not rule.when(obj):
            why = rule.why(obj)
            return FieldState(enabled=rule.hide, visible=not rule.hide, reason=why)
    return FieldState()


def option_state(run: Any, path: str, option: Any) -> FieldState:
    """Whether value ``option`` of field ``path`` is allowed for ``run`` (its other fields), for the panel."""
    for rule in RULES:
        if rule.path == path and rule.option is not WHOLE_FIELD and rule.option == option:
            obj = run if rule.scope == "run" else getattr(run, rule.section)
            if not rule.when(obj):
                return FieldState(enabled=False, reason=rule.why(obj))
    return FieldState()


def required_state(run: Any, path: str) -> str:
    """The reason field ``path`` must be set for ``run`` ("" when it need not be)."""
    for rule in RULES:
        if rule.path == path and rule.required:
            obj = run if rule.scope == "run" else getattr(run, rule.section)
            if rule.when(obj):
                return rule.why(obj)
    return ""
