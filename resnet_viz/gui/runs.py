"""RunEntry: one run as the window knows it (config, colour, visibility, status, recorded metrics).

Plots read entries; only the run manager (GUI thread, through the scheduler) writes them. ``version`` grows every time
records are added, so a plot redraws a run only when it changed since the last frame.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from resnet_viz.runs.run import Run
from resnet_viz.runs.status import ACTIVE_STATES

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

#: Statuses of a run that holds a backend (a finished run's status is the engine's RunFinished.status:
#: "finished", "stopped", "diverged at step k", "out of memory", "failed").
ACTIVE_STATUSES = tuple(state.value for state in ACTIVE_STATES)


@dataclass(eq=False)
class RunEntry(Run):
    """A run in the window: the core's :class:`~resnet_viz.runs.run.Run` with a colour (hex string like
    ``"#0072B2"``) and whether its curves are shown."""

    color: str = PALETTE[0]
    visible: bool = True


def display_names(entries: Sequence[RunEntry]) -> dict[int, str]:
    """Short names for legends: ``plain-56`` when that alone tells the runs apart, else the full name."""
    short = {e.run_id: e.name.split(" · ")[0] for e in entries}
    counts = Counter(short.values())
    return {e.run_id: short[e.run_id] if counts[short[e.run_id]] == 1 else e.name for e in entries}
