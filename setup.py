"""Packaging details pyproject.toml cannot express: the preset files in assets/presets ship inside the
wheel as the package data ``resnet_viz/presets/data/*.json`` (where ``resnet_viz.presets`` looks first)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["resnet_viz*"]) + ["resnet_viz.presets.data"],
    package_dir={"resnet_viz.presets.data": "assets/presets"},
    package_data={"resnet_viz": ["py.typed", "gui/*.svg"], "resnet_viz.presets.data": ["*.json"]},
)
