"""resnet-viz with every probe on vs the training loop a user writes by hand, interleaved in one process.

A (resnet-viz): ``Engine`` on the default config (ResNet-20, every per-layer probe every step, data
on the device with vectorised pad-4 crop and flip), no evaluation until the last step (excluded).
B (by hand): the same model (``build_model`` + ``init_weights``), optimiser and batch size, fed by a
``torch.utils.data.DataLoader`` over the same uint8 images with ``torchvision.transforms`` per image
(``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip()``, to float, ``Normalize``), logging the loss
and every parameter's gradient norm each step the way a user writes it
(``for name, p in model.named_parameters(): log[name] = p.grad.norm().item()``).

Blocks of ``--steps`` steps alternate A, B, A, B, ... (``--rounds`` of each) so that machine noise hits
both; each block starts from a fresh model and counts wall time from the first step to the last
(A: from the ``started`` record to the end of the run, minus the final evaluation). Prints, per block
and as medians, steps per wall second and steps per CPU second of the process (the robust figure on a
shared machine with ``--threads 1``), the ratios A/B (goal >= 1.2 on CPU) and the command.

    python bench/handwritten_loop.py [--steps 40] [--rounds 3] [--threads N] [--workers 0]
        [--channels-last] [--precision fp32|bf16|fp16] [--device cpu]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from bench_config import sgd_resnet_config
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from resnet_viz.config import RunConfig
from resnet_viz.data import DatasetSplits, load_dataset
from resnet_viz.metrics.records import Record, RunFinished, RunStarted
from resnet_viz.models import build_model, init_weights
from resnet_viz.train import engine as engine_module
from resnet_viz.train.device import device_label, resolve_device
from resnet_viz.train.engine import Engine
from resnet_viz.train.evaluation import evaluate_model
from resnet_viz.train.optim import build_optimizer


class ImageSet(Dataset[tuple[torch.Tensor, int]]):
    """uint8 images [N, C, H, W] and labels, one transformed image per ``__getitem__`` (torchvision style)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform: transforms.Compose) -> None:
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.x[i]), int(self.y[i])


def config(args: argparse.Namespace) -> RunConfig:
    extra = {}
    for name in ("channels_last", "precision"):
        value = getattr(args, name)
        if value not in (None, False):
            extra[name] = value
    return sgd_resnet_config(args.depth, args.batch_size, args.steps, args.device, **extra)


class Clock:
    """Wall and process CPU time, read together (CPU time is robust to other processes on a shared machine
    when torch runs one thread; with more threads it also counts OpenMP spin-waiting)."""

    @staticmethod
    def now() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    @staticmethod
    def since(t: tuple[float, float]) -> tuple[float, float]:
        wall, cpu = Clock.now()
        return wall - t[0], cpu - t[1]


_evaluation_time = [0.0, 0.0]  # wall, CPU seconds spent in resnet-viz evaluations (excluded from its step rate)


def _timed_evaluate_model(*args, **kwargs):  # type: ignore[no-untyped-def]
    t = Clock.now()
    try:
        return evaluate_model(*args, **kwargs)
    finally:
        wall, cpu = Clock.since(t)
        _evaluation_time[0] += wall
        _evaluation_time[1] += cpu


engine_module.evaluate_model = _timed_evaluate_model


def options(cfg: RunConfig) -> str:
    t = cfg.train
    return f"precision {t.precision}, channels_last {t.channels_last}"


def resnet_viz_block(cfg: RunConfig, splits: DatasetSplits) -> tuple[float, float]:
    """(steps per wall second, steps per CPU second) of one resnet-viz run, evaluations excluded."""
    marks: dict[str, tuple[float, float]] = {}

    def emit(record: Record) -> None:
        if isinstance(record, RunStarted):
            marks["start"] = Clock.now()
            _evaluation_time[:] = [0.0, 0.0]
        elif isinstance(record, RunFinished):
            marks["elapsed"] = Clock.since(marks["start"])

    result = Engine(cfg, emit, splits=splits).run()
    if result.status != "finished":
        sys.exit(f"resnet-viz run ended as {result.status}: {result.message}")
    wall, cpu = (e - x for e, x in zip(marks["elapsed"], _evaluation_time))
    return result.steps / wall, result.steps / cpu


def handwritten_block(cfg: RunConfig, splits: DatasetSplits, device: torch.device, workers: int) -> tuple[float, float]:
    """(steps per wall second, steps per CPU second) of the hand-written loop, timed from the first batch."""
    torch.manual_seed(cfg.train.seed)
    c, h, _ = splits.input_shape
    model = build_model(cfg.model, c, h, splits.num_classes)
    init_weights(model, cfg.init, cfg.model)
    model = model.to(device).train()
    optimizer = build_optimizer(model.parameters(), cfg.optim)
    transform = transforms.Compose(
        [
            transforms.RandomCrop(h, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ConvertImageDtype(torch.float32),
            transforms.Normalize(splits.mean, splits.std),
        ]
    )
    loader = DataLoader(
        ImageSet(splits.train_x, splits.train_y, transform),
        batch_size=cfg.train.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=False,
    )
    log: list[dict[str, float]] = []
    steps = cfg.train.steps or 0
    t0 = Clock.now()
    for step, (x, y) in enumerate(loader, 1):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        entry = {"loss": loss.item()}
        for name, p in model.named_parameters():
            if p.grad is not None:
                entry[name] = p.grad.norm().item()
        log.append(entry)
        optimizer.step()
        if step == steps:
            break
    wall, cpu = Clock.since(t0)
    return steps / wall, steps / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the hand-written loop")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--channels-last", action="store_true", help="resnet-viz option train.channels_last")
    parser.add_argument("--precision", default=None, help="resnet-viz option train.precision")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = config(args)
    splits = load_dataset(cfg.data)
    device = resolve_device(args.device)

    resnet_viz_block(cfg, splits)  # warm-up of both: allocator, kernels, caches
    handwritten_block(cfg, splits, device, args.workers)
    a, b = [], []
    for r in range(args.rounds):
        a.append(resnet_viz_block(cfg, splits))
        b.append(handwritten_block(cfg, splits, device, args.workers))
        print(
            f"round {r + 1}: resnet-viz {a[-1][0]:.3f} steps/s ({a[-1][1]:.3f} per CPU-s), "
            f"hand-written {b[-1][0]:.3f} steps/s ({b[-1][1]:.3f} per CPU-s)",
            flush=True,
        )
    print(
        f"resnet-{args.depth}, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds on "
        f"{device_label(device)} (torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.workers} DataLoader workers; options: {options(cfg)})"
    )
    for i, unit in enumerate(("steps/s (wall)", "steps per CPU-second")):
        m_a, m_b = statistics.median(x[i] for x in a), statistics.median(x[i] for x in b)
        ratios = ", ".join(f"{x[i] / y[i]:.3f}" for x, y in zip(a, b))
        print(
            f"median {unit}: resnet-viz {m_a:.3f}, hand-written {m_b:.3f}; ratio {m_a / m_b:.3f}  [goal >= 1.2 on CPU]"
        )
        print(f"  per-round ratios: {ratios}")
    print("command: python " + " ".join(shlex.quote(v) for v in sys.argv))


if __name__ == "__main__":
    main()
