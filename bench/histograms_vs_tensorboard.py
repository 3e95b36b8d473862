"""Histograms of one training step's tensors: binned on the device (resnet-viz) against what a user would
otherwise write, ``SummaryWriter.add_histogram`` per tensor (torch.utils.tensorboard: a copy of each tensor
to the host, then numpy's histogram there), side by side in one run on the same tensors.

The tensors are those of one training step of a ResNet-20 on the embedded data (batch 128): every weight
layer's output, weight gradient and weight (3 × 20 tensors). Both sides bin 64 bins per tensor; the
resnet-viz side also copies its counts to the host (one copy for all) and writes them to TensorBoard with
``add_histogram_raw``, so both end with the same events on disk. Each side runs ``--repeats`` times,
alternating; the medians are printed.

    python bench/histograms_vs_tensorboard.py [--repeats 5] [--device auto]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from bench_config import sgd_resnet_config

from resnet_viz.data import load_dataset
from resnet_viz.export.tensorboard import tensorboard_missing
from resnet_viz.models import build_model, init_weights, layer_table
from resnet_viz.train.device import device_label, resolve_device, synchronize
from resnet_viz.train.histograms import bin_tensor, histogram_records

BINS = 64


def step_tensors(device: torch.device) -> dict[str, list[torch.Tensor]]:
    """Outputs, weight gradients and weights of every weight layer after one training step [3 kinds × L]."""
    cfg = sgd_resnet_config(20, 128, 1, str(device)).resolved()
    splits = load_dataset(cfg.data)
    c, h, _ = splits.input_shape
    model = build_model(cfg.model, c, h, splits.num_classes)
    init_weights(model, cfg.init, cfg.model)
    model = model.to(device).train()
    modules = dict(model.named_modules())
    layers = [modules[info.name] for info in layer_table(model, splits.input_shape)]
    outputs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach())) for m in layers]
    mean, std = (torch.as_tensor(v, dtype=torch.float32).view(1, -1, 1, 1) for v in (splits.mean, splits.std))
    x = ((splits.train_x[:128].float() / 255 - mean) / std).to(device)
    y = splits.train_y[:128].to(device)
    F.cross_entropy(model(x), y).backward()
    for hook in hooks:
        hook.remove()
    weights = [m.weight for m in layers]
    return {
        "activation": outputs,
        "gradient": [w.grad.detach() for w in weights if w.grad is not None],
        "weight": [w.detach() for w in weights],
    }


def device_binned(tensors: dict[str, list[torch.Tensor]], writer, step: int, accelerator: bool) -> None:
    """resnet-viz: bin on the device, one host copy, add_histogram_raw per tensor."""
    kinds = {kind: [bin_tensor(t, BINS, accelerator) for t in ts] for kind, ts in tensors.items()}
    for record in histogram_records(step, kinds, BINS):
        for layer, (edges, counts) in enumerate(zip(record.edges, record.counts)):
            centres = (edges[:-1] + edges[1:]) / 2
            writer.add_histogram_raw(
                f"viz/{record.kind}/{layer:02d}", min=float(edges[0]), max=float(edges[-1]), num=int(counts.sum()),
                sum=float((centres * counts).sum()), sum_squares=float((centres**2 * counts).sum()),
                bucket_limits=edges[1:].tolist(), bucket_counts=counts.tolist(), global_step=step,
            )  # fmt: skip


def tensorboard_binned(tensors: dict[str, list[torch.Tensor]], writer, step: int) -> None:
    """What a user writes: add_histogram per tensor (host copy + numpy histogram each)."""
    for kind, ts in tensors.items():
        for layer, t in enumerate(ts):
            writer.add_histogram(f"tb/{kind}/{layer:02d}", t, global_step=step, bins=BINS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    missing = tensorboard_missing()
    if missing is not None:
        print(missing, file=sys.stderr)
        return 2
    from torch.utils.tensorboard import SummaryWriter

    device = resolve_device(args.device)
    accelerator = device.type != "cpu"
    tensors = step_tensors(device)
    values = sum(t.numel() for ts in tensors.values() for t in ts)
    print(f"{device_label(device)}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{sum(len(ts) for ts in tensors.values())} tensors, {values / 1e6:.1f} M values, {BINS} bins each")
    times: dict[str, list[float]] = {"resnet-viz (device bins, add_histogram_raw)": [], "add_histogram": []}
    with tempfile.TemporaryDirectory() as folder:
        writer = SummaryWriter(folder)
        for step in range(args.repeats + 1):  # the first round warms both up and is left out
            for name in times:
                synchronize(device)
                start = time.perf_counter()
                if name == "add_histogram":
                    tensorboard_binned(tensors, writer, step)
                else:
                    device_binned(tensors, writer, step, accelerator)
                synchronize(device)
                if step:
                    times[name].append(time.perf_counter() - start)
        writer.close()
    ours, theirs = (statistics.median(v) for v in times.values())
    for name, v in times.items():
        print(f"  {name:<45} median {1000 * statistics.median(v):8.1f} ms over {len(v)} rounds")
    print(f"  add_histogram takes {theirs / ours:.1f}× as long as the device binning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
