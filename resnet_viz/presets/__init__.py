"""Guided experiments: presets that set up runs reproducing the classic figures (Qt-free)."""

from resnet_viz.presets.checks import SIZES, Check
from resnet_viz.presets.library import (
    Presets,
    SkippedPreset,
    get_preset,
    load_preset_file,
    load_presets,
    user_preset_dir,
)
from resnet_viz.presets.preset import (
    Preset,
    PresetError,
    PresetRun,
    Published,
    RaceSetup,
    preset_from_dict,
)

__all__ = [
    "SIZES",
    "Check",
    "Preset",
    "PresetError",
    "PresetRun",
    "Presets",
    "Published",
    "RaceSetup",
    "SkippedPreset",
    "get_preset",
    "load_preset_file",
    "load_presets",
    "preset_from_dict",
    "user_preset_dir",
]
