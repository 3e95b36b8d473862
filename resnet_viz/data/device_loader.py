"""A batch source that keeps the whole dataset on the training device and augments there.

The images stay uint8 on the device (CIFAR-10 is 180 MB), so a training step costs one index
gather, one conversion to float and one vectorised pad-and-crop, with no DataLoader workers and no
per-image Python. All randomness (shuffling, crop offsets, flips) comes from CPU
``torch.Generator`` objects seeded from ``seed``, so the batch sequence is the same on every device.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .splits import DataError, DatasetSplits

#: Zero padding on each side before the random crop (He et al. 2016: 4 pixels).
PAD = 4
#: Fraction of the free accelerator memory the dataset may take before it stays on the CPU.
MAX_DEVICE_FRACTION = 0.4

_SHUFFLE_STREAM = 0
_AUGMENT_STREAM = 1
_SAMPLE_STREAM = 2


def _generator(seed: int, stream: int) -> torch.Generator:
    """An independent CPU generator per purpose, derived from one seed (splitmix-style mixing)."""
    z = (seed * 0x9E3779B97F4A7C15 + stream * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) % (1 << 64)
    z = ((z ^ (z >> 31)) * 0xD6E8FEB86659FD93) % (1 << 64)
    return torch.Generator().manual_seed(z >> 1)


def shift_flip(
    x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor | None, pad: int = PAD
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad-``pad`` random crop and optional horizontal flip of a whole batch by one gather.

    ``x``: ``[B, C, H, W]`` (any dtype); ``dy``, ``dx``: int64 ``[B]`` crop offsets in
    ``[0, 2*pad]`` into the zero-padded image (``pad`` = no shift); ``flip``: bool ``[B]`` or None.
    Output pixel ``(i, j)`` is ``x[i + dy - pad, j' + dx - pad]`` with ``j' = W-1-j`` if flipped
    else ``j`` (crop, then flip). Returns the gathered batch and the bool mask ``[B, 1, H, W]`` of
    pixels that came from the image (False: padding, to be filled with zero by the caller).
    """
    b, c, h, w = x.shape
    dev = x.device
    rows = torch.arange(h, device=dev).unsqueeze(0) + (dy.to(dev) - pad).unsqueeze(1)  # [B, H]
    cols = torch.arange(w, device=dev).unsqueeze(0).expand(b, w)
    if flip is not None:
        cols = torch.where(flip.to(dev).unsqueeze(1), (w - 1) - cols, cols)
    cols = cols + (dx.to(dev) - pad).unsqueeze(1)  # [B, W]
    valid = ((rows >= 0) & (rows < h)).unsqueeze(2) & ((cols >= 0) & (cols < w)).unsqueeze(1)  # [B, H, W]
    flat = rows.clamp(0, h - 1).unsqueeze(2) * w + cols.clamp(0, w - 1).unsqueeze(1)  # [B, H, W]
    out = x.reshape(b, c, h * w).gather(2, flat.reshape(b, 1, h * w).expand(b, c, h * w))
    return out.view(b, c, h, w), valid.unsqueeze(1)


class DeviceDataset:
    """Training batches and evaluation batches from a :class:`DatasetSplits`, on ``device``.

    ``next_batch()`` returns float32 ``[B, C, H, W]`` images (normalised per channel to zero mean,
    unit std over the training split if ``normalize``, else in [0, 1]) and int64 ``[B]`` labels.
    Every epoch is a fresh permutation; the last incomplete batch of an epoch is dropped. With
    ``augment``: zero-pad 4 (zero = the channel mean after normalisation), random crop back to HxW
    with a per-sample offset, random horizontal flip if ``splits.hflip``.

    Attributes: ``resident`` (True if the data lives on ``device``; else it is pinned CPU memory
    copied per batch), ``steps_per_epoch``, ``epoch`` (completed epochs), ``step`` (batches served),
    ``n_train``, ``n_test``, ``sample_indices`` (the fixed training sample used by
    ``eval_batches("train_sample")``).
    """

    def __init__(
        self,
        splits: DatasetSplits,
        device: torch.device | str,
        batch_size: int,
        *,
        augment: bool,
        normalize: bool,
        seed: int,
        eval_train_samples: int = 10_000,
    ) -> None:
        self.splits = splits
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.augment = bool(augment)
        self.normalize = bool(normalize)
        self.hflip = bool(splits.hflip)
        self.seed = int(seed)
        self.n_train = int(splits.train_x.shape[0])
        self.n_test = int(splits.test_x.shape[0])
        if self.batch_size < 1 or self.batch_size > self.n_train:
            raise DataError(
                f"batch size {self.batch_size} does not fit the {self.n_train} training images of "
                f"{splits.name}; choose a batch size between 1 and {self.n_train}"
            )
        self.steps_per_epoch = self.n_train // self.batch_size
        self.epoch = 0
        self.step = 0

        self.resident = self._fits_on_device()
        self.train_x, self.train_y, self.test_x, self.test_y = self._place()

        c = splits.in_channels
        mean = torch.tensor(splits.mean, dtype=torch.float32).view(1, c, 1, 1)
        std = torch.tensor(splits.std, dtype=torch.float32).view(1, c, 1, 1)
        # x_norm = (u8 / 255 - mean) / std = u8 * scale + shift
        self._scale = (1.0 / (255.0 * std)).to(self.device)
        self._shift = (-mean / std).to(self.device)

        self._shuffle_gen = _generator(self.seed, _SHUFFLE_STREAM)
        self._augment_gen = _generator(self.seed, _AUGMENT_STREAM)
        k = min(int(eval_train_samples), self.n_train)
        self.sample_indices = (
            torch.randperm(self.n_train, generator=_generator(self.seed, _SAMPLE_STREAM))[:k].sort().values
        )
        self._perm = self._new_permutation()
        self._pos = 0

    # -- placement ------------------------------------------------------------------------------

    def _fits_on_device(self) -> bool:
        if self.device.type == "cpu":
            return True
        s = self.splits
        need = sum(t.numel() * t.element_size() for t in (s.train_x, s.train_y, s.test_x, s.test_y))
        if self.device.type == "cuda":
            try:
                free, _ = torch.cuda.mem_get_info(self.device)
            except RuntimeError:
                return False
            return need <= MAX_DEVICE_FRACTION * free
        return True  # mps and others: try, and fall back on failure in _place

    def _place(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        s = self.splits
        tensors = (s.train_x, s.train_y, s.test_x, s.test_y)
        if self.resident:
            try:
                return tuple(t.to(self.device) for t in tensors)  # type: ignore[return-value]
            except (torch.OutOfMemoryError, RuntimeError):
                self.resident = False
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
        try:
            return tuple(t.pin_memory() for t in tensors)  # type: ignore[return-value]
        except RuntimeError:  # no accelerator runtime to pin with
            return tensors

    def _rows(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """``x[idx]`` on the device; ``idx`` int64 on the CPU."""
        if self.resident:
            return x[idx.to(self.device, non_blocking=True)]
        return x[idx].to(self.device, non_blocking=True)

    def _to_float(self, u8: torch.Tensor) -> torch.Tensor:
        """float32 images: normalised per channel, or ``u8 / 255`` in [0, 1] without ``normalize``."""
        x = u8.to(torch.float32)
        return x.mul_(self._scale).add_(self._shift) if self.normalize else x.div_(255.0)

    def _new_permutation(self) -> torch.Tensor:
        return torch.randperm(self.n_train, generator=self._shuffle_gen)

    # -- training batches -----------------------------------------------------------------------

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next training batch: float32 ``[B, C, H, W]`` on the device and int64 ``[B]`` labels."""
        b = self.batch_size
        idx = self._perm[self._pos : self._pos + b]
        self._pos += b
        u8 = self._rows(self.train_x, idx)
        y = self._rows(self.train_y, idx)
        if self.augment:
            offsets = torch.randint(0, 2 * PAD + 1, (2, b), generator=self._augment_gen)
            flip = torch.rand(b, generator=self._augment_gen) < 0.5 if self.hflip else None
            u8, valid = shift_flip(u8, offsets[0], offsets[1], flip)
            x = self._to_float(u8).masked_fill_(~valid, 0.0)  # padding = 0 (the mean, if normalised)
        else:
            x = self._to_float(u8)
        self.step += 1
        if self._pos + b > self.n_train:  # epoch complete: count it and reshuffle
            self.epoch += 1
            self._perm = self._new_permutation()
            self._pos = 0
        return x, y

    # -- evaluation -----------------------------------------------------------------------------

    def eval_batches(self, split: str, batch_size: int = 1000) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Un-augmented batches of ``"test"`` (all of it, in order) or ``"train_sample"`` (the fixed
        sample ``sample_indices``): float32 ``[<=batch_size, C, H, W]`` and int64 labels."""
        if split == "test":
            n = self.n_test
            for start in range(0, n, batch_size):
                x = self.test_x[start : start + batch_size].to(self.device, non_blocking=True)
                y = self.test_y[start : start + batch_size].to(self.device, non_blocking=True)
                yield self._to_float(x), y
        elif split == "train_sample":
            for start in range(0, len(self.sample_indices), batch_size):
                idx = self.sample_indices[start : start + batch_size]
                yield self._to_float(self._rows(self.train_x, idx)), self._rows(self.train_y, idx)
        else:
            raise ValueError(f"split must be 'test' or 'train_sample', not {split!r}")
