"""The loss landscape of a trained network (Li et al. 2018; science.md §8), Qt-free.

Modules: spec (what to compute: LandscapeSpec), directions (filter-normalised random directions),
trajectory (PCA of the training path), source (a run folder or checkpoint read: LandscapeSource),
sample (the fixed training sample the loss is averaged over), evaluator (the network's loss at many
weight vectors, batched), compute (the grid: compute_landscape), result (LandscapeResult, its files),
job (compute in a child process), surface (the grid as a differentiable 2D surface for the race),
errors (LandscapeError, LandscapeCancelled).
"""

from resnet_viz.landscape.errors import LandscapeCancelled, LandscapeError
from resnet_viz.landscape.spec import DIRECTIONS, LandscapeSpec

__all__ = ["DIRECTIONS", "LandscapeCancelled", "LandscapeError", "LandscapeSpec"]
