"""Vector PDF export: a page of the plot's on-screen size whose content streams draw the curves, axes and grid
as path operators and the text in an embedded font, with no picture of them (items cached as pixmaps on screen
are painted directly for the PDF)."""

from __future__ import annotations

import re
import zlib

import pytest
from PySide6 import QtWidgets
from test_gui_bands import synthetic_entry
from test_gui_landscape import hand_result

from resnet_viz.export.written import WriteError
from resnet_viz.gui import figure_export
from resnet_viz.gui.landscape.figure import LandscapeFigure
from resnet_viz.gui.plots.base import PIXMAP_CACHE
from resnet_viz.gui.plots.curves import ErrorPlot
from resnet_viz.gui.qt_app import dispose


def content_streams(data: bytes) -> list[bytes]:
    """Every FlateDecode stream of the PDF, decompressed (others as they are)."""
    out = []
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
    return out


@pytest.fixture
def error_plot(qtbot) -> ErrorPlot:
    panel = ErrorPlot()
    qtbot.addWidget(panel)
    panel.resize(600, 400)
    panel.show()
    panel.refresh([synthetic_entry(1, 0), synthetic_entry(2, 1)], None)
    QtWidgets.QApplication.processEvents()
    return panel


def test_pdf_of_a_curve_plot_is_one_vector_page_of_its_on_screen_size(error_plot, tmp_path) -> None:
    item = error_plot.export_item()
    cached = [i for i in figure_export.Exporter(item).getPaintItems() if i.cacheMode() == PIXMAP_CACHE]
    assert cached  # the axes are cached on screen: the PDF must not take their pixmaps
    path = figure_export.export_pdf(error_plot, tmp_path / "error.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") == 1
    box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", data)
    assert box is not None
    size = item.mapRectToDevice(item.boundingRect()).size()
    assert float(box[1]) == pytest.approx(size.width() * 0.75, abs=0.5)  # 1 px = 0.75 pt (96 per inch)
    assert float(box[2]) == pytest.approx(size.height() * 0.75, abs=0.5)
    assert b"/Subtype /Image" not in data  # no picture: curves, axes, grid and legend are all vector
    drawing = b"\n".join(content_streams(data))
    lines = len(re.findall(rb"[\d.]+ [\d.]+ l\n", drawing))
    assert lines > 400  # two runs × 200 training points + test curves, axes, grid
    assert re.search(rb"\nS\n", drawing) and re.search(rb"\nm\n|[\d.]+ [\d.]+ m\n", drawing)
    assert b"/FontFile2" in data and (b"Tj" in drawing or b"TJ" in drawing)  # text as text, in an embedded font
    assert all(i.cacheMode() == PIXMAP_CACHE for i in cached)  # the screen's caches are back


def test_pdf_that_cannot_be_written_names_the_path_and_why(error_plot, tmp_path) -> None:
    with pytest.raises(WriteError, match="it is a folder"):
        figure_export.export_pdf(error_plot, tmp_path)
    with pytest.raises(WriteError, match="does not exist"):
        figure_export.export_pdf(error_plot, tmp_path / "missing" / "x.pdf")
    assert list(tmp_path.iterdir()) == []


def test_pdf_of_a_landscape_keeps_the_heatmap_as_a_lossless_image_under_vector_contours(qapp, tmp_path) -> None:
    fig = LandscapeFigure()
    fig.resize(400, 360)
    fig.set_results([hand_result(n=9)])
    fig.show()
    qapp.processEvents()
    try:
        data = figure_export.export_pdf(fig, tmp_path / "landscape.pdf").read_bytes()
    finally:
        dispose(fig)
    assert data.count(b"/Subtype /Image") == 2  # the loss heatmap and the colour bar: pictures by nature
    assert b"/DCTDecode" not in data  # not JPEG (Qt's default for PDF images)
    drawing = b"\n".join(content_streams(data))
    assert len(re.findall(rb"[\d.]+ [\d.]+ l\n", drawing)) > 100  # contour lines, path, axes as paths
