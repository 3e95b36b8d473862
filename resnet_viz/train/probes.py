"""Per-layer statistics of a training step, gathered on the device.

:class:`LayerProbes` observes every weight layer (Conv2d / Linear, forward order) of a model with
forward hooks on the layer (and on the BatchNorm that follows it, and a pre-hook on the ReLU that
follows it for the dead units) plus ``Tensor.register_hook`` on the layer's output for the backward
signal; weight gradients and updates are read after ``backward()`` / ``optimizer.step()`` with
``torch._foreach_norm``. Nothing is copied to the host here: :meth:`LayerProbes.collect` returns one
device tensor [len(LAYER_QUANTITIES), L] per step, and the engine moves many steps to the host at
once. Histograms (:mod:`resnet_viz.train.histograms`) are binned on the device too and copied once per
histogram step.

Layers that did not run in a step (a branch dropped by stochastic depth) read NaN for that step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from resnet_viz.metrics.records import HISTOGRAM_KINDS, LAYER_QUANTITIES, HistogramRecord
from resnet_viz.train.histograms import bin_tensor, histogram_records

#: A forward hook: (module, inputs, output) -> None.
_ForwardHook = Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]


def _weight(module: nn.Module, name: str) -> torch.Tensor:
    weight = module.weight
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"layer {name!r} ({type(module).__name__}) has no weight tensor to probe")
    return weight


class LayerProbes:
    """Hooks that record, per weight layer and step, the quantities of ``LAYER_QUANTITIES``.

    Call order per training step: :meth:`begin_step`, forward, :meth:`end_forward`, backward,
    :meth:`before_update`, ``optimizer.step()``, :meth:`collect` (and :meth:`histograms` when armed for
    them). Outside a begun step (evaluation) the hooks do nothing.

    ``relu_names``: per layer, the ReLU / LeakyReLU module that follows it (``LayerInfo.relu_name``),
    whose input gives the layer's ``dead_fraction``; None (or omitted): NaN.
    """

    def __init__(
        self,
        model: nn.Module,
        layer_names: Sequence[str],
        norm_names: Sequence[str | None],
        device: torch.device,
        relu_names: Sequence[str | None] | None = None,
    ) -> None:
        modules = dict(model.named_modules())
        self.layer_names = list(layer_names)
        self.layers: list[nn.Module] = [modules[n] for n in self.layer_names]
        self.weights: list[torch.Tensor] = [_weight(m, name) for m, name in zip(self.layers, self.layer_names)]
        self.device = device
        n = len(self.layers)
        self._nan = torch.full((), float("nan"), device=device)
        self._nan2 = torch.full((2,), float("nan"), device=device)
        self._act: list[torch.Tensor] = [self._nan2] * n  # (std, mean) of the output
        self._resp: list[torch.Tensor | None] = [None] * n  # std after the layer's BN
        self._out_grad: list[torch.Tensor] = [self._nan] * n
        self._dead: list[torch.Tensor] = [self._nan] * n
        self._hist_act: list[torch.Tensor | None] = [None] * n  # bin_tensor of the output
        self._prev: list[torch.Tensor] = [torch.empty_like(w) for w in self.weights]
        self._w_norm: torch.Tensor | None = None
        self._active = False  # armed for statistics or histograms
        self._stats = False
        self._histograms = False
        self._bins = 64
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        relus = list(relu_names) if relu_names is not None else [None] * n
        for i, (module, norm, relu) in enumerate(zip(self.layers, norm_names, relus, strict=True)):
            self._handles.append(module.register_forward_hook(self._layer_hook(i)))
            if norm is not None:
                self._handles.append(modules[norm].register_forward_hook(self._norm_hook(i)))
            if relu is not None:
                self._handles.append(modules[relu].register_forward_pre_hook(self._relu_hook(i)))

    # --- hooks -----------------------------------------------------------------------------
    def _layer_hook(self, i: int) -> _ForwardHook:
        def hook(_module: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if not self._active:
                return
            y = output.detach()
            if self._histograms:
                self._hist_act[i] = bin_tensor(y, self._bins, accelerator_path(y.device))
            if not self._stats:
                return
            self._act[i] = std_mean(y)
            if output.requires_grad:
                output.register_hook(self._grad_hook(i))  # type: ignore[no-untyped-call]

        return hook

    def _norm_hook(self, i: int) -> _ForwardHook:
        def hook(_module: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if self._active and self._stats:
                self._resp[i] = std_mean(output.detach())[0]

        return hook

    def _relu_hook(self, i: int) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], None]:
        def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            if self._active and self._stats:
                self._dead[i] = dead_fraction(inputs[0])

        return hook

    def _grad_hook(self, i: int) -> Callable[[torch.Tensor], None]:
        def hook(grad: torch.Tensor) -> None:
            self._out_grad[i] = safe_norms([grad])[0]

        return hook

    # --- per step --------------------------------------------------------------------------
    def begin_step(self, histograms: bool = False, bins: int = 64, stats: bool = True) -> None:
        """Arm the hooks for one training step: ``stats`` for :meth:`collect`'s statistics, ``histograms``
        to bin every layer's output with ``bins`` bins (for :meth:`histograms`)."""
        n = len(self.layers)
        self._act = [self._nan2] * n
        self._resp = [None] * n
        self._out_grad = [self._nan] * n
        self._dead = [self._nan] * n
        self._hist_act = [None] * n
        self._stats = stats
        self._histograms = histograms
        self._bins = bins
        self._active = stats or histograms

    def end_forward(self) -> None:
        """Stop observing forward passes (call before evaluation or any extra forward)."""
        self._active = False

    @torch.no_grad()
    def before_update(self, grad_scale: torch.Tensor | None = None) -> None:
        """Remember the weights (and their norms) before the optimiser changes them.

        ``grad_scale``: the loss scale of a scaled backward pass (fp16), which the output-gradient
        norms are divided by (the weight gradients must already be unscaled).
        """
        self._active = False
        if grad_scale is not None:
            self._out_grad = [g / grad_scale for g in self._out_grad]
        self._w_norm = safe_norms(self.weights)
        torch._foreach_copy_(self._prev, self.weights)

    @torch.no_grad()
    def collect(self, updated: bool = True) -> torch.Tensor:
        """This step's statistics as one device tensor [len(LAYER_QUANTITIES), L] (float32).

        ``updated=False`` (no optimiser step was taken) gives NaN update ratios.
        """
        # a layer not used this step (dropped by stochastic depth) has no grad: its norm is NaN
        grads = [w.grad if w.grad is not None else self._nan for w in self.weights]
        grad_norm = safe_norms(grads)
        act = torch.stack(self._act)  # [L, 2]: std, mean
        resp = torch.stack([r if r is not None else act[i, 0] for i, r in enumerate(self._resp)])
        if updated and self._w_norm is not None:
            torch._foreach_sub_(self._prev, self.weights)
            update_ratio = safe_norms(self._prev) / self._w_norm
        else:
            update_ratio = torch.full_like(act[:, 0], float("nan"))
        return stack_quantities(
            {
                "grad_norm": grad_norm,
                "out_grad_norm": torch.stack(self._out_grad),
                "act_mean": act[:, 1],
                "act_std": act[:, 0],
                "response_std": resp,
                "update_ratio": update_ratio,
                "dead_fraction": torch.stack(self._dead),
            }
        )

    # --- histograms ------------------------------------------------------------------------
    @torch.no_grad()
    def histograms(self, step: int) -> list[HistogramRecord]:
        """The histograms of the step begun last with ``histograms=True`` (call after ``optimizer.step()``):
        one record per kind of ``HISTOGRAM_KINDS``: the layers' outputs binned in the forward pass, their
        weight gradients and their weights after the update; one host copy for all of them."""
        bins = self._bins
        accelerator = accelerator_path(self.device)
        grads = [bin_tensor(w.grad, bins, accelerator) if w.grad is not None else None for w in self.weights]
        weights: list[torch.Tensor | None] = [bin_tensor(w, bins, accelerator) for w in self.weights]
        kinds = dict(zip(HISTOGRAM_KINDS, (self._hist_act, grads, weights), strict=True))
        self._hist_act = [None] * len(self.layers)
        return histogram_records(step, kinds, bins)

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


def stack_quantities(rows: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """One row [L] per quantity name -> float32 [len(LAYER_QUANTITIES), L] in ``LAYER_QUANTITIES`` order."""
    missing = set(LAYER_QUANTITIES) - set(rows)
    if missing or len(rows) != len(LAYER_QUANTITIES):
        raise ValueError(f"probe rows: {sorted(rows)}; expected exactly {list(LAYER_QUANTITIES)}")
    return torch.stack([rows[name] for name in LAYER_QUANTITIES]).float()


def unstack_quantities(block: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of :func:`stack_quantities` on host arrays: ``[..., Q, L]`` -> ``{name: [..., L]}`` (views)."""
    return {name: block[..., i, :] for i, name in enumerate(LAYER_QUANTITIES)}


def accelerator_path(device: torch.device) -> bool:
    """Whether statistics of tensors on ``device`` take the accelerator code path: every device but the CPU.

    A function of its own so that tests can force the accelerator path on the CPU.
    """
    return device.type != "cpu"


def std_mean(y: torch.Tensor) -> torch.Tensor:
    """[std (unbiased), mean] of all elements of ``y`` as one float32 tensor [2] on ``y``'s device.

    The squares are summed in float64 on every device: a float32 square of the ~1e-23 activations of
    a deep net with N(0, 0.01^2) weights is below float32's smallest subnormal (1.4e-45) and reads 0.
    On accelerators: two float64 passes (mean, then the centred dot product), no host sync. On the
    CPU, where a float64 copy of 2M floats costs milliseconds, from the first two float32 moments (one
    sum and one dot product, 0.14 ms); when those squares could under- or overflow (mean square
    outside [1e-30, 1e30]) or the mean dominates (|mean| > 10 std: cancellation), it falls back to an
    exact float64 pass. Checking costs nothing on the CPU, where every op has already finished.
    """
    if y.dim() == 4 and not y.is_contiguous() and y.is_contiguous(memory_format=torch.channels_last):
        y = y.permute(0, 2, 3, 1)  # NHWC in memory: flattening this view copies nothing
    f = y.reshape(-1)
    n = f.numel()
    if accelerator_path(f.device):
        f64 = f.double()
        mean64 = f64.mean()
        centred = f64 - mean64
        var64 = torch.dot(centred, centred) / max(n - 1, 1)
        return torch.stack((var64.sqrt(), mean64)).float()
    f = f.float()
    total = float(f.sum().item())
    square = float(torch.dot(f, f).item())
    mean_f = total / n
    var = (square - total * mean_f) / max(n - 1, 1)
    if not (1e-30 < square / n < 1e30) or mean_f * mean_f > 100.0 * var:
        std64, mean64 = torch.std_mean(f.double())
        return torch.stack((std64, mean64)).float()
    return torch.tensor((math.sqrt(max(var, 0.0)), mean_f), dtype=torch.float32)


def dead_fraction(x: torch.Tensor) -> torch.Tensor:
    """Fraction (float32 [], on ``x``'s device) of the units of ``x`` (dim 1: channels, features) whose
    value is <= 0 at every sample and position: the units a ReLU fed ``x`` never fires."""
    dims = [d for d in range(x.dim()) if d != 1]
    return (x.detach().amax(dim=dims) <= 0).float().mean()


def safe_norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """L2 norms [len(tensors)] (float32, on the tensors' device) via ``torch._foreach_norm``.

    A float32 norm squares its elements, so elements below ~1e-19 or above ~1e19 under- or overflow.
    On accelerators the squares are summed in float64 (``dtype=torch.float64``: one fused launch).
    On the CPU the float32 norms are taken (cheaper there) and the ones outside [1e-15, 1e15] (whose
    squares may have been subnormal, 0 or inf: 1e-21 norms read 20 % off) are recomputed exactly in
    float64. NaN stays NaN.
    """
    if tensors and accelerator_path(tensors[0].device):
        return torch.stack(torch._foreach_norm(tensors, 2, dtype=torch.float64)).float()
    if any(t.dtype in (torch.bfloat16, torch.float16) for t in tensors):  # autocast: sum the squares in float32
        norms = torch.stack(torch._foreach_norm(tensors, 2, dtype=torch.float32))
    else:
        norms = torch.stack(torch._foreach_norm(tensors)).float()
    for i in torch.nonzero((norms < 1e-15) | (norms > 1e15)).flatten().tolist():
        norms[i] = torch.linalg.vector_norm(tensors[i].double()).float()
    return norms
