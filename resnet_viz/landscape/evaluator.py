"""A network's loss and error at many parameter vectors on one fixed sample: the cost of a landscape.

Two ways, measured against each other in ``bench/landscape_speed.py``:

- ``loop``: one model; each point's parameters are copied into it in place, then the sample goes through
  in batches of :data:`~resnet_viz.train.evaluation.EVAL_BATCH_SIZE` (channels-last on the CPU).
- ``vmap``: ``torch.func.functional_call`` vectorised over stacked parameters of several points at once.

Both compute as the engine's evaluation does (``resnet_viz.train.evaluation.evaluate_model``): eval mode
(BN running statistics used, never updated), cross-entropy of float32 logits summed in float64 over the
sample and divided by its size; error = the fraction of argmax predictions that miss the label.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.landscape.sample import TrainingSample
from resnet_viz.train.evaluation import EVAL_BATCH_SIZE

#: Ways to evaluate many points (see the module doc).
METHODS = ("loop", "vmap")
#: Points per call of the ``vmap`` evaluator (stacked parameters: memory grows with it).
VMAP_POINTS = 4

#: Parameters by name -> (mean loss, error fraction) for each point, in order.
PointsEvaluator = Callable[[Sequence[Mapping[str, torch.Tensor]]], list[tuple[float, float]]]


class NetworkEvaluator:
    """Evaluates ``model`` (its parameters replaced per point; buffers as they are) on ``sample``.

    ``points_per_call``: how many points one call is best given (the grid batches by it; the caller's
    cancel check runs between calls). The model is put in eval mode and on the sample's device.
    """

    def __init__(
        self,
        model: nn.Module,
        sample: TrainingSample,
        *,
        method: str = "loop",
        batch_size: int = EVAL_BATCH_SIZE,
        channels_last: bool | None = None,
        autocast: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        device = sample.x.device
        if channels_last is None:
            channels_last = device.type == "cpu" and sample.x.dim() == 4
        self.method = method
        self.autocast = autocast
        self.batch_size = int(batch_size)
        self.model = model.to(device).eval()
        x = sample.x
        if channels_last and method == "loop":
            self.model = self.model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        self.batches = [(x[i : i + batch_size], sample.y[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        self.n = int(sample.y.shape[0])
        self.params = dict(self.model.named_parameters())
        self.buffers = dict(self.model.named_buffers())
        self.points_per_call = VMAP_POINTS if method == "vmap" else 1

    def __call__(self, points: Sequence[Mapping[str, torch.Tensor]]) -> list[tuple[float, float]]:
        if self.method == "vmap":
            return self._vmap(points)
        return [self._one(point) for point in points]

    def _one(self, point: Mapping[str, torch.Tensor]) -> tuple[float, float]:
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(point[name])
            loss = torch.zeros((), dtype=torch.float64, device=p.device)
            err = torch.zeros((), dtype=torch.float64, device=p.device)
            for x, y in self.batches:
                with self.autocast():
                    logits = self.model(x)
                loss += F.cross_entropy(logits.float(), y, reduction="sum").double()
                err += (logits.argmax(1) != y).sum().double()
        return float(loss) / self.n, float(err) / self.n

    def _vmap(self, points: Sequence[Mapping[str, torch.Tensor]]) -> list[tuple[float, float]]:
        stacked = {name: torch.stack([pt[name] for pt in points]) for name in self.params}
        model, buffers = self.model, self.buffers

        def forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = torch.func.functional_call(model, (params, buffers), (x,))
            return out

        count = len(points)
        loss = torch.zeros(count, dtype=torch.float64)
        err = torch.zeros(count, dtype=torch.float64)
        with torch.no_grad():
            for x, y in self.batches:
                with self.autocast():
                    logits = torch.func.vmap(forward, in_dims=(0, None))(stacked, x).float()  # [P, B, K]
                ce = F.cross_entropy(logits.flatten(0, 1), y.repeat(count), reduction="none").view(count, -1)
                loss += ce.double().sum(1).cpu()
                err += (logits.argmax(2) != y).double().sum(1).cpu()
        return [(float(a) / self.n, float(b) / self.n) for a, b in zip(loss, err)]
