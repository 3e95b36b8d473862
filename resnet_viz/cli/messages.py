"""Config errors in the command line's words: the core names fields (``model.batch_norm``), the CLI their flags.

``model.after_add = 'bn_relu' is not allowed: bn_relu needs batch norm, which is off (model.batch_norm)``
becomes ``--after-add bn_relu is not allowed: bn_relu needs batch norm, which is off (--no-bn)``. A field
with switches is named by the switch that sets the value in question (the offending value, or the one given
on this command line), else by all of them (``--bn/--no-bn``). Paths without a flag stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from resnet_viz.config import SECTIONS, ConfigError, FieldInfo, all_fields, one_line, short_repr

#: A dotted field path inside a message: ``model.batch_norm``.
_PATH = re.compile(r"\b(?:" + "|".join(SECTIONS) + r")\.[a-z_][a-z0-9_]*\b")


def flag_fields() -> dict[str, FieldInfo]:
    """Every field that has a flag or switches, by its dotted path."""
    return {info.path: info for info in all_fields() if info.spec.flag or info.spec.switches}


def switch_for(info: FieldInfo, value: Any) -> str:
    """The switch of a boolean field that sets ``value`` (all of them, "--bn/--no-bn", when none does)."""
    for flag, const in info.spec.switches:
        if isinstance(value, bool) and const == value:
            return flag
    return "/".join(flag for flag, _ in sorted(info.spec.switches, key=lambda sw: not sw[1]))


def flag_name(info: FieldInfo, given: Mapping[str, Any]) -> str:
    """How a message names a field: its flag, or the switch given on this command line (``given``: dest → value)."""
    if info.spec.flag is not None:
        return info.spec.flag
    return switch_for(info, given.get(info.path))


def _number_text(value: float) -> str:
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _value_text(value: Any) -> str:
    """A value as it is typed after its flag: ``bn_relu``, ``0.9,0.999``, ``57``, ``2``; "(not given)" for None."""
    if value is None:
        return "(not given)"
    if isinstance(value, str) and value and not any(c.isspace() for c in value):
        return one_line(value, 80)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, tuple) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return one_line(",".join(_number_text(float(v)) for v in value), 80)
    return short_repr(value)


def _named_by_flag(path: str, given: Mapping[str, Any]) -> bool:
    """Whether a message names field ``path`` by its flag: always without ``--config``; with a config file,
    only when the flag was given on this command line (the file's values are named by their paths)."""
    return not given.get("config") or path in given


def with_flags(text: str, given: Mapping[str, Any] | None = None) -> str:
    """``text`` with every dotted path of a field that has a flag replaced by the flag."""
    fields, given = flag_fields(), given or {}

    def name(m: re.Match[str]) -> str:
        return flag_name(fields[m[0]], given) if m[0] in fields and _named_by_flag(m[0], given) else m[0]

    return _PATH.sub(name, text)


def error_text(exc: ConfigError, given: Mapping[str, Any] | None = None) -> str:
    """The one line the CLI prints for ``exc``: fields named by their flags (``given``: the parsed flags,
    ``config`` among them); with ``--config``, a value that came from the file is named by its field path
    and the file."""
    given = given or {}
    info = flag_fields().get(exc.field)
    if info is not None and not _named_by_flag(exc.field, given):
        head = f"{exc.field} = {short_repr(exc.value)} (from {given['config']})"
        return one_line(f"{head} is not allowed: {with_flags(exc.allowed, given)}", 1000)
    if info is None:
        return with_flags(str(exc), given)
    if info.spec.flag is not None:
        head = f"{info.spec.flag} {_value_text(exc.value)}"
    else:
        head = switch_for(info, exc.value)
    return one_line(f"{head} is not allowed: {with_flags(exc.allowed, given)}", 1000)
