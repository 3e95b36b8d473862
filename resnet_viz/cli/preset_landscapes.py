"""The loss landscapes of a preset's trained runs (``resnet-viz reproduce landscape``): each run's landscape
computed from its run folder as ``resnet-viz landscape`` would, saved under ``landscapes/<run folder>/``,
and one figure of all of them side by side on one colour scale (``landscape.png`` and ``.svg``)."""

from __future__ import annotations

import sys
from pathlib import Path

from resnet_viz.cli.landscape_cmd import _Progress
from resnet_viz.presets import Preset


def preset_landscapes(
    preset: Preset, size: str, folders: dict[str, Path], out: Path, *, quiet: bool, device: str, figures: bool
) -> list[Path]:
    """Compute, save and draw the landscapes ``preset`` asks for at ``size`` of the runs in ``folders``
    (run name → run folder). A run that cannot give one (no final weights, missing data) is skipped with
    one line on stderr; Ctrl-C skips the rest. Returns the figures written."""
    setup = preset.landscape
    fields = setup.spec_fields(size) if setup is not None else None
    if fields is None:
        return []
    if not folders:
        print("resnet-viz: no landscapes: they are computed from the run folders (--no-run-folders)", file=sys.stderr)
        return []
    from resnet_viz.config import ConfigError
    from resnet_viz.data import DataError
    from resnet_viz.landscape.compute import compute_landscape
    from resnet_viz.landscape.errors import LandscapeError
    from resnet_viz.landscape.source import load_landscape_source
    from resnet_viz.landscape.spec import LandscapeSpec

    try:
        spec = LandscapeSpec(**fields)
    except ConfigError as exc:
        print(f"resnet-viz: no landscapes: the preset's landscape settings: {exc}", file=sys.stderr)
        return []
    results = []
    for name, folder in folders.items():
        if not quiet:
            print(f"{name}: loss landscape, {spec.directions}, {spec.points} points", file=sys.stderr)
        progress = _Progress(quiet, spec.points)
        try:
            result = compute_landscape(load_landscape_source(folder), spec, progress=progress, device=device)
        except (LandscapeError, DataError, ConfigError) as exc:
            print(f"resnet-viz: {name}: no landscape: {exc}", file=sys.stderr)
            continue
        except KeyboardInterrupt:
            print(f"\nresnet-viz: interrupted; the landscapes from {name} on are skipped", file=sys.stderr)
            break
        finally:
            progress.close()
        result.save(out / "landscapes" / folder.name)
        results.append(result)
    if not figures or not results:
        return []
    from resnet_viz.gui.landscape.render import render_compare_files, render_landscape_files

    if len(results) == 1:
        return render_landscape_files(results[0], out)
    return render_compare_files(results, out, stem="landscape")
