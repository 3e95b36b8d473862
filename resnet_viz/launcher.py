"""The ``resnet-viz`` console script: imports the command line inside a guard.

Importing torch and Qt takes the first seconds of every command; Ctrl-C in that time would
otherwise end with a traceback printed by the console-script wrapper. Here it ends with one line
and exit status 130, as Ctrl-C does once :func:`resnet_viz.cli.main` runs.
"""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from resnet_viz.cli import main as cli_main
    except KeyboardInterrupt:
        print("resnet-viz: interrupted", file=sys.stderr)
        return 130
    return cli_main()
