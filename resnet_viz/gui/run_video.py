"""Videos of a run's per-layer plots evolving over training: the gradient heatmap filling up, the depth profiles
of gradient norm or activation std moving ("watch gradients vanish", for a lecture slide).

Each run's records are fed, step by step, into a fresh :class:`RunStore` inside a new :class:`RunEntry`; at
``frames`` steps spread over the probed steps (every probed step when there are fewer) a fresh offscreen panel
of the plot is refreshed with those entries and rendered at a fixed size (:func:`figure_export.render_image`),
then encoded by :func:`resnet_viz.export.video.write_mp4`. The plot title says where the frame is
("step 1,200 / 6,000"). What stays still in a video:

* axes and colours: the heatmap's x axis spans the whole run and its colour levels are those of the whole run;
  the depth plots' y range covers every frame's values;
* the depth plots draw the latest probed step ("now" = mean of 1 step), not the window's mean of the last 10;
* the activation-std plot draws now, at init and the theory line; its sampled band (fresh initialisations
  measured in the background) and the average over K initialisations are not drawn in videos.

The heatmap shows one run; the depth plots overlay every run given (a plain and a ResNet side by side).
Needs a QApplication.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.config import RunConfig
from resnet_viz.export.image_limits import image_size_problem
from resnet_viz.export.replay import records_from_store, store_from_run_folder
from resnet_viz.export.run_folder import read_run_folder
from resnet_viz.export.video import VIDEO_FPS, write_mp4
from resnet_viz.gui import figure_export
from resnet_viz.gui.init_ensembles import InitEnsembleJobs
from resnet_viz.gui.plots.act_std import ActStdDepthPlot
from resnet_viz.gui.plots.base import FittedLegend, PlotPanel
from resnet_viz.gui.plots.depth import DepthProfilePlot
from resnet_viz.gui.plots.heatmap import GradHeatmapPlot
from resnet_viz.gui.plots.registry import PANEL_TYPES
from resnet_viz.gui.qt_app import dispose
from resnet_viz.gui.runs import PALETTE, RunEntry
from resnet_viz.gui.video_frames import qimage_rgb
from resnet_viz.metrics.records import LayerStats, Record, TrainChunk

#: The plots a video can show: the command line's name -> the plot key (``resnet_viz.presets.preset.PLOTS``).
VIDEO_PLOTS = {"heatmap": "grad_heatmap", "grad-depth": "grad_norm_depth", "act-depth": "act_std_depth"}
#: Frames of a video unless asked otherwise (5 s at 30 fps, plus the held last frame).
DEFAULT_FRAMES = 150
#: Frame size (width, height) in pixels unless asked otherwise: 720p, what slides show sharply.
VIDEO_SIZE = (1280, 720)
#: Smallest frame size: the axes, colour bar and legend need this much room.
MIN_VIDEO_SIZE = (320, 200)

Progress = Callable[[int, int], bool]
#: The panels a video draws.
VideoPanel = GradHeatmapPlot | DepthProfilePlot


def plot_key(plot: str) -> str:
    """The plot key of a video plot given by its command-line name ("heatmap") or its key ("grad_heatmap")."""
    if plot in VIDEO_PLOTS:
        return VIDEO_PLOTS[plot]
    if plot in VIDEO_PLOTS.values():
        return plot
    raise ValueError(f"plot: {plot!r} has no video; use one of {', '.join(VIDEO_PLOTS)}")


def entries_from_run_folders(paths: Sequence[str | Path]) -> list[RunEntry]:
    """One entry per run folder (its label, the palette's colours in order); ValueError naming a folder
    that cannot be read."""
    entries = []
    for i, path in enumerate(paths):
        try:
            folder = read_run_folder(path)
            store = store_from_run_folder(folder)
            config = RunConfig.from_dict(folder.run.get("config"))
        except FileNotFoundError as exc:
            raise ValueError(f"{path} is not a run folder: {exc.filename or exc} is missing") from None
        except Exception as exc:  # noqa: BLE001 - damaged or foreign files: one line naming the folder
            raise ValueError(f"{path}: cannot read the run folder: {type(exc).__name__}: {exc}") from None
        name = str(folder.run.get("label") or config.label())
        entries.append(
            RunEntry(i + 1, config, name, store=store, color=PALETTE[i % len(PALETTE)], status=folder.status)
        )
    return entries


def check_layer_data(entries: Sequence[RunEntry], key: str) -> None:
    """ValueError naming the first run without the plot's per-layer data (probes were off), or for no run."""
    if not entries:
        raise ValueError("runs: a video needs at least one run")
    if key == "grad_heatmap" and len(entries) > 1:
        raise ValueError(f"the gradient heatmap shows one run, not {len(entries)}; the depth plots overlay several")
    quantity = PANEL_TYPES[key].quantity  # type: ignore[attr-defined]  # every video panel draws one quantity
    for entry in entries:
        if entry.store.started is None or entry.store.layer(quantity).shape[0] == 0:
            title = PANEL_TYPES[key].title.lower()
            raise ValueError(f"{entry.name}: the run has no per-layer data (probes were off): no video of its {title}")


def frame_steps(entries: Sequence[RunEntry], frames: int = DEFAULT_FRAMES) -> np.ndarray:
    """int64 steps of the frames: every probed step of the runs when there are at most ``frames``, else
    ``frames`` of them spread evenly (the first and the last included; one frame: the last)."""
    if frames < 1:
        raise ValueError(f"frames: {frames} is not allowed; use at least 1")
    steps = np.unique(np.concatenate([np.asarray(e.store.layer_step, np.int64) for e in entries]))
    if steps.size <= frames:
        return steps
    if frames == 1:
        return steps[-1:]  # the run as it ended
    return np.unique(steps[np.round(np.linspace(0, steps.size - 1, frames)).astype(np.int64)])


def split_chunk(chunk: TrainChunk, last_step: int) -> tuple[TrainChunk | None, TrainChunk | None]:
    """``chunk`` as (its steps ≤ ``last_step``, the rest); None for an empty part."""
    n = int(np.searchsorted(chunk.step, last_step, side="right"))
    if n == len(chunk):
        return chunk, None
    if n == 0:
        return None, chunk
    head, tail = _part(chunk, slice(0, n), last_step, True), _part(chunk, slice(n, None), last_step, False)
    return head, tail


def _part(chunk: TrainChunk, steps: slice, last_step: int, head: bool) -> TrainChunk:
    layers = layer_step = None
    if chunk.layers is not None and chunk.layer_step is not None:
        k = int(np.searchsorted(chunk.layer_step, last_step, side="right"))
        rows = slice(0, k) if head else slice(k, None)
        if chunk.layer_step[rows].size:
            layer_step = chunk.layer_step[rows]
            layers = LayerStats(**{f.name: getattr(chunk.layers, f.name)[rows] for f in dataclasses.fields(LayerStats)})
    scalars = {name: getattr(chunk, name)[steps] for name in ("step", "loss", "batch_error", "lr", "step_time_s")}
    return TrainChunk(**scalars, layers=layers, layer_step=layer_step)


class _Replay:
    """A run re-recorded up to a step at a time: its records fed into the fresh store of a new entry."""

    def __init__(self, source: RunEntry) -> None:
        self.entry = RunEntry(
            source.run_id, source.config, source.name, color=source.color, status=source.status, visible=True
        )
        self._records: Iterator[Record] = records_from_store(source.store)
        self._next: Record | None = next(self._records, None)
        self._later: list[Record] = []  # records of steps still ahead (the engine emits evaluations early)

    def advance(self, step: int) -> None:
        """Feed every record up to ``step`` (a chunk across it is split)."""
        store = self.entry.store
        later, self._later = self._later, []
        for record in later:
            self._feed(record, step)
        while self._next is not None:
            record = self._next
            if isinstance(record, TrainChunk):
                head, tail = split_chunk(record, step)
                if head is not None:
                    store.add(head)
                if tail is not None:
                    self._next = tail
                    break
            else:
                self._feed(record, step)
            self._next = next(self._records, None)
        self.entry.version += 1

    def _feed(self, record: Record, step: int) -> None:
        when = getattr(record, "step", None)
        if isinstance(when, int) and when > step:
            self._later.append(record)
        else:
            self.entry.store.add(record)


def make_panel(key: str, size: tuple[int, int]) -> VideoPanel:
    """A fresh panel of the plot, laid out offscreen (never on screen) with its plot area ``size`` pixels."""
    if key == "act_std_depth":
        jobs = InitEnsembleJobs()
        jobs.close(0)  # no sampled band in videos: a closed queue takes no job
        panel: PlotPanel = ActStdDepthPlot(jobs=jobs)
    else:
        panel = PANEL_TYPES[key]()
    if not isinstance(panel, (GradHeatmapPlot, DepthProfilePlot)):
        raise ValueError(f"plot: {key!r} has no video; use one of {', '.join(VIDEO_PLOTS)}")
    if isinstance(panel, DepthProfilePlot):
        panel.set_window(1)
    panel.graphics.setFixedSize(*size)
    panel.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    panel.show()
    QtGui.QGuiApplication.processEvents()
    panel.graphics.setUpdatesEnabled(False)  # frames are rendered from the scene: painting the view is wasted
    return panel


class _Frames:
    """The frames of one video: fixes the panel's axes and colours from the whole runs, then renders step by step."""

    def __init__(self, panel: VideoPanel, sources: Sequence[RunEntry], steps: np.ndarray, size: tuple[int, int]):
        self.panel, self.sources, self.steps, self.size = panel, list(sources), steps, size
        self.total = int(max(e.store.steps_done for e in sources) or steps[-1])
        self.levels: tuple[float, float] | None = None
        self.x_range: tuple[float, float] | None = None
        self._fix_axes()
        # painting sizes the axes to their tick labels (pyqtgraph): one picture first, so that frame 0 has them
        self.render(self.sources, int(steps[-1]))

    def _fix_axes(self) -> None:
        panel = self.panel
        panel.refresh(self.sources, self.sources[0])
        QtGui.QGuiApplication.processEvents()
        if isinstance(panel, GradHeatmapPlot):
            self.levels = panel.levels
            steps = self.sources[0].store.layer_step
            spacing = float(steps[-1] - steps[0]) / (steps.size - 1) if steps.size > 1 else 1.0
            self.x_range = (float(steps[0]) - spacing / 2, float(steps[-1]) + spacing / 2)
        elif isinstance(panel, DepthProfilePlot):
            values = [e.store.layer(panel.quantity)[e.store.layer_step <= self.steps[-1]].ravel() for e in self.sources]
            values += [s.y for e in self.sources for s in panel.extra_series(e, e.color)]
            flat = np.concatenate([np.asarray(v, np.float64) for v in values])
            flat = flat[np.isfinite(flat) & (flat > 0)]
            if flat.size:
                panel.plot.setYRange(np.log10(flat.min()), np.log10(flat.max()), padding=0.05)
            n_layers = max(len(e.store.started.layers.names) for e in self.sources if e.store.started is not None)
            panel.plot.setXRange(1, n_layers, padding=0.03)
            if isinstance(panel.legend, FittedLegend):
                panel.legend.move_to_clearest_corner()

    def caption(self, step: int, entry: RunEntry) -> str:
        where = f"step {step:,} / {self.total:,}"
        if isinstance(self.panel, GradHeatmapPlot):
            return f"{entry.name} — {where}"
        return f"{self.panel.title} — {where}"

    def __iter__(self) -> Iterator[np.ndarray]:
        replays = [_Replay(e) for e in self.sources]
        entries = [r.entry for r in replays]
        for step in self.steps:
            for replay in replays:
                replay.advance(int(step))
            yield self.render(entries, int(step))

    def render(self, entries: list[RunEntry], step: int) -> np.ndarray:
        panel = self.panel
        panel.refresh(entries, entries[0])
        if isinstance(panel, GradHeatmapPlot):
            if self.levels is not None:
                panel.colorbar.setLevels(self.levels)
            if self.x_range is not None:
                panel.plot.getViewBox().setLimits(xMin=None, xMax=None)
                panel.plot.setXRange(*self.x_range, padding=0)
        panel.plot.setTitle(self.caption(step, entries[0]), size="11pt")
        # the panels paint text from a pixmap cache renewed on screen paints, which an offscreen panel never gets
        panel.plot.titleLabel.item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.NoCache)
        QtGui.QGuiApplication.processEvents()
        return _fit(qimage_rgb(figure_export.render_image(panel, self.size[0])), self.size)


def _fit(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``rgb`` cropped or padded (white) to exactly ``size`` (width, height): rounding may differ by a pixel."""
    width, height = size
    if rgb.shape[:2] == (height, width):
        return rgb
    out = np.full((height, width, 3), 255, np.uint8)
    h, w = min(height, rgb.shape[0]), min(width, rgb.shape[1])
    out[:h, :w] = rgb[:h, :w]
    return out


def write_run_video(
    plot: str,
    runs: Sequence[RunEntry],
    path: str | Path,
    *,
    frames: int = DEFAULT_FRAMES,
    size: tuple[int, int] = VIDEO_SIZE,
    fps: float = VIDEO_FPS,
    progress: Progress | None = None,
) -> Path:
    """Write the MP4 of ``plot`` (a :data:`VIDEO_PLOTS` name or key) evolving over the ``runs`` (their
    recorded stores; the heatmap takes one run) at ``path``: at most ``frames`` frames of ``size`` pixels.

    Raises ValueError (one line) for an unknown plot, a bad size, no run or a run without per-layer data;
    ``VideoCancelled`` when ``progress(done, total)`` returns False; ``VideoUnavailable`` without PyAV;
    ``WriteError`` when the file cannot be written (nothing is left at ``path`` on any failure).
    """
    key = plot_key(plot)
    if size[0] < MIN_VIDEO_SIZE[0] or size[1] < MIN_VIDEO_SIZE[1]:
        raise ValueError(
            f"size: {size[0]}x{size[1]} is too small; use at least {MIN_VIDEO_SIZE[0]}x{MIN_VIDEO_SIZE[1]}"
        )
    problem = image_size_problem(*size)
    if problem is not None:
        raise ValueError(f"size: {size[0]}x{size[1]}: {problem}")
    check_layer_data(runs, key)
    steps = frame_steps(runs, frames)
    panel = make_panel(key, size)
    try:
        video = _Frames(panel, runs, steps, size)
        return write_mp4(iter(video), path, fps=fps, total=int(steps.size), progress=progress)
    finally:
        panel.shutdown(0)
        dispose(panel)
