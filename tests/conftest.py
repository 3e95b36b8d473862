"""Test set-up: Qt renders offscreen; torch uses the machine's cores deterministically."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
