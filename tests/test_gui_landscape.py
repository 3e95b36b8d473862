"""The Landscape tab's drawing (issue 16): figures of hand-made results, shared colour scale, CSV, GIF."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image
from PySide6 import QtGui

from resnet_viz.gui.landscape.export import write_grid_csv, write_path_gif
from resnet_viz.gui.landscape.figure import LandscapeFigure, caption_text
from resnet_viz.gui.landscape.levels import log_ticks, refine, shared_range
from resnet_viz.gui.landscape.plot2d import axis_labels, label_indices
from resnet_viz.gui.landscape.render import SIZE_1D, SIZE_2D, render_compare_files, render_landscape_files
from resnet_viz.landscape.result import LandscapeResult
from resnet_viz.landscape.spec import LandscapeSpec


def hand_result(label: str = "resnet-8", kind: str = "pca", n: int = 9, scale: float = 1.0) -> LandscapeResult:
    """A result made by hand: a bowl of loss ``scale``·(0.05 + α² + ½β²), a spiral path."""
    spec = LandscapeSpec(directions=kind, grid=n)
    if kind == "interpolate":
        a = np.linspace(-0.5, 1.5, n)
        loss, error = 0.05 + 2.0 * (1 - a) ** 2, np.clip(0.9 * (1 - a) ** 2, 0, 0.9)
        return LandscapeResult(
            spec=spec, label=label, source="x", alpha=a, beta=None, loss=loss, error=error, path_alpha=None,
            path_beta=None, path_steps=None, explained_variance=None, elapsed_s=0.5, device="cpu",
        )  # fmt: skip
    a = np.linspace(-1, 1, n)
    b = np.linspace(-1, 1, n + 2)  # not square: rows (beta) and columns (alpha) cannot be swapped unnoticed
    aa, bb = np.meshgrid(a, b)
    loss = scale * (0.05 + aa**2 + 0.5 * bb**2)
    t = np.linspace(0, 1, 12)
    pca = kind == "pca"
    return LandscapeResult(
        spec=spec, label=label, source="x", alpha=a, beta=b, loss=loss, error=loss / (1 + loss),
        path_alpha=0.8 * (1 - t) * np.cos(3 * t) if pca else None, path_beta=0.5 * (1 - t) * np.sin(3 * t) if pca else None,
        path_steps=np.round(t * 400).astype(int) if pca else None,
        explained_variance=np.array([0.612, 0.2]) if pca else None, elapsed_s=0.5, device="cpu",
    )  # fmt: skip


def test_render_writes_png_and_svg_of_the_size(qapp, tmp_path):
    written = render_landscape_files(hand_result(), tmp_path)
    assert [p.name for p in written] == ["landscape.png", "landscape.svg"]
    image = QtGui.QImage(str(tmp_path / "landscape.png"))
    assert (image.width(), image.height()) == SIZE_2D
    assert "<svg" in (tmp_path / "landscape.svg").read_text()[:2000]
    assert "PC1, 61.2 %" in (tmp_path / "landscape.svg").read_text()
    # the picture is not blank: the banded colours of the contours are many
    arr = np.array(Image.open(tmp_path / "landscape.png").convert("RGB"))
    assert len(np.unique(arr.reshape(-1, 3), axis=0)) > 15


def test_render_1d_interpolation(qapp, tmp_path):
    written = render_landscape_files(hand_result(kind="interpolate", n=21), tmp_path, stem="line")
    image = QtGui.QImage(str(written[0]))
    assert (image.width(), image.height()) == SIZE_1D
    assert "final" in written[1].read_text()


def test_compare_shares_one_colour_scale(qapp, tmp_path):
    low, high = hand_result("resnet-8", scale=1.0), hand_result("plain-8", scale=30.0)
    fig = LandscapeFigure()
    fig.set_results([low, high])
    lo, hi = shared_range([low.loss, high.loss])
    assert fig.levels == (lo, hi)
    assert [tuple(p.image.levels) for p in fig.plots2d] == [(lo, hi), (lo, hi)]
    assert fig.colorbar is not None and tuple(fig.colorbar.levels()) == pytest.approx((lo, hi))
    alone = LandscapeFigure()
    alone.set_results([low])
    assert alone.levels[1] < hi - 1.0  # alone, the low landscape spans its own (smaller) range
    assert "PCA of the training path" in caption_text([low, high])
    assert [p.plot.titleLabel.text for p in fig.plots2d] == ["resnet-8", "plain-8"]
    written = render_compare_files([low, high], tmp_path)
    assert all(p.stat().st_size > 1000 for p in written)
    with pytest.raises(ValueError, match="2D"):
        fig.set_results([low, hand_result(kind="interpolate")])


def test_grid_csv_long_format(tmp_path):
    result = hand_result(n=5)
    path = write_grid_csv(result, tmp_path / "grid.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 5 * 7
    assert list(rows[0]) == ["alpha", "beta", "loss", "error"]
    # row k = (beta j, alpha i) with k = j * nx + i; loss[j, i]
    k = 2 * 5 + 3
    assert float(rows[k]["alpha"]) == pytest.approx(result.alpha[3])
    assert float(rows[k]["beta"]) == pytest.approx(result.beta[2])
    assert float(rows[k]["loss"]) == pytest.approx(result.loss[2, 3], rel=1e-7)
    line = list(csv.DictReader(write_grid_csv(hand_result(kind="interpolate", n=4), tmp_path / "l.csv").open()))
    assert len(line) == 4 and line[0]["beta"] == ""


def test_path_gif_has_a_frame_per_snapshot(qapp, tmp_path):
    fig = LandscapeFigure()
    fig.resize(500, 420)
    fig.set_results([hand_result()])
    fig.show()
    qapp.processEvents()
    path = write_path_gif(fig, tmp_path / "path.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == 12
    assert len(fig.plots2d[0].path.getData()[0]) == 12  # the whole path is drawn again afterwards
    fig.set_results([hand_result(kind="random")])
    with pytest.raises(ValueError, match="no training path"):
        write_path_gif(fig, tmp_path / "none.gif")
    fig.close()


def test_axis_labels_and_step_labels():
    assert axis_labels(hand_result()) == ("α (PC1, 61.2 %)", "β (PC2, 20.0 %)")
    assert axis_labels(hand_result(kind="random")) == ("α (direction 1)", "β (direction 2)")
    a = np.concatenate([np.linspace(1, 0.05, 10), np.full(30, 0.0)])  # the path stalls at its end
    idx = label_indices(a, np.zeros_like(a))
    assert idx[0] == 0 and idx[-1] == len(a) - 1
    assert all(i < 10 for i in idx[:-1])  # no labels piled up where the path stands still


def test_refine_is_exact_for_a_bilinear_function_and_ticks_are_round():
    alpha, beta = np.linspace(-1, 1, 5), np.linspace(0, 2, 3)
    z = 1.0 + 2.0 * alpha[None, :] - 3.0 * beta[:, None]
    xs, ys, fine = refine(alpha, beta, z, n=41)
    assert fine.shape == (41, 41)
    np.testing.assert_allclose(fine, 1.0 + 2.0 * xs[None, :] - 3.0 * ys[:, None], atol=1e-12)
    ticks = log_ticks(np.log10(0.03), np.log10(20.0))
    assert [t for _, t in ticks] == ["0.05", "0.1", "0.2", "0.5", "1", "2", "5", "10", "20"]


def test_a_narrow_loss_range_gets_round_colour_bar_ticks():
    from resnet_viz.gui.landscape.levels import log_ticks

    ticks = log_ticks(np.log10(2.564), np.log10(2.624))
    assert [t for _, t in ticks] == ["2.58", "2.60", "2.62"]
    np.testing.assert_allclose([p for p, _ in ticks], np.log10([2.58, 2.60, 2.62]))
    assert [t for _, t in log_ticks(np.log10(2.573), np.log10(159.7))] == ["5", "10", "20", "50", "100"]
