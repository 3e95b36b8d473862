"""Figure export through pyqtgraph's exporters (PNG at a chosen width, SVG, CSV, clipboard), vector PDF
through Qt's PDF writer, and "export all": one folder with every plot and every run's run folder.

Layout of an "export all" folder::

    <folder>/window.png                  the whole window as shown
    <folder>/figures/<plot>.png, .svg, .pdf    every plot (PNG at the chosen width; SVG and PDF vector)
    <folder>/figures/<plot>.csv          the data of every plot
    <folder>/runs/<NN>-<run name>/       run.json, metrics.csv, layers.npz, summary.json (engine format)

Success is claimed only for files that exist afterwards: every file is written to a temporary file
beside it and moved into place once checked (``resnet_viz.export.written``); a failure raises
``WriteError`` naming the path and why (permission, disk full, ...); a picture over the size limits
of ``resnet_viz.export.image_limits`` raises ``ImageSizeError`` before anything is drawn.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import pyqtgraph as pg
from pyqtgraph.exporters import Exporter, ImageExporter, SVGExporter
from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.export.image_limits import ImageSizeError, image_size_problem
from resnet_viz.export.names import slug
from resnet_viz.export.replay import write_run_folder
from resnet_viz.export.written import WriteError, check_written, reason, write_atomically
from resnet_viz.gui.plots.base import PlotPanel
from resnet_viz.gui.runs import RunEntry

DEFAULT_PNG_WIDTH = 1600  # px: sharp on slides, readable in papers at column width
PDF_DPI = 96  # logical pixels per inch of a PDF page: one on-screen pixel is 0.75 pt, as in the SVG (CSS px)


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

    correct_coordinates._tolerates_closed_paths = True  # type: ignore[attr-defined]  # marks the patch
    module.correctCoordinates = correct_coordinates  # type: ignore[attr-defined]  # pyqtgraph is untyped


_tolerate_closed_svg_paths()


class Exportable(Protocol):
    """Anything with a pyqtgraph item to export: a PlotPanel, the optimiser race figure."""

    def export_item(self) -> pg.GraphicsItem: ...


def render_image(panel: Exportable, width: int | None = None) -> QtGui.QImage:
    """The panel's plot painted at ``width`` pixels (height keeps the on-screen aspect ratio); the size is
    checked against :mod:`resnet_viz.export.image_limits` before anything is allocated."""
    exporter = ImageExporter(panel.export_item())
    if width:
        exporter.parameters()["width"] = int(width)
    w, h = int(exporter.parameters()["width"]), int(exporter.parameters()["height"])
    problem = image_size_problem(w, h)
    if problem is not None:
        raise ImageSizeError(problem)
    with _uncached(exporter.getPaintItems()):  # a pixmap cache may still hold the axes of an earlier range
        image = exporter.export(toBytes=True)
    if not isinstance(image, QtGui.QImage) or image.isNull():
        raise ImageSizeError(f"Qt could not make a {w}x{h} pixel image (not enough memory?)")
    return image


def save_image(image: QtGui.QImage | QtGui.QPixmap, path: str | Path, fmt: str = "PNG") -> Path:
    """Write a QImage or QPixmap to ``path`` atomically; :class:`WriteError` unless the file is there afterwards."""
    if image.isNull():
        raise WriteError(path, "there is no picture to write (the image is empty)")
    # PySide6 accepts the format as str for both; its stubs want bytes for QImage
    return write_atomically(path, lambda tmp: image.save(str(tmp), fmt))  # type: ignore[call-overload]


def export_png(panel: Exportable, path: str | Path, width: int = DEFAULT_PNG_WIDTH) -> Path:
    """PNG of the panel's plot at ``width`` pixels (height keeps the on-screen aspect ratio).

    Raises :class:`ImageSizeError` for a size over the limits, :class:`WriteError` when the file is not
    written (nothing is left at ``path`` then, and a previous file there is kept)."""
    return save_image(render_image(panel, width), path, "PNG")


def export_svg(panel: Exportable, path: str | Path) -> Path:
    """SVG of the panel's plot; :class:`WriteError` when the file is not written."""
    data = SVGExporter(panel.export_item()).export(toBytes=True)
    return write_atomically(path, lambda tmp: tmp.write_bytes(data))


@contextmanager
def _uncached(items: Sequence[QtWidgets.QGraphicsItem]) -> Iterator[None]:
    """Paint ``items`` directly while inside: an item with a pixmap cache (axes, legend text: see
    ``resnet_viz.gui.plots.base.PIXMAP_CACHE``) would otherwise land in a PDF as a picture, and in a PNG as the
    cache holds it (an export after the view's range changed drew the earlier tick labels)."""
    modes = [(item, item.cacheMode()) for item in items]
    for item, mode in modes:
        if mode != QtWidgets.QGraphicsItem.CacheMode.NoCache:
            item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.NoCache)
    try:
        yield
    finally:
        for item, mode in modes:
            if mode != QtWidgets.QGraphicsItem.CacheMode.NoCache:
                item.setCacheMode(mode)


def _paint_pdf(item: pg.GraphicsItem, tmp: Path) -> None:
    """Paint ``item``'s scene region onto a one-page PDF of its on-screen size (:data:`PDF_DPI`)."""
    exporter = Exporter(item)
    source = exporter.getSourceRect()
    size = exporter.getTargetRect().size()
    w, h = max(size.width(), 1.0), max(size.height(), 1.0)
    writer = QtGui.QPdfWriter(str(tmp))
    writer.setCreator("resnet-viz")
    writer.setResolution(PDF_DPI)
    points = QtCore.QSizeF(w * 72 / PDF_DPI, h * 72 / PDF_DPI)
    writer.setPageSize(
        QtGui.QPageSize(points, QtGui.QPageSize.Unit.Point, "", QtGui.QPageSize.SizeMatchPolicy.ExactMatch)
    )
    writer.setPageMargins(QtCore.QMarginsF(0, 0, 0, 0))
    scene = exporter.getScene()
    background = scene.views()[0].backgroundBrush() if scene.views() else QtGui.QBrush()
    painter = QtGui.QPainter()
    if not painter.begin(writer):
        raise OSError(f"Qt could not start a PDF in {tmp}")
    try:
        target = QtCore.QRectF(0, 0, w, h)
        if background.style() != QtCore.Qt.BrushStyle.NoBrush:
            painter.fillRect(target, background)
        with _uncached(exporter.getPaintItems()):
            exporter.setExportMode(True, {"antialias": True, "background": background.color(), "painter": painter})
            try:
                painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
                painter.setRenderHint(QtGui.QPainter.RenderHint.LosslessImageRendering, True)  # heatmaps: no JPEG
                scene.render(painter, target, source)
            finally:
                exporter.setExportMode(False)
    finally:
        painter.end()


def export_pdf(panel: Exportable, path: str | Path) -> Path:
    """Vector PDF of the panel's plot: one page of the plot's on-screen size (1 px = 0.75 pt), its scene
    painted by Qt's PDF writer, so curves, axes and text stay paths and text (heatmaps stay images).
    :class:`WriteError` when the file is not written (nothing is left at ``path`` then)."""
    item = panel.export_item()
    return write_atomically(path, lambda tmp: _paint_pdf(item, tmp))


def export_csv(panel: PlotPanel, path: str | Path) -> Path:
    """The panel's data as CSV; :class:`WriteError` when the file is not written."""
    return write_atomically(path, panel.export_csv)


def copy_image(panel: Exportable, width: int | None = None) -> None:
    """Put a PNG-quality image of the plot on the clipboard (:class:`ImageSizeError` when it cannot be made)."""
    image = render_image(panel, width)
    clipboard = QtWidgets.QApplication.clipboard()
    clipboard.setImage(image)
    if clipboard.image().isNull():
        raise OSError("the clipboard did not take the image")


def export_all(
    folder: str | Path,
    panels: Sequence[PlotPanel],
    entries: Sequence[RunEntry],
    window: QtWidgets.QWidget | None = None,
    png_width: int = DEFAULT_PNG_WIDTH,
) -> list[Path]:
    """Write every plot (PNG, SVG, PDF, CSV), the window picture and every started run's run folder.

    Returns the paths written, each checked to be a non-empty file. Runs that never started (queued,
    failed while building) have no data and are skipped. Stops at the first file that cannot be
    written with a :class:`WriteError` naming it, why, and how many files were written before it.
    """
    folder = Path(folder)
    figures = folder / "figures"
    written: list[Path] = []
    target = figures
    try:
        try:
            figures.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(figures, reason(exc)) from None
        if window is not None:
            target = folder / "window.png"
            written.append(save_image(window.grab(), target))
        for panel in panels:
            for suffix, export in (
                ("png", lambda p, path: export_png(p, path, png_width)),
                ("svg", export_svg),
                ("pdf", export_pdf),
                ("csv", export_csv),
            ):
                target = figures / f"{panel.key}.{suffix}"
                try:
                    written.append(export(panel, target))
                except ValueError:  # the panel shows no data (the heatmap with every run hidden): no CSV
                    if suffix != "csv":
                        raise
        for i, entry in enumerate(entries, start=1):
            if entry.store.started is None:
                continue
            target = folder / "runs" / f"{i:02d}-{slug(entry.name)}"
            try:
                run_dir = Path(write_run_folder(entry.store, target))
            except OSError as exc:
                raise WriteError(target, reason(exc)) from None
            files = sorted(p for p in run_dir.iterdir() if p.is_file())
            for name in ("run.json", "metrics.csv"):
                check_written(run_dir / name)
            written.extend(check_written(p) for p in files)
    except (WriteError, ImageSizeError) as exc:
        why = exc.why if isinstance(exc, WriteError) else str(exc)
        where = exc.path if isinstance(exc, WriteError) else target
        raise WriteError(where, f"{why} ({len(written)} files written before it)") from None
    return written
