"""Where presets come from: the shipped ones (``resnet_viz/presets/data`` in a wheel, ``assets/presets`` in
a checkout), then the user's own folder (:func:`user_preset_dir`), validated the same way. A file that
cannot be used is skipped and named in :attr:`Presets.skipped`; it never hides the other presets.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from resnet_viz.config import ConfigError
from resnet_viz.presets.preset import Preset, PresetError, preset_from_dict

#: The largest preset file read (bytes); the shipped ones are under 10 kB.
MAX_PRESET_BYTES = 1_000_000
#: Environment variable naming the user's presets folder (else :func:`user_preset_dir`'s default).
USER_PRESETS_ENV = "RESNET_VIZ_PRESETS"

#: Where the preset files live: next to the package when installed from a wheel, else the repository's assets/.
PRESET_DIRS = (Path(__file__).resolve().parent / "data", Path(__file__).resolve().parents[2] / "assets" / "presets")


def load_preset_file(path: str | Path, *, user: bool = False) -> Preset:
    """Read and validate one preset file; any defect raises :class:`PresetError` starting with the path."""
    path = Path(path)
    try:
        if not path.is_file():
            raise PresetError(
                f"{path}: "
                + (
                    "is a folder, not a preset file"
                    if path.is_dir()
                    else "no such file"
                    if not path.exists()
                    else "not a regular file"
                )
            )
        with path.open("rb") as f:
            blob = f.read(MAX_PRESET_BYTES + 1)
    except OSError as exc:
        raise PresetError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    if len(blob) > MAX_PRESET_BYTES:
        raise PresetError(f"{path}: larger than {MAX_PRESET_BYTES // 1_000_000} MB; a preset file is a few kB of JSON")
    try:
        data = json.loads(blob.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PresetError(f"{path}: not UTF-8 text (byte {exc.start}); a preset file is JSON") from exc
    except json.JSONDecodeError as exc:
        raise PresetError(f"{path}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise PresetError(f"{path}: nested too deeply to be a preset") from exc
    if not isinstance(data, dict):
        raise PresetError(f"{path}: expected a JSON object, got {type(data).__name__}")
    try:
        preset = preset_from_dict(data, source=str(path))
    except PresetError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        # a defect the field checks above do not name: still one line naming the file
        raise PresetError(f"{path}: {type(exc).__name__}: {exc}") from exc
    return replace(preset, user=True) if user else preset


def preset_dir() -> Path:
    """The folder of the shipped presets."""
    for d in PRESET_DIRS:
        if d.is_dir() and any(d.glob("*.json")):
            return d
    raise PresetError("no preset files found in " + " or ".join(str(d) for d in PRESET_DIRS))


def user_preset_dir() -> Path | None:
    """The user's own presets folder: ``$RESNET_VIZ_PRESETS`` if set, else
    ``$XDG_CONFIG_HOME/resnet-viz/presets`` (``~/.config/resnet-viz/presets``). It may not exist;
    None when there is no home folder to put it in."""
    named = os.environ.get(USER_PRESETS_ENV)
    if named:
        return Path(named).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec: a relative value is ignored
        return Path(xdg) / "resnet-viz" / "presets"
    try:
        return Path.home() / ".config" / "resnet-viz" / "presets"
    except RuntimeError:  # no HOME and no passwd entry
        return None


@dataclass(frozen=True)
class SkippedPreset:
    """A preset file that was not loaded. ``message`` starts with the path and says why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"skipped {self.message}"


class Presets(dict[str, Preset]):
    """The presets by name, in the order to show them, with the files that were skipped and why.

    ``user_dir``: the user's presets folder looked in (it may not exist; None when none was).
    """

    def __init__(
        self,
        presets: dict[str, Preset] | None = None,
        skipped: tuple[SkippedPreset, ...] = (),
        user_dir: Path | None = None,
    ) -> None:
        super().__init__(presets or {})
        self.skipped = skipped
        self.user_dir = user_dir


def _read_folder(directory: Path, user: bool, skipped: list[SkippedPreset]) -> list[Preset]:
    """Every usable preset of ``directory`` in (order, name) order; the others appended to ``skipped``."""
    try:
        if not os.access(directory, os.R_OK | os.X_OK):
            raise PermissionError(13, "permission denied")
        paths = sorted(p for p in directory.glob("*.json") if not p.name.startswith("."))
    except OSError as exc:
        skipped.append(SkippedPreset(str(directory), f"{directory}: cannot list the folder: {exc.strerror or exc}"))
        return []
    found = []
    for path in paths:
        try:
            found.append(load_preset_file(path, user=user))
        except PresetError as exc:
            skipped.append(SkippedPreset(str(path), str(exc)))
    found.sort(key=lambda p: (p.raw.get("order", 999), p.name))
    return found


def load_presets(directory: str | Path | None = None, *, with_user: bool | None = None) -> Presets:
    """The presets of ``directory``, or by default the shipped ones followed by the user's own
    (:func:`user_preset_dir`; ``with_user`` defaults to True exactly when ``directory`` is None).

    A file that cannot be used, or that repeats a name already taken (a user preset cannot replace a
    shipped one), is skipped and listed in ``skipped``. Raises :class:`PresetError` only when the
    shipped presets are missing altogether (a broken installation).
    """
    skipped: list[SkippedPreset] = []
    d = Path(directory) if directory is not None else preset_dir()
    folders: list[tuple[Path, bool]] = [(d, False)]
    user_dir = user_preset_dir() if (directory is None if with_user is None else with_user) else None
    if user_dir is not None and user_dir.is_dir():
        folders.append((user_dir, True))
    out: dict[str, Preset] = {}
    for folder, user in folders:
        for preset in _read_folder(folder, user, skipped):
            if preset.name in out:
                taken = out[preset.name]
                what = "a shipped preset" if not taken.user else "another of your presets"
                skipped.append(
                    SkippedPreset(
                        preset.source,
                        f"{preset.source}: the name '{preset.name}' is taken by "
                        f"{what} ({taken.source}); give this one another name",
                    )
                )
                continue
            out[preset.name] = preset
    return Presets(out, tuple(skipped), user_dir)


def get_preset(name: str, directory: str | Path | None = None) -> Preset:
    presets = load_presets(directory)
    if name not in presets:
        raise ConfigError("preset", name, "one of " + ", ".join(presets))
    return presets[name]
