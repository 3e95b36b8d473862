"""Session loading: time and peak memory of ``load_session`` on a long synthetic run.

Builds a RunStore of STEPS steps × LAYERS layers (per-layer statistics every PROBE_EVERY steps, an
evaluation every 500 steps, histograms every HIST_EVERY steps when > 0), saves it as a session, then
loads it in a fresh process and prints the file size, the load time and the peak resident memory the
load added (with ``--trace`` also the tracemalloc peak; numpy reports its arrays to it, but tracing
slows a load that makes many Python objects).

    python bench/session_load.py [--steps 100000] [--layers 110] [--probe-every 1] [--hist-every 0] [--trace]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np

from resnet_viz.config import RunConfig
from resnet_viz.metrics.records import (
    LAYER_QUANTITIES,
    EvalRecord,
    HistogramRecord,
    LayerInfoRecord,
    LayerStats,
    RunFinished,
    RunStarted,
    TrainChunk,
)
from resnet_viz.metrics.store import RunStore


def synthetic_store(
    steps: int, layers: int, probe_every: int = 1, hist_every: int = 0, bins: int = 64, seed: int = 0
) -> RunStore:
    """A finished run with ``steps`` steps and ``layers`` weight layers; random but plausible values."""
    rng = np.random.default_rng(seed)
    config = RunConfig().to_dict()
    info = LayerInfoRecord(
        names=[f"layer{i}" for i in range(layers)],
        kinds=["conv"] * layers,
        roles=["branch"] * layers,
        stages=np.zeros(layers, np.int64),
        blocks=np.arange(layers, dtype=np.int64),
        fan_in=np.full(layers, 144, np.int64),
        params=np.full(layers, 2304, np.int64),
    )
    init = {
        name: rng.random(layers)
        for name in ("act_mean_init", "act_std_init", "out_grad_norm_init", "grad_norm_init", "theory_act_std_init")
    }
    store = RunStore()
    store.add(
        RunStarted(
            label="synthetic",
            config=config,
            resolved={"total_steps": steps},
            device="cpu",
            versions={},
            layers=info,
            params=int(info.params.sum()),
            total_steps=steps,
            **init,
        )
    )
    chunk = 1000
    for a in range(1, steps + 1, chunk):
        step = np.arange(a, min(a + chunk, steps + 1), dtype=np.int64)
        for s in step[step % 500 == 0]:
            store.add(
                EvalRecord(
                    step=int(s),
                    train_error=rng.random(),
                    train_loss=rng.random(),
                    test_error=rng.random(),
                    test_loss=rng.random(),
                )
            )
        if hist_every:
            for s in step[step % hist_every == 0]:
                for kind in ("activation", "gradient"):
                    edges = np.sort(rng.standard_normal((layers, bins + 1)), axis=1)
                    store.add(
                        HistogramRecord(
                            step=int(s), kind=kind, edges=edges, counts=rng.integers(0, 1000, (layers, bins))
                        )
                    )
        probed = step[(step - 1) % probe_every == 0]
        stats = LayerStats(**{q: rng.random((probed.shape[0], layers), dtype=np.float32) for q in LAYER_QUANTITIES})
        store.add(
            TrainChunk(
                step=step,
                loss=rng.random(step.shape[0]),
                batch_error=rng.random(step.shape[0]),
                lr=np.full(step.shape[0], 0.1),
                step_time_s=rng.random(step.shape[0]) * 0.01,
                layers=stats,
                layer_step=probed,
            )
        )
    store.add(
        RunFinished(
            status="finished",
            steps=steps,
            final_train_error=0.1,
            final_test_error=0.2,
            final_train_loss=0.3,
            final_test_loss=0.4,
            steps_per_s=100.0,
            elapsed_s=steps / 100.0,
            params=int(info.params.sum()),
            device="cpu",
            extra={"final_eval_step": steps},
        )
    )
    return store


def load(path: str, trace: bool) -> None:
    """Child process: load ``path`` and print seconds, traced peak MB and resident peak MB."""
    from resnet_viz.export.session import load_session

    base_mb = _resident_mb()
    try:  # Linux: reset the peak (VmHWM) to the current size, so that the peak is the load's
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    session = load_session(path)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e6 if trace else float("nan")
    print(f"{seconds:.2f} {peak:.0f} {_peak_mb() - base_mb:.0f} {session.runs[0].store.steps_done}")


def _resident_mb() -> float:
    try:
        return float(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmRSS:"))) / 1024
    except (OSError, StopIteration):
        return 0.0


def _peak_mb() -> float:
    """Peak resident memory in MB (VmHWM on Linux, else ru_maxrss, which a forked child inherits)."""
    try:
        return float(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    from resnet_viz.export.session import Session, SessionRun, save_session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--layers", type=int, default=110)
    parser.add_argument("--probe-every", type=int, default=1)
    parser.add_argument("--hist-every", type=int, default=0)
    parser.add_argument("--load", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help="also measure the traced peak (slower load)")
    args = parser.parse_args()
    if args.load:
        load(args.load, args.trace)
        return
    store = synthetic_store(args.steps, args.layers, args.probe_every, args.hist_every)
    session = Session(
        runs=[
            SessionRun(
                name="long",
                color="#0072B2",
                visible=True,
                status="finished",
                message="",
                config=RunConfig(),
                store=store,
            )
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = save_session(Path(tmp) / "long", session)
        save_s = time.perf_counter() - t0
        del store, session
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
        size_mb = path.stat().st_size / 1e6
        child = [sys.executable, __file__, "--load", str(path)] + (["--trace"] if args.trace else [])
        seconds, traced, rss, steps = subprocess.run(child, check=True, capture_output=True, text=True).stdout.split()
    print(
        f"{args.steps} steps × {args.layers} layers (probe every {args.probe_every}, histograms every "
        f"{args.hist_every or '-'}): session {size_mb:.1f} MB ({unpacked / 1e6:.1f} MB unpacked), saved in "
        f"{save_s:.1f} s; loaded {steps} steps in {seconds} s, peak {rss} MB resident above the imports"
        + (f", {traced} MB traced" if args.trace else "")
    )


if __name__ == "__main__":
    main()
