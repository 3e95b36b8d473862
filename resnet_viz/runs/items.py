"""What a backend puts on the record stream besides the engine's records.

Every backend sends ``(run_id, item)`` on one stream, where ``item`` is a
:data:`~resnet_viz.metrics.records.Record` or one of these. ``Exited`` is always the last item of a run.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet_viz.metrics.records import Record


@dataclass(frozen=True)
class Progress:
    """Data loading progress: ``fraction`` in [0, 1]."""

    text: str
    fraction: float


@dataclass(frozen=True)
class Failed:
    """The run could not be built or its backend died; ``detail`` is a traceback or exit reason, may be
    empty. ``input_error``: the cause is the user's input (a ``ConfigError`` or ``DataError``), not a crash."""

    message: str
    detail: str = ""
    input_error: bool = False


@dataclass(frozen=True)
class Cancelled:
    """The run was stopped while its data was loading (it never started training)."""


@dataclass(frozen=True)
class Exited:
    """The backend is done with this run (after its last record)."""


StreamItem = Record | Progress | Failed | Cancelled | Exited
