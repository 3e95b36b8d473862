"""Histograms of tensors binned on their device, and their one copy to the host per step.

:func:`bin_tensor` bins one tensor between its min and max without a host sync: the edges are the float32
``lo + (hi - lo) * linspace(0, 1, B + 1)`` (``torch.aminmax``; the ends pinned to the min and max), and
``torch.bucketize`` against the interior edges (``right=True``) puts each value in the bin that
``np.histogram(values, bins=edges)`` puts it in, its last bin closed: counts are exactly numpy's.
:func:`histogram_records` stacks every layer's histogram of every kind on the device and copies them
to the host at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from resnet_viz.metrics.records import HistogramRecord


def flat_values(x: torch.Tensor) -> torch.Tensor:
    """All elements of ``x`` as one float32 vector, without a copy of a channels_last NCHW tensor."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        x = x.permute(0, 2, 3, 1)  # NHWC in memory: flattening this view copies nothing
    return x.detach().reshape(-1).float()


def bin_tensor(x: torch.Tensor, bins: int, accelerator: bool) -> torch.Tensor:
    """Histogram of every element of ``x`` as one float64 tensor [2·bins + 1] on ``x``'s device: the edges
    [bins + 1] (float32 values, widened exactly), then the counts [bins] (integers, exact below 2**53).

    All values equal: edges ``value ± 0.5`` (numpy's choice). A non-finite value anywhere (or a range
    beyond float32, max - min > 3.4e38): edges NaN and counts 0. ``accelerator``: count with ``scatter_add_`` (CUDA's ``bincount`` waits for the device to
    size its output) instead of ``bincount``.
    """
    f = flat_values(x)
    lo, hi = torch.aminmax(f)
    same = hi <= lo
    lo, hi = torch.where(same, lo - 0.5, lo), torch.where(same, hi + 0.5, hi)
    unit = torch.linspace(0.0, 1.0, bins + 1, device=f.device, dtype=torch.float32)
    edges = torch.minimum(lo + (hi - lo) * unit, hi)  # rounding may not exceed the max (edges stay sorted)
    edges = torch.cat((edges[:-1], hi.reshape(1)))  # and the last edge is the max itself
    index = torch.bucketize(f, edges[1:-1], right=True)  # bin b holds edges[b] <= v < edges[b+1]; the last v <= max
    if accelerator:
        counts = torch.zeros(bins, dtype=torch.int64, device=f.device)
        counts.scatter_add_(0, index, index.new_ones(()).expand_as(index))  # ones without allocating them
    else:
        counts = torch.bincount(index, minlength=bins)
    finite = torch.isfinite(edges).all()
    edges = torch.where(finite, edges.double(), torch.nan)
    return torch.cat((edges, torch.where(finite, counts, 0).double()))


def histogram_records(
    step: int, kinds: Mapping[str, Sequence[torch.Tensor | None]], bins: int
) -> list[HistogramRecord]:
    """One :class:`HistogramRecord` per kind from ``{kind: per layer, a bin_tensor result or None}``, in
    the mapping's order, with one device-to-host copy for all of them. Layers with None: edges NaN, counts 0."""
    present = [h for hists in kinds.values() for h in hists if h is not None]
    host = torch.stack(present).cpu().numpy() if present else np.zeros((0, 2 * bins + 1))
    out, row = [], 0
    for kind, hists in kinds.items():
        n = len(hists)
        edges = np.full((n, bins + 1), np.nan)
        counts = np.zeros((n, bins), dtype=np.int64)
        for i, h in enumerate(hists):
            if h is not None:
                edges[i] = host[row, : bins + 1]
                counts[i] = host[row, bins + 1 :].astype(np.int64)
                row += 1
        out.append(HistogramRecord(step=step, kind=kind, edges=edges, counts=counts))
    return out
