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
    runs/01-<slug>/layers.npz     error.log / checkpoint.pt when the run has them; the number is the run's
    ...                           position in ``runs`` (from 1), so folders are unique whatever the names

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
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import resnet_viz
from resnet_viz.config import RunConfig
from resnet_viz.export.names import slug
from resnet_viz.export.replay import store_from_run_folder, write_run_folder
from resnet_viz.export.run_folder import RUN_FILES
from resnet_viz.export.written import WriteError, check_writable, check_written, make_folder, reason
from resnet_viz.metrics.store import RunStore
from resnet_viz.models.budget import host_available_bytes

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


def session_path(path: str | Path) -> Path:
    """``path`` with the ``.rvsession`` suffix added when it has another one (or none)."""
    path = Path(path)
    return path if path.suffix == SESSION_SUFFIX else path.with_name(path.name + SESSION_SUFFIX)


def save_session(path: str | Path, session: Session) -> Path:
    """Write ``session`` to ``path`` (suffix ``.rvsession`` added if missing); return the path written.

    Atomic: the zip is written to a temporary file beside ``path`` and moved over it, so a failure
    leaves a previous file intact (whose permissions the new file keeps; 0644 for a new file).
    Raises ``TypeError`` / ``ValueError`` if ``settings`` is not JSON (e.g. NaN), before writing anything;
    ``WriteError`` (an ``OSError``; one line naming the path and why: permission, disk full, a folder
    there, ...) when the file cannot be written, with the previous file intact.
    """
    path = session_path(path)
    width = max(2, len(str(len(session.runs))))
    entries = []
    started_runs: list[tuple[str, RunStore]] = []
    for i, run in enumerate(session.runs, start=1):
        folder = None
        if run.store is not None and run.store.started is not None:
            folder = f"runs/{i:0{width}d}-{slug(run.name)}"
            started_runs.append((folder, run.store))
        entries.append(
            {
                "name": run.name,
                "color": run.color,
                "visible": bool(run.visible),
                "status": run.status,
                "message": run.message,
                "config": run.config.to_dict(),
                "folder": folder,
            }
        )
    doc = {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "resnet_viz": resnet_viz.__version__,
        "runs": entries,
        "settings": session.settings,
    }
    text = json.dumps(doc, indent=2, allow_nan=False) + "\n"  # fails here, before any file is touched

    check_writable(path)  # WriteError: a folder or a device there, a file above it, a read-only folder
    try:
        make_folder(path.parent)
        _write_session_zip(path, text, started_runs)
    except WriteError:
        raise
    except OSError as exc:  # disk full, folder removed, ...: the previous file is still there
        raise WriteError(path, reason(exc)) from None
    return check_written(path)


def _write_session_zip(path: Path, text: str, started_runs: list[tuple[str, RunStore]]) -> None:
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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


#: Bytes of memory a load takes per uncompressed byte of the session's members (measured with
#: bench/session_load.py: the parsed columns, the store's growing arrays and their copies).
LOAD_MEMORY_FACTOR = 5
#: Deflate expands at most about 1032:1; a member that declares more is crafted (a zip bomb).
MAX_DEFLATE_RATIO = 1100
#: session.json is a list of runs and settings: kilobytes; more than this is not one this version wrote.
MAX_SESSION_JSON_BYTES = 64 << 20
#: Makes the one-line SessionError naming the file.
Fail = Callable[[str], SessionError]
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?")
_FOLDER = re.compile(r"runs/[A-Za-z0-9][A-Za-z0-9._-]*")


def available_memory() -> int | None:
    """Bytes of memory this process can still take (:func:`resnet_viz.models.budget.host_available_bytes`:
    MemAvailable capped by a cgroup limit); None when it cannot be told."""
    room, how = host_available_bytes()
    return None if how == "unknown" else room


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


def _check_directory(zf: zipfile.ZipFile, fail: Fail) -> None:
    """Refuse, from the zip directory alone, members this version never writes and loads that would not fit."""
    total = 0
    for info in zf.infolist():
        if info.flag_bits & 0x1:
            raise fail(f"member {_short(info.filename)} is encrypted; resnet-viz sessions never are")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise fail(
                f"member {_short(info.filename)} uses compression method {info.compress_type}; resnet-viz "
                f"sessions use deflate or none"
            )
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise fail(
                f"member {_short(info.filename)} is stored uncompressed but declares {_mb(info.file_size)} "
                f"for {_mb(info.compress_size)}: a crafted file"
            )
        if info.file_size > MAX_DEFLATE_RATIO * max(info.compress_size, 1) + (1 << 20):
            raise fail(
                f"member {_short(info.filename)} declares {_mb(info.file_size)} from {_mb(info.compress_size)} "
                f"(ratio over {MAX_DEFLATE_RATIO}:1, more than deflate can expand): a crafted file"
            )
        total += info.file_size
    need = LOAD_MEMORY_FACTOR * total
    room = available_memory()
    if room is not None and need > room:
        raise fail(
            f"loading it needs about {_mb(need)} of memory ({_mb(total)} uncompressed × "
            f"{LOAD_MEMORY_FACTOR}); this machine has {_mb(room)} available"
        )


def _text(entry: dict[str, Any], key: str, default: str, what: str, fail: Fail) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise fail(f"{what}: {key!r} must be a string, not {type(value).__name__} {_short(value)}")
    return value


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_session(path: str | Path) -> Session:
    """Read a session file written by :func:`save_session`.

    Raises ``SessionError`` (one line, naming the file) and nothing else when the file cannot be read or
    is not a session: not a zip, a damaged or truncated zip, no session.json, another format, a newer
    version, wrong JSON types, a bad config or run folder, members that would expand beyond the memory
    available (the estimate is in the message) or more than deflate can (a zip bomb).
    Memory and time are proportional to the data (bench/session_load.py).
    """
    path = Path(path)

    def fail(why: str) -> SessionError:
        return SessionError(f"{path}: {why}")

    try:
        return _load_session(path, fail)
    except SessionError:
        raise
    except MemoryError:
        raise fail("not enough memory to load it") from None
    except Exception as exc:  # noqa: BLE001 - any other damage is one line, never a traceback
        raise fail(f"cannot be read ({type(exc).__name__}: {_one_line(exc)})") from None


def _load_session(path: Path, fail: Fail) -> Session:
    if path.is_dir():
        raise fail("is a folder, not a session file")
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise fail("no such file") from None
    except Exception as exc:  # noqa: BLE001 - BadZipFile, OSError, EOFError, ValueError ...
        raise fail(f"not a resnet-viz session (cannot open it as a zip archive: {_one_line(exc)})") from None
    with zf:
        _check_directory(zf, fail)
        doc = _read_session_json(zf, fail)
        runs_doc, settings = doc.get("runs", []), doc.get("settings", {})
        if not isinstance(runs_doc, list) or not isinstance(settings, dict):
            raise fail("session.json: 'runs' must be a list and 'settings' an object")
        names = set(zf.namelist())
        runs = [_session_run(zf, names, i, entry, fail) for i, entry in enumerate(runs_doc, start=1)]
    return Session(runs=runs, settings=settings)


def _read_session_json(zf: zipfile.ZipFile, fail: Fail) -> dict[str, Any]:
    """session.json, checked to be a session of a version this one reads."""
    try:
        info = zf.getinfo("session.json")
    except KeyError:
        raise fail("not a resnet-viz session (no session.json inside)") from None
    if info.file_size > MAX_SESSION_JSON_BYTES:
        raise fail(f"session.json is {_mb(info.file_size)}; a session's is at most {_mb(MAX_SESSION_JSON_BYTES)}")
    try:
        doc = json.loads(zf.read(info).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise fail(f"session.json is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise fail("session.json is nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - bad JSON, a damaged member (CRC, zlib), ...
        raise fail(f"session.json cannot be read: {_one_line(exc)}") from None
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise fail(f"not a resnet-viz session (format {_short(found)}, expected {SESSION_FORMAT!r})")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail(f"session.json has an invalid version {_short(version)}")
    if version > SESSION_VERSION:
        raise fail(
            f"session version {version} is newer than this resnet-viz {resnet_viz.__version__} reads "
            f"(version {SESSION_VERSION}); update resnet-viz"
        )
    return doc


def _session_run(zf: zipfile.ZipFile, names: set[str], i: int, entry: Any, fail: Fail) -> SessionRun:
    """The ``i``-th run (from 1) of session.json, with its run folder's store when it has one."""
    what = f"run {i}" + (f" ({_short(entry.get('name'))})" if isinstance(entry, dict) else "")
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise fail(f"{what}: an object with a 'name' (a string) is expected")
    color = _text(entry, "color", "#000000", what, fail)
    if not _COLOR.fullmatch(color):
        raise fail(f"{what}: 'color' must be #rrggbb, not {_short(color)}")
    visible = entry.get("visible", True)
    if not isinstance(visible, bool):
        raise fail(f"{what}: 'visible' must be true or false, not {_short(visible)}")
    status = _text(entry, "status", "", what, fail)
    message = _text(entry, "message", "", what, fail)
    if not isinstance(entry.get("config"), dict):
        raise fail(f"{what}: 'config' must be an object, not {_short(entry.get('config'))}")
    try:
        config = RunConfig.from_dict(entry["config"])
    except (ValueError, TypeError, RecursionError) as exc:
        raise fail(f"{what}: bad config: {_one_line(exc)}") from None
    store = None
    folder = entry.get("folder")
    if folder is not None:
        if not isinstance(folder, str) or not _FOLDER.fullmatch(folder.rstrip("/")):
            raise fail(f"{what}: 'folder' must be null or runs/<name> inside the session, not {_short(folder)}")
        store = _load_run(zf, names, folder, fail, what)
    return SessionRun(
        name=entry["name"],
        color=color,
        visible=visible,
        status=status,
        message=message,
        config=config,
        store=store,
    )


def _load_run(zf: zipfile.ZipFile, names: set[str], folder: str, fail: Fail, what: str) -> RunStore:
    """Copy the run folder's files (only the known names, so nothing lands outside a private scratch
    folder, removed afterwards) and read it."""
    folder = folder.rstrip("/")
    for required in ("run.json", "metrics.csv"):
        if f"{folder}/{required}" not in names:
            raise fail(f"{what}: {folder}/{required} is missing")
    members = [zf.getinfo(f"{folder}/{name}") for name in RUN_FILES if f"{folder}/{name}" in names]
    size = sum(m.file_size for m in members)
    with tempfile.TemporaryDirectory(prefix="resnet-viz-session-") as scratch_name:
        scratch = Path(scratch_name)
        free = shutil.disk_usage(scratch).free
        if size > free:
            raise fail(f"{what}: unpacking run folder {folder} needs {_mb(size)} in {scratch.parent}; {_mb(free)} free")
        try:
            for member in members:
                with zf.open(member) as src, open(scratch / member.filename.rsplit("/", 1)[1], "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            return store_from_run_folder(scratch)
        except MemoryError:
            raise fail(f"{what}: not enough memory to load run folder {folder}") from None
        except Exception as exc:  # noqa: BLE001 - any damage of the folder is reported as one line
            raise fail(f"{what}: run folder {folder} cannot be read ({type(exc).__name__}: {_one_line(exc)})") from None
