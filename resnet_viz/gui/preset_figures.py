"""Headless figures of a preset run: each of the preset's plots drawn offscreen from the recorded
runs, written as PNG and SVG (``resnet-viz reproduce``). Needs a QApplication."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtGui

from resnet_viz.export.names import slug
from resnet_viz.export.trajectories import write_trajectories_csv
from resnet_viz.export.written import write_atomically
from resnet_viz.gui import figure_export
from resnet_viz.gui.plots.base import FittedLegend, PlotPanel
from resnet_viz.gui.plots.registry import PANEL_TYPES
from resnet_viz.gui.qt_app import dispose
from resnet_viz.gui.race.render import render_race_files
from resnet_viz.gui.runs import PALETTE, RunEntry
from resnet_viz.presets.runner import PresetResult
from resnet_viz.surfaces.functions import SurfaceConfig, build_surface
from resnet_viz.surfaces.race import OptimizerRace, parse_optimizers

FIGURE_SIZE = (1000, 620)  # on-screen size the plots are laid out at (px)
PNG_WIDTH = 1500  # px


def entries_for(result: PresetResult) -> list[RunEntry]:
    """The runs as the window shows them: the preset's names, the palette's colours in order."""
    out = []
    for i, run in enumerate(result.runs):
        store = run.store
        out.append(
            RunEntry(
                run_id=i + 1,
                config=run.config,
                name=run.name,
                color=PALETTE[i % len(PALETTE)],
                store=store,
                status=run.status,
                version=1,
                message="" if store.finished is None else store.finished.message,
            )
        )
    return out


def _draw(
    panel: PlotPanel,
    entries: Sequence[RunEntry],
    selected: RunEntry | None,
    out: Path,
    size: tuple[int, int],
    png_width: int,
) -> list[Path]:
    panel.resize(*size)
    panel.show()
    QtGui.QGuiApplication.processEvents()
    panel.refresh(entries, selected)
    QtGui.QGuiApplication.processEvents()
    legend = getattr(panel, "legend", None)
    if isinstance(legend, FittedLegend):  # a figure cannot be dragged: put the legend where it hides least
        legend.move_to_clearest_corner()
        QtGui.QGuiApplication.processEvents()
    return [
        figure_export.export_png(panel, out.with_suffix(".png"), png_width),
        figure_export.export_svg(panel, out.with_suffix(".svg")),
    ]


def render_preset_figures(
    result: PresetResult, out_dir: str | Path, *, size: tuple[int, int] = FIGURE_SIZE, png_width: int = PNG_WIDTH
) -> list[Path]:
    """Write ``<plot>.png/.svg`` for every plot of the preset (the gradient heatmap once per run, as
    ``grad_heatmap-<run>.png``) into ``out_dir``. Returns the paths written, PNGs before their SVGs."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = [e for e in entries_for(result) if e.store.started is not None]
    written: list[Path] = []
    if not entries:
        return written
    for key in result.preset.plots:
        targets: list[tuple[Path, RunEntry | None]] = [(out_dir / key, None)]
        if key == "grad_heatmap":
            targets = [(out_dir / f"{key}-{slug(e.name)}", e) for e in entries]
        for path, selected in targets:
            panel = PANEL_TYPES[key]()
            try:
                written += _draw(panel, entries, selected, path, size, png_width)
            finally:
                dispose(panel)
    return written


def render_preset_race(result: PresetResult, out_dir: str | Path) -> list[Path]:
    """The preset's 2D optimiser race (if it has one): race.png, race.svg and trajectories.csv."""
    race_setup = result.preset.race
    if race_setup is None:
        return []
    surface = build_surface(SurfaceConfig(name=race_setup.surface))
    race = OptimizerRace(surface, race_setup.start or surface.start, parse_optimizers(race_setup.optims))
    race.run(race_setup.steps)
    out_dir = Path(out_dir)
    written = render_race_files(race, out_dir)
    csv_path = out_dir / "race-trajectories.csv"
    written.append(write_atomically(csv_path, lambda tmp: write_trajectories_csv(tmp, race.trajectories)))
    return written
