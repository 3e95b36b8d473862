"""The setup panel's public names, where the window and the tests import them.

The panel lives in :mod:`resnet_viz.gui.setup_panel` (generated from the field table of
:mod:`resnet_viz.config`).
"""

from resnet_viz.gui.setup_panel import (
    Choice,
    ConfigPanel,
    DepthSpinBox,
    DoublingSpinBox,
    ListEdit,
    NumberEdit,
    Segmented,
)

__all__ = ["Choice", "ConfigPanel", "DepthSpinBox", "DoublingSpinBox", "ListEdit", "NumberEdit", "Segmented"]
