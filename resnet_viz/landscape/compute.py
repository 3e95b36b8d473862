"""Computing a landscape: the directions of the spec, the grid of weights around the final ones, their loss.

:func:`evaluate_grid` is the grid itself, for any evaluator of points (the tests give it a quadratic with
a known Hessian); :func:`compute_landscape` builds the network, its training sample and its directions
from a :class:`LandscapeSource` and runs the grid on them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from resnet_viz.landscape.directions import random_directions
from resnet_viz.landscape.errors import LandscapeCancelled, LandscapeError
from resnet_viz.landscape.evaluator import NetworkEvaluator, PointsEvaluator
from resnet_viz.landscape.result import LandscapeResult
from resnet_viz.landscape.sample import training_sample
from resnet_viz.landscape.source import LandscapeSource
from resnet_viz.landscape.spec import LandscapeSpec, path_span
from resnet_viz.landscape.trajectory import PcaPath, pca_path
from resnet_viz.models import build_model
from resnet_viz.models.checkpoint import CheckpointError, checkpoint_state
from resnet_viz.train.device import device_label, resolve_device
from resnet_viz.train.precision import Precision

Params = dict[str, torch.Tensor]
ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]

#: How points are evaluated (bench/landscape_speed.py): on this 2-core CPU the channels-last loop took
#: 1.3-1.8 CPU-s per point of ResNet-20 on 1,000 images, vmap over 4 stacked points 4.4 (its convolutions
#: become grouped ones, without the channels-last kernels). Not measured on an accelerator: the loop there too.
DEFAULT_METHOD = "loop"


def evaluate_grid(
    evaluate: PointsEvaluator,
    center: Mapping[str, torch.Tensor],
    d1: Mapping[str, torch.Tensor],
    d2: Mapping[str, torch.Tensor] | None,
    alphas: np.ndarray,
    betas: np.ndarray | None,
    *,
    points_per_call: int = 1,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss and error at ``center + α·d1 + β·d2`` for every α of ``alphas`` and β of ``betas``: float64
    [len(betas), len(alphas)] (row i: β = betas[i]); with ``betas`` None (and ``d2`` None) the line
    ``center + α·d1``: float64 [len(alphas)]. ``evaluate`` gets up to ``points_per_call`` parameter dicts
    at a time; ``cancelled()`` is asked before each call (:class:`LandscapeCancelled`), ``progress(done,
    total)`` told after each."""
    coords = [(i, j, float(a), float(b)) for i, b in enumerate(betas if betas is not None else [0.0])
              for j, a in enumerate(alphas)]  # fmt: skip
    shape = (len(alphas),) if betas is None else (len(betas), len(alphas))
    loss = np.full(shape, np.nan)
    error = np.full(shape, np.nan)
    total = len(coords)
    for start in range(0, total, max(1, points_per_call)):
        if cancelled is not None and cancelled():
            raise LandscapeCancelled("cancelled")
        chunk = coords[start : start + max(1, points_per_call)]
        points = [_point(center, d1, d2, a, b) for _, _, a, b in chunk]
        for (i, j, _, _), (value, err) in zip(chunk, evaluate(points), strict=True):
            where = (j,) if betas is None else (i, j)
            loss[where], error[where] = value, err
        if progress is not None:
            progress(start + len(chunk), total)
    return loss, error


def _point(
    center: Mapping[str, torch.Tensor], d1: Mapping[str, torch.Tensor], d2: Mapping[str, torch.Tensor] | None,
    a: float, b: float,
) -> Params:  # fmt: skip
    out = {}
    for name, c in center.items():
        p = c + a * d1[name]
        out[name] = p if d2 is None else p + b * d2[name]
    return out


@dataclass(frozen=True)
class _Plan:
    """The slice to evaluate: origin, directions, axes, and the path for pca."""

    center: Params
    d1: Params
    d2: Params | None
    alphas: np.ndarray
    betas: np.ndarray | None
    path: PcaPath | None = None


def _axis(span: tuple[float, float], n: int) -> np.ndarray:
    return np.linspace(span[0], span[1], n, dtype=np.float64)


def check_source(source: LandscapeSource, spec: LandscapeSpec) -> None:
    """:class:`LandscapeError` when ``spec``'s directions need more snapshots than ``source`` has."""
    least = {"pca": 3, "interpolate": 1}.get(spec.directions, 0)
    have = len(source.snapshots)
    if have >= least:
        return
    what = "the PCA of the training path" if spec.directions == "pca" else "the line from the initial weights"
    why = "a checkpoint file holds none" if not source.is_run_folder else f"{source.path} holds {have}"
    raise LandscapeError(
        f"{what} needs the run's parameter snapshots (at least {least}): {why}; train the run with "
        f"train.snapshots ≥ {least}, or slice along random directions"
    )


def _snapshot_params(source: LandscapeSource, index: int, final: Params) -> Params:
    snap = source.snapshots[index]
    missing = [k for k in final if k not in snap.params or tuple(snap.params[k].shape) != tuple(final[k].shape)]
    if missing:
        raise LandscapeError(f"the snapshot of step {snap.step} does not fit the network: {missing[0]} differs")
    return {k: torch.from_numpy(np.asarray(snap.params[k], np.float32)).to(final[k].device) for k in final}


def _plan(source: LandscapeSource, spec: LandscapeSpec, final: Params) -> _Plan:
    span = spec.resolved_range()
    if spec.directions == "random":
        d1, d2 = random_directions(final, spec.seed, spec.include_biasbn)
        assert span is not None
        return _Plan(final, d1, d2, _axis(span, spec.grid), _axis(span, spec.grid))
    if spec.directions == "interpolate":
        init = _snapshot_params(source, 0, final)
        assert span is not None
        return _Plan(init, {k: final[k] - init[k] for k in final}, None, _axis(span, spec.grid), None)
    for i in range(len(source.snapshots)):
        _snapshot_params(source, i, final)  # each fits, or one line saying which does not
    final_np = {k: v.detach().cpu().numpy() for k, v in final.items()}
    path = pca_path([s.params for s in source.snapshots], final_np, [s.step for s in source.snapshots])
    d1, d2 = ({k: torch.from_numpy(v).to(final[k].device) for k, v in pc.items()} for pc in (path.pc1, path.pc2))
    x_span = span or path_span(path.path_alpha.tolist())
    y_span = span or path_span(path.path_beta.tolist())
    return _Plan(final, d1, d2, _axis(x_span, spec.grid), _axis(y_span, spec.grid), path)


def _network(source: LandscapeSource, input_shape: tuple[int, int, int], classes: int) -> torch.nn.Module:
    """The source's network with its final weights (eval mode, CPU)."""
    c, h, _ = input_shape
    model = build_model(source.config.model, c, h, classes)
    try:
        ckpt = dataclasses.replace(source.checkpoint, state=source.state)
        state = checkpoint_state(ckpt, model, source.config.model)
    except CheckpointError as exc:
        raise LandscapeError(str(exc)) from None
    model.load_state_dict(state, strict=True)
    return model.eval()


def compute_landscape(
    source: LandscapeSource,
    spec: LandscapeSpec,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    device: str = "cpu",
    method: str | None = None,
) -> LandscapeResult:
    """The landscape ``spec`` asks for around ``source``'s final weights (see the package doc).

    ``device``: cpu, cuda, cuda:N, mps or auto (``ConfigError`` naming ``train.device`` when not here);
    ``method``: loop or vmap (default: the measured faster one for the device). Raises
    :class:`LandscapeError` (one line) for a source that cannot give what the spec needs, ``DataError``
    for missing data, :class:`LandscapeCancelled` when ``cancelled()`` answers True between points."""
    t0 = time.perf_counter()
    dev = resolve_device(device)
    check_source(source, spec)  # before the data is loaded: a refusal comes at once
    sample = training_sample(source.config, spec.samples, dev)
    model = _network(source, sample.input_shape, sample.num_classes).to(dev)
    final = {name: p.detach().clone() for name, p in model.named_parameters()}
    plan = _plan(source, spec, final)
    chosen = method or DEFAULT_METHOD
    precision = spec.precision or source.config.train.precision
    evaluator = NetworkEvaluator(model, sample, method=chosen, autocast=Precision(precision, dev).autocast)
    loss, error = evaluate_grid(
        evaluator, plan.center, plan.d1, plan.d2, plan.alphas, plan.betas,
        points_per_call=evaluator.points_per_call, progress=progress, cancelled=cancelled,
    )  # fmt: skip
    path = plan.path
    return LandscapeResult(
        spec=spec,
        label=source.label,
        source=str(source.path),
        alpha=plan.alphas,
        beta=plan.betas,
        loss=loss,
        error=error,
        path_alpha=None if path is None else path.path_alpha,
        path_beta=None if path is None else path.path_beta,
        path_steps=None if path is None else path.steps,
        explained_variance=None if path is None else path.explained_variance,
        elapsed_s=time.perf_counter() - t0,
        device=device_label(dev),
        samples_used=int(sample.y.shape[0]),
        method=chosen,
        step=source.step,
        precision=precision,
    )
