"""The words of the racers' table: each hyperparameter column's title and explanation, and each
optimiser's update rule (the tooltips of the row titles)."""

from __future__ import annotations

COLUMN_TITLES: dict[str, str] = {
    "lr": "lr",
    "momentum": "momentum",
    "beta1": "β1",
    "beta2": "β2",
    "alpha": "α",
    "eps": "eps",
    "weight_decay": "weight decay",
}
COLUMN_TIPS: dict[str, str] = {
    "lr": "Learning rate: the step size.",
    "momentum": "Momentum μ: the fraction of the previous velocity kept at each step (Momentum, Nesterov, RMSProp).",
    "beta1": "β1: Adam's decay rate of the running mean of g (the momentum term).",
    "beta2": "β2: Adam's decay rate of the running mean of g² (the per-coordinate scale).",
    "alpha": "α: RMSProp's smoothing constant of the running mean of g².",
    "eps": "ε: added to the denominator √s + ε of adaptive optimisers, so steps stay finite where "
    "the gradient history is zero.",
    "weight_decay": "Weight decay λ: L2 penalty added to the gradient (g + λw); AdamW decays the "
    "weights directly (w ← w − lr·λw), decoupled from the Adam step.",
}
#: One-line update rules, the tooltips of the row titles (g: the gradient).
UPDATE_RULES: dict[str, str] = {
    "sgd": "SGD: w ← w − lr·g",
    "momentum": "Momentum: m ← μm + g, w ← w − lr·m (μ = 0.9 unless set)",
    "nesterov": "Nesterov: look-ahead momentum: m ← μm + g, w ← w − lr·(g + μm) (μ = 0.9 unless set)",
    "adagrad": "AdaGrad: s ← s + g², w ← w − lr·g/(√s + ε)",
    "rmsprop": "RMSProp: s ← αs + (1−α)g², w ← w − lr·g/(√s + ε)",
    "adam": "Adam: m ← β1·m + (1−β1)g, v ← β2·v + (1−β2)g², bias-corrected m̂, v̂, w ← w − lr·m̂/(√v̂ + ε)",
    "adamw": "AdamW: Adam with decoupled weight decay: w ← w − lr·λw, then the Adam step",
}
