"""Video frames from Qt images: a QImage as the uint8 RGB array that :func:`resnet_viz.export.video.write_mp4` takes."""

from __future__ import annotations

import numpy as np
from PySide6 import QtGui


def qimage_rgb(image: QtGui.QImage) -> np.ndarray:
    """``image`` as a uint8 RGB array ``[H, W, 3]`` (a copy). Any format is converted to RGB888 first
    (alpha is dropped as Qt drops it: premultiplied colours over black); row padding is cut off."""
    if image.isNull():
        raise ValueError("image: a null QImage has no pixels")
    rgb = (
        image
        if image.format() == QtGui.QImage.Format.Format_RGB888
        else image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    )
    height, width, stride = rgb.height(), rgb.width(), rgb.bytesPerLine()
    rows = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=height * stride).reshape(height, stride)
    return rows[:, : width * 3].reshape(height, width, 3).copy()
