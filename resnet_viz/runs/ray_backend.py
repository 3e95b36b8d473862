"""RayBackend: each run trains in a Ray actor, on a local Ray or a cluster, its records streamed back live.

Why Ray core actors with a streaming generator, not Ray Tune: what a run produces is this project's
typed records (dataclasses with numpy arrays), streamed live into the window and the run folders
through the one record stream every backend writes to; each trial is paused, resumed or stopped on its
own; the scheduler, the sweep runner and the run folders exist already. Tune reports per-iteration dicts
through its own training loop, controller and storage sync, which would duplicate all of that.

Each run is one threaded actor (:class:`~resnet_viz.runs.ray_trial.TrialActor`, ``cpus_per_trial`` CPUs,
``gpus_per_trial`` GPUs) that gets its data from Ray's object store (loaded here once per data
configuration: :mod:`~resnet_viz.runs.ray_data`) and streams lists of records; a reader thread
here puts each on the stream as ``(run_id, item)``, then how the run ended when the actor did not say
(its worker died: :class:`~resnet_viz.runs.items.Failed` naming the step), then ``Exited``.

Ray is optional (:mod:`~resnet_viz.runs.ray_connect`): it is imported on first use (``connect`` or a
run's start). Every node of a cluster needs resnet-viz installed (the actor is imported by its module
name there).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from resnet_viz.config import ConfigError, DataConfig, RunConfig
from resnet_viz.data import DataError
from resnet_viz.metrics.records import RunFinished, RunStarted, TrainChunk
from resnet_viz.runs.backend import RecordStream
from resnet_viz.runs.items import Cancelled, Exited, Failed, Progress, StreamItem
from resnet_viz.runs.ray_connect import (
    ANSI_CODES,
    AUTH_LOGGER,
    RAY_EXTRA_MESSAGE,
    SHARED_RAY,
    RayResources,
    RayUnavailable,
    client_mode,
    connect_hint,
    import_ray,
    is_actor_death,
    probe_address,
    quiet_logger,
    ray_available,
    resolve_address,
)
from resnet_viz.runs.ray_data import SharedSplits

#: Seconds a poll of a trial's records waits for some (Ray Client only).
POLL_WAIT_S = 1.0
#: Threads of each trial actor: the record stream, control calls and the pid query run at once.
ACTOR_CONCURRENCY = 4


class RayRunHandle:
    """One run in a Ray actor; what it produces goes to ``out`` as ``(run_id, item)``, ``Exited`` last.

    Control calls are numbered (a threaded actor may run two calls out of order) and only a change is
    sent: the scheduler asks every running run to resume at each poll.
    """

    killable = True

    def __init__(self, run_id: int, config: RunConfig, out: RecordStream, backend: RayBackend, threads: int) -> None:
        config.resolved()  # a ConfigError here, at launch, as with the other backends
        self.run_id = run_id
        self.config = config
        self.threads = threads
        self._out = out
        self._backend = backend
        self._lock = threading.Lock()
        self._actor: Any = None
        self._pid: int | None = None
        self._seq = 0
        self._paused = False
        self._stop: bool | None = None  # None: no stop asked; else its ``evaluate``
        self._kill_asked = False  # kill() was called
        self._killed = False  # kill() ended the actor
        self._started = False  # RunStarted received
        self._ended = False  # RunFinished, Failed or Cancelled received
        self._last_step = 0
        self._reader = threading.Thread(target=self._read, name=f"resnet-viz run {run_id} ray", daemon=True)

    @property
    def pid(self) -> int | None:
        """The Ray worker's process id once its actor has started (None before)."""
        return self._pid

    # --- RunHandle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect to Ray (first run), create the actor and stream its records, in the reader thread."""
        self._backend.track(self, alive=True)
        self._reader.start()

    def pause(self) -> None:
        self._control("pause", paused=True)

    def resume(self) -> None:
        self._control("resume", paused=False)

    def stop(self, evaluate: bool = True) -> None:
        with self._lock:
            self._stop = evaluate if self._stop is None else self._stop and evaluate
            self._send("stop", self._stop)

    @property
    def stop_requested(self) -> bool:
        return self._stop is not None

    def alive(self) -> bool:
        return self._reader.is_alive()

    def join(self, timeout_s: float) -> bool:
        if self._reader.ident is not None:
            self._reader.join(max(0.0, timeout_s))
        return not self._reader.is_alive()

    def kill(self) -> None:
        """End the actor at once (``ray.kill``), without a final evaluation."""
        with self._lock:
            self._stop, self._kill_asked = False, True
            actor, self._killed = self._actor, self._actor is not None
        if actor is not None:
            self._backend.kill_actor(actor)

    # --- control ------------------------------------------------------------------------------------
    def _control(self, kind: str, paused: bool) -> None:
        """Send a pause or resume that changes something; none after a stop (it resumes the engine itself,
        and a resume that overtook it in the actor would train one more step)."""
        with self._lock:
            if self._paused != paused:
                self._paused = paused
                if self._stop is None:
                    self._send(kind)

    def _send(self, kind: str, evaluate: bool = True) -> None:
        """Call the actor's ``control`` (under ``_lock``); before the actor exists the state is kept."""
        self._seq += 1
        if self._actor is not None:
            try:
                self._actor.control.remote(self._seq, kind, evaluate)
            except Exception:  # noqa: BLE001 - the actor or Ray is gone: the reader reports it
                pass

    def _attach(self, actor: Any) -> None:
        """Keep the new actor and send it what was asked before it existed (a kill: it ends now)."""
        with self._lock:
            self._actor = actor
            if self._kill_asked:
                self._killed = True
                self._backend.kill_actor(actor)
            elif self._stop is not None:
                self._send("stop", self._stop)
            elif self._paused:
                self._send("pause")

    # --- the reader thread ----------------------------------------------------------------------------
    def _read(self) -> None:
        error: BaseException | None = None
        try:
            if self._stop is not None:  # stopped or killed before it started: no actor at all
                raise _NeverStarted
            ray = self._backend.ray()
            splits = self._backend.data.ref(ray, self.config.data, self._progress)
            actor = self._backend.create_actor(self.config, self.threads, splits)
            self._attach(actor)
            for batch in self._batches(ray, actor):
                for item in batch:
                    self._note(item)
                    self._out.put((self.run_id, item))
        except _NeverStarted:
            pass
        except (ConfigError, DataError) as exc:  # the data cannot be loaded: the user's input
            self._ended = True
            self._out.put((self.run_id, Failed(str(exc), input_error=True)))
        except BaseException as exc:  # noqa: BLE001 - how the run ended, said once below
            error = exc
        finally:
            self._finish(error)

    def _progress(self, text: str, fraction: float) -> None:
        """Loading the data here: its progress on the stream; a stop meanwhile abandons the run."""
        if self._stop is not None:
            raise _NeverStarted
        self._out.put((self.run_id, Progress(text, fraction)))

    def _batches(self, ray: Any, actor: Any) -> Iterator[list[StreamItem]]:
        """The actor's batches of records: streamed, or polled through Ray Client (it cannot stream them)."""
        if self._backend.streaming:
            stream = actor.records.options(num_returns="streaming").remote()
            self._pid = int(ray.get(actor.pid.remote()))
            for ref in stream:
                yield ray.get(ref)
            return
        self._pid = int(ray.get(actor.pid.remote()))
        while (batch := ray.get(actor.next_batch.remote(POLL_WAIT_S))) is not None:
            yield batch

    def _note(self, item: StreamItem) -> None:
        if isinstance(item, RunStarted):
            self._started = True
        elif isinstance(item, TrainChunk) and len(item) > 0:
            self._last_step = int(item.step[-1])
        elif isinstance(item, (RunFinished, Failed, Cancelled)):
            self._ended = True

    def _finish(self, error: BaseException | None) -> None:
        """After the last record: end the actor, post how the run ended when it did not say, then ``Exited``."""
        with self._lock:
            actor, self._actor = self._actor, None
        if actor is not None:
            self._backend.kill_actor(actor)  # its resources are free for the next trial at once
        end = self._end_item(error)
        if end is not None:
            self._out.put((self.run_id, end))
        self._out.put((self.run_id, Exited()))
        self._backend.track(self, alive=False)

    def _end_item(self, error: BaseException | None) -> StreamItem | None:
        """What the stream still needs after the actor ended: nothing, ``Cancelled`` or ``Failed``."""
        if self._ended:
            return None
        if self._stop is not None and not self._started:
            return Cancelled()
        if isinstance(error, RayUnavailable):
            return Failed(str(error))
        where = f"at step {self._last_step}" if self._started else "before training started"
        text = ANSI_CODES.sub("", str(error)).strip()
        detail = "" if error is None else f"{type(error).__name__}: {text}"
        if self._killed:
            return Failed(f"the Ray worker was killed {where} at the request to end the run", detail)
        if error is None:
            return Failed(f"the Ray worker ended {where} without finishing its run")
        lines = text.splitlines() or [""]
        if is_actor_death(error) and "creation task" in lines[0]:  # e.g. resnet_viz missing on that node
            hint = " (install resnet-viz on every node of the cluster)" if "resnet_viz" in lines[-1] else ""
            return Failed(f"the Ray worker could not create the trial: {lines[-1].strip()}{hint}", detail)
        if is_actor_death(error):
            reason = "(its process was killed or crashed, or its node was lost: out of memory?)"
            return Failed(f"the Ray worker died {where} {reason}", detail)
        return Failed(
            f"could not read the records of the Ray worker {where}: {type(error).__name__}: {lines[0]}", detail
        )


class _NeverStarted(Exception):
    """The run was stopped before its actor was created."""


class RayBackend:
    """Runs train in Ray actors; Ray is started or connected on first use (:meth:`connect`)."""

    name = "ray"

    def __init__(self, resources: RayResources | None = None) -> None:
        self.resources = resources or RayResources()
        self.resources.validate()
        self._lock = threading.Lock()
        self._ray: Any = None
        self._actor_class: Any = None
        self._unfit = ""  # why a trial cannot run on the local Ray ("": it can)
        #: True: trials stream their records (a generator); False: through Ray Client, which cannot, they are polled
        self.streaming = not (self.resources.address or "").startswith("ray://")
        self._handles: set[RayRunHandle] = set()
        self.data = SharedSplits()  # the trials' datasets, loaded here once each and shared through Ray

    def connect(self) -> str:
        """Start or connect to Ray once (an initialised Ray is reused); one line describing it.
        :class:`RayUnavailable` when Ray is missing or the address cannot be reached."""
        ray = self.ray()
        resources = ray.cluster_resources()
        cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
        where = "local Ray," if self.resources.address is None else f"Ray at {self.resources.address}:"
        return f"{where} {cpus:g} CPUs, {gpus:g} GPUs"

    def capacity(self) -> int:
        """Trials that fit on the cluster at once, by its total CPUs (and GPUs when trials take some); at least 1."""
        cluster = self.ray().cluster_resources()
        fits = float(cluster.get("CPU", 0.0)) / self.resources.cpus_per_trial
        if self.resources.gpus_per_trial > 0:
            fits = min(fits, float(cluster.get("GPU", 0.0)) / self.resources.gpus_per_trial)
        return max(1, int(fits + 1e-9))

    def ray(self) -> Any:
        """The ``ray`` module, initialised (thread-safe; the first call starts or connects)."""
        with self._lock:
            if self._ray is None:
                ray = import_ray()
                with SHARED_RAY.lock:
                    if not ray.is_initialized():
                        self._init(ray)
                        SHARED_RAY.started = True
                    SHARED_RAY.users += 1
                self._ray = ray
                self.streaming = self.streaming and not client_mode(ray)
                if self.resources.address is None:
                    self._unfit = self._unfit_reason(ray.cluster_resources())
            if self._unfit:
                raise RayUnavailable(self._unfit)
            return self._ray

    def _unfit_reason(self, cluster: dict[str, float]) -> str:
        """Why a trial cannot run on the local Ray (it asks for more than it has: it would wait forever)."""
        wants = (
            ("CPU", "--cpus-per-trial", self.resources.cpus_per_trial),
            ("GPU", "--gpus-per-trial", self.resources.gpus_per_trial),
        )
        for name, flag, want in wants:
            have = float(cluster.get(name, 0.0))
            if want > have:
                return f"{flag} {want:g} is more than the local Ray has: {have:g} {name}s"
        return ""

    def _init(self, ray: Any) -> None:
        address = self.resources.address
        target = None if address is None else resolve_address(ray, address)
        if target is not None:
            probe_address(target)
        try:
            with quiet_logger(AUTH_LOGGER):
                ray.init(
                    address=address,
                    num_cpus=self.resources.local_cpus if address is None else None,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                    ignore_reinit_error=True,
                )
        except Exception as exc:
            where = "start a local Ray" if address is None else f"connect to Ray at {address}"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RayUnavailable(f"could not {where}: {first}{connect_hint(address, first)}") from exc

    def create_actor(self, config: RunConfig, threads: int, splits: Any) -> Any:
        """A new trial actor for ``config`` on the data object ``splits`` (Ray places it once it fits)."""
        ray = self.ray()
        with self._lock:
            if self._actor_class is None:
                from resnet_viz.runs.ray_trial import TrialActor

                self._actor_class = ray.remote(TrialActor)
            actor_class = self._actor_class
        options = {"max_concurrency": ACTOR_CONCURRENCY, "num_cpus": self.resources.cpus_per_trial}
        if self.resources.gpus_per_trial > 0:
            options["num_gpus"] = self.resources.gpus_per_trial
        return actor_class.options(**options).remote(config, threads, self.resources.gpus_per_trial, splits)

    def kill_actor(self, actor: Any) -> None:
        """End ``actor`` now (no restart); one that is gone already is not an error."""
        try:
            self.ray().kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - the actor or Ray is gone
            pass

    def launch(self, run_id: int, config: RunConfig, out: RecordStream, threads: int | None = None) -> RayRunHandle:
        """``threads``: torch threads of the trial (None: ``cpus_per_trial`` rounded down, at least 1)."""
        return RayRunHandle(run_id, config, out, self, threads or self.resources.threads)

    def prefetch(self, data: DataConfig) -> None:
        """Load ``data`` here in the background now (it goes to the object store when a trial takes it)."""
        self.data.cache.prefetch(data)

    def track(self, handle: RayRunHandle, alive: bool) -> None:
        """Note a handle whose actor may be alive (:meth:`close` kills those), or forget it."""
        with self._lock:
            if alive:
                self._handles.add(handle)
            else:
                self._handles.discard(handle)

    def close(self) -> None:
        """Kill this backend's actors still alive; shut Ray down when a backend started it and no other
        backend of this process still uses it (a Ray started by someone else is left running)."""
        with self._lock:
            handles = list(self._handles)
        for handle in handles:
            handle.kill()
        for handle in handles:
            handle.join(5.0)
        with self._lock:
            ray, self._ray = self._ray, None
        self.data.clear()
        if ray is None:
            return
        with SHARED_RAY.lock:
            SHARED_RAY.users -= 1
            if SHARED_RAY.users == 0 and SHARED_RAY.started:
                SHARED_RAY.started = False
                ray.shutdown()


__all__ = [  # the names of ray_connect are re-exported: callers need only this module
    "RAY_EXTRA_MESSAGE",
    "RayBackend",
    "RayResources",
    "RayRunHandle",
    "RayUnavailable",
    "import_ray",
    "ray_available",
]
