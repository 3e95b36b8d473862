"""Launch to first live point on CPU, the window's default setup (issue 14's goal: < 3 s).

(a) In an open window (1600x1000, every plot on screen, opened ``--idle`` s before): from pressing
    Start to the first TrainChunk in the run's store and to the first repaint of a plot after it, for
    each backend; press 1 is cold (the backend has no data yet), press 2 warm (same window, data
    cached). With the process backend the child is started through a timed entry that writes when it
    got where (interpreter and spawn, ``import torch``, the child module, the run message, the
    deterministic switch, the data, the model build, the first records), so the time is broken down.
(b) From starting a new process that runs ``resnet-viz gui`` (``cli.main(["gui"])``, fresh settings)
    and presses Start as soon as the event loop runs, to the first live point, from the process's
    creation (``psutil.Process().create_time()``, 10 ms resolution).

    .venv/bin/python bench/launch_time.py [--backends process,thread] [--idle 3] [--skip-new-process]

Offscreen unless QT_QPA_PLATFORM is set. The top of this file imports only the standard library: a
spawned child re-imports the main script (as the real ``resnet-viz`` console script is re-imported).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from window_harness import close_window, load_average, open_window, run_event_loop_until

MARKS_ENV = "RESNET_VIZ_BENCH_MARKS"


def mark(name: str) -> None:
    """Append ``name`` and the wall-clock time to the file named by $RESNET_VIZ_BENCH_MARKS."""
    with open(os.environ[MARKS_ENV], "a") as f:
        f.write(json.dumps([name, time.time()]) + "\n")


class _Timed:
    """A connection that marks the first message of each kind it sends or receives."""

    def __init__(self, conn: Any, label: str) -> None:
        self._conn, self._label = conn, label
        self._seen: set[str] = set()

    def _note(self, item: Any) -> None:
        kind = item[0] if isinstance(item, tuple) else type(item).__name__
        if kind not in self._seen:
            self._seen.add(kind)
            mark(f"{self._label} {kind}")

    def send(self, item: Any) -> None:
        self._note(item)
        self._conn.send(item)

    def recv(self) -> Any:
        item = self._conn.recv()
        self._note(item)
        return item

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


#: (module, name, what it does) of the calls a child's start is timed by (the first call of each).
TIMED_CALLS = (
    ("resnet_viz.runs.child", "use_deterministic_algorithms", "deterministic switch (imports torch._inductor)"),
    ("resnet_viz.train.engine", "check_fits", "memory estimate"),
    ("resnet_viz.train.prepared", "DeviceDataset", "data to the device (normalise, eval sample)"),
    ("resnet_viz.train.prepared", "build_model", "model build"),
    ("resnet_viz.train.prepared", "layer_table", "layer table"),
    ("resnet_viz.train.prepared", "theory_act_std", "theory of the activation std"),
    ("resnet_viz.train.prepared", "LayerProbes", "probes"),
    ("resnet_viz.train.started", "step0_statistics", "step-0 statistics (forward and backward)"),
    ("resnet_viz.train.started", "package_versions", "package versions"),
    ("resnet_viz.train.engine", "train_step", "first training step"),
)


def time_first_call(module: Any, name: str, what: str) -> None:
    """Replace ``module.name`` by a wrapper that marks how long its first call took."""
    original = getattr(module, name, None)
    if original is None:
        return
    calls = []

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.time()
        try:
            return original(*args, **kwargs)
        finally:
            if not calls:
                calls.append(1)
                mark(f"child: {what} took {time.time() - t0:.2f} s")

    setattr(module, name, timed)


def timed_child(records: Any, control: Any) -> None:
    """The child's entry (spawn target): ``run_child`` with marks at each stage."""
    import importlib

    mark("child: entry (interpreter, spawn bootstrap)")
    import torch  # noqa: F401

    mark("child: import torch")
    from resnet_viz.runs import child

    mark("child: import resnet_viz.runs.child")
    for module, name, what in TIMED_CALLS:
        time_first_call(importlib.import_module(module), name, what)
    child.run_child(_Timed(records, "child sent"), _Timed(control, "child got"))


class FirstPoint:
    """Times (``time.time()``) of one press: data ready, RunStarted and first TrainChunk in the store,
    first paint of a plot after it."""

    def __init__(self, window: Any) -> None:
        self.t: dict[str, float] = {}
        window.manager.scheduler.listeners.append(self._record)
        window.manager.data_progress.connect(lambda _text, f: f >= 1.0 and self._once("data ready (parent)"))
        self._filter = paint_filter(self.painted)
        for panel in window.panels:
            panel.graphics.viewport().installEventFilter(self._filter)

    def _once(self, name: str) -> None:
        self.t.setdefault(name, time.time())

    def _record(self, _run: Any, record: Any) -> None:
        name = type(record).__name__
        if name in ("RunStarted", "TrainChunk"):
            self._once(f"{name} in the store")

    def painted(self) -> None:
        if "TrainChunk in the store" in self.t:
            self._once("first repaint after it")


def paint_filter(on_paint: Any) -> Any:
    """A Qt event filter that calls ``on_paint()`` for every paint event of the widgets it watches."""
    from PySide6 import QtCore

    class PaintFilter(QtCore.QObject):
        def eventFilter(self, _obj: Any, event: Any) -> bool:
            if event.type() == QtCore.QEvent.Type.Paint:
                on_paint()
            return False

    return PaintFilter()


def press(window: Any, marks_path: str) -> dict[str, float]:
    """Press Start with the setup queued; wait for the first repaint after the first TrainChunk; stop
    the run without an evaluation. Returns seconds from the press of every stage (parent and child)."""
    open(marks_path, "w").close()
    first = FirstPoint(window)
    t0 = time.time()
    window.start_button.click()
    first.t["Start returned (GUI thread free)"] = time.time()
    run_event_loop_until(lambda: "first repaint after it" in first.t, timeout_s=300)
    manager = window.manager
    for entry in manager.running:
        manager.scheduler.stop(entry, evaluate=False)
    run_event_loop_until(lambda: not manager.busy, timeout_s=60)
    manager.scheduler.listeners.clear()
    stages = dict(first.t)
    with open(marks_path) as f:
        for line in f:
            name, t = json.loads(line)
            stages.setdefault(name, t)
    return {name: t - t0 for name, t in sorted(stages.items(), key=lambda kv: kv[1])}


def in_window(backend: str, idle_s: float, presses: int, marks_path: str) -> None:
    from resnet_viz.runs.process_backend import ProcessBackend

    window = open_window(backend)
    if backend == "process":
        window.manager.scheduler.backend = ProcessBackend(entry=timed_child)
    window.restore_starting_setup()
    run_event_loop_until(lambda: False, timeout_s=idle_s)
    for i in range(presses):
        stages = press(window, marks_path)
        label = "cold: a new window in a new process, no data yet" if i == 0 else "warm: same window, data cached"
        print(f"(a) {backend} backend, press {i + 1} ({label}); {load_average()}", flush=True)
        for name, s in stages.items():
            print(f"    {s:6.2f} s  {name}", flush=True)
        window.manager.clear()
    close_window(window)


def driver() -> None:
    """(b), in a new process: ``resnet-viz gui``, Start pressed once the event loop runs; prints the
    seconds from the process's creation to each stage as one JSON line, then closes the window."""
    import psutil

    created = psutil.Process().create_time()
    t = {"driver script runs (interpreter up)": time.time()}
    from PySide6 import QtCore, QtWidgets

    from resnet_viz import cli

    t["imports (Qt, resnet_viz.cli)"] = time.time()

    def on_event_loop() -> None:
        window = next(w for w in QtWidgets.QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow")
        t["window shown, event loop runs"] = time.time()
        first = FirstPoint(window)
        window.start_button.click()
        t["Start pressed and returned"] = time.time()

        def check() -> None:
            if "first repaint after it" in first.t:
                timer.stop()
                t.update(first.t)
                print("STAGES " + json.dumps({k: v - created for k, v in sorted(t.items(), key=lambda kv: kv[1])}))
                sys.stdout.flush()
                window.close()

        timer = QtCore.QTimer(window)
        timer.timeout.connect(check)
        timer.start(10)

    QtCore.QTimer.singleShot(0, on_event_loop)
    cli.main(["gui"])


def new_process(backend: str) -> None:
    from resnet_viz.config import BACKEND_ENV

    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, XDG_CONFIG_HOME=home, XDG_DATA_HOME=home, XDG_CACHE_HOME=home)
        env[BACKEND_ENV] = backend
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        out = subprocess.run(
            [sys.executable, __file__, "--driver"], env=env, capture_output=True, text=True, timeout=600
        )
    line = next((x for x in out.stdout.splitlines() if x.startswith("STAGES ")), None)
    if line is None:
        print(f"(b) {backend}: the driver printed no stages; exit {out.returncode}; stderr {out.stderr[-2000:]}")
        return
    print(f"(b) new process `resnet-viz gui`, {backend} backend, Start at once; {load_average()}")
    for name, s in json.loads(line[len("STAGES ") :]).items():
        print(f"    {s:6.2f} s  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="process,thread")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds the window is open before Start")
    parser.add_argument("--presses", type=int, default=2)
    parser.add_argument("--skip-new-process", action="store_true")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--in-window", metavar="BACKEND", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.driver:
        driver()
        return 0
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.in_window:
        with tempfile.NamedTemporaryFile(suffix=".marks") as marks:
            os.environ[MARKS_ENV] = marks.name
            in_window(args.in_window, args.idle, args.presses, marks.name)
        return 0
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}", flush=True)
    for backend in args.backends.split(","):  # each in a fresh process: the embedded set is cached per process
        flags = ["--in-window", backend, "--idle", str(args.idle), "--presses", str(args.presses)]
        subprocess.run([sys.executable, __file__, *flags], check=True)
    if not args.skip_new_process:
        for backend in args.backends.split(","):
            new_process(backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
