"""Memory a run needs, estimated from its config alone (no model is built), and whether it fits here.

:func:`estimate_run_memory` counts, in closed form (O(1) in depth and width), the parameters of the
CIFAR-family nets and the MLP exactly as :mod:`resnet_viz.models.cifar` / :mod:`~resnet_viz.models.mlp`
build them, and the float32 activations of one training step:

* parameters, their gradients and the optimiser's state (SGD with momentum, RMSprop and AdaGrad keep
  one buffer per parameter, Adam/AdamW two; RMSprop with momentum two);
* activations: every module output of the forward pass (conv, BN, activation, shortcut, addition) at
  batch ``train.batch_size``, all kept for the backward pass, plus two gradients of the largest one at the
  peak of backward; the evaluation pass (no gradients, :data:`EVAL_BATCH` images at a time) keeps a few
  of the largest tensors alive, and the larger of the two counts;
* a safety factor :data:`ACTIVATION_FACTOR` = 1.25 on activations for allocator rounding and the
  workspaces of convolution algorithms. Measured on CPU (peak resident memory of two SGD-momentum
  steps, float32): ResNet-20 width 64 batch 128 used 1.15 GB, estimated 1.84 GB; ResNet-56 batch 128
  0.92 GB, estimated 1.23 GB; MLP-10 width 2048 0.54 GB, estimated 0.54 GB; evaluating a batch of
  1000 images with ResNet-20 width 64 1.32 GB, estimated 1.31 GB. The estimate errs on the generous side.

:func:`check_fits` compares the estimate with what the device has: free CUDA memory
(``torch.cuda.mem_get_info`` plus what this process's allocator holds unused) or the host's available
memory (``MemAvailable`` of /proc/meminfo, capped by a cgroup limit, else the physical memory). A run
that cannot fit raises :class:`~resnet_viz.config.ConfigError` naming the field that drives the size, the
estimate and what the machine has. Only absurd sizes are refused; a run that only just fits may still
run out of memory while training, which the engine reports as a run status.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet_viz.config import ConfigError, RunConfig
from resnet_viz.config.depth import BOTTLENECK_BLOCKS, PREACT_BLOCKS, block_layers

#: Bytes per float32 value (parameters, gradients, optimiser state and activations are float32).
FLOAT_BYTES = 4
#: Images per evaluation batch (the engine's ``EVAL_BATCH_SIZE``; a test keeps the two equal).
EVAL_BATCH = 256
#: Tensors of the largest size alive at once in a no-gradient forward pass (input, branch, shortcut, sum).
EVAL_LIVE_TENSORS = 4
#: Safety factor on activation memory (allocator rounding, convolution workspaces).
ACTIVATION_FACTOR = 1.25
#: Input shape and classes assumed for an image folder before it is read (it is resized to 3x32x32).
FOLDER_SHAPE = ((3, 32, 32), 10)


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated memory of one run, in bytes (float32). ``params`` is a count (exact for these nets)."""

    params: int
    param_bytes: int  # the weights
    state_bytes: int  # gradients + optimiser buffers
    activation_bytes: int  # peak of training step or evaluation, safety factor included
    batch_size: int

    @property
    def total_bytes(self) -> int:
        """What training needs on the device: weights, gradients, optimiser state and activations."""
        return self.param_bytes + self.state_bytes + self.activation_bytes

    @property
    def build_bytes(self) -> int:
        """What building and initialising the model needs on the host (the weights, built there first)."""
        return self.param_bytes

    def describe(self) -> str:
        """e.g. ``about 254 GB (parameters 70 GB, gradients and optimiser state 70 GB, activations 114 GB at
        batch 128)``."""
        return (
            f"about {gb(self.total_bytes)} (parameters {gb(self.param_bytes)}, gradients and optimiser state "
            f"{gb(self.state_bytes)}, activations {gb(self.activation_bytes)} at batch {self.batch_size})"
        )


def gb(n: float) -> str:
    """Bytes as text in decimal units: ``61 GB``, ``2.4 GB``, ``350 MB``."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            v = n / size
            return f"{v:.2g} {unit}" if v < 10 else f"{v:,.0f} {unit}"
    return f"{int(n)} B"


@dataclass
class _Count:
    """Running totals: parameters, activation elements per sample, and the largest tensor per sample."""

    params: int = 0
    acts: int = 0
    largest: int = 0

    def act(self, elements: int, count: int = 1) -> None:
        self.acts += elements * count
        self.largest = max(self.largest, elements)

    def add(self, other: _Count, times: int = 1) -> None:
        self.params += other.params * times
        self.acts += other.acts * times
        self.largest = max(self.largest, other.largest)


def _branch_convs(kind: str, c_in: int, mid: int, c_out: int, p_in: int, p_out: int) -> list[tuple[int, ...]]:
    """``(k, c_in, c_out, input pixels, output pixels)`` of each k x k conv of a block's branch, in forward
    order (a bottleneck's stride on its 3x3 conv, a pre-activation bottleneck's on its first 1x1 conv)."""
    if kind == "preact_bottleneck":
        return [(1, c_in, mid, p_in, p_out), (3, mid, mid, p_out, p_out), (1, mid, c_out, p_out, p_out)]
    if kind in BOTTLENECK_BLOCKS:
        return [(1, c_in, mid, p_in, p_in), (3, mid, mid, p_in, p_out), (1, mid, c_out, p_out, p_out)]
    return [(3, c_in, c_out, p_in, p_out), (3, c_out, c_out, p_out, p_out)]


def _cifar_block(m: Any, kind: str, c_in: int, mid: int, c_out: int, stride: int, size_in: int) -> _Count:
    """One block of :class:`~resnet_viz.models.blocks.Block` (parameters exact, activations per sample).

    Original blocks: conv, norm, act after every conv but the last (conv, norm). Pre-activation blocks:
    norm, act before every conv, on its input."""
    bn, residual, pre = bool(m.batch_norm), m.arch == "resnet", kind in PREACT_BLOCKS
    size_out = -(-size_in // stride)
    p_in, p_out = size_in * size_in, size_out * size_out
    k = _Count()
    convs = _branch_convs(kind, c_in, mid, c_out, p_in, p_out)
    for i, (size, ci, co, px_in, px_out) in enumerate(convs):
        k.params += size * size * ci * co + (0 if bn else co)  # a bias without BN
        k.act(co * px_out)
        ch, px = (ci, px_in) if pre else (co, px_out)  # where its norm and activation sit
        if bn:
            k.params += 2 * ch
            k.act(ch * px)
        if pre or i < len(convs) - 1:
            k.act(ch * px)
    if residual:
        changes = stride != 1 or c_in != c_out
        variant = m.shortcut_variant
        if variant == "conv1x1" or m.shortcut == "C" or (m.shortcut == "B" and changes):
            with_bn = bn and kind not in PREACT_BLOCKS
            k.params += c_in * c_out + (0 if bn else c_out) + (2 * c_out if with_bn else 0)
            k.act(c_out * p_out, 1 + (1 if with_bn else 0))
        elif changes:
            k.act(c_out * p_out)  # zero-padded shortcut
        if variant in ("exclusive_gate", "shortcut_gate"):
            k.params += c_out * c_out + c_out
            k.act(c_out * p_out, 4)  # gate conv, sigmoid, products
        elif variant in ("scale", "dropout"):
            k.act(c_out * p_out, 2)
        if m.stochastic_depth:
            k.act(c_out * p_out)
        k.act(c_out * p_out)  # the sum
    if m.after_add == "bn_relu":
        k.params += 2 * c_out
        k.act(c_out * p_out)
    if m.after_add in ("relu", "bn_relu"):
        k.act(c_out * p_out)
    return k


def _cifar(m: Any, in_shape: tuple[int, int, int], classes: int) -> _Count:
    """:class:`~resnet_viz.models.cifar.CifarNet`: stem, three stages of n blocks, head."""
    c_img, size, _ = in_shape
    bn = bool(m.batch_norm)
    n = (m.depth - 2) // (3 * block_layers(m.block))
    w = int(m.width)
    expansion = 4 if m.block in BOTTLENECK_BLOCKS else 1
    preact = m.block in PREACT_BLOCKS
    total = _Count()
    total.params += 9 * c_img * w + (0 if bn else w) + (2 * w if bn and not preact else 0)
    stem_tensors = 1 + ((1 if bn else 0) + 1 if not preact else 0)
    total.act(w * size * size, stem_tensors)
    total.act(c_img * size * size)  # the input batch
    c = w
    for s in range(1, 4):
        mid = w * 2 ** (s - 1)
        out = mid * expansion
        stride = 2 if s > 1 else 1
        total.add(_cifar_block(m, m.block, c, mid, out, stride, size))
        size = -(-size // stride)
        if n > 1:  # the other n - 1 blocks of the stage are identical
            total.add(_cifar_block(m, m.block, out, mid, out, 1, size), n - 1)
        c = out
    if preact:
        total.params += 2 * c if bn else 0
        total.act(c * size * size, 2 if bn else 1)
    total.params += c * classes + classes
    total.act(c + classes, 2)
    return total


def _mlp(m: Any, in_shape: tuple[int, int, int], classes: int) -> _Count:
    """:class:`~resnet_viz.models.mlp.MLP`: input layer, depth - 2 hidden layers, head."""
    d_in = in_shape[0] * in_shape[1] * in_shape[2]
    bn, w, depth = bool(m.batch_norm), int(m.width), m.depth
    total = _Count()
    total.act(d_in)
    if depth == 1:
        total.params += d_in * classes + classes
        total.act(classes)
        return total
    per_layer = (0 if bn else 1) + (2 if bn else 0)  # bias without BN, gamma and beta with it
    total.params += d_in * w + per_layer * w
    total.act(w, 2 + (1 if bn else 0))
    hidden = depth - 2
    total.params += hidden * (w * w + per_layer * w)
    total.acts += hidden * w * (2 + (1 if bn else 0) + (1 if m.residual else 0))
    total.params += w * classes + classes
    total.act(classes)
    return total


def _optimizer_buffers(config: RunConfig) -> int:
    """Buffers per parameter that the optimiser keeps (momentum, squared averages, ...)."""
    o = config.optim
    if o.name in ("adam", "adamw"):
        return 2
    if o.name == "rmsprop":
        return 2 if o.momentum else 1
    if o.name == "adagrad":
        return 1
    return 1 if o.momentum else 0


def estimate_run_memory(config: RunConfig, input_shape: tuple[int, int, int], classes: int) -> MemoryEstimate:
    """Memory of training ``config`` on ``[N, *input_shape]`` images with ``classes`` classes.

    Closed form: O(1) in depth and width, nothing allocated. ``config`` must be valid (unvalidated
    fields are taken as they are); ``None`` defaults are resolved here.
    """
    m = config.model.resolved()
    count = _mlp(m, input_shape, classes) if m.arch == "mlp" else _cifar(m, input_shape, classes)
    batch = int(config.train.batch_size)
    train = batch * (count.acts + 2 * count.largest)
    evaluate = EVAL_BATCH * EVAL_LIVE_TENSORS * count.largest
    activation_bytes = int(ACTIVATION_FACTOR * FLOAT_BYTES * max(train, evaluate))
    param_bytes = FLOAT_BYTES * count.params
    return MemoryEstimate(
        params=count.params,
        param_bytes=param_bytes,
        state_bytes=param_bytes * (1 + _optimizer_buffers(config)),
        activation_bytes=activation_bytes,
        batch_size=batch,
    )


# ------------------------------------------------------------------------------- what the machine has


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def host_available_bytes() -> tuple[int, str]:
    """Memory this process can still use on the host, and how it was found.

    ``MemAvailable`` of /proc/meminfo (Linux), capped by a cgroup v2 limit (containers); elsewhere the
    physical memory (``os.sysconf``); without either, 0 (and nothing is refused).
    """
    available, how = None, "available"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            how = "of memory"
        except (ValueError, OSError, AttributeError):
            return 0, "unknown"
    limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        available = min(available, max(limit - used, 0))
    return available, how


def device_available_bytes(device: Any) -> tuple[int, str]:
    """Memory free for this process on ``device`` (a ``torch.device``, ``"cpu"``, ``"cuda:0"`` ...), and a
    phrase naming it: CUDA via ``torch.cuda.mem_get_info`` (plus memory this process's allocator holds but
    does not use); CPU, MPS (unified memory) and anything else: the host's (:func:`host_available_bytes`)."""
    kind = str(device).split(":")[0]
    if kind == "cuda":
        import torch

        try:
            free, _total = torch.cuda.mem_get_info(device)
            free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        except (RuntimeError, AssertionError, ValueError):
            return 0, "unknown"
        return int(free), f"free on {device}"
    available, how = host_available_bytes()
    return available, how


def _input_shape(
    config: RunConfig, input_shape: tuple[int, int, int] | None, classes: int | None
) -> tuple[tuple[int, int, int], int]:
    if input_shape is not None and classes is not None:
        return tuple(input_shape), int(classes)  # type: ignore[return-value]
    from resnet_viz.data.splits import dataset_input_shape

    known = dataset_input_shape(config.data.dataset) or FOLDER_SHAPE
    return tuple(input_shape or known[0]), int(classes or known[1])  # type: ignore[return-value]


def _build_bytes(estimate: MemoryEstimate) -> float:
    return estimate.build_bytes


def _total_bytes(estimate: MemoryEstimate) -> float:
    return estimate.total_bytes


def _culprit(
    config: RunConfig, shape: tuple[int, int, int], classes: int, need: Callable[[MemoryEstimate], float]
) -> tuple[str, Any]:
    """The field whose reduction shrinks the estimate most: model.width, model.depth or train.batch_size."""
    import dataclasses

    m = config.model.resolved()
    smallest_depth = 1 if m.arch == "mlp" else 3 * block_layers(m.block) + 2
    trials = [
        ("model.width", m.width, dataclasses.replace(config, model=dataclasses.replace(m, width=1))),
        ("model.depth", m.depth, dataclasses.replace(config, model=dataclasses.replace(m, depth=smallest_depth))),
        (
            "train.batch_size",
            config.train.batch_size,
            dataclasses.replace(config, train=dataclasses.replace(config.train, batch_size=1)),
        ),
    ]
    best = min(trials, key=lambda t: need(estimate_run_memory(t[2], shape, classes)))
    return best[0], best[1]


def check_fits(
    config: RunConfig,
    device: Any = None,
    *,
    input_shape: tuple[int, int, int] | None = None,
    classes: int | None = None,
    available: int | None = None,
) -> MemoryEstimate:
    """The estimate of ``config``; :class:`ConfigError` if it cannot fit in this machine's memory.

    ``device`` None: only building the model on the host is checked (``resnet-viz describe``); else
    training on ``device`` (torch.device or name; ``"auto"`` counts as the host). The input shape and
    class count default to the dataset's (an image folder: 3x32x32, 10 classes). ``available`` (bytes)
    replaces the machine's free memory (tests). Message: ``model.width = 4096 is not allowed: the run needs
    about 61 GB (parameters ...); this machine has 23 GB available``.
    """
    shape, classes = _input_shape(config, input_shape, classes)
    estimate = estimate_run_memory(config, shape, classes)
    need: Callable[[MemoryEstimate], float]
    if device is None:
        need = _build_bytes
        what = f"building the model needs about {gb(estimate.build_bytes)} for its {estimate.params:,} parameters"
        have, how = host_available_bytes() if available is None else (available, "available")
    else:
        need = _total_bytes
        what = f"the run needs {estimate.describe()}"
        have, how = device_available_bytes(device) if available is None else (available, "available")
    if have > 0 and need(estimate) > have:
        name, value = _culprit(config, shape, classes, need)
        raise ConfigError(name, value, f"{what}; this machine has {gb(have)} {how}")
    return estimate


__all__ = [
    "ACTIVATION_FACTOR",
    "EVAL_BATCH",
    "MemoryEstimate",
    "check_fits",
    "device_available_bytes",
    "estimate_run_memory",
    "gb",
    "host_available_bytes",
]
