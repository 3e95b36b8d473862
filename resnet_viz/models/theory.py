"""Predicted signal propagation at initialisation (LeCun 1998; Glorot & Bengio 2010; He et al. 2015).

The theory walk mirrors the forward pass (training mode). Its state (:class:`Moments`) is the
expected second moment ``m = E[x^2]`` and mean ``mu = E[x]`` of the activations at every spatial
position, averaged over channels (a ``[H, W]`` float64 map; a 0-d array once the signal is a flat
vector); expectations are over the inputs *and* the random initial weights. The input has ``m = 1``,
``mu = 0`` everywhere. Rules (elementwise over the map):

* conv ``k x k``, stride ``s``, padding ``p``:
  ``m_out = Var[w] C_in conv2d(m_in, ones(k, k), stride=s, padding=p)`` -- zero padding gives border
  positions fewer terms (exact in expectation); ``mu_out = 0``. Linear: ``m_out = Var[w] n_in
  mean(m_in)``. ``Var[w]`` is :func:`~resnet_viz.models.variance.weight_variance` of the scheme (the formula, not the sampled
  weights). A gate conv's bias ``b`` (-6 for exclusive gating) shifts the mean: ``mu_out = b``.
* BatchNorm in training mode, gamma = 1, beta = 0: every channel is normalised over batch and
  positions, so the map becomes ``v / mean(v)`` with ``v = E[(x - mean_pos mu)^2]`` (1 everywhere for
  a uniform map; border positions stay relatively weaker). Gamma = 0 (``zero_init_residual``): 0.
* activation of ``z ~ N(mu, m - mu^2)``: (leaky) ReLU in closed form -- for ``mu = 0`` the familiar
  ``m / 2`` and ``m (1 + a^2) / 2``; tanh and sigmoid by Gauss-Hermite quadrature (``hermegauss``).
  (Leaky) ReLU of a signal known to be non-negative (a ReLU/sigmoid output, sums of such) is exact:
  the identity.
* add ``alpha x + beta y`` of independent signals: ``m = E[alpha^2] m_x + E[beta^2] m_y + 2 E[alpha beta]
  mu_x mu_y``. With zero-mean signals this is the plain sum of second moments; the mean term matters
  where a post-activation branch meets a post-activation shortcut (residual MLP: without it the
  prediction is off by orders of magnitude at depth 30).
* shortcut: option A subsamples and scales by ``C_in / C_out``; scale ``lam^2 m`` and ``(1 - lam)^2`` on
  the branch; gates ``g = sigmoid(z)`` with ``z`` the gate conv's predicted state, ``E[g^2]``,
  ``E[(1 - g)^2]``, ``E[g (1 - g)]`` by quadrature, g taken independent of what it multiplies.
* random on/off choices -- the dropout mask on the shortcut (``m / (1 - p)`` when kept) and the
  stochastic-depth draw (branch kept with probability ``p_l``) -- are pushed through the after-add
  mapping outcome by outcome and averaged (:func:`mixture_theory`).
* global average pooling: every later weight layer is NaN. Pooling averages correlated positions and
  the second-moment map does not know those spatial correlations.

The value recorded per weight layer is the mean over positions of its predicted output *variance*
(its second moment for every layer but a biased gate conv), so it compares with a measured std.

Accuracy: for plain nets and MLPs without BN the rules are exact in expectation over the weights.
A single narrow ReLU net scatters log-normally around that expectation (its post-ReLU inputs share a
common mean direction, so a layer's gain averages only ``C_out`` chi-square(1) terms: about 0.3
decades at layer 31 of a width-16 plain net); tanh nets and BN nets stay within ~0.1 decades.
Residual sums are closed as Gaussians and channels as exchangeable (option A's zero-padded channels
are averaged with the rest), so sigmoid resnets and the dropout shortcut with option A are the least
exact (~0.2 decades after 9 blocks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from numpy.polynomial.hermite_e import hermegauss
from torch import nn

from resnet_viz.config import InitConfig, ModelConfig
from resnet_viz.models.describe import layer_table
from resnet_viz.models.variance import weight_variance

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

_GH_X, _GH_W = hermegauss(96)
_GH_W = _GH_W / math.sqrt(2.0 * math.pi)  # weights of E[f(t)], t ~ N(0, 1)


# ------------------------------------------------------------------------------------------- state
@dataclass
class Moments:
    """Channel-averaged E[x^2] (``m``) and E[x] (``mu``) per position: ``[H, W]`` maps or 0-d arrays."""

    m: np.ndarray
    mu: np.ndarray
    pooled: bool = False  # went through global average pooling: downstream predictions are NaN
    nonneg: bool = False  # every value is >= 0 (after ReLU/sigmoid, sums of such): ReLU is then the identity

    @classmethod
    def unit(cls, shape: tuple[int, ...]) -> Moments:
        """Unit second moment, zero mean everywhere (the input)."""
        return cls(np.ones(shape), np.zeros(shape))

    @property
    def var(self) -> np.ndarray:
        var: np.ndarray = np.maximum(self.m - self.mu**2, 0.0)
        return var

    @property
    def is_zero(self) -> bool:
        return not np.any(self.m)


@dataclass
class TheoryContext:
    """What the walk needs besides the state; collects each weight layer's predicted output variance."""

    init: InitConfig
    model_cfg: ModelConfig
    zero_norms: set[int] = field(default_factory=set)  # id() of BN modules whose gamma starts at 0
    q: dict[int, float] = field(default_factory=dict)  # id(weight module) -> mean predicted Var[y]

    def record(self, module: nn.Module, value: float) -> None:
        if id(module) in self.q:
            raise RuntimeError(f"theory walk visited {module} twice")
        self.q[id(module)] = value


# ------------------------------------------------------------------------------------- primitives
def _gauss_expect(fn: Callable[[np.ndarray], np.ndarray], mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """E[fn(z)], z ~ N(mu, var), elementwise, by Gauss-Hermite quadrature."""
    z = mu[..., None] + np.sqrt(var)[..., None] * _GH_X
    expected: np.ndarray = fn(z) @ _GH_W
    return expected


def _phi_cdf(t: np.ndarray) -> np.ndarray:
    cdf: np.ndarray = 0.5 * (1.0 + np.vectorize(math.erf, otypes=[float])(t / math.sqrt(2.0)))
    return cdf


def _relu_moments(mu: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(E[relu z], E[relu(z)^2]) for z ~ N(mu, var), closed form (var = 0 allowed)."""
    mu, var = np.asarray(mu, dtype=np.float64), np.asarray(var, dtype=np.float64)
    sd = np.sqrt(var)
    spread = sd > 0
    t = np.divide(mu, sd, out=np.zeros_like(mu), where=spread)
    cdf = np.where(spread, _phi_cdf(t), (mu > 0).astype(np.float64))
    pdf = np.where(spread, np.exp(-0.5 * t**2) / math.sqrt(2.0 * math.pi), 0.0)
    mean = mu * cdf + sd * pdf
    second = (mu**2 + var) * cdf + mu * sd * pdf
    return mean, second


def sigmoid_np(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def activation_moments(kind: str, s: Moments, slope: float = 0.0) -> Moments:
    """State after ``relu | leaky_relu | tanh | sigmoid`` of ``z ~ N(mu, m - mu^2)`` (see module doc).

    (Leaky) ReLU of a non-negative signal is the identity and is returned exactly.
    """
    if kind in ("relu", "leaky_relu") and (s.nonneg or s.is_zero):
        return replace(s, nonneg=True)
    mu, var = s.mu, s.var
    if kind == "relu":
        mean, second = _relu_moments(mu, var)
    elif kind == "leaky_relu":
        pos_mean, pos_sec = _relu_moments(mu, var)
        neg_mean, neg_sec = _relu_moments(-mu, var)
        mean, second = pos_mean - slope * neg_mean, pos_sec + slope**2 * neg_sec
    elif kind == "tanh":
        mean, second = _gauss_expect(np.tanh, mu, var), _gauss_expect(lambda z: np.tanh(z) ** 2, mu, var)
    elif kind == "sigmoid":
        mean, second = _gauss_expect(sigmoid_np, mu, var), _gauss_expect(lambda z: sigmoid_np(z) ** 2, mu, var)
    else:
        raise ValueError(f"unknown activation {kind!r}")
    return Moments(np.asarray(second), np.asarray(mean), s.pooled, nonneg=kind in ("relu", "sigmoid"))


def gate_moments(z: Moments) -> dict[str, np.ndarray]:
    """For g = sigmoid(z): E[g], E[g^2], E[1-g], E[(1-g)^2], E[g(1-g)] as maps."""
    mu, var = z.mu, z.var
    g1 = _gauss_expect(sigmoid_np, mu, var)
    g2 = _gauss_expect(lambda t: sigmoid_np(t) ** 2, mu, var)
    return {"g": g1, "g2": g2, "h": 1.0 - g1, "h2": 1.0 - 2.0 * g1 + g2, "gh": g1 - g2}


def conv_moments(conv: nn.Conv2d, s: Moments, ctx: TheoryContext, bias: float = 0.0) -> Moments:
    """Output state of a conv; records the position-mean of its predicted Var[y]. Groups must be 1."""
    if conv.groups != 1:
        raise NotImplementedError("grouped convolutions")
    k_h, k_w = conv.kernel_size
    c_in, c_out = conv.in_channels, conv.out_channels
    if s.pooled or s.m.ndim != 2:
        ctx.record(conv, math.nan)
        return replace(s, pooled=True)
    var_w = weight_variance(ctx.init, ctx.model_cfg, k_h * k_w * c_in, k_h * k_w * c_out, k_h * k_w)
    m_in = torch.from_numpy(np.ascontiguousarray(s.m))[None, None]
    box = F.conv2d(
        m_in,
        torch.ones(1, 1, k_h, k_w, dtype=torch.float64),
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
    )[0, 0].numpy()
    var_out = var_w * c_in * box
    ctx.record(conv, float(var_out.mean()))  # = E[y^2] unless a (gate) bias shifts the mean
    return Moments(var_out + bias**2, np.full_like(var_out, bias))


def linear_moments(lin: nn.Linear, s: Moments, ctx: TheoryContext) -> Moments:
    """Output state of a linear layer on a flat vector; records its predicted Var[y] (= E[y^2])."""
    if s.pooled:
        ctx.record(lin, math.nan)
        return Moments(np.array(math.nan), np.array(math.nan), pooled=True)
    var_w = weight_variance(ctx.init, ctx.model_cfg, lin.in_features, lin.out_features)
    m_out = var_w * lin.in_features * float(np.mean(s.m))
    ctx.record(lin, m_out)
    return Moments(np.array(m_out), np.array(0.0))


def _norm_stats(s: Moments) -> tuple[float, float]:
    """(channel mean, channel variance) that training-mode BN computes over batch and positions."""
    mu_bar = float(np.mean(s.mu))
    return mu_bar, float(np.mean(s.m)) - mu_bar**2


def _norm_apply(s: Moments, mu_bar: float, var: float) -> Moments:
    if not var > 0:
        return replace(s, m=np.zeros_like(s.m), mu=np.zeros_like(s.mu), nonneg=False)
    v = s.m - 2.0 * s.mu * mu_bar + mu_bar**2
    return replace(s, m=v / var, mu=(s.mu - mu_bar) / math.sqrt(var), nonneg=False)


def norm_moments(bn: nn.Module, s: Moments, ctx: TheoryContext) -> Moments:
    """BatchNorm in training mode at init (gamma 1, or 0 if zero-initialised; beta 0)."""
    if id(bn) in ctx.zero_norms:
        return replace(s, m=np.zeros_like(s.m), mu=np.zeros_like(s.mu))
    return _norm_apply(s, *_norm_stats(s))


#: One outcome of a random on/off choice: (probability, batch group, state). Components in the same
#: batch group share a mini-batch (so a BN normalises them with their joint statistics); different
#: groups are different mini-batches (stochastic depth draws once per batch).
Component = tuple[float, int, Moments]


def mixture(components: list[Component]) -> Moments:
    """Collapse components into one state (probability-weighted moments)."""
    total = sum(w for w, _, _ in components)
    m = sum(w * c.m for w, _, c in components) / total
    mu = sum(w * c.mu for w, _, c in components) / total
    return Moments(
        np.asarray(m),
        np.asarray(mu),
        pooled=any(c.pooled for _, _, c in components),
        nonneg=all(c.nonneg or c.is_zero for _, _, c in components),
    )


def mixture_theory(modules: Iterable[nn.Module], components: list[Component], ctx: TheoryContext) -> Moments:
    """Push the outcomes of a Bernoulli choice (dropout mask, stochastic-depth draw) separately through
    parameter-free element-wise modules and BN (with per-batch-group statistics), then collapse.

    Closing the Gaussian only after the nonlinearity keeps e.g. ``relu(F + 2x)`` / ``relu(F)`` of a
    p = 0.5 dropout shortcut apart instead of treating the bimodal sum as one Gaussian.
    """
    for mod in modules:
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if id(mod) in ctx.zero_norms:
                components = [
                    (w, g, replace(c, m=np.zeros_like(c.m), mu=np.zeros_like(c.mu))) for w, g, c in components
                ]
                continue
            stats = {g: _norm_stats(mixture([x for x in components if x[1] == g])) for _, g, _ in components}
            components = [(w, g, _norm_apply(c, *stats[g])) for w, g, c in components]
        elif isinstance(mod, (nn.Conv2d, nn.Linear)):
            raise NotImplementedError("weight layers cannot follow a mixture")
        else:
            components = [(w, g, module_theory(mod, c, ctx)) for w, g, c in components]
    return mixture(components)


def combine(
    a: Moments,
    ca: float | np.ndarray,
    b: Moments,
    cb: float | np.ndarray,
    cab: float | np.ndarray | None = None,
    ca_mean: float | np.ndarray | None = None,
    cb_mean: float | np.ndarray | None = None,
) -> Moments:
    """State of ``alpha * a + beta * b`` for independent signals.

    ``ca = E[alpha^2]``, ``cb = E[beta^2]``, ``cab = E[alpha beta]``, ``ca_mean = E[alpha]``,
    ``cb_mean = E[beta]``; for constant coefficients pass ``ca = alpha^2`` etc. or use
    :func:`add_scaled`.
    """
    ca_mean = np.sqrt(ca) if ca_mean is None else ca_mean
    cb_mean = np.sqrt(cb) if cb_mean is None else cb_mean
    cab = ca_mean * cb_mean if cab is None else cab
    m = ca * a.m + cb * b.m + 2.0 * cab * a.mu * b.mu
    mu = ca_mean * a.mu + cb_mean * b.mu
    nonneg = all((x.nonneg and np.all(np.asarray(c) >= 0)) or x.is_zero for x, c in ((a, ca_mean), (b, cb_mean)))
    return Moments(m, mu, pooled=a.pooled or b.pooled, nonneg=nonneg)


def add_scaled(a: Moments, alpha: float, b: Moments, beta: float) -> Moments:
    """``alpha * a + beta * b`` with constant (possibly negative) coefficients."""
    return combine(a, alpha**2, b, beta**2, cab=alpha * beta, ca_mean=alpha, cb_mean=beta)


_ACT_TYPES: dict[type, str] = {nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}


def module_theory(module: nn.Module, s: Moments, ctx: TheoryContext) -> Moments:
    """Propagate ``s`` through one module (training mode). Custom modules supply ``theory(s, ctx)``."""
    custom = getattr(module, "theory", None)
    if callable(custom):
        out = custom(s, ctx)
        if not isinstance(out, Moments):
            raise TypeError(f"{type(module).__name__}.theory returned {type(out).__name__}, not Moments")
        return out
    if isinstance(module, nn.Conv2d):
        return conv_moments(module, s, ctx)
    if isinstance(module, nn.Linear):
        return linear_moments(module, s, ctx)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return norm_moments(module, s, ctx)
    for klass, kind in _ACT_TYPES.items():
        if type(module) is klass:
            slope = float(getattr(module, "negative_slope", 0.0))
            return activation_moments(kind, s, slope)
    if isinstance(module, nn.Dropout):
        return replace(s, m=s.m / (1.0 - module.p))
    if isinstance(module, nn.Identity):
        return s
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.Flatten)):
        pooled = s.pooled or isinstance(module, nn.AdaptiveAvgPool2d)
        return Moments(np.array(float(np.mean(s.m))), np.array(float(np.mean(s.mu))), pooled, s.nonneg)
    if isinstance(module, nn.Sequential):
        return sequence_theory(module, s, ctx)
    raise NotImplementedError(f"no theory rule for {type(module).__name__}")


def sequence_theory(modules: Iterable[nn.Module], s: Moments, ctx: TheoryContext) -> Moments:
    for mod in modules:
        s = module_theory(mod, s, ctx)
    return s


# -------------------------------------------------------------------------------------- public API
def theory_act_std(
    model: nn.Module, model_cfg: ModelConfig, init: InitConfig, input_shape: tuple[int, int, int]
) -> np.ndarray:
    """Predicted std of every weight layer's output (pre-BN) at init, training mode, relative to layer 0.

    ``q`` per layer is its predicted output second moment averaged over positions, which is its
    variance (zero-mean weights; only a gate conv's bias, -6 for exclusive gating, shifts the mean and
    is left out, so ``q`` compares with a measured std). Returns ``sqrt(q / q_0)``, float64 ``[L]`` in
    :func:`layer_table` order, entry 0 == 1.0; NaN for layers fed by global average pooling (the CIFAR
    head): pooling's effect depends on spatial correlations the formula does not know.
    ``input_shape = (C, H, W)``, input of unit second moment everywhere. ``model`` must come from
    :func:`build_model` (it provides the ``theory`` walk); ``model_cfg`` and ``init`` give the formulas
    (``init.zero_init_residual`` zeroes the branch BNs). See the module docstring for the rules.
    """
    cfg = model_cfg.resolved()
    walk = getattr(model, "theory", None)
    if not callable(walk):
        raise TypeError(f"{type(model).__name__} has no theory walk; build it with build_model")
    zero_init_norms = getattr(model, "zero_init_norms", None)
    zero = {id(bn) for bn in zero_init_norms()} if init.zero_init_residual and callable(zero_init_norms) else set()
    ctx = TheoryContext(init=init, model_cfg=cfg, zero_norms=zero)
    _, h, w = input_shape
    walk(Moments.unit((h, w)), ctx)
    modules = dict(model.named_modules())
    table = layer_table(model, input_shape)
    missing = [info.name for info in table if id(modules[info.name]) not in ctx.q]
    if missing or len(ctx.q) != len(table):
        raise RuntimeError(f"theory walk and forward disagree on weight layers (missing {missing})")
    q = np.array([ctx.q[id(modules[info.name])] for info in table], dtype=np.float64)
    if not q[0] > 0:
        return np.full(len(q), math.nan)
    with np.errstate(invalid="ignore"):
        ratio: np.ndarray = np.sqrt(q / q[0])
    return ratio
