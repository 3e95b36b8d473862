"""The setup panel: the editor of one run's configuration, generated from the field table.

Modules: widgets (choices, number edits, depth and doubling spin boxes), extras (what a window adds to
the table: attribute names, group order, "default (16)" texts, quick depths, devices), builder (a
control per field: widget, tooltip, reading, showing its state), sync (the extras that follow the other
controls), panel (:class:`ConfigPanel`).
"""

from resnet_viz.gui.setup_panel.panel import ConfigPanel
from resnet_viz.gui.setup_panel.widgets import Choice, DepthSpinBox, DoublingSpinBox, ListEdit, NumberEdit, Segmented

__all__ = ["Choice", "ConfigPanel", "DepthSpinBox", "DoublingSpinBox", "ListEdit", "NumberEdit", "Segmented"]
