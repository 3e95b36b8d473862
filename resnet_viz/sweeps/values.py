"""One config field's value from the text of ``--vary`` (by the field table's type, parser and choices)."""

from __future__ import annotations

import types
import typing
from typing import Any

from resnet_viz.config import ConfigError, FieldInfo
from resnet_viz.config.spec import check_value

_TRUE = ("true", "on", "yes", "1")
_FALSE = ("false", "off", "no", "0")


def _base_types(info: FieldInfo) -> tuple[Any, bool]:
    """The annotation without ``None``, and whether ``None`` is allowed."""
    annotation = info.type
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else annotation), len(rest) < len(args)
    return annotation, False


def parse_field_value(info: FieldInfo, text: str) -> Any:
    """``text`` as a value of the field ``info``: its own parser when it has one, else its type
    (int, float, bool as true/false/on/off, text; ``none`` where the field allows None). The value is
    checked against the field's choices and range (:class:`ConfigError` naming ``--vary FIELD``)."""
    name = f"--vary {info.path}"
    kind, optional = _base_types(info)
    if optional and text.lower() in ("none", "null"):
        return None
    try:
        if info.spec.parse is not None:
            value = info.spec.parse(text)
        elif kind is bool:
            if text.lower() not in _TRUE + _FALSE:
                raise ValueError("true or false")
            value = text.lower() in _TRUE
        elif kind is int:
            value = int(text)
        elif kind is float:
            value = float(text)
        else:
            value = text
    except ValueError:
        allowed = "true or false" if kind is bool else f"a value of type {getattr(kind, '__name__', kind)}"
        raise ConfigError(name, text, allowed + (" or none" if optional else "")) from None
    try:
        check_value(info, value, None)
    except ConfigError as exc:
        raise ConfigError(name, text, exc.allowed) from None
    except (AttributeError, TypeError):
        pass  # a check that needs the whole section runs when the trial's config is validated
    return value


def format_value(value: Any) -> str:
    """A value as tables show it: ``0.1``, ``20``, ``A``, ``1,2`` for a tuple, ``none``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ",".join(format_value(v) for v in value)
    return str(value)


__all__ = ["format_value", "parse_field_value"]
