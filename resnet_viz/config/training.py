"""The optimiser, data and training sections of a run config, each field with its entry of the field table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resnet_viz.config.errors import ConfigError
from resnet_viz.config.limits import (
    DEFAULT_STEPS,
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_HISTOGRAM_BINS,
    MAX_PATH_CHARS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_STEPS,
)
from resnet_viz.config.spec import Option, Section, field_info, spec

OPTIM = "Optimiser"
TRAIN = "Training"
DATA = "Data"
DEVICE = "Device"
#: Most parameter snapshots a run may keep (``train.snapshots``).
MAX_SNAPSHOTS = 1000
#: Where a run may train: ``cuda:N`` is allowed too.
DEVICES = ("auto", "cpu", "cuda", "mps")


def _floats(text: str) -> tuple[float, ...]:
    """Comma-separated numbers (the command line's form of a tuple field)."""
    try:
        return tuple(float(v) for v in text.replace(";", ",").split(",") if v.strip())
    except ValueError:
        raise ValueError(f"expected comma-separated numbers, got {text!r}") from None


def _check_milestones(path: str, milestones: tuple[float, ...], _optim: Any) -> None:
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ConfigError(path, milestones, "increasing fractions of the run in (0, 1), e.g. 0.5,0.75")


def _check_device(path: str, device: str, _train: Any) -> None:
    if not (device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit())):
        raise ConfigError(path, device, "choose one of " + ", ".join(DEVICES) + " (or cuda:N)")


def _check_root(path: str, root: str, _data: Any) -> None:
    if "\x00" in root or len(root) > MAX_PATH_CHARS:
        raise ConfigError(path, root, f"a folder path (no NUL character, at most {MAX_PATH_CHARS} characters)")


@dataclass
class OptimConfig(Section):
    """Optimiser (``torch.optim``) and learning-rate schedule (``torch.optim.lr_scheduler``).

    Hyperparameters left at ``None`` take torch.optim's defaults. ``milestones`` are fractions of
    the total number of steps (He et al.: 32k and 48k of 64k = 0.5, 0.75), each multiplying lr by gamma.
    """

    SECTION = "optim"

    name: str = spec(
        "sgd", label="optimiser", group=OPTIM, flag="--optim", help="Optimiser (torch.optim).",
        options=(Option("sgd", "SGD", "torch.optim.SGD"), Option("adagrad", "AdaGrad", "torch.optim.Adagrad"),
                 Option("rmsprop", "RMSProp", "torch.optim.RMSprop"), Option("adam", "Adam", "torch.optim.Adam"),
                 Option("adamw", "AdamW", "torch.optim.AdamW")),
    )  # fmt: skip
    lr: float | None = spec(
        None, label="lr", group=OPTIM, flag="--lr", lo=0.0, lo_open=True, widget="text",
        help="Learning rate. Empty: torch.optim's default for this optimiser (He et al.: SGD 0.1).",
    )  # fmt: skip
    momentum: float | None = spec(
        None, label="momentum", group=OPTIM, flag="--momentum", lo=0.0, hi=1.0, hi_open=True, widget="text",
        help="Momentum (SGD, RMSProp), in [0, 1). Empty: 0 (He et al.: 0.9).",
    )  # fmt: skip
    nesterov: bool = spec(
        False, label="", text="Nesterov momentum", group=OPTIM, switches=(("--nesterov", True),),
        help="Nesterov momentum (SGD with momentum > 0).",
    )  # fmt: skip
    weight_decay: float | None = spec(
        None, label="weight decay", group=OPTIM, flag="--weight-decay", lo=0.0, widget="text",
        help="L2 weight decay (He et al.: 1e-4). Empty: torch.optim's default.",
    )  # fmt: skip
    betas: tuple[float, float] | None = spec(
        None, label="betas", group=OPTIM, flag="--betas", lo=0.0, hi=1.0, hi_open=True, metavar="B1,B2",
        parse=_floats, widget="text",
        help="Adam / AdamW β1, β2: two numbers in [0, 1), e.g. 0.9, 0.999.",
    )  # fmt: skip
    eps: float | None = spec(
        None, label="eps", group=OPTIM, flag="--eps", lo=0.0, lo_open=True, widget="text",
        help="Epsilon of adaptive optimisers, added to the denominator.",
    )  # fmt: skip
    alpha: float | None = spec(
        None, label="alpha", group=OPTIM, flag="--alpha", lo=0.0, hi=1.0, widget="text",
        help="RMSProp smoothing constant of the squared-gradient average, in [0, 1].",
    )  # fmt: skip
    schedule: str = spec(
        "constant", label="schedule", group=OPTIM, flag="--schedule", help="Learning-rate schedule.",
        options=(
            Option("constant", "constant", "constant: lr fixed."),
            Option("step", "step ÷10 at milestones",
                   "step: lr × gamma at each milestone (He et al.: ÷10 at 50 % and 75 % of the run)."),
            Option("cosine", "cosine", "cosine: cosine annealing to 0 over the run."),
        ),
    )  # fmt: skip
    milestones: tuple[float, ...] = spec(
        (0.5, 0.75), label="milestones", group=OPTIM, flag="--milestones", lo=0.0, hi=1.0, lo_open=True,
        hi_open=True, check=_check_milestones, metavar="F1,F2", parse=_floats, widget="text",
        help="Step schedule milestones as fractions of the run, comma-separated, increasing in (0, 1) "
        "(default 0.5, 0.75).",
    )  # fmt: skip
    gamma: float = spec(
        0.1, label="gamma", group=OPTIM, flag="--gamma", lo=0.0, hi=1.0, lo_open=True, widget="text",
        help="Step schedule factor at each milestone (default 0.1, i.e. ÷10).",
    )  # fmt: skip
    warmup_steps: int = spec(
        0, label="warm-up", group=OPTIM, flag="--warmup-steps", lo=0, hi=MAX_STEPS, unit="steps",
        help="Linear warm-up from lr/10 over this many steps, before the schedule (0: none).",
    )  # fmt: skip

    def torch_kwargs(self) -> dict[str, Any]:
        """Only the hyperparameters the user set, named as torch.optim names them."""
        kw: dict[str, Any] = {}
        for name in ("lr", "momentum", "weight_decay", "eps", "alpha"):
            value = getattr(self, name)
            if value is not None:
                kw[name] = value
        if self.betas is not None:
            kw["betas"] = tuple(self.betas)
        if self.nesterov:
            kw["nesterov"] = True
        return kw


@dataclass
class DataConfig(Section):
    """Dataset and input pipeline. ``root`` holds the torchvision on-disk layout (or an ImageFolder tree)."""

    SECTION = "data"

    dataset: str = spec(
        "embedded", label="dataset", group=DATA, flag="--dataset", help="Dataset.",
        options=(
            Option("embedded", "embedded synthetic", "embedded: synthetic images generated in memory, no download."),
            Option("cifar10", "CIFAR-10", "CIFAR-10 (torchvision): 32×32 colour images, 10 classes."),
            Option("cifar100", "CIFAR-100", "CIFAR-100 (torchvision): 32×32 colour images, 100 classes."),
            Option("mnist", "MNIST", "MNIST (torchvision): 28×28 handwritten digits."),
            Option("fashion-mnist", "Fashion-MNIST", "Fashion-MNIST (torchvision): 28×28 clothing images, 10 classes."),
            Option("svhn", "SVHN", "SVHN (torchvision): 32×32 house-number digits (needs scipy)."),
            Option("folder", "image folder", "image folder: an ImageFolder tree (one sub-folder per class) in data.root."),
        ),
    )  # fmt: skip
    root: str | None = spec(
        None, label="folder", group=DATA, flag="--data-root", metavar="DIR", widget="folder", check=_check_root,
        help="Folder with the torchvision layout (or an ImageFolder tree). Empty: the per-user cache.",
    )  # fmt: skip
    download: bool = spec(
        False, label="", text="download if missing", group=DATA, switches=(("--download", True),),
        help="Download the dataset into the data folder: fetches it from the internet when the run starts.",
    )  # fmt: skip
    subset: int | None = spec(
        None, label="subset", group=DATA, flag="--subset", lo=1, hi=MAX_SAMPLES, unit="images",
        help="Use only the first N training images (empty: the whole training set).",
    )  # fmt: skip
    augment: bool = spec(
        True, label="", text="augment", group=DATA, switches=(("--no-augment", False),),
        help="Augmentation: pad 4 + random crop + horizontal flip, on the training device.",
    )  # fmt: skip
    normalize: bool = spec(
        True, label="", text="normalise", group=DATA, switches=(("--no-normalize", False),),
        help="Normalise each channel with the mean / std of the training split.",
    )  # fmt: skip
    embedded_seed: int = spec(
        0, label="embedded seed", group=DATA, flag="--embedded-seed", lo=0, hi=MAX_SEED, panel=False,
        help="Seed of the embedded synthetic set: the same set for every run unless this changes (default 0).",
    )  # fmt: skip


@dataclass
class TrainConfig(Section):
    """Training loop: length, evaluation, probes, device, seed.

    Exactly one of ``steps`` and ``epochs`` may be set; neither means ``DEFAULT_STEPS`` steps.
    """

    SECTION = "train"

    batch_size: int = spec(
        128, label="batch size", group=TRAIN, flag="--batch-size", lo=1, hi=MAX_BATCH_SIZE, widget="doubling",
        help="Mini-batch size (default 128).",
    )  # fmt: skip
    steps: int | None = spec(
        None, label="steps", group=TRAIN, flag="--steps", lo=1, hi=MAX_STEPS, widget="doubling", unit="steps",
        help=f"Training length in optimiser steps (default {DEFAULT_STEPS}).",
    )  # fmt: skip
    epochs: float | None = spec(
        None, label="epochs", group=TRAIN, flag="--epochs", lo=0.0, hi=MAX_EPOCHS, lo_open=True, widget="text",
        help="Training length in epochs (passes over the training set) instead of steps, e.g. 30 or 0.5.",
    )  # fmt: skip
    eval_every: int = spec(
        100, label="eval every", group=TRAIN, flag="--eval-every", lo=1, hi=MAX_STEPS, widget="doubling", unit="steps",
        help="Steps between evaluations (test set and a fixed training sample, in eval mode) (default 100).",
    )  # fmt: skip
    eval_train_samples: int = spec(
        10_000, label="train sample", group=TRAIN, flag="--eval-train-samples", lo=1, hi=MAX_SAMPLES, panel=False,
        help="Size of the fixed training sample the train error is measured on (default 10000).",
    )  # fmt: skip
    device: str = spec(
        "auto", label="device", group=DEVICE, flag="--device", check=_check_device, metavar="{" + ",".join(DEVICES) + "}",
        help="Where the run trains: auto (CUDA, then MPS, then CPU), cpu, cuda[:N], mps.",
    )  # fmt: skip
    precision: str = spec(
        "fp32", label="precision", group=DEVICE, flag="--precision",
        help="Arithmetic of the forward and backward pass (weights and optimiser stay float32). "
        "bf16 and fp16 are faster on hardware with such units but change the numbers.",
        options=(
            Option("fp32", "float32", "fp32: float32 throughout (default; the reference numbers)."),
            Option("bf16", "bfloat16 autocast", "bf16: torch.autocast to bfloat16 (CPU or GPU); changes the numbers."),
            Option("fp16", "float16 autocast + scaler",
                   "fp16: torch.autocast to float16 with a gradient scaler (CUDA only); changes the numbers."),
        ),
    )  # fmt: skip
    channels_last: bool = spec(
        False, label="", text="channels last", group=DEVICE, switches=(("--channels-last", True),),
        help="Keep images and conv weights in the channels_last memory format (NHWC): the same arithmetic in "
        "another order (float rounding differs slightly), faster on some devices (see docs/benchmarks.md).",
    )  # fmt: skip
    seed: int = spec(
        0, label="seed", group=TRAIN, flag="--seed", lo=0, hi=MAX_SEED,
        help="Random seed for initialisation and batch order (default 0).",
    )  # fmt: skip
    probes: bool = spec(
        True, label="", text="per-layer probes", group=TRAIN, switches=(("--no-probes", False),),
        help="Record per-layer statistics (activation variance, gradient norms) during training.",
    )  # fmt: skip
    probe_every: int = spec(
        1, label="probe every", group=TRAIN, flag="--probe-every", lo=1, hi=MAX_STEPS, widget="doubling", unit="steps",
        help="Record per-layer statistics every K steps (1: every step).",
    )  # fmt: skip
    histogram_every: int = spec(
        0, label="histograms", group=TRAIN, flag="--histogram-every", lo=0, hi=MAX_STEPS,
        unit="steps", help="Histograms of every layer's weights, weight gradients and outputs every K steps, "
        "binned on the device (0: off); taken whether or not the step is probed. The Distributions panels "
        "show them.",
    )  # fmt: skip
    histogram_bins: int = spec(
        64, label="histogram bins", group=TRAIN, flag="--histogram-bins", lo=2, hi=MAX_HISTOGRAM_BINS, panel=False,
        help="Bins per histogram (default 64).",
    )  # fmt: skip
    snapshots: int = spec(
        50, label="snapshots", group=TRAIN, flag="--snapshots", lo=0, hi=MAX_SNAPSHOTS, panel=False,
        help="Parameter snapshots spread over the run, step 0 and the last step included, for the loss landscape's "
        "training path (default 50; 0: off; at most 256 MiB in all: a big network gets fewer).",
    )  # fmt: skip
    sharpness_every: int = spec(
        0, label="sharpness", group=TRAIN, flag="--sharpness-every", lo=0, hi=MAX_STEPS, unit="steps",
        help="Every K steps (and at step 0), the top eigenvalue of the training loss's Hessian by power iteration "
        "on 256 training images in eval mode (0: off). Its time is not counted in steps/s.",
    )  # fmt: skip
    sharpness_trace: bool = spec(
        False, label="", text="Hessian trace", group=TRAIN, switches=(("--sharpness-trace", True),), panel=False,
        help="With the sharpness probe: also estimate the Hessian's trace (Hutchinson, 20 Rademacher vectors).",
    )  # fmt: skip
    deterministic: bool = spec(
        True, label="", text="deterministic", group=TRAIN, switches=(("--nondeterministic", False),), panel=False,
        help="Deterministic kernels (torch.use_deterministic_algorithms) where the device allows; "
        "off: allow nondeterministic, faster kernels.",
    )  # fmt: skip


OPTIMIZERS: tuple[str, ...] = field_info(OptimConfig, "name").spec.choices
SCHEDULES: tuple[str, ...] = field_info(OptimConfig, "schedule").spec.choices
DATASETS: tuple[str, ...] = field_info(DataConfig, "dataset").spec.choices
