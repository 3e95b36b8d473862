"""The landscape's own exceptions."""

from __future__ import annotations


class LandscapeError(ValueError):
    """A landscape that cannot be computed from what was given; the message is one line (e.g. a path that
    is no run folder or checkpoint, a run without the snapshots its directions need)."""


class LandscapeCancelled(Exception):
    """The computation was cancelled (``cancelled()`` answered True between two batches of grid points)."""
