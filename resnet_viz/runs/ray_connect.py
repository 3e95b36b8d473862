"""Reaching Ray: whether it is installed, the resources of a trial, an address checked before connecting,
and the few facts about Ray the backend reads (client mode, an actor's death, a warning to keep quiet).

Ray is optional: :func:`import_ray` imports it on first use; without it, :class:`RayUnavailable` carries
:data:`RAY_EXTRA_MESSAGE`. Ray retries an unreachable address for minutes: :func:`probe_address` says so
in one line within :data:`CONNECT_TIMEOUT_S`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from resnet_viz.config import ConfigError

#: Ray logs a warning at every start of a local Ray that token authentication is on (its default),
#: which a user of this backend cannot act on: the logger is quiet while this backend starts Ray.
AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
#: Colour codes in Ray's error texts (kept out of messages and details).
ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")
RAY_EXTRA_MESSAGE = 'Ray is not installed: pip install "resnet-viz[ray]"'
#: Seconds to wait for a TCP connection to a Ray address before saying it cannot be reached
#: (Ray itself retries an unreachable address for minutes).
CONNECT_TIMEOUT_S = 5.0


class RayUnavailable(Exception):
    """Ray is not installed, or the cluster cannot be reached; the message is one line for the user."""


def ray_available() -> bool:
    """True when the ``ray`` package can be imported."""
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # sys.modules["ray"] is None, or a module without a spec
        return False


def import_ray() -> Any:
    """The ``ray`` module; :class:`RayUnavailable` with :data:`RAY_EXTRA_MESSAGE` when it is missing."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise RayUnavailable(RAY_EXTRA_MESSAGE) from exc


@dataclass(frozen=True)
class RayResources:
    """Where runs train and what each takes. ``address``: None starts a local Ray here; ``"auto"``,
    ``"host:6379"`` or ``"ray://host:10001"`` connects to a running cluster."""

    address: str | None = None
    cpus_per_trial: float = 1.0  # > 0: Ray's num_cpus of each trial actor
    gpus_per_trial: float = 0.0  # >= 0, fractional: 0.25 lets four trials share a GPU
    local_cpus: int | None = None  # num_cpus of a local Ray started here (None: Ray's default, every core)

    def validate(self) -> None:
        """:class:`ConfigError` naming the first value that is not allowed."""
        if not _number(self.cpus_per_trial) or not self.cpus_per_trial > 0:
            raise ConfigError("--cpus-per-trial", self.cpus_per_trial, "a number of CPUs above 0, e.g. 1 or 0.5")
        if not _number(self.gpus_per_trial) or not self.gpus_per_trial >= 0:
            raise ConfigError("--gpus-per-trial", self.gpus_per_trial, "a number of GPUs from 0, e.g. 0.25 or 1")
        if self.local_cpus is not None and (not _number(self.local_cpus, whole=True) or self.local_cpus < 1):
            raise ConfigError("--local-cpus", self.local_cpus, "a whole number of CPUs from 1")
        if self.address is not None and not self.address.strip():
            raise ConfigError("--ray-address", self.address, '"auto", "host:6379" or "ray://host:10001"')

    @property
    def threads(self) -> int:
        """Torch threads of a trial when the scheduler does not say: its whole CPUs, at least 1."""
        return max(1, int(self.cpus_per_trial))


def _number(value: object, whole: bool = False) -> bool:
    kinds: tuple[type, ...] = (int,) if whole else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool) and value == value  # NaN is not


def probe_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """:class:`RayUnavailable` when nothing listens at ``host:port`` (``ray://`` stripped) within ``timeout_s``."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f'the Ray address {address!r} is not "auto", "host:port" or "ray://host:port"')
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise RayUnavailable(f"cannot reach Ray at {address}: {reason} (within {timeout_s:g} s)") from None


def resolve_address(ray: Any, address: str) -> str | None:
    """The ``host:port`` to probe for ``address``: ``"auto"`` names the cluster of ``$RAY_ADDRESS`` or the
    last ``ray start`` here (None: Ray's private look-up is not there, and ``ray.init`` says what it finds)."""
    if address != "auto":
        return address
    try:
        found = ray._private.services.canonicalize_bootstrap_address("auto")
    except ConnectionError:
        found = None
    except Exception:  # noqa: BLE001 - a private function of Ray, which may change
        return None
    if not found:
        raise RayUnavailable('no running Ray found for the address "auto": start one with "ray start --head"')
    return str(found)


def client_mode(ray: Any) -> bool:
    """True when this process reaches Ray through Ray Client (``ray://``)."""
    try:
        return bool(ray.util.client.ray.is_connected())
    except Exception:  # noqa: BLE001 - Ray's client module moved: assume a driver on the cluster
        return False


def is_actor_death(error: BaseException) -> bool:
    """True for Ray's errors that say the actor's worker died (``RayActorError`` and its subclasses)."""
    return any(
        cls.__name__ in ("RayActorError", "ActorDiedError", "ActorUnavailableError") for cls in type(error).__mro__
    )


@contextlib.contextmanager
def quiet_logger(logger_name: str) -> Iterator[None]:
    """Only errors from ``logger_name`` while the block runs."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class SharedRay:
    """Ray is one per process: the backends using it, and whether one of them started it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.started = False


#: The Ray of this process: how many backends use it, and whether one of them started it.
SHARED_RAY = SharedRay()


def connect_hint(address: str | None, error: str) -> str:
    """What to try when Ray Client timed out: Ray 2.60 clusters require token authentication by default, and a
    client sends its token only with ``RAY_AUTH_MODE=token`` (checked: a head started by ``ray start`` refused
    this machine's own client without it, and accepted it with it)."""
    if address and address.startswith("ray://") and "timeout" in error.lower():
        return " (a cluster with token authentication: set RAY_AUTH_MODE=token and put its token in ~/.ray/auth_token)"
    return ""
