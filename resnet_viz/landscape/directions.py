"""Filter-normalised random directions (Li et al. 2018; science.md §8; ``normalize_directions_for_weights``
of tomgoldstein/loss-landscape with ``norm='filter'``)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

#: Added to a filter's direction norm before dividing by it (the reference code's constant).
NORM_EPS = 1e-10


def filter_normalized_direction(
    weights: Mapping[str, torch.Tensor],
    generator: torch.Generator,
    include_biasbn: bool = False,
) -> dict[str, torch.Tensor]:
    """A Gaussian direction shaped like ``weights`` (parameters by name, in model order), normalised filter
    by filter: for every output filter j of a tensor with dim ≥ 2 (a conv's output channel, a linear layer's
    row) ``d_j <- d_j * ||w_j|| / (||d_j|| + 1e-10)`` (Frobenius norms). Tensors with dim ≤ 1 (biases, BN
    gamma and beta) get a zero direction, or with ``include_biasbn`` a copy of the weight itself, as the
    reference does. The normal draws come from ``generator`` (CPU) in the order of ``weights``, one tensor
    at a time, so a seed gives the same direction on every device; the result is float32 on each weight's
    device."""
    out: dict[str, torch.Tensor] = {}
    for name, w in weights.items():
        w32 = w.detach().to(torch.float32)
        d = torch.randn(tuple(w.shape), generator=generator, dtype=torch.float32).to(w.device)
        if w.dim() <= 1:
            out[name] = w32.clone() if include_biasbn else torch.zeros_like(w32)
            continue
        w_norm = w32.flatten(1).norm(dim=1)  # [out]: one norm per filter
        d_norm = d.flatten(1).norm(dim=1)
        scale = (w_norm / (d_norm + NORM_EPS)).view(-1, *([1] * (w.dim() - 1)))
        out[name] = d * scale
    return out


def random_directions(
    weights: Mapping[str, torch.Tensor], seed: int, include_biasbn: bool = False
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The two directions of a 2D random slice: d1 then d2 from one generator seeded with ``seed``
    (not orthogonalised: in high dimension their cosine is ~0)."""
    generator = torch.Generator().manual_seed(seed)
    d1 = filter_normalized_direction(weights, generator, include_biasbn)
    d2 = filter_normalized_direction(weights, generator, include_biasbn)
    return d1, d2
