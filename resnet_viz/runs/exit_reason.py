"""Why a training process ended before its run did, in one line a user can act on."""

from __future__ import annotations

import signal

#: Signals that mean the process crashed in native code (C++, CUDA, a bad memory access).
CRASH_SIGNALS = frozenset({signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE})


def signal_name(number: int) -> str:
    """``9`` → ``"SIGKILL"``; an unknown number → ``"signal 99"``."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def exit_reason(exitcode: int | None, step: int | None, *, killed: bool = False, grace_s: float = 0.5) -> str:
    """One line for a training process that ended without finishing its run.

    ``exitcode``: the process's exit code (negative: the signal that ended it; None: unknown);
    ``step``: the last training step the parent received (None: training had not started);
    ``killed``: the parent itself killed it after it did not stop within ``grace_s`` seconds.
    """
    where = f"at step {step}" if step is not None else "before training started"
    if killed:
        return f"the training process was killed {where}: it did not stop within {grace_s:g} s of the request to end"
    if exitcode is None:
        return f"the training process stopped answering {where}"
    if exitcode < 0:
        number = -exitcode
        name = signal_name(number)
        if number == signal.SIGKILL:
            return f"the training process was killed by SIGKILL {where} (out of memory? the system may have killed it)"
        if number in CRASH_SIGNALS:
            return f"the training process was ended by {name} {where} (a crash in native code)"
        return f"the training process was ended by {name} {where}"
    if exitcode > 0:
        return f"the training process exited with status {exitcode} {where}"
    return f"the training process ended {where} without finishing its run"
