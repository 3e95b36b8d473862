"""Test set-up: Qt renders offscreen; torch runs single-threaded.

The tests run many small tensor ops, where OpenMP's thread start-up and spinning cost more than
they gain on 2 cores, and where a second busy process on the machine makes multi-threaded runs
up to 100x slower (measured here). One thread keeps the suite fast and its timing stable; the
numbers the tests assert do not depend on it.
"""

import os

import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
torch.set_num_threads(1)
