"""Guided experiments: presets that set up runs reproducing the classic figures (Qt-free)."""

from resnet_viz.presets.preset import (
    SIZES,
    Check,
    Preset,
    PresetError,
    PresetRun,
    Presets,
    Published,
    RaceSetup,
    SkippedPreset,
    get_preset,
    load_preset_file,
    load_presets,
    preset_from_dict,
    user_preset_dir,
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
