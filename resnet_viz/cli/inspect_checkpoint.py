"""``resnet-viz describe --init-from FILE``: the loaded network inspected on one batch and evaluated.

After the layer table, ``describe`` prints what a run started from the checkpoint would record at step 0
(one forward and backward pass of its first training batch, no update, BN statistics untouched): per weight
layer the std and mean of the output and the gradient norms; then the evaluation in eval mode on the fixed
training sample and the test set. Nothing is trained or written.
"""

from __future__ import annotations

import math

from resnet_viz.config import RunConfig


def _cell(value: float, spec: str) -> str:
    width = int(spec.split(".")[0])
    return format(value, spec) if math.isfinite(value) else "—".rjust(width)


def inspect_lines(config: RunConfig) -> list[str]:
    """The lines printed for ``config`` (resolved, ``init.from_file`` set); loads its dataset on its device."""
    from resnet_viz.data import load_dataset
    from resnet_viz.train.device import device_label, resolve_device
    from resnet_viz.train.evaluation import EVAL_BATCH_SIZE, evaluate_model
    from resnet_viz.train.prepared import prepare_run
    from resnet_viz.train.started import step0_statistics

    splits = load_dataset(config.data)
    device = resolve_device(config.train.device)
    run = prepare_run(config, splits, device)
    x, y = run.data.next_batch()
    q = step0_statistics(run, x, y)
    lines = [
        f"the weights of {config.init.from_file} on one training batch of {splits.name} ({x.shape[0]} images as "
        f"step 0 sees them, train mode, no update) on {device_label(device)}:",
        f"{'layer':>5}  {'name':<34} {'std out':>10} {'mean out':>10} {'‖∂L/∂W‖':>10} {'‖∂L/∂y‖':>10}",
    ]
    for i, layer in enumerate(run.layers):
        lines.append(
            f"{i + 1:>5}  {layer.name:<34} {_cell(q['act_std'][i], '10.4g')} {_cell(q['act_mean'][i], '10.3g')} "
            f"{_cell(q['grad_norm'][i], '10.4g')} {_cell(q['out_grad_norm'][i], '10.4g')}"
        )
    run.model.eval()
    result = evaluate_model(run.model, run.data, run.device, lambda: False, EVAL_BATCH_SIZE, run.precision.autocast)
    if result is not None:
        train_err, train_loss, test_err, test_loss = result
        lines.append(
            f"evaluation (eval mode): train error {train_err:.2%} (loss {train_loss:.4f}) on {len(run.data.sample_indices)} "
            f"fixed training images, test error {test_err:.2%} (loss {test_loss:.4f}) on {run.data.n_test} test images"
        )
    return lines


__all__ = ["inspect_lines"]
