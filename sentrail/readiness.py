"""Waiting until a `sentrail` server started as a subprocess answers /readyz.

`sentrail demo` starts one this way, and so do the benchmarks and the end-to-end tests: one loop
for all of them, each saying in its own words what went wrong.
"""

import subprocess  # nosec B404  # only to watch a process it was given
import time
from collections.abc import Callable

import httpx


class ServerExited(RuntimeError):
    """The server process ended before it answered /readyz."""


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    timeout: float,
    interval: float,
    pause: Callable[[float], object] = time.sleep,
) -> None:
    """Returns once `url` answers /readyz with 200. Raises ServerExited if the process ends
    first, TimeoutError once `timeout` seconds have passed. `pause` waits `interval` seconds
    between looks: the demo passes its stop event's wait, so Ctrl-C is not held up."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ServerExited(f"exited early (status {process.returncode})")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {timeout}s")
        pause(interval)
