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


def test_a_png_after_the_range_changed_draws_the_new_tick_labels(qtbot) -> None:
    """The axes are pixmap-cached on screen; an export must not paint a cache of an earlier range."""
    import numpy as np
    import pyqtgraph as pg

    from resnet_viz.gui.plots.base import PlotPanel, style_plot

    class Line(PlotPanel):
        def __init__(self, top: float) -> None:
            super().__init__()
            self.plot = self.graphics.addPlot()
            style_plot(self.plot, title="t", x_label="x", y_label="y")
            self.curve: pg.PlotDataItem = self.plot.plot([0, 1], [0, top])

    def picture(panel: Line) -> np.ndarray:
        image = figure_export.render_image(panel, 600).convertToFormat(figure_export.QtGui.QImage.Format.Format_RGB888)
        return np.array(image.constBits(), dtype=np.uint8).reshape(image.height(), image.bytesPerLine())

    changed, fresh = Line(1.0), Line(1000.0)
    for panel in (changed, fresh):
        qtbot.addWidget(panel)
        panel.resize(600, 300)
        panel.show()
    QtWidgets.QApplication.processEvents()
    before = picture(changed)  # fills the axes' caches with the range 0–1
    changed.curve.setData([0, 1], [0, 1000.0])
    QtWidgets.QApplication.processEvents()
    after = picture(changed)
    assert not np.array_equal(before, after)
    assert np.array_equal(after, picture(fresh))  # exactly what a panel drawn at 0–1000 from the start exports
