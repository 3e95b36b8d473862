"""Checks of single values: JSON types from the dataclass annotations, choices, numeric ranges.

Types are checked from the annotations in one place (:func:`check_field_types`): JSON ``true``/``false``
only for booleans, integers for ints, finite numbers for floats, text for strings.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Any

from resnet_viz.config.errors import ConfigError


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """:class:`ConfigError` naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(name, value, "choose one of " + ", ".join(choices))


def check_number(
    name: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> None:
    """:class:`ConfigError` naming ``name`` unless ``value`` is a finite number (an integer if ``integer``)
    within the bounds (``lo_open``/``hi_open``: the bound itself is excluded)."""
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        raise ConfigError(name, value, f"must be {kind}")
    below = lo is not None and (value <= lo if lo_open else value < lo)
    above = hi is not None and (value >= hi if hi_open else value > hi)
    if below or above:
        raise ConfigError(name, value, f"must be {kind} " + describe_bounds(lo, hi, lo_open, hi_open))


def describe_bounds(lo: float | None, hi: float | None, lo_open: bool = False, hi_open: bool = False) -> str:
    """Bounds as text, e.g. ``≥ 0 and < 1``."""
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '≥'} {format_bound(lo)}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '≤'} {format_bound(hi)}")
    return " and ".join(parts)


def format_bound(x: float) -> str:
    """A bound as text: ``1000000000`` (not ``1e+09``) for whole numbers, ``0.5`` otherwise."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def describe_type(hint: Any) -> str:
    """What a value of type ``hint`` looks like in JSON, e.g. ``an integer or null``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return "a list of finite numbers"
        return f"a list of {len(args)} finite numbers"
    names: dict[Any, str] = {
        bool: "true or false (a JSON boolean)",
        int: "an integer",
        float: "a finite number",
        str: "text",
        type(None): "null (the default)",
    }
    return names[hint]


def has_type(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the (annotation) type ``hint``; floats must be finite, ints are not bools."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(has_type(value, a) for a in args)
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            return False
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        return len(items) == len(value) and all(has_type(v, h) for v, h in zip(value, items))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return _is_finite_number(value)
    return isinstance(value, hint)


def _is_finite_number(value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond the float range
        return False


def field_types(klass: Any) -> dict[str, Any]:
    """The resolved annotations of the fields of dataclass ``klass`` (class variables left out; cached)."""
    return _field_types(klass)


@functools.cache
def _field_types(klass: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(klass)
    return {f.name: hints[f.name] for f in dataclasses.fields(klass)}


def check_field_types(section: str, obj: Any) -> None:
    """Every field of the dataclass ``obj`` has its annotated type (JSON booleans for bools, integers
    for ints, finite numbers for floats, ...); else :class:`ConfigError` naming ``section.field``."""
    for name, hint in field_types(type(obj)).items():
        value = getattr(obj, name)
        if not has_type(value, hint):
            raise ConfigError(f"{section}.{name}", value, "must be " + describe_type(hint))


def field_defaults(klass: Any) -> dict[str, Any]:
    """The default of every field of dataclass ``klass`` (``default_factory`` called once; cached: the
    defaults of the config sections are immutable values)."""
    return _field_defaults(klass)


@functools.cache
def _field_defaults(klass: Any) -> dict[str, Any]:
    return {
        f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
        for f in dataclasses.fields(klass)
    }
