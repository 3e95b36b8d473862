"""RunStatus: where a run is in its life, as an enum (the text a user reads is ``Run.status``)."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """A run's state. ``QUEUED`` → ``PREPARING`` (data, model) → ``RUNNING`` ⇄ ``PAUSED`` → an end state."""

    QUEUED = "queued"
    PREPARING = "preparing"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    OUT_OF_MEMORY = "out of memory"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @classmethod
    def of(cls, text: str) -> RunStatus:
        """The state a status text names: ``"diverged at step 12"`` → ``DIVERGED``; unknown text → ``FAILED``."""
        for state in cls:
            if text == state.value or text.startswith(state.value + " "):
                return state
        return cls.FAILED

    @property
    def active(self) -> bool:
        """Preparing, running or paused: the run holds a backend."""
        return self in (RunStatus.PREPARING, RunStatus.RUNNING, RunStatus.PAUSED)

    @property
    def ended(self) -> bool:
        return not self.active and self is not RunStatus.QUEUED

    @property
    def ok(self) -> bool:
        """Ended well: ran to its end, or the user stopped it (its data is whole)."""
        return self in (RunStatus.FINISHED, RunStatus.STOPPED)


#: States of a run that holds a backend.
ACTIVE_STATES = (RunStatus.PREPARING, RunStatus.RUNNING, RunStatus.PAUSED)
