"""Packaging details pyproject.toml cannot express: the preset files in assets/presets ship inside the
wheel as the package data ``resnet_viz/presets/data/*.json`` (where ``resnet_viz.presets`` looks first),
with the window icon ``resnet_viz/gui/*.svg``.

``find_packages`` takes only folders with an ``__init__.py``: tests/test_wheel.py checks that every folder
of resnet_viz/ with Python files has one, and that the built wheel installs and runs on its own."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["resnet_viz*"]) + ["resnet_viz.presets.data"],
    package_dir={"resnet_viz.presets.data": "assets/presets"},
    package_data={"resnet_viz": ["py.typed", "gui/*.svg"], "resnet_viz.presets.data": ["*.json"]},
)
