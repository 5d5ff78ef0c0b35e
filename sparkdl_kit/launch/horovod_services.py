"""Horovod's own servers for one run: bound to one address, and closed when the run ends.

Horovod 0.28.1 opens its TCP servers through ``horovod.runner.util.network.find_port``, which binds to
all interfaces: on the driver, the driver service and the Gloo rendezvous HTTP store; in each Spark
task, a task service. After a static run it also leaves the rendezvous store listening, for as long as
the driver process lives. :func:`horovod_services_bound` fixes both for the runs started inside it:

- on the driver, every Horovod server binds to the given address (the driver's own) and any of them
  still open when the block ends is shut down and closed;
- each Spark task binds its task service to the executor's own address, the one it reaches the driver
  from, for the time of the task; each worker process does the same for the servers it opens (the
  notification service of elastic runs, see :func:`services_bound_towards`).

Gloo's own sockets follow: Horovod hands Gloo the network interface every task reached the others on,
which is now the interface of that one address.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import socket
import threading
from typing import Any, Callable, Iterable, Iterator

from sparkdl_kit._deps import require
from sparkdl_kit.errors import ConfigError

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_CLOSE_WAIT_SECONDS = 5.0


def is_wildcard(host: str) -> bool:
    """True for addresses that mean "all interfaces" (``0.0.0.0``, ``::``, empty).

    Example:
        >>> is_wildcard("0.0.0.0"), is_wildcard("127.0.0.1")
        (True, False)
    """
    if host in ("", "*"):
        return True
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def local_address_towards(host: str) -> str:
    """The address of this machine's interface that reaches ``host`` (found by routing; nothing is sent).

    Example:
        >>> local_address_towards("127.0.0.1")
        '127.0.0.1'
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 9))
            return probe.getsockname()[0]
    except OSError as e:
        raise OSError(f"cannot find the local address that reaches the Spark driver at {host!r} ({e}); "
                      "Horovod's services need it to bind to. Fix: check spark.driver.host and the "
                      "network between the executors and the driver.") from e


def _bind_to(host: str, opened: list, server_factory: Callable[[tuple[str, int]], Any]) -> tuple[Any, int]:
    """``find_port`` of Horovod, bound to ``host`` on a port the system picks; records the server."""
    server = server_factory((host, 0))
    opened.append(server)
    return server, server.server_address[1]


@contextlib.contextmanager
def _find_port_bound_to(host: str, modules: Iterable[Any]) -> Iterator[list]:
    """Replaces ``find_port`` in ``modules`` for the block; yields the list of servers opened."""
    opened: list = []
    modules = list(modules)
    originals = [module.find_port for module in modules]
    for module in modules:
        module.find_port = functools.partial(_bind_to, host, opened)
    try:
        yield opened
    finally:
        for module, original in zip(modules, originals):
            module.find_port = original


def _close(server: Any) -> None:
    """Stops a server's loop (bounded wait: it may never have started) and closes its socket."""
    if server.socket.fileno() < 0:
        return
    stopper = threading.Thread(target=server.shutdown, name="sparkdl_kit-close-horovod-server", daemon=True)
    stopper.start()
    stopper.join(_CLOSE_WAIT_SECONDS)
    server.server_close()


@contextlib.contextmanager
def services_bound_towards(driver_host: str) -> Iterator[None]:
    """Horovod servers this process opens in the block listen on its own address towards the driver.

    In a Spark task that is Horovod's task service; in an elastic worker, its notification service.

    Example:
        >>> with services_bound_towards("127.0.0.1"):     # doctest: +SKIP
        ...     fn()
    """
    network = require("horovod.runner.common.util.network")
    with _find_port_bound_to(local_address_towards(driver_host), [network]):
        yield


def task_service_mapper(mapper: Callable, driver_host: str, index: int, rows: Iterator) -> Iterator:
    """Runs Horovod's Spark task function with its task service bound to this executor's own address.

    Shipped to the executors in place of Horovod's mapper (module-level, so pickled by reference).
    """
    with services_bound_towards(driver_host):
        yield from mapper(index, rows)


def _bound_make_mapper(make_mapper: Callable, driver_host: str) -> Callable:
    def make(*args, **kwargs):
        return functools.partial(task_service_mapper, make_mapper(*args, **kwargs), driver_host)

    return make


@contextlib.contextmanager
def horovod_services_bound(bind_host: str, driver_host: str) -> Iterator[None]:
    """Horovod's servers of the runs started in this block listen on one address each and end with it.

    Args:
        bind_host: the driver's address to bind the driver service and the rendezvous store to.
        driver_host: the address executors reach the driver at; each task binds its task service to
            its own address on the route to it.

    Example:
        >>> with horovod_services_bound("127.0.0.1", "127.0.0.1"):     # doctest: +SKIP
        ...     horovod.spark.run(fn, num_proc=2, use_gloo=True)
    """
    if is_wildcard(bind_host):
        raise ConfigError(f"bind_host={bind_host!r} means all interfaces: expected the driver's own address. "
                          "Fix: pass the address from sparkdl_kit.launch.horovod_spark.driver_addresses().")
    modules = [require("horovod.runner.common.util.network"), require("horovod.runner.http.http_server")]
    spark_runner = require("horovod.spark.runner")
    with _LOCK, _find_port_bound_to(bind_host, modules) as opened:
        original_make_mapper = spark_runner._make_mapper
        spark_runner._make_mapper = _bound_make_mapper(original_make_mapper, driver_host)
        try:
            yield
        finally:
            spark_runner._make_mapper = original_make_mapper
            left_open = [server for server in opened if server.socket.fileno() >= 0]
            if left_open:
                logger.debug("closing %d Horovod server(s) left open by the run", len(left_open))
            for server in left_open:
                _close(server)
