"""The largest picture resnet-viz draws, checked before any pixel is allocated.

A figure is painted into a 32-bit QImage (4 bytes a pixel) and then encoded, so a picture costs about
width × height × 4 bytes twice over. Qt refuses images over 2 GiB and paints coordinates only up to
32767; a size beyond the limits below would fail late (an empty or missing file) or exhaust memory.
"""

from __future__ import annotations

MAX_SIDE = 16384  # px: the longest side of any exported picture
MAX_PIXELS = 16384 * 8192  # 134 million pixels: 512 MiB as a 32-bit image


class ImageSizeError(ValueError):
    """A picture of the asked size is refused or could not be made (one line saying why)."""


def image_size_problem(width: int, height: int) -> str | None:
    """Why a ``width`` × ``height`` pixel picture is refused (one clause), or None when it is allowed."""
    if width < 1 or height < 1:
        return f"{width}x{height} pixels is empty; both sides must be at least 1 pixel"
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        mib = width * height * 4 / 2**20
        return (
            f"{width}x{height} pixels is too large: at most {MAX_SIDE} pixels a side and "
            f"{MAX_PIXELS / 1e6:.0f} million pixels in all (a 32-bit image of this size needs {mib:,.0f} MiB; "
            f"Qt's images hold at most 2 GiB)"
        )
    return None
