"""One row per config point of a sweep: mean ± std of the final errors over the seeds done, and the
published number beside it (:mod:`.published`).

A seed counts when its trial finished with finite final errors (a diverged or failed trial is
counted in ``failed``, not averaged). The std is numpy's ``np.std`` (ddof=0, the population std of
the seeds done): with one seed it is 0. Errors are fractions (0.0697 for 6.97%).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_viz.runs.status import RunStatus
from resnet_viz.sweeps.folder import SweepState
from resnet_viz.sweeps.published import published_error
from resnet_viz.sweeps.values import format_value


@dataclass(frozen=True)
class SweepRow:
    """A config point's numbers over its seeds. Means and stds are fractions; None without a seed done."""

    point: int
    label: str
    values: dict[str, Any]
    seeds_done: int
    seeds_total: int
    failed: int
    train_mean: float | None
    train_std: float | None
    test_mean: float | None
    test_std: float | None
    published: str | None
    published_source: str | None


def _mean_std(xs: list[float]) -> tuple[float | None, float | None]:
    if not xs:
        return None, None
    a = np.asarray(xs, dtype=np.float64)
    return float(np.mean(a)), float(np.std(a))


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def summarize(state: SweepState) -> list[SweepRow]:
    """The rows, one per config point, in the spec's order."""
    spec = state.spec
    rows = []
    for i, values in enumerate(spec.points()):
        trials = [t for t in state.trials if t.point == i]
        done = [
            t
            for t in trials
            if RunStatus.of(t.status) is RunStatus.FINISHED
            and _finite(t.final_train_error)
            and _finite(t.final_test_error)
        ]
        failed = sum(
            1
            for t in trials
            if RunStatus.of(t.status) in (RunStatus.FAILED, RunStatus.DIVERGED, RunStatus.OUT_OF_MEMORY)
        )
        train = _mean_std([float(t.final_train_error) for t in done if t.final_train_error is not None])
        test = _mean_std([float(t.final_test_error) for t in done if t.final_test_error is not None])
        published = published_error(spec.point_config(values))
        rows.append(
            SweepRow(
                i, spec.point_label(values), values, len(done), len(trials), failed, *train, *test,
                published.value if published else None, published.source if published else None,
            )
        )  # fmt: skip
    return rows


def pct_pm(mean: float | None, std: float | None) -> str:
    """``6.97 ± 0.16%`` (or ``—`` without a seed done)."""
    return "—" if mean is None or std is None else f"{100 * mean:.2f} ± {100 * std:.2f}%"


def summary_table(rows: list[SweepRow]) -> str:
    """The rows as a plain-text table (the CLI prints it; ``summary.md`` holds it as Markdown)."""
    head = ["config", "seeds", "train error", "test error", "published test error (CIFAR-10)"]
    body = [
        [r.label, f"{r.seeds_done}/{r.seeds_total}" + (f" ({r.failed} failed)" if r.failed else ""),
         pct_pm(r.train_mean, r.train_std), pct_pm(r.test_mean, r.test_std),
         f"{r.published} ({r.published_source})" if r.published else "—"]
        for r in rows
    ]  # fmt: skip
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |" for line in [head, *body]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def summary_csv(rows: list[SweepRow]) -> str:
    """The rows as CSV: one column per varied field, then the numbers (errors as fractions)."""
    out = io.StringIO()
    fields = list(rows[0].values) if rows else []
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*fields, "seeds_done", "seeds_total", "failed", "train_error_mean", "train_error_std",
                     "test_error_mean", "test_error_std", "published_test_error", "published_source"])  # fmt: skip
    for r in rows:
        numbers = [r.train_mean, r.train_std, r.test_mean, r.test_std]
        writer.writerow(
            [format_value(r.values[f]) for f in fields]
            + [r.seeds_done, r.seeds_total, r.failed]
            + ["" if x is None else repr(x) for x in numbers]
            + [r.published or "", r.published_source or ""]
        )
    return out.getvalue()


__all__ = ["SweepRow", "pct_pm", "summarize", "summary_csv", "summary_table"]
