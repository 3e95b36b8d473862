"""RunEntry: one run as the window knows it (config, colour, visibility, status, recorded metrics).

Plots read entries; only the run manager (GUI thread) writes them. ``version`` grows every time
records are added, so a plot redraws a run only when it changed since the last frame.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from resnet_viz.config import RunConfig
from resnet_viz.metrics.store import RunStore

#: Run colours, in order of creation: Okabe-Ito (colour-blind safe), then tab10 extras.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#8C564B",
    "#7F7F7F",
    "#BCBD22",
    "#9467BD",
    "#F0E442",
)

#: Statuses a run passes through; a finished run's status is the engine's RunFinished.status
#: ("finished", "stopped", "diverged at step k", "out of memory", "failed").
ACTIVE_STATUSES = ("preparing", "running", "paused")


@dataclass(eq=False)
class RunEntry:
    """A run in the window. ``color`` is a hex string like ``"#0072B2"``."""

    run_id: int
    config: RunConfig
    name: str
    color: str
    store: RunStore = field(default_factory=RunStore)
    status: str = "queued"
    visible: bool = True
    version: int = 0  # bumped whenever records were added to ``store`` (or the status changed)
    message: str = ""  # detail for failed / diverged runs

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def diverged(self) -> bool:
        return self.status.startswith("diverged")


def display_names(entries: Sequence[RunEntry]) -> dict[int, str]:
    """Short names for legends: ``plain-56`` when that alone tells the runs apart, else the full name."""
    short = {e.run_id: e.name.split(" · ")[0] for e in entries}
    counts = Counter(short.values())
    return {e.run_id: short[e.run_id] if counts[short[e.run_id]] == 1 else e.name for e in entries}
