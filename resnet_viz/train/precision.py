"""The arithmetic of a training step: float32, bfloat16 autocast, or float16 autocast with a gradient scaler.

``train.precision`` picks one (``fp32`` by default: the reference numbers). Weights, optimiser state
and the per-layer statistics stay float32 in every mode; only the forward and backward pass run in
the lower precision under ``torch.autocast``. ``fp16`` scales the loss (``torch.amp.GradScaler``) so
that small gradients do not flush to zero; the weight gradients are unscaled before the probes read
them and the probes divide the output-gradient norms by the same scale, so every probe reads the
gradient of the unscaled loss. A step whose scaled gradients overflow is skipped by the scaler (its
update ratio reads 0). The step-0 statistics of the ``RunStarted`` record (the initialisation) are
measured in float32 in every mode; evaluations run under the same autocast as the steps.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

#: The autocast dtype of each ``train.precision`` (None: no autocast).
AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """Autocast and (for fp16) loss scaling of one run on ``device``."""

    def __init__(self, precision: str, device: torch.device) -> None:
        if precision not in AUTOCAST_DTYPES:
            raise ValueError(f"precision {precision!r}: choose one of {', '.join(AUTOCAST_DTYPES)}")
        self.name = precision
        self.dtype = AUTOCAST_DTYPES[precision]
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    def autocast(self) -> AbstractContextManager[object]:
        """The context of the forward pass and the loss (a no-op for fp32)."""
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, of the scaled loss with fp16; the weight gradients come out unscaled."""
        if self.scaler is None:
            loss.backward()  # type: ignore[no-untyped-call]
            return
        self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]

    def unscale(self, optimizer: torch.optim.Optimizer) -> torch.Tensor | None:
        """Unscale the weight gradients (fp16); returns the scale the backward pass used (a device
        tensor, no host sync) so that other gradients can be divided by it, or None without a scaler."""
        if self.scaler is None:
            return None
        self.scaler.unscale_(optimizer)
        return self.scaler._get_scale_async()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()``; with fp16 skipped when the gradients overflowed, and the scale updated."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()
