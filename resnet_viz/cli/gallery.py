"""What ``resnet-viz reproduce`` writes beside each preset's report: ``preset.json`` and the gallery page."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_preset_summary(result: Any, out: Path, figures: list[Path], command: str) -> Path:
    """``out/preset.json``: the preset's name, title, paper, size, time, run statuses, checks, figures, command."""
    p = result.preset
    info = {
        "name": p.name,
        "title": p.title,
        "paper": p.paper,
        "size": result.size,
        "elapsed_s": result.elapsed_s,
        "runs": {r.name: r.status for r in result.runs},
        "checks": [{"claim": c.check.claim, "measured": c.describe(), "held": c.held} for c in result.checks],
        "figures": [f.name for f in figures if f.parent == out],
        "command": command,
    }
    path = out / "preset.json"
    path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _preset_folders(written: list[Path], order: list[str]) -> list[tuple[Path, dict[str, Any]]]:
    """The folders just ``written`` and every other preset folder beside them, with their preset.json,
    in preset ``order`` (then by folder name)."""
    folders = {p.resolve(): p for p in written}
    for parent in {p.parent for p in written}:
        for info in parent.glob("*/preset.json"):
            folders.setdefault(info.parent.resolve(), info.parent)
    infos = [(out, json.loads((out / "preset.json").read_text(encoding="utf-8"))) for out in folders.values()]
    infos.sort(
        key=lambda item: (
            order.index(item[1].get("name")) if item[1].get("name") in order else len(order),
            item[0].name,
        )
    )
    return infos


def _header(index: Path, infos: list[tuple[Path, dict[str, Any]]], commands: list[str]) -> list[str]:
    lines = ["# Gallery: the guided experiments, quick size", ""]
    if len(commands) == 1:
        lines += [
            "Every figure here was made by resnet-viz itself, on the project's 2-core CPU machine, with",
            "",
            f"    {commands[0]}",
            "",
        ]
    else:
        parent = Path(os.path.commonpath([str(out.parent) for out, _ in infos])) if infos else index.parent
        lines += [
            "Every figure here was made by resnet-viz itself, on the project's 2-core CPU machine, with the "
            "command named under each heading. One command regenerates them all:",
            "",
            f"    resnet-viz reproduce all --out {parent.as_posix()} --index {index.as_posix()} --no-run-folders",
            "",
        ]
    return lines + [
        "Each preset's `report.md` has the configuration, the measured numbers beside the published ones, "
        "and whether the expected direction held.",
        "",
    ]


def _preset_section(index: Path, out: Path, info: dict[str, Any], own_commands: bool) -> list[str]:
    """One preset's heading, checks and figures (``own_commands``: name the command that made it)."""
    from resnet_viz.presets.measures import MARKS

    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, index.parent)).as_posix()

    lines = [
        f"## {info['title']}",
        "",
        f"`{info['name']}` · {info['paper']} · [report]({rel(out / 'report.md')}) · {info['elapsed_s'] / 60:.1f} min",
        "",
    ]
    if own_commands and info.get("command"):
        lines += [f"Made with `{info['command']}`.", ""]
    checks = info["checks"]
    if not checks:
        size = info.get("size", "quick")
        lines += [f"No expected direction is checked at the {size} size (the report's note says why).", ""]
    else:
        held = sum(1 for c in checks if c["held"])
        lines += [f"Expected directions: **{held} of {len(checks)} held**", ""]
        lines += [f"- {MARKS[c['held']]} {c['claim']}: {c['measured']}" for c in checks]
        lines.append("")
    for name in info["figures"]:
        if name.endswith(".png"):
            lines += [f"![{info['name']} {name[:-4]}]({rel(out / name)})", ""]
    return lines


def write_gallery_index(index: Path, written: list[Path], order: list[str]) -> Path:
    """A Markdown page with the figures and checks (from each ``preset.json``) of the folders just
    ``written`` and of every other preset folder beside them, in preset ``order``: re-running one
    preset into a gallery keeps the others in its index."""
    infos = _preset_folders(written, order)
    commands = list(dict.fromkeys(info.get("command", "") for _, info in infos))
    lines = _header(index, infos, commands)
    for out, info in infos:
        lines += _preset_section(index, out, info, len(commands) > 1)
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text("\n".join(lines), encoding="utf-8")
    return index
