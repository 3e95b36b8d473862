"""Figure export through pyqtgraph's exporters (PNG at a chosen width, SVG, CSV, clipboard), and
"export all": one folder with every plot and every run's run folder.

Layout of an "export all" folder::

    <folder>/window.png                  the whole window as shown
    <folder>/figures/<plot>.png, .svg    every plot (PNG at the chosen width)
    <folder>/figures/<plot>.csv          the data of every plot
    <folder>/runs/<NN>-<run name>/       run.json, metrics.csv, layers.npz, summary.json (engine format)
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter, SVGExporter
from PySide6 import QtWidgets

from resnet_viz.export.replay import write_run_folder
from resnet_viz.gui.plots.base import PlotPanel
from resnet_viz.gui.runs import RunEntry

DEFAULT_PNG_WIDTH = 1600  # px: sharp on slides, readable in papers at column width


def _tolerate_closed_svg_paths() -> None:
    """Work around pyqtgraph 0.14.0's SVG exporter failing on closed paths (``... L0,0 Z``), which Qt
    6.11 writes for every ViewBox outline (pyqtgraph issue #3495, fixed after 0.14.0): drop the
    closing ``Z`` before pyqtgraph re-parses the coordinates. The outlines already end at their start,
    so the drawing is unchanged."""
    module = importlib.import_module("pyqtgraph.exporters.SVGExporter")
    original = module.correctCoordinates
    if getattr(original, "_tolerates_closed_paths", False):
        return

    def correct_coordinates(node, defs, item, options):
        for path in node.getElementsByTagName("path"):
            d = path.getAttribute("d")
            if "Z" in d or "z" in d:
                path.setAttribute("d", " ".join(t for t in d.split() if t not in ("Z", "z")))
        return original(node, defs, item, options)

    correct_coordinates._tolerates_closed_paths = True
    module.correctCoordinates = correct_coordinates


_tolerate_closed_svg_paths()


class Exportable(Protocol):
    """Anything with a pyqtgraph item to export: a PlotPanel, the optimiser race figure."""

    def export_item(self) -> pg.GraphicsItem: ...


def export_png(panel: Exportable, path: str | Path, width: int = DEFAULT_PNG_WIDTH) -> Path:
    """PNG of the panel's plot at ``width`` pixels (height keeps the on-screen aspect ratio)."""
    exporter = ImageExporter(panel.export_item())
    exporter.parameters()["width"] = int(width)
    exporter.export(str(path))
    return Path(path)


def export_svg(panel: Exportable, path: str | Path) -> Path:
    SVGExporter(panel.export_item()).export(str(path))
    return Path(path)


def export_csv(panel: PlotPanel, path: str | Path) -> Path:
    panel.export_csv(path)
    return Path(path)


def copy_image(panel: Exportable, width: int | None = None) -> None:
    """Put a PNG-quality image of the plot on the clipboard."""
    exporter = ImageExporter(panel.export_item())
    if width:
        exporter.parameters()["width"] = int(width)
    exporter.export(copy=True)


def slug(text: str) -> str:
    """File-name friendly form of a run name: ``plain-56 · he · sgd 0.1`` → ``plain-56_he_sgd_0.1``."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_")[:80] or "run"


def export_all(folder: str | Path, panels: Sequence[PlotPanel], entries: Sequence[RunEntry],
               window: QtWidgets.QWidget | None = None, png_width: int = DEFAULT_PNG_WIDTH) -> list[Path]:
    """Write every plot (PNG, SVG, CSV), the window picture and every started run's run folder.

    Returns the paths written. Runs that never started (queued, failed while building) have no data
    and are skipped.
    """
    folder = Path(folder)
    figures = folder / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if window is not None:
        path = folder / "window.png"
        window.grab().save(str(path))
        written.append(path)
    for panel in panels:
        written.append(export_png(panel, figures / f"{panel.key}.png", png_width))
        written.append(export_svg(panel, figures / f"{panel.key}.svg"))
        written.append(export_csv(panel, figures / f"{panel.key}.csv"))
    for i, entry in enumerate(entries, start=1):
        if entry.store.started is None:
            continue
        run_dir = write_run_folder(entry.store, folder / "runs" / f"{i:02d}-{slug(entry.name)}")
        written.extend(sorted(p for p in Path(run_dir).iterdir() if p.is_file()))
    return written
