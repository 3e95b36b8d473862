"""Choosing and naming the training device."""

from __future__ import annotations

import time

import torch

from resnet_viz.config import ConfigError


def available_devices() -> list[str]:
    """Device names usable here, best first, e.g. ``["cuda", "cpu"]``."""
    out = []
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.append("mps")
    out.append("cpu")
    return out


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an unavailable device is a :class:`ConfigError`."""
    usable = available_devices()
    if name == "auto":
        return torch.device(usable[0])
    kind = name.split(":")[0]
    if kind not in usable:
        raise ConfigError("train.device", name, f"not available on this machine; available: {', '.join(usable)}")
    device = torch.device(name)
    if kind == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError("train.device", name, f"this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def device_label(device: torch.device) -> str:
    """Human name: ``"CPU"``, ``"CUDA: NVIDIA H100 80GB HBM3"``, ``"MPS"``."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return device.type.upper()


def synchronize(device: torch.device) -> float:
    """Wait until ``device`` has finished the work queued on it; returns the seconds waited.

    CUDA and MPS run kernels asynchronously, so a step's host time is only the time to queue it; the
    engine calls this once per report and attributes the wait to the steps of that report. On the CPU
    every op has finished when it returns: nothing to wait for (0.0).
    """
    if device.type not in ("cuda", "mps"):
        return 0.0
    t0 = time.perf_counter()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    else:
        torch.mps.synchronize()
    return time.perf_counter() - t0
