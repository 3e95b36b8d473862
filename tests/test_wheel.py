"""The package as users get it: every folder is a package, and the built wheel works on its own.

The second test builds the wheel from a copy of the source (no network: ``--no-build-isolation`` with
the setuptools and wheel of the test environment), installs it into a fresh virtual environment and
runs the installed ``resnet-viz`` from a folder outside the checkout. The fresh environment borrows its
dependencies (torch, PySide6, ...) from the test environment through a ``.pth`` file listing that
environment's site-packages: a folder named in a ``.pth`` file is put on ``sys.path`` but is not a
site dir, so its own ``.pth`` files (among them the editable install's finder) do not run, and
``resnet_viz`` can only come from the wheel, which the test checks.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import zipfile
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "resnet_viz"
#: What the build does not need and a working checkout may hold (environments, caches, outputs).
NOT_SOURCE = (
    ".git",
    ".venv",
    "venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".import_linter_cache",
    "*.pyc",
)
#: Output folders a user's commands write at the top of a checkout (resnet_viz/runs/ is source).
OUTPUTS = ("runs", "reproductions")
PRESETS = [
    "after-add",
    "batchnorm",
    "degradation",
    "init",
    "landscape",
    "optimisers",
    "residual",
    "shortcuts",
    "vanishing",
]


def test_every_folder_with_python_files_is_a_package():
    """find_packages skips a folder without __init__.py, and the wheel then lacks it (gui/plots once did)."""
    folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert PACKAGE / "gui" / "plots" in folders  # the walk sees the sub-packages
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file())
    assert missing == [], f"folders with Python files but no __init__.py: {missing}"


def _run(
    cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; fails on anything that is not a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_the_wheel_installs_into_a_fresh_environment_and_runs(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=lambda d, names: [
            n
            for n in names
            if any(fnmatch(n, p) for p in NOT_SOURCE)
            or (Path(d) / n / "pyvenv.cfg").exists()
            or (Path(d) == ROOT and n in OUTPUTS)
        ],
    )  # any venv
    dist = tmp_path / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "-q",
            "-w",
            dist,
            src,
        ],
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("resnet_viz-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("__init__", "base", "curves", "depth", "heatmap"):
        assert f"resnet_viz/gui/plots/{module}.py" in names
    assert sorted(Path(n).stem for n in names if fnmatch(n, "resnet_viz/presets/data/*.json")) == PRESETS
    assert "resnet_viz/gui/icon.svg" in names
    shipped_py = {str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert shipped_py <= set(names), f"missing from the wheel: {sorted(shipped_py - set(names))}"

    fresh = tmp_path / "fresh"
    _run([sys.executable, "-m", "venv", fresh], cwd=tmp_path)
    python = fresh / "bin" / "python"
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path).stdout.strip()
    )
    ours = sysconfig.get_paths()
    (site / "_test_environment.pth").write_text(
        "".join(f"{p}\n" for p in dict.fromkeys([ours["purelib"], ours["platlib"]])), encoding="utf-8"
    )
    _run(
        [fresh / "bin" / "pip", "install", "-q", "--no-deps", "--no-index", "--disable-pip-version-check", wheel],
        cwd=tmp_path,
    )

    home = tmp_path / "home"  # no user settings or user presets read or written
    work = tmp_path / "work"  # outside the checkout
    work.mkdir()
    # as users have it: the default backend (each run a spawned child of the installed console script)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTHON") and k not in ("RESNET_VIZ_PRESETS", "RESNET_VIZ_BACKEND")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        QT_QPA_PLATFORM="offscreen",
    )
    where = _run([python, "-c", "import resnet_viz; print(resnet_viz.__file__)"], cwd=work, env=env).stdout.strip()
    assert Path(where).is_relative_to(fresh), f"resnet_viz imported from {where}, not from the installed wheel"

    listing = _run([fresh / "bin" / "resnet-viz", "reproduce", "--list"], cwd=work, env=env)
    assert sorted(line.split()[0] for line in listing.stdout.splitlines()) == PRESETS
    assert listing.stderr == ""

    _run(
        [
            fresh / "bin" / "resnet-viz",
            "snapshot",
            "--arch",
            "mlp",
            "--depth",
            "3",
            "--width",
            "16",
            "--steps",
            "3",
            "--eval-every",
            "3",
            "--eval-train-samples",
            "200",
            "--size",
            "1280x800",
            "--out",
            "shot.png",
            "--quiet",
        ],
        cwd=work,
        env=env,
        timeout=240,
    )
    assert _png_size(work / "shot.png") == (1280, 800)
