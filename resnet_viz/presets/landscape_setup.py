"""LandscapeSetup: the loss landscapes a preset computes of its trained runs (the ``landscape`` preset).

JSON (in a preset): ``"landscape": {"quick": {"directions": "random", "grid": 11, "range": [-1, 1],
"samples": 500}, "paper": {"grid": 51, "samples": 50000}}`` — per size, the fields of
:class:`resnet_viz.landscape.spec.LandscapeSpec` (that layer validates the values when the landscape is
computed; this one checks names and JSON types, so a typo fails when the preset is read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resnet_viz.presets.checks import SIZES

#: LandscapeSpec fields a preset may set, with the JSON types each accepts.
FIELDS: dict[str, tuple[type, ...]] = {
    "directions": (str,),
    "grid": (int,),
    "range": (list,),
    "samples": (int,),
    "seed": (int,),
    "include_biasbn": (bool,),
}


@dataclass(frozen=True)
class LandscapeSetup:
    """Per preset size, the keyword arguments of a ``LandscapeSpec`` (``range`` as a pair)."""

    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def spec_fields(self, size: str) -> dict[str, Any] | None:
        """The fields for ``size``; None when the preset computes no landscape at that size."""
        fields = self.sizes.get(size)
        return None if fields is None else dict(fields)


def parse_landscape_setup(raw: Any, where: str) -> LandscapeSetup:
    """Check a preset's ``landscape`` object; raises ``ValueError`` (one line naming the key) when wrong."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: 'landscape' must be an object with per-size settings, got {raw!r:.60}")
    sizes: dict[str, dict[str, Any]] = {}
    for size, fields in raw.items():
        if size not in SIZES:
            raise ValueError(f"{where}: landscape size {size!r} is not one of {', '.join(SIZES)}")
        if not isinstance(fields, dict):
            raise ValueError(f"{where}: landscape.{size} must be an object, got {fields!r:.60}")
        for key, value in fields.items():
            kinds = FIELDS.get(key)
            if kinds is None:
                shown = key if key.isprintable() else repr(key)
                raise ValueError(f"{where}: landscape.{size}.{shown} is unknown; allowed: {', '.join(FIELDS)}")
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise ValueError(f"{where}: landscape.{size}.{key} must be {kinds[0].__name__}, got {value!r:.60}")
        if "range" in fields:
            pair = fields["range"]
            if len(pair) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair):
                raise ValueError(f"{where}: landscape.{size}.range must be [low, high], got {pair!r:.60}")
            fields = {**fields, "range": (float(pair[0]), float(pair[1]))}
        sizes[size] = dict(fields)
    return LandscapeSetup(sizes)
