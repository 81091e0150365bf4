"""`--workers N`: worker processes with a listening socket each, so that connections spread.

Uvicorn's own supervisor hands every worker one shared socket; each worker's event loop then
accepts whole bursts of connections at once, and with the keep-alive connections SDKs hold
one worker served 86 % of the benchmark's requests while the other idled. Here each worker
listens on its own SO_REUSEPORT socket on the same port, and the kernel spreads connections
across them by hash. A worker that dies is replaced on its socket; SIGINT or SIGTERM stops
them all. Where SO_REUSEPORT does not balance (not Linux), uvicorn's supervisor runs instead.
"""

import logging
import signal
import socket
import sys
import threading

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

log = logging.getLogger("uvicorn.error")
HEALTH_CHECK_SECONDS = 0.5


def balances_connections() -> bool:
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int, *, share: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets on one port; OSError if the port is taken, also by another server
    that shares its port (which a second sentrail started by mistake would otherwise join)."""
    with listening_socket(host, port, share=False) as probe:
        port = probe.getsockname()[1]  # when asked for port 0, the one the kernel chose
    return [listening_socket(host, port) for _ in range(count)]


def run_workers(config: uvicorn.Config, sockets: list[socket.socket]) -> None:
    """Runs one uvicorn worker of `config` per socket until SIGINT or SIGTERM."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    for sock in sockets:
        sock.listen(config.backlog)
    processes = [_start(config, sock) for sock in sockets]
    host, port = sockets[0].getsockname()[:2]
    log.info("Started %d workers on %s:%d, one socket each", len(sockets), host, port)
    while not stop.wait(HEALTH_CHECK_SECONDS):
        for index, process in enumerate(processes):
            if process.is_alive(timeout=config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung, or gone
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("Worker [%s] failed to start, stopping", process.pid)
                stop.set()
                break
            log.warning(
                "Worker [%s] died (exit code %s); starting another", process.pid, process.exitcode
            )
            processes[index] = _start(config, sockets[index])
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()
    log.info("Stopped %d workers", len(processes))


def _start(config: uvicorn.Config, sock: socket.socket) -> Process:
    process = Process(config, [sock])
    process.start()
    return process
