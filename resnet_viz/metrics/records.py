"""Typed records the training engine emits, in this order per run:

``RunStarted`` once, then ``TrainChunk`` (consecutive steps) and ``EvalRecord`` / ``HistogramRecord``
as they happen, then ``ModelWeights`` (only when the run ended well with finite weights), then
``RunFinished`` once. ``ParameterSnapshot`` and ``SharpnessRecord`` of step k come after the
``TrainChunk`` holding step k (those of step 0 right after ``RunStarted`` and a step-0 evaluation). An ``EvalRecord`` for step k is always emitted *before* the ``TrainChunk`` holding
step k, so a consumer can fill the evaluation columns of that step's row. A run that starts from a
checkpoint (``init.from_file``) is evaluated before its first step: ``EvalRecord(step=0)``, which no
``TrainChunk`` holds.

Steps count optimiser updates from 1; "step 0" statistics are measured on the first batch before
any update. Errors are fractions in [0, 1]; losses are mean cross-entropy in nats.
All arrays are numpy, on the host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Per-layer quantities recorded every probed step, in the order of ``LayerStats`` fields.
LAYER_QUANTITIES: tuple[str, ...] = (
    "grad_norm",  # L2 norm of dLoss/dW of the layer's weight
    "out_grad_norm",  # L2 norm over the batch of dLoss/d(layer output): the backward signal
    "act_mean",  # mean of the layer's output (pre-BN) over batch and all positions
    "act_std",  # std of the layer's output (pre-BN) over batch, channels and positions
    "response_std",  # std of the layer's response: after its BN if it has one, else its output (He et al. Fig. 7)
    "update_ratio",  # ||W_after - W_before|| / ||W_before|| for this step's optimiser update
    "dead_fraction",  # fraction of the units of the ReLU after the layer that never fired on the batch (NaN: none)
)

#: Kinds of :class:`HistogramRecord`, in the order the engine emits them at a step (run folders store a
#: kind's index into the list of kinds they were written with).
HISTOGRAM_KINDS: tuple[str, ...] = ("activation", "gradient", "weight")


@dataclass(frozen=True)
class LayerInfoRecord:
    """Static description of the observed weight layers, in forward order. Arrays have shape [L]."""

    names: list[str]
    kinds: list[str]  # "conv" | "linear"
    roles: list[str]  # "stem" | "branch" | "shortcut" | "gate" | "head" | "hidden" | "input"
    stages: np.ndarray  # int64 [L]
    blocks: np.ndarray  # int64 [L], -1 outside residual/plain blocks
    fan_in: np.ndarray  # int64 [L]
    params: np.ndarray  # int64 [L]


@dataclass(frozen=True)
class RunStarted:
    """The run is built and about to take its first step."""

    label: str  # e.g. "resnet-56 · he · sgd 0.1"
    config: dict[str, Any]  # RunConfig.to_dict() of the resolved config
    resolved: dict[str, Any]  # derived values: total_steps, optimizer hyperparameters, data sizes, ...
    device: str  # e.g. "cpu", "cuda: NVIDIA H100 80GB HBM3"
    versions: dict[str, str]
    layers: LayerInfoRecord
    params: int  # all trainable parameters
    total_steps: int
    act_mean_init: np.ndarray  # float64 [L], step 0
    act_std_init: np.ndarray  # float64 [L], step 0
    out_grad_norm_init: np.ndarray  # float64 [L], step 0
    grad_norm_init: np.ndarray  # float64 [L], step 0
    theory_act_std_init: np.ndarray  # float64 [L], science.md §4 prediction relative to layer 0 (NaN: not predictable)


@dataclass(frozen=True)
class LayerStats:
    """Per-layer statistics of consecutive probed steps; every array float32 [K, L]."""

    grad_norm: np.ndarray
    out_grad_norm: np.ndarray
    act_mean: np.ndarray
    act_std: np.ndarray
    response_std: np.ndarray
    update_ratio: np.ndarray
    dead_fraction: np.ndarray  # in [0, 1]; NaN for layers followed by no ReLU / LeakyReLU


@dataclass(frozen=True)
class TrainChunk:
    """K consecutive training steps. Per-step arrays have shape [K]."""

    step: np.ndarray  # int64, 1-based
    loss: np.ndarray  # float64, training mini-batch loss
    batch_error: np.ndarray  # float64, training mini-batch error (train mode, augmented)
    lr: np.ndarray  # float64, learning rate used at that step
    step_time_s: np.ndarray  # float64, host wall time of the step
    layers: LayerStats | None = None  # None when probes are off
    layer_step: np.ndarray | None = None  # int64 [K'] steps of the rows in `layers` (a subset when probe_every > 1)

    def __len__(self) -> int:
        return int(self.step.shape[0])


@dataclass(frozen=True)
class EvalRecord:
    """Evaluation (eval mode, no augmentation) after step ``step``."""

    step: int
    train_error: float  # on the fixed training sample
    train_loss: float
    test_error: float
    test_loss: float
    eval_time_s: float = 0.0


@dataclass(frozen=True)
class HistogramRecord:
    """Histograms of one quantity for every layer at one step.

    A layer's edges are the float32 ``linspace(min, max, B+1)`` of its tensor (``min - 0.5, max + 0.5``
    when all values are equal), widened to float64 exactly; its counts are exactly
    ``np.histogram(values, bins=edges)`` (the last bin closed). Rows of layers without data, or whose
    tensor holds a non-finite value: edges NaN, counts 0.
    """

    step: int
    kind: str  # one of HISTOGRAM_KINDS: "activation" (layer outputs), "gradient" (weight gradients),
    # "weight" (the layer's weight after the step's optimiser update)
    edges: np.ndarray  # float64 [L, B+1]
    counts: np.ndarray  # int64 [L, B]


@dataclass(frozen=True)
class ModelWeights:
    """The network's weights after step ``step``: its ``state_dict`` on the host, ``{name: array}`` (float
    parameters and BN running statistics in the model's dtype, ``num_batches_tracked`` int64 []).

    Emitted once, just before ``RunFinished``, when the run finished or was stopped and every weight is
    finite (not for a diverged or failed run). A run folder writes it as ``checkpoint.pt``
    (``resnet_viz.models.checkpoint``); a run whose process was killed never emits it.
    """

    step: int
    state: dict[str, np.ndarray]


@dataclass(frozen=True)
class ParameterSnapshot:
    """The trainable parameters after step ``step`` (step 0: the initialisation, before any update):
    ``{name: float32 array}`` of ``model.named_parameters()`` on the host (no buffers). The engine takes
    them at ``train.snapshots`` steps spread over the run, only while every value is finite."""

    step: int
    params: dict[str, np.ndarray]

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.params.values())


@dataclass(frozen=True)
class SharpnessRecord:
    """Curvature of the training loss after step ``step``, in eval mode on a fixed batch of ``samples``
    training images: the Hessian's eigenvalue of largest magnitude by ``iterations`` power iterations
    (``resnet_viz.train.hessian``) and its trace by Hutchinson's estimator (NaN when off)."""

    step: int
    top_eigenvalue: float
    trace: float
    iterations: int
    samples: int


#: Statuses of a run that ended well: it ran to its end, or the user stopped it (its data is whole).
OK_STATUSES = ("finished", "stopped")


@dataclass(frozen=True)
class RunFinished:
    """The run ended; ``status`` is "finished", "stopped", "diverged at step k", "out of memory" or "failed"."""

    status: str
    steps: int  # steps completed (and recorded)
    final_train_error: float | None
    final_test_error: float | None
    final_train_loss: float | None
    final_test_loss: float | None
    steps_per_s: float  # training steps per second of training time (evaluation excluded)
    elapsed_s: float  # whole run, wall time
    params: int
    device: str
    message: str = ""  # human-readable detail for non-"finished" statuses
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


Record = (
    RunStarted
    | TrainChunk
    | EvalRecord
    | HistogramRecord
    | ParameterSnapshot
    | SharpnessRecord
    | ModelWeights
    | RunFinished
)
