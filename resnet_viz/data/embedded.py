"""The embedded default dataset: SYNTHETIC images, generated procedurally in-process (no files, no download).

It is shaped like CIFAR-10 (3x32x32 uint8, 10 classes, 20,000 train / 4,000 test images) so every
model and view works on it out of the box, but it is not a natural-image set and its error rates
are not comparable with published CIFAR figures.

Each image shows one large *striped* shape on a cluttered background. The class is the combination
of two properties of that object::

    class = 2 * shape + stripe_orientation
    shape              in (circle, square, triangle, cross, ring)
    stripe_orientation in (horizontal, vertical)   (of the stripes *inside* the shape)

so recognising it needs both the outline (a large receptive field) and the texture inside it,
i.e. composition. Nuisances, drawn independently of the class for every image:

* object: position (centre 11..21 px), size (equal expected area for all shapes), rotation
  (±20°), stripe period (2.5..5 px), phase, stripe tilt (±20° around the class orientation), two
  random stripe colours;
* background: random colour gradient, low-frequency colour noise, a soft-edged patch of stripes
  at a *uniformly random* orientation (so "are there horizontal stripes somewhere" is not the
  answer), and 2..4 small solid distractor shapes of random kinds behind the object and 0..1 in
  front of it (partial occlusion);
* global contrast/brightness jitter and Gaussian pixel noise (std 0.02..0.10).

Colour and mean intensity carry (almost) no class information, and a linear classifier on raw
pixels is far below a small CNN (see ``bench/embedded_difficulty.py``). The labels are exact (no
label noise); classes are balanced (2,000 / 400 per class, in shuffled order). A horizontal flip
keeps the class (the shapes are mirror-symmetric and a flip maps the orientation jitter onto
itself). Train and test are independent draws (separate random streams) of the same process.

Generation is vectorised torch on the CPU (one thread, chunks of 1,000 images), deterministic for
``seed`` (same seed → identical tensors; all randomness comes from seeded ``torch.Generator``
streams, one per split and chunk), and cached per process. It takes about 2 s on one core.

Sizes: 20k/4k keeps generation to a couple of seconds and the uint8 tensors at 74 MB while leaving
enough images that a ResNet-20 needs several hundred steps (several epochs at batch 128) to fit
the training set, and 4k test images give a test error with a standard error below 0.8 points.

Measured difficulty (``bench/embedded_difficulty.py``: width 16, BN, He init, SGD lr 0.1, momentum
0.9, weight decay 1e-4, batch 128, pad-4 crop + flip; training error in eval mode on 2,000 fixed
training images)::

    step   resnet-20  plain-20  plain-32  plain-56  resnet-56  linear
      50     0.69       0.70      0.89      0.89      0.90      0.88
     200     0.45       0.56      0.92      0.91      0.89      0.89
     400     0.08       0.35       -        0.91      0.77      0.89
     600     0.06       0.09       -        0.89      0.66      0.89

Because no low-level cue (colour, brightness) predicts the class, deep *plain* nets find no
foothold: plain-32 and plain-56 stay at chance (plain-56 still at chance after 950 steps, also at
lr 0.01), an extreme form of the degradation effect; ResNet-56 learns, but more slowly than
ResNet-20 over the first 600 steps.
"""

from __future__ import annotations

import colorsys
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .splits import DatasetSplits, ProgressFn, finish_splits

N_TRAIN = 20_000
N_TEST = 4_000
IMAGE_SIZE = 32
CHUNK = 1000

SHAPES = ("circle", "square", "triangle", "cross", "ring")
ORIENTATIONS = ("horizontal", "vertical")
CLASSES: list[str] = [f"{s}, {o} stripes" for s in SHAPES for o in ORIENTATIONS]

DESCRIPTION = (
    "embedded synthetic set (procedural: 5 shapes x horizontal/vertical stripes on cluttered "
    "backgrounds, 3x32x32, 10 classes, {sizes}, seed %d)"
)

_cache: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = {}
_lock = threading.Lock()

# Size factors so that every shape has the same expected area (pi * r^2) for a given r.
_SIZE = torch.tensor(
    [
        1.0,
        math.sqrt(math.pi) / 2,
        math.sqrt(math.pi / (3 * math.sqrt(3))),
        math.sqrt(9 * math.pi / 20),
        1 / math.sqrt(0.75),
    ]
)


def _u(g: torch.Generator, n: int, lo: float, hi: float, *rest: int) -> torch.Tensor:
    """Uniform [lo, hi) of shape ``[n, *rest]``."""
    return torch.rand((n, *rest), generator=g) * (hi - lo) + lo


def _col(t: torch.Tensor) -> torch.Tensor:
    """[n] -> [n, 1, 1] for broadcasting over an image plane."""
    return t.view(-1, 1, 1)


def _sdf(kind: torch.Tensor, u: torch.Tensor, v: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Signed distance in pixels (negative inside) to shape ``kind`` [n] of size ``r`` [n, 1, 1],
    at object coordinates ``u`` (right), ``v`` (down), ``[n, H, W]``."""
    d = torch.empty_like(u)
    for k in range(len(SHAPES)):
        sel = (kind == k).nonzero().squeeze(1)
        if sel.numel() == 0:
            continue
        uu, vv, rr = u[sel], v[sel], r[sel] * float(_SIZE[k])
        if k == 0:  # circle of radius rr
            dk = torch.sqrt(uu * uu + vv * vv) - rr
        elif k == 1:  # square of half-side rr
            dk = torch.maximum(uu.abs(), vv.abs()) - rr
        elif k == 2:  # equilateral triangle, vertex up, inradius rr (centroid at the origin)
            w = -vv
            dk = torch.maximum(torch.maximum(-w, 0.8660254 * uu + 0.5 * w), -0.8660254 * uu + 0.5 * w) - rr
        elif k == 3:  # plus-shaped cross, arm half-length rr, half-width rr / 3
            au, av = uu.abs(), vv.abs()
            dk = torch.minimum(torch.maximum(au - rr, av - rr / 3), torch.maximum(au - rr / 3, av - rr))
        else:  # ring, outer radius rr, inner radius rr / 2
            dk = (torch.sqrt(uu * uu + vv * vv) - 0.75 * rr).abs() - 0.25 * rr
        d[sel] = dk
    return d


def _frame(
    g: torch.Generator, n: int, yy: torch.Tensor, xx: torch.Tensor, lo: float, hi: float, max_rot: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Object coordinates (u, v) [n, H, W] for random centres in [lo, hi) and rotations ±max_rot rad."""
    cy, cx = _col(_u(g, n, lo, hi)), _col(_u(g, n, lo, hi))
    a = _u(g, n, -max_rot, max_rot)
    ca, sa = _col(torch.cos(a)), _col(torch.sin(a))
    dy, dx = yy - cy, xx - cx
    return ca * dx + sa * dy, -sa * dx + ca * dy


def _coverage(d: torch.Tensor) -> torch.Tensor:
    """Antialiased coverage in [0, 1] from a signed distance (1 px ramp)."""
    return (0.5 - d).clamp_(0.0, 1.0)


def _grating(
    g: torch.Generator, n: int, yy: torch.Tensor, xx: torch.Tensor, angle: torch.Tensor, plo: float, phi: float
) -> torch.Tensor:
    """Stripes in [0, 1], [n, H, W]: lines running at ``angle`` [n] (rad, 0 = horizontal lines),
    random period in [plo, phi) px and phase, with soft-square profile."""
    period = _col(_u(g, n, plo, phi))
    phase = _col(_u(g, n, 0.0, 2 * math.pi))
    # coordinate across the lines: lines at angle a are level sets of (-sin a * x + cos a * y)
    across = -_col(torch.sin(angle)) * xx + _col(torch.cos(angle)) * yy
    return (torch.sin(across * (2 * math.pi) / period + phase) * 2.0).clamp_(-1.0, 1.0) * 0.5 + 0.5


def _paint(img: torch.Tensor, cover: torch.Tensor, colour: torch.Tensor) -> None:
    """In place: img [n, 3, H, W] = img * (1 - cover) + colour * cover; cover [n, H, W], colour
    [n, 3] or [n, 3, H, W]."""
    c = cover.unsqueeze(1)
    if colour.ndim == 2:
        colour = colour.view(-1, 3, 1, 1)
    img.mul_(1 - c).add_(colour * c)


@dataclass(frozen=True)
class Style:
    """The nuisance ranges of the generator (pixel units unless noted; (lo, hi) are uniform ranges).
    :data:`STYLE` is the embedded set; other values exist for difficulty experiments."""

    bg_lowfreq: tuple[float, float] = (0.03, 0.15)  # amplitude of 4x4-upsampled colour noise
    patch_alpha: tuple[float, float] = (0.3, 0.9)  # opacity of the clutter stripe patch
    patch_radius: tuple[float, float] = (5.0, 11.0)  # Gaussian envelope sigma of the patch
    behind: tuple[int, int] = (2, 4)  # number of solid distractors behind the object
    behind_radius: tuple[float, float] = (2.0, 4.0)
    front: tuple[int, int] = (0, 1)  # number of small solid distractors in front of it
    front_radius: tuple[float, float] = (2.0, 3.5)
    radius: tuple[float, float] = (5.5, 9.0)  # object size (circle radius of equal area)
    centre: tuple[float, float] = (11.0, 21.0)  # object centre, both coordinates
    rotation_deg: float = 20.0  # object rotation ±
    tilt_deg: float = 20.0  # stripe orientation jitter ± around horizontal/vertical
    period: tuple[float, float] = (2.5, 5.0)  # stripe period
    stripe_offset: tuple[float, float] = (0.35, 0.65)  # colour distance of the two stripe colours (mod 1)
    gain: tuple[float, float] = (0.7, 1.1)  # global contrast
    bias: tuple[float, float] = (-0.1, 0.1)  # global brightness
    noise: tuple[float, float] = (0.02, 0.10)  # std of Gaussian pixel noise
    # Experiment only, 0 in the embedded set: weight of a fixed per-class colour mixed into the
    # background, a CIFAR-like partially informative colour cue (0.3: nearest class-mean colour
    # classifier 23% accurate instead of 10%).
    bg_tint: float = 0.0


STYLE = Style()


def _render(labels: torch.Tensor, g: torch.Generator, st: Style = STYLE) -> torch.Tensor:
    """Images uint8 [n, 3, 32, 32] for class indices ``labels`` [n], drawing all randomness from ``g``."""
    n, s = labels.shape[0], IMAGE_SIZE
    coords = torch.arange(s, dtype=torch.float32) + 0.5
    yy, xx = coords.view(1, s, 1), coords.view(1, 1, s)
    shape, orient = labels // 2, labels % 2

    # background: colour gradient + low-frequency colour noise
    c0, c1 = _u(g, n, 0.0, 1.0, 3), _u(g, n, 0.0, 1.0, 3)
    if st.bg_tint > 0:
        pal = torch.tensor([colorsys.hsv_to_rgb((3 * k / 10) % 1.0, 0.8, 0.8) for k in range(10)])
        c0 = c0 * (1 - st.bg_tint) + pal[labels] * st.bg_tint
        c1 = c1 * (1 - st.bg_tint) + pal[labels] * st.bg_tint
    a = _u(g, n, 0.0, 2 * math.pi)
    t = (_col(torch.cos(a)) * (xx - s / 2) + _col(torch.sin(a)) * (yy - s / 2)) / s + 0.5  # [n, H, W]
    img = c0.view(n, 3, 1, 1) + (c1 - c0).view(n, 3, 1, 1) * t.unsqueeze(1)
    low = F.interpolate(torch.randn((n, 3, 4, 4), generator=g), size=(s, s), mode="bilinear", align_corners=False)
    img += low * _u(g, n, *st.bg_lowfreq).view(n, 1, 1, 1)

    # clutter: a soft-edged stripe patch at a uniformly random orientation
    pu, pv = _frame(g, n, yy, xx, 4.0, 28.0, 0.0)
    prad = _col(_u(g, n, *st.patch_radius))
    patch = torch.exp(-(pu * pu + pv * pv) / (2 * prad * prad)) * _col(_u(g, n, *st.patch_alpha))
    pstripes = _grating(g, n, yy, xx, _u(g, n, 0.0, math.pi), *st.period).unsqueeze(1)
    _paint(
        img,
        patch,
        _u(g, n, 0.0, 1.0, 3).view(n, 3, 1, 1) * pstripes + _u(g, n, 0.0, 1.0, 3).view(n, 3, 1, 1) * (1 - pstripes),
    )

    def distractors(count: tuple[int, int], radius: tuple[float, float]) -> None:
        number = torch.randint(count[0], count[1] + 1, (n,), generator=g)
        for k in range(count[1]):
            kind = torch.randint(0, len(SHAPES), (n,), generator=g)
            du, dv = _frame(g, n, yy, xx, 2.0, 30.0, math.pi / 4)
            cover = _coverage(_sdf(kind, du, dv, _col(_u(g, n, *radius))))
            cover *= _col((number > k).float())
            _paint(img, cover, _u(g, n, 0.0, 1.0, 3))

    distractors(st.behind, st.behind_radius)

    # the object: a striped shape; the stripes' orientation is part of the class
    r = _col(_u(g, n, *st.radius))
    ou, ov = _frame(g, n, yy, xx, *st.centre, math.radians(st.rotation_deg))
    cover = _coverage(_sdf(shape, ou, ov, r))
    tilt = math.radians(st.tilt_deg)
    angle = orient.float() * (math.pi / 2) + _u(g, n, -tilt, tilt)
    stripes = _grating(g, n, yy, xx, angle, *st.period).unsqueeze(1)
    ca = _u(g, n, 0.0, 1.0, 3)
    cb = torch.remainder(ca + _u(g, n, *st.stripe_offset, 1) + _u(g, n, -0.1, 0.1, 3), 1.0)
    _paint(img, cover, ca.view(n, 3, 1, 1) * stripes + cb.view(n, 3, 1, 1) * (1 - stripes))

    distractors(st.front, st.front_radius)

    # global photometric jitter and pixel noise
    img.mul_(_u(g, n, *st.gain).view(n, 1, 1, 1)).add_(_u(g, n, *st.bias).view(n, 1, 1, 1))
    img += torch.randn(img.shape, generator=g) * _u(g, n, *st.noise).view(n, 1, 1, 1)
    return img.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)


def _stream(seed: int, split: int, chunk: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + split * 10_007 + chunk) % (1 << 62) + 12_345)


@contextmanager
def _single_thread() -> Iterator[None]:
    """Run torch ops on one intra-op thread. The chunks are small (4 MB per plane), so a second
    thread gains little, while on a shared, busy CPU OpenMP's spinning threads made generation
    7x slower (35 s instead of 5 s) in our measurements."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def generate(
    seed: int = 0,
    n_train: int = N_TRAIN,
    n_test: int = N_TEST,
    progress: ProgressFn | None = None,
    style: Style = STYLE,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Generate (train_x, train_y, test_x, test_y): uint8 [N, 3, 32, 32] and int64 [N], balanced
    classes in shuffled order. Not cached; see :func:`load_embedded`. Runs single-threaded."""
    with _single_thread():
        return _generate(seed, n_train, n_test, progress, style)


def _generate(
    seed: int, n_train: int, n_test: int, progress: ProgressFn | None, style: Style
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    out: list[torch.Tensor] = []
    total = n_train + n_test
    done = 0
    for split, n in enumerate((n_train, n_test)):
        g = _stream(seed, split, 1 << 20)
        labels = torch.arange(n) % len(CLASSES)
        labels = labels[torch.randperm(n, generator=g)]
        chunks = []
        for i, start in enumerate(range(0, n, CHUNK)):
            chunks.append(_render(labels[start : start + CHUNK], _stream(seed, split, i), style))
            done += chunks[-1].shape[0]
            if progress is not None:
                progress(f"generating embedded {'train' if split == 0 else 'test'} images", done / total)
        out += [
            torch.cat(chunks) if chunks else torch.empty(0, 3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8),
            labels.to(torch.int64),
        ]
    return out[0], out[1], out[2], out[3]


def load_embedded(seed: int = 0, subset: int | None = None, progress: ProgressFn | None = None) -> DatasetSplits:
    """The embedded set for ``seed`` (generated once per process, then cached); ``subset`` keeps the
    first N training images. The returned tensors are shared with the cache: treat them as read-only."""
    with _lock:
        if seed not in _cache:
            _cache[seed] = generate(seed, progress=progress)
        tensors = _cache[seed]
    if progress is not None:
        progress("embedded set ready", 1.0)
    return finish_splits("embedded", *tensors, CLASSES, DESCRIPTION % seed, True, subset)
