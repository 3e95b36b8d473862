"""Step-0 activation std of K fresh initialisations of a run's network: where one network falls around the theory.

The variance formulas (science.md §4, :func:`~resnet_viz.models.theory_act_std`) predict the average over
random initialisations; one network scatters log-normally around it (science.md §10: the last layer of a
30-layer ReLU MLP of width 256 typically sits at 0.65-0.82x of the prediction, 0.2-0.3 decades; plain-20
without BN 0.28 decades at the last conv; the mean over 20+ seeds is 0.97-1.07x per layer).
:func:`measure_init_ensemble` samples that scatter: K networks of the run's config, each freshly initialised
(``build_model`` + the config's init scheme, seeds derived from ``seed``), one train-mode forward of one batch
under ``no_grad`` each (as the step-0 probes see it; no backward, no training), with the probes' std
(:func:`~resnet_viz.train.probes.std_mean`) of every weight layer's output in ``layer_table`` order.

No global RNG is used for the weights: each network is built on the meta device and initialised from its
own ``torch.Generator`` exactly as :func:`~resnet_viz.models.init_weights` does after ``torch.manual_seed``
(a test holds the two equal), so sampling in a background thread does not shift the random numbers of a
run training in the same process. (Stochastic depth and dropout draw from the global RNG in the forward.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from resnet_viz.config import RunConfig
from resnet_viz.data import DatasetSplits, DeviceDataset, dataset_input_shape
from resnet_viz.models import build_model, init_weights, layer_table, theory_act_std
from resnet_viz.train.probes import std_mean

#: Percentiles of the ratio that bound "where one network falls".
BAND_PERCENTILES = (10.0, 90.0)
#: Mixed into the derived seeds, so that no sampled initialisation is the run's own (seeded with train.seed).
_SEED_STREAM = 0x5EED_1A17


class SamplingCancelled(Exception):
    """Raised by :func:`measure_init_ensemble` when ``cancel()`` turned true (between or during inits)."""


@dataclass(frozen=True)
class InitEnsemble:
    """Per-layer output std of ``k`` fresh initialisations of one network on one batch.

    ``act_std`` float64 [K, L]: std of each weight layer's (pre-BN) output, in the units of the data
    (NaN where a layer did not run: stochastic depth). ``theory_rel`` float64 [L]: the predicted std at
    init relative to layer 0 (NaN where the theory has none). ``ratio`` float64 [K, L]:
    ``act_std / (theory_rel * act_std[:, :1])``, each init against the theory scaled to its own layer 0
    (column 0 is 1). ``seeds``: the K torch seeds; ``layer_names``: the L layers in forward order.
    """

    act_std: np.ndarray
    theory_rel: np.ndarray
    ratio: np.ndarray
    seeds: tuple[int, ...]
    layer_names: tuple[str, ...]

    @property
    def k(self) -> int:
        """Number of initialisations sampled."""
        return int(self.act_std.shape[0])

    @property
    def mean_act_std(self) -> np.ndarray:
        """float64 [L]: the mean over inits of each layer's std (data units)."""
        return _nan_reduce(np.nanmean, self.act_std)

    @property
    def rms_act_std(self) -> np.ndarray:
        """float64 [L]: the root mean square over inits of each layer's std (data units): the average the
        theory predicts (it predicts the expected second moment, E[std^2])."""
        return np.asarray(np.sqrt(_nan_reduce(np.nanmean, self.act_std**2)), dtype=np.float64)

    @property
    def mean_ratio(self) -> np.ndarray:
        """float64 [L]: the mean over inits of measured / theory. A log-normal scatter of sigma (natural log)
        puts it below 1 by exp(-sigma^2 / 2) even where the theory holds: compare :attr:`rms_ratio`."""
        return _nan_reduce(np.nanmean, self.ratio)

    @property
    def rms_ratio(self) -> np.ndarray:
        """float64 [L]: sqrt of the mean over inits of (measured / theory)^2: 1 where the theory holds on average."""
        return np.asarray(np.sqrt(_nan_reduce(np.nanmean, self.ratio**2)), dtype=np.float64)

    def ratio_band(self, percentiles: tuple[float, float] = BAND_PERCENTILES) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) float64 [L]: percentiles of measured / theory over inits (default 10th and 90th):
        where one network is expected to fall relative to the theory."""
        return _percentile_band(self.ratio, percentiles)

    @property
    def spread_decades(self) -> np.ndarray:
        """float64 [L]: std over inits of log10(measured / theory) (0.3 = a factor 2 either way); NaN below 2 inits."""
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(np.where(self.ratio > 0, self.ratio, np.nan))
        if self.k < 2:
            return np.full(logs.shape[1], math.nan)
        return _nan_reduce(lambda a, axis: np.nanstd(a, axis=axis, ddof=1), logs)

    def act_std_band(self, percentiles: tuple[float, float] = BAND_PERCENTILES) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) float64 [L] in data units: percentiles of each layer's std over inits (default 10th, 90th)."""
        return _percentile_band(self.act_std, percentiles)

    def theory_band(self, layer0_std: float) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) float64 [L] in data units: ``theory_rel * layer0_std`` times :meth:`ratio_band`."""
        lo, hi = self.ratio_band()
        line = self.theory_rel * float(layer0_std)
        return line * lo, line * hi


def _nan_reduce(fn: Callable[..., Any], values: np.ndarray) -> np.ndarray:
    """``fn(values, axis=0)`` as float64 [L], NaN (without a warning) for columns that have no finite value."""
    out = np.full(values.shape[1], math.nan)
    ok = np.isfinite(values).any(axis=0)
    if ok.any():
        out[ok] = fn(values[:, ok], axis=0)
    return out


def _percentile_band(values: np.ndarray, percentiles: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) float64 [L]: the two percentiles over inits (axis 0) of ``values`` [K, L], NaN-aware."""
    lo, hi = (_nan_reduce(lambda a, axis, q=q: np.nanpercentile(a, q, axis=axis), values) for q in percentiles)
    return lo, hi


def sampling_refusal(config: RunConfig) -> str | None:
    """Why fresh initialisations of ``config`` cannot be sampled (one line), or None when they can."""
    source = config.init.from_file
    if source:
        return f"init.from_file {str(source)!r}: the weights are loaded from a checkpoint, there is no initialisation to sample"
    return None


def init_seeds(seed: int, k: int, avoid: int | None = None) -> tuple[int, ...]:
    """K distinct 63-bit torch seeds derived from ``seed`` (never ``avoid``, e.g. the run's own train.seed)."""
    out: list[int] = []
    seen: set[int] = set()
    i = 0
    while len(out) < k:
        words = np.random.SeedSequence((_SEED_STREAM, int(seed) & (2**64 - 1), i)).generate_state(2, np.uint32)
        value = (int(words[0]) << 31) ^ int(words[1])
        if value != avoid and value not in seen:
            out.append(value)
            seen.add(value)
        i += 1
    return tuple(out)


def first_training_batch(config: RunConfig, splits: DatasetSplits) -> torch.Tensor:
    """float32 [train.batch_size, C, H, W] on the CPU: the run's first training batch exactly as the engine's
    step 0 sees it (same shuffle and augmentation from ``train.seed``, the run's normalisation)."""
    data = DeviceDataset(
        splits,
        "cpu",
        config.train.batch_size,
        augment=config.data.augment,
        normalize=config.data.normalize,
        seed=config.train.seed,
        eval_train_samples=1,
    )
    return data.next_batch()[0]


# ------------------------------------------------------------------------------- fresh networks
def fresh_network(
    config: RunConfig, input_shape: tuple[int, int, int], num_classes: int, seed: int, device: torch.device
) -> nn.Module:
    """The network of ``config`` (resolved), freshly initialised from torch seed ``seed``, in train mode.

    Built on the meta device (torch's default init draws nothing) and allocated on ``device``; its only
    buffers are BatchNorm's, which the initialisation resets.
    """
    c, h, _w = input_shape
    with torch.device("meta"):
        model = build_model(config.model, c, h, num_classes)
    owned = {
        f"{name}.{b}" if name else b
        for name, mod in model.named_modules()
        if isinstance(mod, nn.modules.batchnorm._BatchNorm)
        for b, _ in mod.named_buffers(recurse=False)
    }
    others = [name for name, _ in model.named_buffers() if name not in owned]
    if others:
        raise RuntimeError(f"cannot sample a fresh {config.model.arch}: buffer {others[0]!r} is not a BatchNorm's")
    model = model.to_empty(device=device)
    init_weights(model, config.init, config.model, generator=torch.Generator(device=device).manual_seed(seed))
    return model.train()


# ------------------------------------------------------------------------------------ sampling
def _layer_stds(
    model: nn.Module, names: list[str], batch: torch.Tensor, cancel: Callable[[], bool] | None
) -> np.ndarray:
    """float64 [L]: the std of each named layer's output in one train-mode forward of ``batch`` (NaN: did not run)."""
    modules = dict(model.named_modules())
    found: list[torch.Tensor | None] = [None] * len(names)

    def hook_for(i: int) -> Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def hook(_m: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if cancel is not None and cancel():
                raise SamplingCancelled("cancelled")
            found[i] = std_mean(output.detach())[0]

        return hook

    handles = [modules[n].register_forward_hook(hook_for(i)) for i, n in enumerate(names)]
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for h in handles:
            h.remove()
    return np.array([float(v) if v is not None else math.nan for v in found], dtype=np.float64)


def measure_init_ensemble(
    config: RunConfig,
    batch: torch.Tensor,
    k: int,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    cancel: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    num_classes: int | None = None,
) -> InitEnsemble:
    """Sample ``k`` fresh initialisations of ``config``'s network and measure them on ``batch``.

    ``batch``: float [B, C, H, W] images as the run's first step sees them (normalised like the engine's).
    ``seed``: derives the K init seeds (:func:`init_seeds`, never ``config.train.seed``). ``cancel()``
    is asked before every init and every weight layer (:class:`SamplingCancelled`); ``progress(done, k)``
    is called after each init. ``num_classes``: the head's outputs (default: the dataset's, else 10).
    Raises ``ValueError`` (one line) for a config loaded from a checkpoint or ``k`` < 1.
    """
    refusal = sampling_refusal(config)
    if refusal is not None:
        raise ValueError(refusal)
    if k < 1:
        raise ValueError(f"k {k}: the number of initialisations must be at least 1")
    cfg = config.resolved()
    dev = torch.device(device)
    input_shape = (int(batch.shape[1]), int(batch.shape[2]), int(batch.shape[3]))
    if num_classes is None:
        known = dataset_input_shape(cfg.data.dataset)
        num_classes = known[1] if known is not None else 10
    x = batch.to(dev, torch.float32)
    seeds = init_seeds(seed, k, avoid=cfg.train.seed)
    rows: list[np.ndarray] = []
    names: list[str] = []
    theory = np.empty(0)
    for i, s in enumerate(seeds):
        if cancel is not None and cancel():
            raise SamplingCancelled("cancelled")
        model = fresh_network(cfg, input_shape, num_classes, s, dev)
        if cancel is not None and cancel():
            raise SamplingCancelled("cancelled")
        if i == 0:
            names = [info.name for info in layer_table(model, input_shape)]
            theory = np.asarray(theory_act_std(model, cfg.model, cfg.init, input_shape), dtype=np.float64)
        rows.append(_layer_stds(model, names, x, cancel))
        if progress is not None:
            progress(i + 1, k)
    act = np.stack(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = act / (theory[None, :] * act[:, :1])
    return InitEnsemble(act_std=act, theory_rel=theory, ratio=ratio, seeds=seeds, layer_names=tuple(names))
