"""The loss as a 3D surface (pyqtgraph.opengl's GLSurfacePlotItem), where OpenGL is available.

PyOpenGL is optional and an offscreen or software platform has no OpenGL context: :func:`gl_problem`
says why the 3D view cannot be offered (the tab disables its button with that text as the tooltip).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtGui, QtWidgets

from resnet_viz.gui.landscape.levels import band_colormap, log_loss, shared_range

if TYPE_CHECKING:
    from resnet_viz.landscape.result import LandscapeResult

NO_GL_PLATFORMS = ("offscreen", "minimal", "vnc")
HEIGHT = 0.6  # the surface's height as a fraction of its width (log₁₀ loss scaled into it)


def _opengl() -> tuple[ModuleType | None, str | None]:
    try:
        return importlib.import_module("pyqtgraph.opengl"), None
    except Exception as exc:  # noqa: BLE001 - PyOpenGL missing or its library unloadable: no 3D view
        return (
            None,
            f"The 3D view needs PyOpenGL (pip install 'resnet-viz[3d]' or PyOpenGL): {type(exc).__name__}: {exc}",
        )


def gl_problem() -> str | None:
    """None when the 3D view can be shown, else one line saying why not."""
    platform = QtGui.QGuiApplication.platformName()
    if platform in NO_GL_PLATFORMS:
        return f"The 3D view needs OpenGL, which the '{platform}' display platform does not have"
    return _opengl()[1]


def surface_view(result: LandscapeResult, parent: QtWidgets.QWidget | None = None) -> QtWidgets.QWidget:
    """A window with ``result``'s log₁₀ loss as a coloured 3D surface (mouse: rotate, wheel: zoom). Raises
    ``RuntimeError`` (the text of :func:`gl_problem`) when OpenGL is not available, ``ValueError`` for a 1D result."""
    problem = gl_problem()
    gl, _ = _opengl()
    if problem is not None or gl is None:
        raise RuntimeError(problem or "no OpenGL")
    if result.beta is None:
        raise ValueError("the 3D view shows 2D landscapes (this one is a line)")
    alpha, beta = np.asarray(result.alpha, float), np.asarray(result.beta, float)
    z = log_loss(result.loss).T  # GLSurfacePlotItem: z[i_x, i_y]
    lo, hi = shared_range([np.asarray(result.loss)])
    z = np.where(np.isfinite(z), np.clip(z, lo, hi), hi)
    width = max(float(np.ptp(alpha)), float(np.ptp(beta)), 1e-9)
    height = HEIGHT * width * (z - lo) / max(hi - lo, 1e-9)
    colours = band_colormap().map((z - lo) / max(hi - lo, 1e-9), mode="float")
    view = gl.GLViewWidget(parent)
    view.setWindowTitle(f"Loss landscape (3D): {result.label}")
    view.setBackgroundColor("w")
    # one colour per vertex, x-major as the item orders its vertices (pyqtgraph 0.14 indexes them flat by face)
    item = gl.GLSurfacePlotItem(x=alpha, y=beta, z=height, colors=colours.reshape(-1, 4), smooth=False)
    item.translate(-float(alpha.mean()), -float(beta.mean()), -0.5 * HEIGHT * width)  # the camera looks at its middle
    view.addItem(item)
    view.setCameraPosition(distance=1.7 * width, elevation=30, azimuth=-60)
    view.resize(900, 700)
    return view
