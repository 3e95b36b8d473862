"""A sweep trained end to end on local processes: the CLI, run folders, sweep.json, a killed trial's
worker, resume; the summary's numbers against the trials' own run folders."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
from conftest import tiny_run_config

from resnet_viz.cli import main
from resnet_viz.runs.process_backend import ProcessBackend
from resnet_viz.runs.scheduler import Scheduler
from resnet_viz.sweeps.folder import read_state
from resnet_viz.sweeps.runner import SweepRunner
from resnet_viz.sweeps.spec import SweepSpec, parse_seeds, parse_vary

TINY = ["--arch", "mlp", "--width", "16", "--subset", "600", "--batch-size", "32", "--steps", "30",
        "--eval-every", "15", "--eval-train-samples", "200", "--lr", "0.05"]  # fmt: skip


def test_the_cli_trains_two_configs_by_two_seeds_and_resumes_nothing_when_done(tmp_path, capsys):
    out = tmp_path / "sw"
    argv = ["sweep", *TINY, "--vary", "model.depth=2,3", "--seeds", "0-1", "--parallel", "2", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "2 configs × 2 seeds = 4 trials, 4 to train" in printed.err
    state = read_state(out)
    assert [t.status for t in state.trials] == ["finished"] * 4
    folders = sorted(p.name for p in (out / "trials").iterdir())
    assert folders == ["001-depth-2-seed0", "001-depth-2-seed1", "002-depth-3-seed0", "002-depth-3-seed1"]
    for t in state.trials:  # each trial's numbers are its run folder's
        summary = json.loads((out / t.folder / "summary.json").read_text())
        assert summary["status"] == "finished" and summary["final_test_error"] == t.final_test_error
        run = json.loads((out / t.folder / "run.json").read_text())
        assert run["config"]["model"]["depth"] == t.values["model.depth"] and run["config"]["train"]["seed"] == t.seed
    tests = [t.final_test_error for t in state.trials[:2]]
    expected = f"{100 * np.mean(tests):.2f} ± {100 * np.std(tests):.2f}%"
    assert expected in (out / "summary.md").read_text() and expected in printed.out
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "trials").rglob("summary.json")}
    assert main(argv) == 0  # the same command again: nothing left to train
    assert "4 trials, 0 to train" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in (out / "trials").rglob("summary.json")} == mtimes


def _drive(runner: SweepRunner, scheduler: Scheduler, on_poll=None, limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while runner.active and time.monotonic() < deadline:
        scheduler.poll(0.05)
        runner.update()
        if on_poll is not None:
            on_poll()
    runner.update()
    runner.save()
    assert not runner.active


def test_a_killed_trial_worker_fails_that_trial_only_and_a_resume_trains_just_it(tmp_path):
    base = tiny_run_config("mlp", 2, steps=60)
    spec = SweepSpec(base, (parse_vary("model.depth=2,3"),), parse_seeds("0-1"), "kill").validate()
    backend = ProcessBackend()
    try:
        runner = SweepRunner.open(tmp_path / "sw", spec, backend, parallel=2, threads=1)
        scheduler = Scheduler(backend, mode="parallel", parallel=2)
        runner.attach(scheduler)
        victim = runner.runs[spec.trials()[1].trial_id]
        killed = []

        def kill_when_started() -> None:
            handle = scheduler.handle(victim)
            if killed or handle is None:
                return
            # paused as soon as it is handed out: it waits at its first step, so the kill lands mid-run and
            # never after its end (30 steps of a tiny MLP can start and end within one poll)
            scheduler.pause(victim)
            if victim.store.started is not None:
                os.kill(handle.pid, signal.SIGKILL)
                killed.append(True)

        _drive(runner, scheduler, kill_when_started)
    finally:
        backend.close()
    assert killed
    state = read_state(tmp_path / "sw")
    statuses = [t.status for t in state.trials]
    assert statuses.count("finished") == 3 and statuses[1] == "failed"
    assert "SIGKILL" in state.trials[1].message or "killed" in state.trials[1].message
    failed_summary = json.loads((tmp_path / "sw" / state.trials[1].folder / "summary.json").read_text())
    assert failed_summary["status"] == "failed"  # its folder keeps the steps it trained and says how it ended
    kept = {
        t.folder: (tmp_path / "sw" / t.folder / "metrics.csv").stat().st_mtime_ns
        for t in state.trials
        if t.status == "finished"
    }

    backend = ProcessBackend()
    try:
        again = SweepRunner.open(tmp_path / "sw", spec, backend, parallel=2, threads=1)
        assert [t.trial_id for t in again.pending] == [spec.trials()[1].trial_id]
        scheduler = Scheduler(backend, mode="parallel", parallel=2)
        added = again.attach(scheduler)
        assert len(added) == 1
        _drive(again, scheduler)
    finally:
        backend.close()
    state = read_state(tmp_path / "sw")
    assert [t.status for t in state.trials] == ["finished"] * 4 and state.trials[1].attempts == 2
    assert {f: (tmp_path / "sw" / f / "metrics.csv").stat().st_mtime_ns for f in kept} == kept


def test_a_stopped_sweep_keeps_its_finished_trials_and_says_how_to_resume(tmp_path, capsys):
    out = tmp_path / "sw"
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"vary": {"model.depth": [2, 3]}, "seeds": [0]}))
    argv = ["sweep", "--spec", str(spec_file), *TINY, "--parallel", "1", "--out", str(out)]
    real_update = SweepRunner.update

    def stop_after_first(self):  # the user's Ctrl-C, once the first trial has ended
        lines = real_update(self)
        if lines:
            os.kill(os.getpid(), signal.SIGINT)
        return lines

    SweepRunner.update = stop_after_first
    try:
        assert main(argv) == 130
    finally:
        SweepRunner.update = real_update
    err = capsys.readouterr().err
    assert f"resnet-viz sweep --resume {out}" in err
    statuses = [t.status for t in read_state(out).trials]
    assert statuses[0] == "finished" and statuses[1] != "finished"
    assert main(["sweep", "--resume", str(out), "--parallel", "1"]) == 0
    assert "2 trials, 1 to train" in capsys.readouterr().err
    assert [t.status for t in read_state(out).trials] == ["finished", "finished"]


def test_a_spec_file_with_flags_over_it_lists_its_trials(tmp_path, capsys):
    spec_file = tmp_path / "table6.yaml"
    spec_file.write_text(
        "name: table6\nbase:\n  model: {arch: resnet, shortcut: A}\n  train: {steps: 64000, batch_size: 128}\n"
        "vary: {model.depth: [20, 32, 44, 56, 110]}\nseeds: 0-4\n"
    )
    assert main(["sweep", "--spec", str(spec_file), "--out", str(tmp_path / "a"), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "5 configs × 5 seeds = 25 trials"
    # a --vary of the spec's field replaces its values; a base flag overrides the spec's base
    argv = ["sweep", "--spec", str(spec_file), "--vary", "model.depth=1202", "--steps", "100", "--seeds", "0",
            "--out", str(tmp_path / "b"), "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["001-depth-1202-seed0  resnet-1202 · he · sgd  seed 0", "1 config × 1 seed = 1 trial"]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # a dry run writes nothing
