"""Runs as the window and the CLI schedule them, Qt-free: a :class:`Run` (config, status, store of
records), the :class:`Scheduler` (in turn, interleaved, N in parallel) and the backends a run trains
in (a thread of this process, or a child process), all behind one stream of records."""
