"""File-name friendly forms of run names (one rule for the CLI, sessions and the window's exports)."""

from __future__ import annotations

import re
import unicodedata

#: The longest slug, in characters.
SLUG_MAX = 60


def slug(text: str) -> str:
    """File-name friendly form of a run name: ``plain-56 · he · sgd 0.1`` → ``plain-56-he-sgd-0.1``.

    Lower-case ASCII letters, digits and dots joined by "-" (accents dropped: "ü" → "u"), at most
    :data:`SLUG_MAX` characters, never starting or ending with "-" or "." (no ``..``, no hidden files);
    ``"run"`` when nothing is left.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    joined = re.sub(r"[^a-z0-9.]+", "-", ascii_text.lower())
    return joined.strip("-.")[:SLUG_MAX].strip("-.") or "run"
