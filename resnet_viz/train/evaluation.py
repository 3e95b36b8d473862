"""Error and loss of a model in eval mode on the fixed training sample and on the test set."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.data import DeviceDataset

#: Images per evaluation forward pass. Stop and pause act between batches, so one batch bounds how long
#: they wait. ResNet-20 (width 16) on this 2-core CPU: 256 images take 0.15 s idle and 0.4-1.0 s with the
#: machine loaded 2.5x over; batches of 1,000 took 1.2-2x longer per image in the same runs (their
#: activations no longer fit the caches), so 256 is also the faster choice.
EVAL_BATCH_SIZE = 256

#: (train-sample error, train-sample loss, test error, test loss); errors are fractions, losses mean cross-entropy.
Evaluation = tuple[float, float, float, float]


def evaluate_model(
    model: nn.Module,
    data: DeviceDataset,
    device: torch.device,
    abandoned: Callable[[], bool],
    batch_size: int = EVAL_BATCH_SIZE,
    autocast: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> Evaluation | None:
    """Evaluate ``model`` (the caller sets eval mode) batch by batch, sums kept on the device.

    ``abandoned`` is asked before every batch (it may block, e.g. while paused); when it answers True
    the evaluation ends and None is returned: a partial evaluation would be a different, smaller sample.
    ``autocast`` makes the context of each forward pass (the run's precision).
    """
    sums = []
    with torch.no_grad():
        for split in ("train_sample", "test"):
            err = torch.zeros((), device=device, dtype=torch.float64)
            loss = torch.zeros((), device=device, dtype=torch.float64)
            n = 0
            for x, y in data.eval_batches(split, batch_size):
                if abandoned():
                    return None
                with autocast():
                    logits = model(x)
                loss += F.cross_entropy(logits.float(), y, reduction="sum").double()
                err += (logits.argmax(1) != y).sum().double()
                n += y.shape[0]
            sums.append(torch.stack((err / max(n, 1), loss / max(n, 1))))
    (train_err, train_loss), (test_err, test_loss) = torch.stack(sums).cpu().tolist()
    return train_err, train_loss, test_err, test_loss
