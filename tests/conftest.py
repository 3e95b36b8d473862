"""Test set-up: Qt renders offscreen; torch runs single-threaded.

The tests run many small tensor ops, where OpenMP's thread start-up and spinning cost more than
they gain on 2 cores, and where a second busy process on the machine makes multi-threaded runs
up to 100x slower (measured here). One thread keeps the suite fast and its timing stable; the
numbers the tests assert do not depend on it.
"""

import os
import tempfile

import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("RESNET_VIZ_BACKEND", "thread")  # tests that need child processes ask for them
# A developer's own presets (~/.config/resnet-viz/presets) must not change what the tests see: an
# empty per-user presets folder for the whole session (tests of user presets set their own).
os.environ["RESNET_VIZ_PRESETS"] = tempfile.mkdtemp(prefix="resnet-viz-test-presets-")
torch.set_num_threads(1)


import pytest  # noqa: E402

from resnet_viz.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig  # noqa: E402


def tiny_run_config(
    arch: str = "plain", depth: int = 8, steps: int = 40, lr: float = 0.05, batch_norm: bool | None = None
) -> RunConfig:
    """A run that trains in about a second on CPU: width 4, 1,000 embedded images."""
    return RunConfig(
        model=ModelConfig(arch=arch, depth=depth, width=4, batch_norm=batch_norm),
        optim=OptimConfig(name="sgd", lr=lr, momentum=0.9),
        data=DataConfig(subset=1000),
        train=TrainConfig(batch_size=32, steps=steps, eval_every=10, eval_train_samples=200),
    )


@pytest.fixture(scope="session")
def recorded_runs():
    """Finished RunEntry objects with real engine records: plain-8, resnet-14 and a diverged plain-8.

    Session-scoped and shared: tests must not modify them (copy what they change).
    """
    from resnet_viz.gui.runs import PALETTE, RunEntry
    from resnet_viz.train.engine import Engine

    entries = []
    for i, (cfg, name) in enumerate(
        [
            (tiny_run_config("plain", 8), "plain-8"),
            (tiny_run_config("resnet", 14), "resnet-14"),
            (tiny_run_config("plain", 8, lr=1e4, batch_norm=False), "plain-8 diverging"),
        ]
    ):
        entry = RunEntry(run_id=i + 1, config=cfg, name=name, color=PALETTE[i])
        result = Engine(cfg, entry.store.add).run()
        entry.status = result.status
        entry.version = 1
        entries.append(entry)
    return entries


@pytest.fixture
def settings(tmp_path):
    """A private QSettings file: nothing of the user's is read or changed."""
    from PySide6 import QtCore

    return QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    """The main window on private settings, shown at 1600x1000; its training threads end with the test."""
    from resnet_viz.gui.main_window import MainWindow

    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1600, 1000)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.manager.shutdown()


#: Modules that take minutes (test_presets: 7-8 min on one core), handed out first: xdist's loadscope
#: gives whole modules to the workers in collection order, so a long module collected late would run
#: alone on one core at the end while the other core idles.
SLOW_MODULES_FIRST = (
    "test_presets.py",
    "test_engine.py",
    "test_sweep_ray.py",
    "test_cli_reproduce.py",
    "test_gui_presets.py",
    "test_runs_ray.py",
    "test_gui_sweeps.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: every other order is kept
