"""Optimisers from ``torch.optim`` and learning-rate schedules from ``torch.optim.lr_scheduler``.

Only hyperparameters the user set are passed; the rest take torch.optim's own defaults, which
:func:`resolved_hyperparameters` reads back for the run record.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import lr_scheduler

from resnet_viz.config import ConfigError, OptimConfig

OPTIMIZER_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}
#: How each optimiser is written in titles, menus and legends (the papers' spelling).
OPTIMIZER_TITLES: dict[str, str] = {
    "sgd": "SGD",
    "adagrad": "AdaGrad",
    "rmsprop": "RMSProp",
    "adam": "Adam",
    "adamw": "AdamW",
}

#: The hyperparameters shown and recorded for each optimiser.
SHOWN_HYPERPARAMETERS = (
    "lr",
    "momentum",
    "dampening",
    "nesterov",
    "weight_decay",
    "betas",
    "eps",
    "alpha",
    "lr_decay",
    "initial_accumulator_value",
    "centered",
    "amsgrad",
)


def torch_default(optimizer: str, hyper: str) -> Any:
    """The default of hyperparameter ``hyper`` in ``torch.optim``'s class for ``optimizer``.

    ``optimizer`` is a key of :data:`OPTIMIZER_CLASSES`; ``hyper`` uses torch.optim's names (``"betas"``
    is a tuple). None when the class has no such parameter or it has no default; tensors become numbers.
    """
    param = inspect.signature(OPTIMIZER_CLASSES[optimizer]).parameters.get(hyper)
    if param is None or param.default is inspect.Parameter.empty:
        return None
    value = param.default
    return value.item() if isinstance(value, torch.Tensor) else value


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: OptimConfig) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimiser named by ``cfg.name`` with the hyperparameters the user set."""
    klass = OPTIMIZER_CLASSES[cfg.name]
    try:
        return klass(params, **cfg.torch_kwargs())
    except ValueError as exc:  # torch's own checks, e.g. Nesterov with dampening
        raise ConfigError(f"optim.{cfg.name}", cfg.torch_kwargs(), str(exc)) from None


def resolved_hyperparameters(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The hyperparameters in effect (user's values and torch's defaults), JSON-friendly."""
    out: dict[str, Any] = {}
    for key in SHOWN_HYPERPARAMETERS:
        if key in optimizer.defaults:
            value = optimizer.defaults[key]
            if isinstance(value, torch.Tensor):
                value = value.item()
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


def milestone_steps(cfg: OptimConfig, total_steps: int) -> list[int]:
    """Steps at which the step schedule divides the learning rate (fractions of ``total_steps``)."""
    return sorted({max(1, round(f * total_steps)) for f in cfg.milestones})


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int) -> lr_scheduler.LRScheduler:
    """A scheduler stepped once per training step.

    constant: lr fixed; step: lr × gamma at each milestone (He et al.: ÷10 at 50% and 75%);
    cosine: cosine annealing to 0 over the run. ``warmup_steps`` > 0 prepends a linear warm-up
    from lr/10 (``LinearLR``) chained with ``SequentialLR``.
    """
    warm = min(cfg.warmup_steps, max(total_steps - 1, 0))
    rest = max(total_steps - warm, 1)
    if cfg.schedule == "constant":
        main: lr_scheduler.LRScheduler = lr_scheduler.LambdaLR(optimizer, lambda _step: 1.0)
    elif cfg.schedule == "step":
        main = lr_scheduler.MultiStepLR(
            optimizer, [max(1, m - warm) for m in milestone_steps(cfg, total_steps)], gamma=cfg.gamma
        )
    else:
        main = lr_scheduler.CosineAnnealingLR(optimizer, T_max=rest)
    if warm == 0:
        return main
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.1, end_factor=1.0, total_iters=warm)
    return lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[warm])
