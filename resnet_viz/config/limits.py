"""Defaults that depend on other fields, and the upper bounds of sizes.

Bounds are chosen far above any sensible run so that they only stop absurd values (and no check
allocates in proportion to a value); whether a valid config fits this machine's memory is
:mod:`resnet_viz.models.budget`'s job.
"""

from __future__ import annotations

#: Default base width of the CIFAR family (He et al. 2016) and hidden width of the MLP.
DEFAULT_CONV_WIDTH = 16
DEFAULT_MLP_WIDTH = 256
DEFAULT_STEPS = 2000

#: The deepest nets of the papers have 1202 (He et al. 2016a) and 1001 (He et al. 2016b) weight layers.
MAX_DEPTH = 10_000
MAX_WIDTH = 4096
MAX_BATCH_SIZE = 65_536
MAX_STEPS = 1_000_000_000  # also bounds eval_every, warmup_steps, probe_every, histogram_every
MAX_EPOCHS = 100_000
MAX_SAMPLES = 1_000_000_000  # subset, eval_train_samples (no dataset here has more images)
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds both take it (the engine also uses seed + 1)
MAX_HISTOGRAM_BINS = 4096
MAX_PATH_CHARS = 4096

#: How the runs of a comparison share the machine: one after another, in time slices in turn, or N at once.
TRAIN_MODES = ("sequential", "interleaved", "parallel")
#: Where runs train: each in a child process (the default), or in a thread of the consumer's process.
BACKENDS = ("process", "thread")
#: Environment variable that picks the window's backend (tests set "thread").
BACKEND_ENV = "RESNET_VIZ_BACKEND"
