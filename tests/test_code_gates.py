"""Gates a machine checks on every test run (so in CI): lint, format, types, and the size limits of the code.

ruff (lint and format) and mypy read their settings from pyproject.toml: the Qt-free core type-checks
strictly, the window and the CLI without errors. No module of resnet_viz/ is over 400 lines and no
function over 60, so that each part stays readable on its own.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "resnet_viz"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LINTED = ["resnet_viz", "tests", "bench", "setup.py"]


def _tool(name: str) -> list[str]:
    """How to run ``name`` from this interpreter's environment (a module run with ``-m``)."""
    if name == "ruff":
        exe = Path(sys.executable).with_name("ruff")
        return [str(exe)] if exe.exists() else [shutil.which("ruff") or "ruff"]
    return [sys.executable, "-m", name]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_ruff_finds_nothing_to_lint():
    proc = _run([*_tool("ruff"), "check", "--no-cache", *LINTED])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_ruff_format_leaves_every_file_as_it_is():
    proc = _run([*_tool("ruff"), "format", "--check", "--no-cache", *LINTED])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_mypy_finds_no_type_errors(tmp_path):
    # the settings (strict for the core) are pyproject.toml's; a fresh cache keeps the run honest
    proc = _run([*_tool("mypy"), "--cache-dir", str(tmp_path / "mypy-cache")])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "Success" in proc.stdout, proc.stdout


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def function_lengths(source: str) -> dict[str, int]:
    """Lines of every function and method in ``source``, by qualified name (nested ones included)."""
    out: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    out[name] = child.end_lineno - child.lineno + 1  # type: ignore[operator]
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return out


def test_no_function_is_over_60_lines():
    long = {
        f"{p.relative_to(ROOT)}:{name}": n
        for p in _modules()
        for name, n in function_lengths(p.read_text()).items()
        if n > MAX_FUNCTION_LINES
    }
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_function_lengths_are_measured_with_decorators_and_nesting():
    source = (
        "class A:\n    def f(self):\n"
        + "        x = 1\n" * 61
        + "\n    def g(self):\n        def h():\n            pass\n"
    )
    lengths = function_lengths(source)
    assert lengths["A.f"] == 62
    assert lengths["A.g.h"] == 2


@pytest.mark.parametrize("folder", ["config", "models", "data", "train", "metrics", "surfaces", "presets", "export"])
def test_every_core_package_is_checked_strictly(folder):
    # the strict override of pyproject.toml names each core package: a new one must be added there too
    text = (ROOT / "pyproject.toml").read_text()
    assert f'"resnet_viz.{folder}.*"' in text
