"""Curvature of a loss by Hessian-vector products (Pearlmutter's trick: the gradient of ``g·v``), never
forming the Hessian: its top eigenvalue by power iteration and its trace by Hutchinson's estimator, as
PyHessian does (Yao, Gholami, Keutzer, Mahoney 2020; science.md §8).

``loss_fn()`` evaluates the scalar loss at the current values of ``params`` (a fixed batch, the model in
the mode the caller chose); every function here calls it afresh for each product, so nothing of a graph
outlives one product. Vectors are lists of tensors shaped like ``params``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

LossFn = Callable[[], torch.Tensor]


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum((torch.sum(x * y) for x, y in zip(a, b, strict=True)), torch.zeros((), device=a[0].device))


def _normalized(v: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``v / ‖v‖``. PyHessian divides by ``‖v‖ + 1e-6``, which shrinks ``vᵀHv`` by a relative 2e-6/‖Hv‖:
    here the division is exact (a zero vector stays zero)."""
    norm = torch.sqrt(_dot(v, v)).clamp_min(torch.finfo(v[0].dtype).tiny)
    return [x / norm for x in v]


def hessian_vector_product(loss_fn: LossFn, params: list[torch.Tensor], v: list[torch.Tensor]) -> list[torch.Tensor]:
    """H·v of the loss at ``params`` (double backward through ``loss_fn()``); detached, shaped like ``params``."""
    with torch.enable_grad():
        loss = loss_fn()
        grads = torch.autograd.grad(loss, params, create_graph=True)
        hv = torch.autograd.grad(grads, params, grad_outputs=v, allow_unused=True)
    return [torch.zeros_like(p) if h is None else h.detach() for h, p in zip(hv, params, strict=True)]


def _randn_like(params: Sequence[torch.Tensor], generator: torch.Generator | None) -> list[torch.Tensor]:
    """Standard normal vectors shaped like ``params`` (drawn on the CPU, so a CPU generator works for any device)."""
    return [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in params]


def top_hessian_eigenvalue(
    loss_fn: LossFn,
    params: list[torch.Tensor],
    *,
    iters: int = 100,
    tol: float = 1e-6,
    generator: torch.Generator | None = None,
) -> tuple[float, int]:
    """The eigenvalue of largest magnitude of the loss Hessian and the iterations used (PyHessian's
    ``eigenvalues``): a normalised random start ``v``; then ``Hv``, ``λ = vᵀHv``, ``v ← Hv/‖Hv‖``, until
    ``|λ - λ_prev| / (|λ_prev| + 1e-6) < tol`` or ``iters`` products. ``generator``: a CPU generator."""
    if iters < 1:
        raise ValueError(f"iters must be ≥ 1, not {iters}")
    v = _normalized(_randn_like(params, generator))
    eigenvalue: float | None = None
    for i in range(1, iters + 1):
        hv = hessian_vector_product(loss_fn, params, v)
        value = float(_dot(hv, v))
        v = _normalized(hv)
        if eigenvalue is not None and abs(value - eigenvalue) / (abs(eigenvalue) + 1e-6) < tol:
            return value, i
        eigenvalue = value
    return float(eigenvalue if eigenvalue is not None else 0.0), iters


def hutchinson_trace(
    loss_fn: LossFn,
    params: list[torch.Tensor],
    *,
    samples: int = 50,
    generator: torch.Generator | None = None,
) -> float:
    """Hutchinson's estimate of trace(H): the mean of ``vᵀHv`` over ``samples`` Rademacher vectors ``v``
    (entries ±1; unbiased, its variance 2·Σ_{i≠j} H_ij² / samples). ``generator``: a CPU generator."""
    if samples < 1:
        raise ValueError(f"samples must be ≥ 1, not {samples}")
    total = 0.0
    for _ in range(samples):
        v = [
            (torch.randint(0, 2, p.shape, generator=generator) * 2 - 1).to(dtype=p.dtype, device=p.device)
            for p in params
        ]
        total += float(_dot(hessian_vector_product(loss_fn, params, v), v))
    return total / samples


__all__ = ["LossFn", "hessian_vector_product", "hutchinson_trace", "top_hessian_eigenvalue"]
