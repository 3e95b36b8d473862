"""``python -m resnet_viz.cli``: the same as the ``resnet-viz`` command."""

import sys

from resnet_viz.cli import main

sys.exit(main())
