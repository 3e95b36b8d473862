"""The one error of configuration: :class:`ConfigError`, whose message names the field, the value and
what is allowed, on one line."""

from __future__ import annotations

import reprlib
from typing import Any

_SHORT = reprlib.Repr()
_SHORT.maxstring = 300  # file paths are shown whole
_SHORT.maxother = 80
_SHORT.maxlevel = 2
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to 300 characters of text, 80 of anything else and two levels of nesting (never raises)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    try:
        return _SHORT.repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails still gets a message
        return f"<{type(value).__name__}>"


def one_line(text: str, limit: int = 400) -> str:
    """``text`` with every line break replaced by a space, cut to ``limit`` characters."""
    text = " ".join(str(text).splitlines())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ConfigError(ValueError):
    """A configuration value is not allowed. ``field`` is its dotted path, e.g. ``model.depth``.

    The message is always one line: ``field = value is not allowed: allowed`` with the value's repr
    shortened (:func:`short_repr`). ``allowed`` names other fields by their dotted paths too (never by a
    command-line flag: the CLI maps paths to its flags when it prints the message).
    """

    def __init__(self, field_name: str, value: Any, allowed: str) -> None:
        self.field = field_name
        self.value = value
        self.allowed = allowed
        super().__init__(one_line(f"{one_line(field_name, 80)} = {short_repr(value)} is not allowed: {allowed}", 1000))
