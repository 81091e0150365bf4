"""Real sentrail processes: `serve` or `collector` on a free loopback port, `correlator` workers.

The benchmarks measure these servers and the end-to-end tests drive them, so both start them
from here: bench never imports tests, tests may import bench.
"""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sentrail.readiness import ServerExited, wait_ready

ROOT = Path(__file__).resolve().parents[1]  # the repository


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def dsn(self, project_id: int, key: str) -> str:
        return self.url.replace("http://", f"http://{key}@") + f"/{project_id}"

    def kill(self) -> None:
        """kill -9: no shutdown hooks, no flush, nothing graceful."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def start_server(
    database_url: str,
    log: Path,
    *,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
    command: str = "serve",
) -> Server:
    port = port or free_port()
    env = {**os.environ, "SENTRAIL_DATABASE_URL": database_url, **(extra_env or {})}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sentrail",
                command,
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, timeout=30, interval=0.05)
    except (ServerExited, TimeoutError) as error:
        raise RuntimeError(f"server {error}:\n{log.read_text()[-3000:]}") from None
    return Server(url, process, log)


@contextmanager
def running_server(database_url: str, log: Path, **kwargs: object) -> Iterator[Server]:
    server = start_server(database_url, log, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.terminate()
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


@contextmanager
def running_correlators(
    database_url: str, logs: list[Path]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`sentrail correlator` workers beside the collectors, one per log: how a scale-out
    deployment runs them. SIGTERM on the way out, as a deployment stops them."""
    env = {**os.environ, "SENTRAIL_DATABASE_URL": database_url}
    with ExitStack() as stack:
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "sentrail", "correlator"],
                cwd=ROOT,
                env=env,
                stdout=stack.enter_context(log.open("ab")),
                stderr=subprocess.STDOUT,
            )
            for log in logs
        ]
        try:
            yield workers
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(15)
