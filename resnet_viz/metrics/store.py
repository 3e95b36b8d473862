"""RunStore: every record of one run, accumulated into numpy arrays (full resolution, no decimation).

It is the single place where a run's metrics live on the host: the run-folder writer and the GUI
read from it, so a run that stops, diverges or fails keeps everything recorded up to that point.
Arrays grow by doubling, so appending K steps costs amortised O(K).
Evaluations may include step 0 (a run started from a checkpoint is evaluated before its first step);
per-step series start at step 1.
"""

from __future__ import annotations

import numpy as np

from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    HistogramRecord,
    ModelWeights,
    ParameterSnapshot,
    Record,
    RunFinished,
    RunStarted,
    SharpnessRecord,
    TrainChunk,
)

#: Columns of metrics.csv, in order.
METRIC_COLUMNS = (
    "step",
    "loss",
    "batch_error",
    "lr",
    "step_time_s",
    "train_error",
    "test_error",
    "train_loss",
    "test_loss",
)


class GrowingArray:
    """An append-only numpy array over axis 0 with amortised O(1) appends."""

    def __init__(self, tail_shape: tuple[int, ...] = (), dtype: type = np.float64) -> None:
        self._data: np.ndarray = np.empty((64, *tail_shape), dtype=dtype)
        self._n = 0

    def extend(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=self._data.dtype)
        need = self._n + values.shape[0]
        if need > self._data.shape[0]:
            grown = np.empty((max(need, 2 * self._data.shape[0]), *self._data.shape[1:]), dtype=self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = values
        self._n = need

    @property
    def values(self) -> np.ndarray:
        """A view of the filled part (valid until the next ``extend``)."""
        return self._data[: self._n]

    def __len__(self) -> int:
        return self._n


class RunStore:
    """Accumulates the records of one run. Feed it with :meth:`add`."""

    def __init__(self) -> None:
        self.started: RunStarted | None = None
        self.finished: RunFinished | None = None
        self.evals: list[EvalRecord] = []
        self.histograms: list[HistogramRecord] = []
        self.weights: ModelWeights | None = None  # the latest weights, when the run ended well
        self.snapshots: list[ParameterSnapshot] = []  # in the order received (increasing steps)
        self.sharpness: list[SharpnessRecord] = []
        self._scalars = {
            name: GrowingArray(dtype=np.int64 if name == "step" else np.float64)
            for name in ("step", "loss", "batch_error", "lr", "step_time_s")
        }
        self._layer_step = GrowingArray(dtype=np.int64)
        self._layers: dict[str, GrowingArray] = {}

    def add(self, record: Record) -> None:
        if isinstance(record, TrainChunk):
            for name, arr in self._scalars.items():
                arr.extend(getattr(record, name))
            if record.layers is not None and record.layer_step is not None:  # both or neither: probes on or off
                if not self._layers:
                    n_layers = record.layers.grad_norm.shape[1]
                    self._layers = {q: GrowingArray((n_layers,), np.float32) for q in LAYER_QUANTITIES}
                for q in LAYER_QUANTITIES:
                    self._layers[q].extend(getattr(record.layers, q))
                self._layer_step.extend(record.layer_step)
        elif isinstance(record, EvalRecord):
            self.evals.append(record)
        elif isinstance(record, HistogramRecord):
            self.histograms.append(record)
        elif isinstance(record, ParameterSnapshot):
            self.snapshots.append(record)
        elif isinstance(record, SharpnessRecord):
            self.sharpness.append(record)
        elif isinstance(record, ModelWeights):
            self.weights = record
        elif isinstance(record, RunStarted):
            self.started = record
        elif isinstance(record, RunFinished):
            self.finished = record

    # --- views -----------------------------------------------------------------------------
    @property
    def steps_done(self) -> int:
        return len(self._scalars["step"])

    def sharpness_arrays(self) -> dict[str, np.ndarray]:
        """The sharpness probe's records as arrays [S]: step (int64), top_eigenvalue, trace (float64; NaN
        when off), iterations, samples (int64)."""
        recs = self.sharpness
        return {
            "step": np.array([r.step for r in recs], dtype=np.int64),
            "top_eigenvalue": np.array([r.top_eigenvalue for r in recs], dtype=np.float64),
            "trace": np.array([r.trace for r in recs], dtype=np.float64),
            "iterations": np.array([r.iterations for r in recs], dtype=np.int64),
            "samples": np.array([r.samples for r in recs], dtype=np.int64),
        }

    def scalar(self, name: str) -> np.ndarray:
        """Per-step series [N]: step, loss, batch_error, lr, step_time_s."""
        return self._scalars[name].values

    @property
    def layer_step(self) -> np.ndarray:
        """Steps [K] of the rows of :meth:`layer`."""
        return self._layer_step.values

    def layer(self, quantity: str) -> np.ndarray:
        """Per-layer series [K, L] of one of ``LAYER_QUANTITIES`` (empty [0, L] when probes were off)."""
        if quantity not in LAYER_QUANTITIES:
            raise KeyError(f"unknown layer quantity {quantity!r}; known: {', '.join(LAYER_QUANTITIES)}")
        if not self._layers:
            n = len(self.started.layers.names) if self.started else 0
            return np.empty((0, n), dtype=np.float32)
        return self._layers[quantity].values

    def layer_arrays(self) -> dict[str, np.ndarray]:
        """The contents of layers.npz (see :func:`resnet_viz.export.run_folder.write_layers_npz`)."""
        s = self.started
        if s is None:
            raise ValueError("the run has not started: no layers recorded")
        out: dict[str, np.ndarray] = {
            "layer_names": np.array(s.layers.names),
            "layer_kinds": np.array(s.layers.kinds),
            "layer_roles": np.array(s.layers.roles),
            "layer_stages": s.layers.stages,
            "layer_blocks": s.layers.blocks,
            "layer_fan_in": s.layers.fan_in,
            "layer_params": s.layers.params,
            "step": self.layer_step.copy(),
        }
        for q in LAYER_QUANTITIES:
            out[q] = self.layer(q).copy()
        out.update(
            act_mean_init=s.act_mean_init,
            act_std_init=s.act_std_init,
            out_grad_norm_init=s.out_grad_norm_init,
            grad_norm_init=s.grad_norm_init,
            theory_act_std_init=s.theory_act_std_init,
        )
        return out
