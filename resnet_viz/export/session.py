"""Sessions: the window's list of runs (configs and everything recorded) in one ``.rvsession`` file.

A session file is a zip archive::

    session.json              {"format": "resnet-viz session", "version": 1, "created": ISO time,
                               "resnet_viz": package version,
                               "runs": [{"name", "color", "visible", "status", "message",
                                         "config": RunConfig.to_dict(),
                                         "folder": "runs/01-<slug of name>" or null}, ...],
                               "settings": {...free-form JSON of the window...}}
    runs/01-<slug>/run.json   the run folder of each started run (format: resnet_viz.export.run_folder):
    runs/01-<slug>/metrics.csv    run.json, metrics.csv, layers.npz, summary.json, and histograms.npz /
    runs/01-<slug>/layers.npz     error.log when the run has them; the number is the run's position
    ...                           in ``runs`` (from 1), so folders are unique whatever the names

A run that never started (queued, or failed while preparing: no store, or a store without
``RunStarted``) has ``"folder": null`` and comes back with ``store`` None. A run saved while it was
training has a folder whose summary.json says ``"running"``; it comes back with the saved status and
a store without ``RunFinished`` (what the window shows for it is the window's choice).
Floats of metrics.csv keep 9 significant digits (see ``resnet_viz.export.replay``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import resnet_viz
from resnet_viz.config import RunConfig
from resnet_viz.export.replay import store_from_run_folder, write_run_folder
from resnet_viz.export.run_folder import RUN_FILES
from resnet_viz.metrics.store import RunStore

SESSION_FORMAT = "resnet-viz session"
SESSION_VERSION = 1
SESSION_SUFFIX = ".rvsession"


class SessionError(ValueError):
    """A file is not a session this version can read; the message (one line) names the file and why."""


@dataclass
class SessionRun:
    """One run of the window: how to draw it, its config, and its records (None: it never started)."""

    name: str
    color: str  # hex, e.g. "#0072B2"
    visible: bool
    status: str  # e.g. "queued", "running", "finished", "stopped", "diverged at step 12", "failed"
    message: str
    config: RunConfig
    store: RunStore | None = None


@dataclass
class Session:
    """The window's runs, in display order, and its free-form settings (JSON-serialisable)."""

    runs: list[SessionRun] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


def _slug(name: str, limit: int = 40) -> str:
    """Lower-case ASCII letters and digits joined by "-" (accents dropped: "ü" → "u"), at most ``limit``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:limit].strip("-")
    return slug or "run"


def session_path(path: str | Path) -> Path:
    """``path`` with the ``.rvsession`` suffix added when it has another one (or none)."""
    path = Path(path)
    return path if path.suffix == SESSION_SUFFIX else path.with_name(path.name + SESSION_SUFFIX)


def save_session(path: str | Path, session: Session) -> Path:
    """Write ``session`` to ``path`` (suffix ``.rvsession`` added if missing); return the path written.

    Atomic: the zip is written to a temporary file beside ``path`` and moved over it, so a failure
    leaves a previous file intact (whose permissions the new file keeps; 0644 for a new file).
    Raises ``TypeError`` / ``ValueError`` if ``settings`` is not JSON (e.g. NaN), before writing anything.
    """
    path = session_path(path)
    width = max(2, len(str(len(session.runs))))
    entries = []
    started_runs: list[tuple[str, RunStore]] = []
    for i, run in enumerate(session.runs, start=1):
        folder = None
        if run.store is not None and run.store.started is not None:
            folder = f"runs/{i:0{width}d}-{_slug(run.name)}"
            started_runs.append((folder, run.store))
        entries.append({"name": run.name, "color": run.color, "visible": bool(run.visible), "status": run.status,
                        "message": run.message, "config": run.config.to_dict(), "folder": folder})
    doc = {"format": SESSION_FORMAT, "version": SESSION_VERSION,
           "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
           "resnet_viz": resnet_viz.__version__, "runs": entries, "settings": session.settings}
    text = json.dumps(doc, indent=2, allow_nan=False) + "\n"  # fails here, before any file is touched

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("session.json", text)
                with tempfile.TemporaryDirectory(prefix="resnet-viz-session-") as scratch:
                    for folder, store in started_runs:
                        out = write_run_folder(store, Path(scratch) / folder)
                        for name in RUN_FILES:
                            if (out / name).exists():
                                # npz arrays are mostly float mantissas: fast deflate, little to gain
                                level = 1 if name.endswith(".npz") else 6
                                zf.write(out / name, f"{folder}/{name}", compresslevel=level)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def load_session(path: str | Path) -> Session:
    """Read a session file written by :func:`save_session`.

    Raises ``SessionError`` (one line, naming the file) when the file cannot be read or is not a
    session: not a zip, no session.json, another format, a newer version, a bad config or run folder.
    """
    path = Path(path)

    def fail(why: str) -> SessionError:
        return SessionError(f"{path}: {why}")

    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise fail("no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise fail(f"not a resnet-viz session (cannot open it as a zip archive: {_one_line(exc)})") from None
    with zf:
        try:
            doc = json.loads(zf.read("session.json").decode("utf-8"))
        except KeyError:
            raise fail("not a resnet-viz session (no session.json inside)") from None
        except (ValueError, RuntimeError, zipfile.BadZipFile, OSError) as exc:
            raise fail(f"session.json cannot be read: {_one_line(exc)}") from None
        if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise fail(f"not a resnet-viz session (format {found!r}, expected {SESSION_FORMAT!r})")
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise fail(f"session.json has an invalid version {version!r}")
        if version > SESSION_VERSION:
            raise fail(f"session version {version} is newer than this resnet-viz {resnet_viz.__version__} reads "
                       f"(version {SESSION_VERSION}); update resnet-viz")
        runs_doc, settings = doc.get("runs", []), doc.get("settings", {})
        if not isinstance(runs_doc, list) or not isinstance(settings, dict):
            raise fail("session.json: 'runs' must be a list and 'settings' an object")
        names = set(zf.namelist())
        runs = []
        with tempfile.TemporaryDirectory(prefix="resnet-viz-session-") as scratch:
            for i, entry in enumerate(runs_doc, start=1):
                what = f"run {i}" + (f" ({entry.get('name')!r})" if isinstance(entry, dict) else "")
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise fail(f"{what}: an object with a 'name' is expected")
                try:
                    config = RunConfig.from_dict(entry.get("config"))
                except (ValueError, TypeError) as exc:
                    raise fail(f"{what}: bad config: {_one_line(exc)}") from None
                store = None
                folder = entry.get("folder")
                if folder is not None:
                    if not isinstance(folder, str) or not folder:
                        raise fail(f"{what}: 'folder' must be a path inside the session or null")
                    store = _load_run(zf, names, folder, Path(scratch) / f"{i}", fail, what)
                runs.append(SessionRun(name=entry["name"], color=str(entry.get("color", "#000000")),
                                       visible=bool(entry.get("visible", True)), status=str(entry.get("status", "")),
                                       message=str(entry.get("message", "")), config=config, store=store))
    return Session(runs=runs, settings=settings)


def _load_run(zf: zipfile.ZipFile, names: set[str], folder: str, scratch: Path, fail: Any, what: str) -> RunStore:
    """Copy the run folder's files (only the known names, so nothing lands outside ``scratch``) and read it."""
    folder = folder.rstrip("/")
    for required in ("run.json", "metrics.csv"):
        if f"{folder}/{required}" not in names:
            raise fail(f"{what}: {folder}/{required} is missing")
    scratch.mkdir(parents=True)
    try:
        for name in RUN_FILES:
            member = f"{folder}/{name}"
            if member in names:
                with zf.open(member) as src, open(scratch / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        return store_from_run_folder(scratch)
    except Exception as exc:  # noqa: BLE001 - any damage of the folder is reported as one line
        raise fail(f"{what}: run folder {folder} cannot be read ({type(exc).__name__}: {_one_line(exc)})") from None
