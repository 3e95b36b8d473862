"""The sweep folder: ``sweep.json`` (the spec, versions, backend, each trial's status and final numbers)
and ``trials/<trial id>/``, one run folder per trial.

``sweep.json`` is rewritten atomically (temporary file, then ``os.replace``) whenever a trial's status
changes, so a killed sweep leaves the last whole state. Reopening a folder resumes it: trials that
ended with a result (``finished``, ``diverged``: trained to their end, or shown to diverge) and whose
run folder still says so are kept; every other trial (never started, failed, stopped, interrupted,
folder gone) is trained again, its folder replaced.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_viz.config import ConfigError
from resnet_viz.export.run_folder_io import write_json_atomic
from resnet_viz.export.written import WriteError, check_writable, make_folder, reason
from resnet_viz.metrics.records import RunFinished
from resnet_viz.runs.status import RunStatus
from resnet_viz.sweeps.spec import SweepSpec, Trial

SWEEP_FORMAT = "resnet-viz sweep"
SWEEP_VERSION = 1
SWEEP_FILE = "sweep.json"
#: Trial statuses that hold a result: a resumed sweep keeps these.
RESULT_STATES = (RunStatus.FINISHED, RunStatus.DIVERGED)


class SweepError(Exception):
    """A sweep folder cannot be used (one line: the folder and why)."""


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


@dataclass
class TrialEntry:
    """A trial as ``sweep.json`` records it. Errors are fractions; ``attempts``: times it was started."""

    trial_id: str
    point: int
    seed: int
    values: dict[str, Any]
    folder: str
    name: str
    status: str = "queued"
    message: str = ""
    steps: int = 0
    final_train_error: float | None = None
    final_test_error: float | None = None
    final_train_loss: float | None = None
    final_test_loss: float | None = None
    elapsed_s: float | None = None
    steps_per_s: float | None = None
    device: str = ""
    attempts: int = 0

    @classmethod
    def of(cls, trial: Trial) -> TrialEntry:
        return cls(trial.trial_id, trial.point, trial.seed, trial.values, trial.folder, trial.name)

    @property
    def has_result(self) -> bool:
        return RunStatus.of(self.status) in RESULT_STATES

    def set_result(self, record: RunFinished) -> None:
        """The final numbers of a run's last record."""
        self.status, self.message, self.steps = record.status, record.message, record.steps
        self.final_train_error, self.final_test_error = record.final_train_error, record.final_test_error
        self.final_train_loss, self.final_test_loss = record.final_train_loss, record.final_test_loss
        self.elapsed_s, self.steps_per_s, self.device = record.elapsed_s, record.steps_per_s, record.device

    def reset(self) -> None:
        """Back to queued (the trial trains again)."""
        attempts = self.attempts
        fresh = TrialEntry(self.trial_id, self.point, self.seed, self.values, self.folder, self.name)
        self.__dict__.update(fresh.__dict__)
        self.attempts = attempts

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SweepState:
    """What ``sweep.json`` holds."""

    spec: SweepSpec
    trials: list[TrialEntry]
    backend: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    resumed: list[str] = field(default_factory=list)

    def entry(self, trial_id: str) -> TrialEntry:
        return next(t for t in self.trials if t.trial_id == trial_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SWEEP_FORMAT,
            "version": SWEEP_VERSION,
            "spec": self.spec.to_dict(),
            "backend": self.backend,
            "versions": self.versions,
            "created": self.created,
            "updated": _now(),
            "resumed": self.resumed,
            "trials": [t.to_dict() for t in self.trials],
        }


def _same_spec(a: SweepSpec, b: SweepSpec) -> bool:
    def canon(s: SweepSpec) -> str:
        d = s.to_dict()
        d.pop("name")
        return json.dumps(d, sort_keys=True, default=list)

    return canon(a) == canon(b)


def read_state(path: Path) -> SweepState:
    """``sweep.json`` of the folder ``path`` (:class:`SweepError` when it is missing or damaged)."""
    from resnet_viz.sweeps.spec_file import spec_from_dict

    file = path / SWEEP_FILE
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != SWEEP_FORMAT:
            raise ValueError(f"not a {SWEEP_FORMAT} file")
        spec = spec_from_dict(doc["spec"])
        by_id = {t.trial_id: t for t in spec.trials()}
        trials = []
        for t in doc["trials"]:
            entry = TrialEntry(**t)
            if entry.trial_id not in by_id:
                raise ValueError(f"trial {entry.trial_id} is not in its spec")
            trials.append(entry)
    except FileNotFoundError:
        raise SweepError(f"{path} holds no {SWEEP_FILE}: not a sweep folder") from None
    except OSError as exc:
        raise SweepError(f"cannot read {file}: {reason(exc)}") from None
    except (ValueError, KeyError, TypeError, ConfigError) as exc:
        raise SweepError(f"{file} is damaged ({exc}); move it away to start the sweep over") from None
    return SweepState(
        spec,
        trials,
        doc.get("backend", {}),
        doc.get("versions", {}),
        doc.get("created", _now()),
        doc.get("resumed", []),
    )


def _folder_status(folder: Path) -> str | None:
    """The status the trial's run folder records (None: no readable summary.json)."""
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        status = summary.get("status")
        return status if isinstance(status, str) else None
    except (OSError, ValueError, AttributeError):
        return None


class SweepFolder:
    """The folder of one sweep: opens it (new or resumed) and saves its state."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def file(self) -> Path:
        return self.path / SWEEP_FILE

    def open(self, spec: SweepSpec | None, backend: dict[str, Any], versions: dict[str, str]) -> SweepState:
        """A new sweep of ``spec`` here, or the one already here resumed (``spec`` None: resume only).
        Trials without a result on disk are set back to queued."""
        if self.file.exists():
            state = read_state(self.path)
            if spec is not None and not _same_spec(spec, state.spec):
                raise SweepError(
                    f"{self.path} holds another sweep; give a new --out, or resume that one with --resume {self.path}"
                )
            for entry in state.trials:
                if not (entry.has_result and _folder_status(self.path / entry.folder) == entry.status):
                    entry.reset()
            state.backend, state.versions = backend, versions
            state.resumed.append(_now())
        elif spec is None:
            raise SweepError(f"{self.path} holds no {SWEEP_FILE}: nothing to resume")
        else:
            if self.path.exists() and any(self.path.iterdir()):
                raise SweepError(f"{self.path} is not empty and holds no sweep: give a new or empty --out")
            state = SweepState(spec, [TrialEntry.of(t) for t in spec.trials()], backend, versions)
        try:
            check_writable(self.file)
            make_folder(self.path / "trials")
        except WriteError as exc:
            raise SweepError(f"cannot write the sweep to {self.path}: {exc}") from None
        self.save(state)
        return state

    def save(self, state: SweepState) -> None:
        """Rewrite ``sweep.json`` atomically (raises ``OSError`` when it cannot)."""
        write_json_atomic(self.file, state.to_dict())


__all__ = ["RESULT_STATES", "SWEEP_FILE", "SweepError", "SweepFolder", "SweepState", "TrialEntry", "read_state"]
