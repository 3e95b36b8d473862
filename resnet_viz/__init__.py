"""resnet-viz: watch plain and residual networks train.

The core (config, models, data, train, metrics, export) imports no Qt and runs headless; the
desktop window lives in ``resnet_viz.gui`` and the command line in ``resnet_viz.cli``.
"""

__version__ = "0.1.0"
