"""Guided experiments: presets that set up runs reproducing the classic figures (Qt-free)."""

from resnet_viz.presets.preset import (
    SIZES,
    Check,
    Preset,
    PresetError,
    PresetRun,
    Published,
    RaceSetup,
    get_preset,
    load_preset_file,
    load_presets,
    preset_from_dict,
)

__all__ = ["SIZES", "Check", "Preset", "PresetError", "PresetRun", "Published", "RaceSetup", "get_preset",
           "load_preset_file", "load_presets", "preset_from_dict"]
