"""Reading a config file safely: size-capped, regular files only, UTF-8 JSON text, one-line errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from resnet_viz.config.errors import ConfigError
from resnet_viz.config.limits import MAX_PATH_CHARS

#: Largest config file read (a run folder's run.json of a 1202-layer net is well under 1 MB).
MAX_CONFIG_BYTES = 16 * 2**20
#: First bytes of a zip file: a saved session (.rvsession) is one.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def check_file_path(path: str, value: str, _section: object) -> None:
    """A field check: ``value`` names a file (not empty, no NUL character, at most ``MAX_PATH_CHARS``)."""
    if "\x00" in value or not value.strip() or len(value) > MAX_PATH_CHARS:
        raise ConfigError(
            path, value, f"a file path (not empty, no NUL character, at most {MAX_PATH_CHARS} characters)"
        )


def _open_config(path: Path) -> tuple[int, str]:
    """An fd opened for reading ``path`` (a run folder means its run.json) and the path as shown."""
    shown = str(path)
    try:
        if path.is_dir():
            if not (path / "run.json").is_file():
                raise ConfigError(
                    "config",
                    shown,
                    "a config JSON file, or a run folder containing run.json (this folder has no run.json)",
                )
            path = path / "run.json"
            shown = str(path)
        return os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)), shown
    except FileNotFoundError:
        raise ConfigError("config", shown, "an existing JSON file (e.g. a run folder's run.json)") from None
    except PermissionError:
        raise ConfigError("config", shown, "a readable file (permission denied)") from None
    except OSError as exc:
        raise ConfigError("config", shown, f"a readable file ({exc.strerror or exc})") from None


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def read_config_text(path: Path) -> str:
    """The text of config file ``path`` (a run folder means its run.json); :class:`ConfigError` if it is
    missing, not a regular file (a FIFO is refused without opening it for a blocking read), unreadable,
    larger than :data:`MAX_CONFIG_BYTES`, a zip (a saved session), binary or not UTF-8."""
    fd, shown = _open_config(path)
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError("config", shown, f"a regular JSON file (this is {_file_kind(mode)})")
        try:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError("config", shown, f"a readable file ({exc.strerror or exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            "config", shown, f"a config file of at most {MAX_CONFIG_BYTES // 2**20} MB (this one is larger)"
        )
    if raw.startswith(ZIP_MAGIC):
        raise ConfigError(
            "config",
            shown,
            f"a JSON config; this is a saved session (a zip file): open it with resnet-viz gui --session {shown}",
        )
    if b"\x00" in raw:
        raise ConfigError("config", shown, "a JSON text file (this one holds NUL bytes: a binary file?)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "config", shown, f"UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start} is not UTF-8)"
        ) from None
