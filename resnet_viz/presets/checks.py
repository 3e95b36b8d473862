"""A preset's check: the direction a preset should show, as declared in its file.

Evaluated on measured runs by :func:`resnet_viz.presets.measures.evaluate_check`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The sizes a preset comes in (a check applies to some of them).
SIZES = ("quick", "paper")
#: The relations a check may state between its two sides.
RELATIONS = (">", ">=", "<", "<=")


@dataclass(frozen=True)
class Check:
    """``left`` RELATION ``factor`` × ``right`` (+ ``margin``): the direction the preset should show.

    ``left`` and ``right`` are (run name, metric name) pairs; see :mod:`resnet_viz.presets.measures`.
    """

    claim: str
    left: tuple[str, str]
    relation: str
    right: tuple[str, str]
    factor: float = 1.0
    margin: float = 0.0
    sizes: tuple[str, ...] = SIZES  # the sizes it applies to
