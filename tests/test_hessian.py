"""Hessian-vector products, the power iteration's top eigenvalue and Hutchinson's trace (resnet_viz.train.hessian)
against closed forms (a quadratic with a known Hessian) and torch's dense Hessian of a tiny network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from resnet_viz.train.hessian import hessian_vector_product, hutchinson_trace, top_hessian_eigenvalue


def _symmetric(eigenvalues: list[float], seed: int = 0) -> torch.Tensor:
    """A = Q diag(eigenvalues) Qᵀ with a random orthogonal Q (float64)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), generator=g, dtype=torch.float64))
    return q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T


def _quadratic(a: torch.Tensor, shapes: list[tuple[int, ...]]) -> tuple[list[torch.Tensor], object]:
    """Parameters of the given shapes (their flat concatenation is w) and loss 0.5·wᵀAw."""
    g = torch.Generator().manual_seed(1)
    params = [torch.randn(s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]

    def loss() -> torch.Tensor:
        w = torch.cat([p.reshape(-1) for p in params])
        return 0.5 * w @ a @ w

    return params, loss


def test_hessian_vector_product_of_a_quadratic_is_a_times_v():
    a = _symmetric([5.0, 3.0, 1.0, 0.5, -0.25, 2.0])
    params, loss = _quadratic(a, [(2, 2), (2,)])
    v = [torch.arange(4, dtype=torch.float64).reshape(2, 2), torch.tensor([1.0, -1.0], dtype=torch.float64)]
    hv = hessian_vector_product(loss, params, v)
    flat = torch.cat([x.reshape(-1) for x in hv])
    expected = a @ torch.cat([x.reshape(-1) for x in v])
    assert [x.shape for x in hv] == [p.shape for p in params]
    torch.testing.assert_close(flat, expected, rtol=1e-12, atol=1e-12)


def test_power_iteration_finds_the_top_eigenvalue_to_1e6():
    eigenvalues = [10.0, 7.0, 3.0, 1.0, 0.1, 0.01, 2.5, 4.0]
    a = _symmetric(eigenvalues, seed=3)
    params, loss = _quadratic(a, [(2, 3), (2,)])
    top, iters = top_hessian_eigenvalue(loss, params, iters=1000, tol=1e-10, generator=torch.Generator().manual_seed(0))
    assert abs(top - 10.0) / 10.0 < 1e-6
    assert 2 <= iters < 1000


def test_power_iteration_finds_the_eigenvalue_of_largest_magnitude_and_stops_at_iters():
    a = _symmetric([-6.0, 2.0, 1.0], seed=2)
    params, loss = _quadratic(a, [(3,)])
    top, _ = top_hessian_eigenvalue(loss, params, iters=2000, tol=1e-12, generator=torch.Generator().manual_seed(0))
    assert top == pytest.approx(-6.0, rel=1e-6)
    _, used = top_hessian_eigenvalue(loss, params, iters=3, tol=0.0)
    assert used == 3
    with pytest.raises(ValueError, match="iters"):
        top_hessian_eigenvalue(loss, params, iters=0)


def test_hutchinson_trace_is_unbiased_and_close_for_many_samples():
    eigenvalues = [4.0, 3.0, 2.0, 1.0, 0.5, -0.5]
    a = _symmetric(eigenvalues, seed=4)
    params, loss = _quadratic(a, [(6,)])
    exact = float(np.sum(eigenvalues))  # 10
    one = hutchinson_trace(loss, params, samples=2000, generator=torch.Generator().manual_seed(0))
    assert one == pytest.approx(exact, rel=0.03)
    # in expectation exact: vᵀAv over all 2^6 sign vectors averages to trace(A) exactly
    signs = torch.tensor(np.array(np.meshgrid(*[[-1.0, 1.0]] * 6)).reshape(6, -1).T, dtype=torch.float64)
    per_vector = [float(hessian_vector_product(loss, params, [s])[0] @ s) for s in signs]
    assert np.mean(per_vector) == pytest.approx(exact, rel=1e-12)
    # a diagonal Hessian has no variance: every Rademacher sample gives the trace
    params_d, loss_d = _quadratic(torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)), [(6,)])
    assert hutchinson_trace(loss_d, params_d, samples=3) == pytest.approx(exact, rel=1e-12)


def test_on_a_tiny_mlp_against_torchs_dense_hessian():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = torch.randn(16, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (16,))
    params = list(model.parameters())

    def loss() -> torch.Tensor:
        return nn.functional.cross_entropy(model(x), y)

    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]

    def flat_loss(w: torch.Tensor) -> torch.Tensor:
        parts = torch.split(w, sizes)
        state = {name: part.reshape(s) for (name, _), part, s in zip(model.named_parameters(), parts, shapes)}
        return nn.functional.cross_entropy(torch.func.functional_call(model, state, (x,)), y)

    w0 = torch.cat([p.detach().reshape(-1) for p in params])
    dense = torch.autograd.functional.hessian(flat_loss, w0)
    eig = torch.linalg.eigvalsh(dense)
    top_dense = float(eig[torch.argmax(eig.abs())])
    top, _ = top_hessian_eigenvalue(loss, params, iters=5000, tol=1e-12, generator=torch.Generator().manual_seed(0))
    assert top == pytest.approx(top_dense, rel=1e-6)
    trace = hutchinson_trace(loss, params, samples=4000, generator=torch.Generator().manual_seed(1))
    assert trace == pytest.approx(float(torch.trace(dense)), rel=0.1)
    assert all(p.grad is None for p in params)  # the products leave no gradients behind
