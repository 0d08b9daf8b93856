"""`meterbill serve`: one server process, or several that share the port.

uvicorn's own workers share one listening socket, and the kernel hands a new connection
to whichever process wakes first: under a keep-alive load one process ends up with
most connections (14 of 16 with wrk) while the other idles. On Linux each process here
gets its own socket on the port instead (SO_REUSEPORT), and the kernel spreads the
connections evenly across them. A supervisor restarts a process that dies, on a new
socket: the dead one's is closed at once, so that no new connection waits on it for the
replacement.

Several processes write their Prometheus metrics to files in one directory
(PROMETHEUS_MULTIPROC_DIR), so that whichever answers GET /metrics tells the sums of all:
`serve` makes a fresh one for its processes unless the variable is set already.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import logging.config
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

logger = logging.getLogger("uvicorn.error")

APP = "meterbill.app:create_app"
# Each process keeps its own pool of database connections: four processes at the
# default pool already hold up to 160 of PostgreSQL's default 100 only at full overflow.
MAX_DEFAULT_WORKERS = 4
# A process that exits this soon after starting, this many times in a row, is failing
# to start (a bad setting, a database that is gone): the supervisor stops.
QUICK_EXIT_SECONDS = 10.0
QUICK_EXITS_MAX = 3
BALANCED_PORTS = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
PR_SET_PDEATHSIG = 1


def default_workers(database_url: str) -> int:
    """One process per core on PostgreSQL (up to MAX_DEFAULT_WORKERS); one on SQLite,
    whose writers are serialized inside one process."""
    if not database_url.startswith("postgresql"):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_directory(workers: int) -> str | None:
    """For several processes, a fresh directory for their metrics' files, set in the
    environment they inherit; None when one process or when the operator set one (its
    emptying before a start is then theirs: files of an earlier run would add up).

    To be called before prometheus_client is first imported in this process."""
    if workers <= 1 or os.environ.get(MULTIPROC_ENV):
        return None
    folder = tempfile.mkdtemp(prefix="meterbill-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    return folder


def serve(
    host: str, port: int, workers: int, log_level: str, log_config: dict[str, Any] | None = None
) -> None:
    """Serve the app until SIGINT or SIGTERM."""
    config = log_config or uvicorn.config.LOGGING_CONFIG
    if workers <= 1 or not BALANCED_PORTS:
        uvicorn.run(
            APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=config,
            # The app's request middleware writes the access log (with request ids).
            access_log=log_config is None,
        )
        return
    logging.config.dictConfig(config)
    logger.setLevel(log_level.upper())
    sockets = _listening_sockets(host, port, workers)
    Supervisor(sockets, log_level, log_config).run()


def _joined_socket(
    first: socket.socket | None, kind: tuple[Any, Any, int], address: Any
) -> socket.socket:
    """A listening socket on the port (SO_REUSEPORT), beside `first` when there is one."""
    sock = socket.socket(*kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(first.getsockname() if first is not None else address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    family, kind, protocol, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    )[0]
    sockets: list[socket.socket] = []
    for _ in range(count):
        # Port 0 picks a free port once; the other sockets join it.
        sockets.append(
            _joined_socket(sockets[0] if sockets else None, (family, kind, protocol), address)
        )
    bound_host, bound_port = sockets[0].getsockname()[:2]
    logger.info(
        "meterbill running on http://%s:%d with %d processes (CTRL+C to quit)",
        bound_host,
        bound_port,
        count,
    )
    return sockets


# Where a replacement process listens: (family, type, proto) and the address.
Place = tuple[tuple[Any, Any, int], Any]


def _serve_socket(
    sock: socket.socket | Place, log_level: str, log_config: dict[str, Any] | None
) -> None:
    """A server process: the app on its own socket (a replacement opens it once its app is
    loaded, so that no connection is queued for it before it can answer)."""
    # Out of the terminal's process group, so that Ctrl-C reaches the supervisor alone,
    # which then stops every process once and gracefully.
    os.setpgrp()
    # And stopped with the supervisor, should it be killed outright.
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    config = uvicorn.Config(APP, factory=True, log_level=log_level,
                            log_config=log_config or uvicorn.config.LOGGING_CONFIG,
                            access_log=log_config is None)  # fmt: skip
    if not isinstance(sock, socket.socket):
        config.load()
        sock = _joined_socket(None, *sock)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Starts one server process per socket, restarts those that die, stops them all."""

    def __init__(
        self,
        sockets: list[socket.socket],
        log_level: str,
        log_config: dict[str, Any] | None = None,
    ) -> None:
        # A socket until its first process dies; closed then, and each replacement opens
        # one of its own at the same place.
        self.sockets: list[socket.socket | None] = list(sockets)
        self.places: list[Place] = [
            ((sock.family, sock.type, sock.proto), sock.getsockname()) for sock in sockets
        ]
        self.log_level = log_level
        self.log_config = log_config
        self.context = multiprocessing.get_context("spawn")
        self.stopping = threading.Event()

    def _start(self, sock: socket.socket | Place) -> BaseProcess:
        process = self.context.Process(
            target=_serve_socket,
            args=(sock, self.log_level, self.log_config),
            name="meterbill-server",
        )
        process.start()
        return process

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stopping.set())
        processes = [self._start(sock) for sock in self.sockets if sock is not None]
        started = [time.monotonic()] * len(processes)
        quick_exits = 0
        while not self.stopping.wait(0.5):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                _metrics_of_dead(process.pid)
                lived = time.monotonic() - started[index]
                quick_exits = quick_exits + 1 if lived < QUICK_EXIT_SECONDS else 0
                if quick_exits >= QUICK_EXITS_MAX:
                    logger.error("server processes keep exiting at start; stopping")
                    self.stopping.set()
                    break
                logger.warning(
                    "server process %s exited (code %s); starting another",
                    process.pid,
                    process.exitcode,
                )
                # The dead one's socket is closed at once: the kernel would go on queueing
                # a share of the new connections on it until the replacement is up (seconds
                # on a busy machine); closed, they all go to the live processes meanwhile.
                # What was already queued on it is reset (the client sees it refused,
                # before any byte was read), which a client can retry.
                dead_socket = self.sockets[index]
                if dead_socket is not None:
                    dead_socket.close()
                    self.sockets[index] = None
                processes[index] = self._start(self.places[index])
                started[index] = time.monotonic()
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        for sock in self.sockets:
            if sock is not None:
                sock.close()
        for process in processes:
            _metrics_of_dead(process.pid)
        if quick_exits >= QUICK_EXITS_MAX:
            raise SystemExit(1)


def _metrics_of_dead(pid: int | None) -> None:
    if pid is None or not os.environ.get(MULTIPROC_ENV):
        return
    from meterbill.operations.telemetry import process_exited

    process_exited(pid)


def remove_metrics_directory(folder: str | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
