"""Validated run configuration: what to build, how to initialise, optimise, feed and train it.

A :class:`RunConfig` is five plain dataclasses (model, init, optim, data, train). Each field carries its
entry of the field table (:mod:`.spec`: label, help, group, CLI flag, choices or range); the cross-field
rules are one table (:mod:`.rules`). :meth:`RunConfig.validate` checks both; a bad value raises
:class:`ConfigError`, whose message names the field, the value and what is allowed.
``to_dict``/``from_dict`` round-trip through JSON.

Fields left at ``None`` mean "the default": :meth:`RunConfig.resolved` fills the defaults that depend
on other fields (width, after-add mapping, batch norm); optimiser hyperparameters left unset take
``torch.optim``'s own defaults.

Modules: errors (ConfigError), values (type, choice and range checks), limits (defaults and bounds),
depth (valid depths), spec (the field table), rules (cross-field rules), model and training (the
sections), files (reading a config file), run (RunConfig).
"""

from resnet_viz.config.depth import depth_rule, is_valid_depth, nearest_valid_depths, valid_depths
from resnet_viz.config.errors import ConfigError, one_line, short_repr
from resnet_viz.config.files import MAX_CONFIG_BYTES, ZIP_MAGIC, read_config_text
from resnet_viz.config.limits import (
    BACKEND_ENV,
    BACKENDS,
    DEFAULT_CONV_WIDTH,
    DEFAULT_MLP_WIDTH,
    DEFAULT_STEPS,
    MAX_BATCH_SIZE,
    MAX_DEPTH,
    MAX_EPOCHS,
    MAX_HISTOGRAM_BINS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_STEPS,
    MAX_WIDTH,
    TRAIN_MODES,
)
from resnet_viz.config.model import (
    ACTIVATIONS,
    AFTER_ADD,
    ARCHS,
    BLOCKS,
    INIT_DISTRIBUTIONS,
    INIT_MODES,
    INITS,
    SHORTCUT_VARIANTS,
    SHORTCUTS,
    InitConfig,
    ModelConfig,
)
from resnet_viz.config.rules import RULES, FieldState, Rule, batch_norm_on, field_state, option_state, required_state
from resnet_viz.config.run import SECTIONS, RunConfig, model_label, read_config_dict
from resnet_viz.config.spec import FieldInfo, FieldSpec, Option, Section, field_info, section_fields
from resnet_viz.config.training import DATASETS, DEVICES, OPTIMIZERS, SCHEDULES, DataConfig, OptimConfig, TrainConfig
from resnet_viz.config.values import check_choice, check_field_types, check_number

__all__ = [
    "ACTIVATIONS",
    "AFTER_ADD",
    "ARCHS",
    "BACKENDS",
    "BACKEND_ENV",
    "BLOCKS",
    "DATASETS",
    "DEFAULT_CONV_WIDTH",
    "DEFAULT_MLP_WIDTH",
    "DEFAULT_STEPS",
    "DEVICES",
    "INITS",
    "INIT_DISTRIBUTIONS",
    "INIT_MODES",
    "MAX_BATCH_SIZE",
    "MAX_CONFIG_BYTES",
    "MAX_DEPTH",
    "MAX_EPOCHS",
    "MAX_HISTOGRAM_BINS",
    "MAX_SAMPLES",
    "MAX_SEED",
    "MAX_STEPS",
    "MAX_WIDTH",
    "OPTIMIZERS",
    "RULES",
    "SCHEDULES",
    "SECTIONS",
    "SHORTCUTS",
    "SHORTCUT_VARIANTS",
    "TRAIN_MODES",
    "ZIP_MAGIC",
    "ConfigError",
    "DataConfig",
    "FieldInfo",
    "FieldSpec",
    "FieldState",
    "InitConfig",
    "ModelConfig",
    "OptimConfig",
    "Option",
    "Rule",
    "RunConfig",
    "Section",
    "TrainConfig",
    "all_fields",
    "batch_norm_on",
    "check_choice",
    "check_field_types",
    "check_number",
    "depth_rule",
    "field_info",
    "field_state",
    "is_valid_depth",
    "model_label",
    "nearest_valid_depths",
    "one_line",
    "option_state",
    "read_config_dict",
    "read_config_text",
    "required_state",
    "section_fields",
    "short_repr",
    "valid_depths",
]


def all_fields() -> list[FieldInfo]:
    """Every field of the table, section by section in :data:`SECTIONS` order."""
    return [info for klass in SECTIONS.values() for info in section_fields(klass)]
