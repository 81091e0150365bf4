"""A real `sentrail serve` (or `collector`) in a subprocess, on a free loopback port.

The benchmarks measure these servers and the end-to-end tests drive them, so both start them
from here: bench never imports tests, tests may import bench.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

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


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling for readiness, bounded by the deadline
    raise RuntimeError(f"server not ready after {timeout}s:\n{log.read_text()[-3000:]}")


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
    wait_ready(url, process, log)
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
