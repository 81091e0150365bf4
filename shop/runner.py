"""`sentrail shop`: the seven services as processes, with an embedded Redis when none is set."""

import os
import secrets
import signal
import socket
import subprocess  # nosec B404  # starts the shop's own services, no shell
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from fakeredis import TcpFakeServer
from redis import Redis

from shop.faults import Faults, write_faults
from shop.settings import SERVICES, ShopSettings, dsn_variable

DSN_VARIABLES = frozenset(dsn_variable(service) for service in SERVICES)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class EmbeddedRedis:
    """An in-process Redis (fakeredis) on a local port, so the demo needs no server."""

    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    server: TcpFakeServer | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> None:
        self.server = TcpFakeServer((self.host, self.port), server_type="redis")
        threading.Thread(target=self.server.serve_forever, name="redis", daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class Shop:
    settings: ShopSettings
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    redis: EmbeddedRedis | None = None

    @property
    def url(self) -> str:
        return self.settings.url_of("frontend")

    def environment(self, service: str) -> dict[str, str]:
        """`service`'s process environment: its own DSN as SENTRY_DSN, as a deployment hands
        each service only its own; no other service's DSN leaks through. The DSN is also set
        under the service's SENTRY_DSN_<SERVICE>, which a stray `.env` file could otherwise
        set to another project (environment variables outrank the file)."""
        env = {k: v for k, v in os.environ.items() if k not in DSN_VARIABLES}
        env.pop("SENTRY_DSN", None)
        env.update(
            {
                "SENTRAIL_REDIS_URL": self.settings.redis_url or "",
                "SHOP_HOST": self.settings.host,
                "SHOP_PORT": str(self.settings.port),
                "SHOP_DATA_DIR": str(self.settings.data_dir),
                "SHOP_JWT_SECRET": self.settings.jwt_secret,
                "SENTRY_RELEASE": self.settings.release,
                "SENTRY_ENVIRONMENT": self.settings.sentry_environment,
            }
        )
        own = self.settings.dsn_of(service)
        if own:
            env["SENTRY_DSN"] = env[dsn_variable(service)] = own
        return env

    def start(self, timeout: float = 60.0) -> None:
        if not self.settings.redis_url:
            self.redis = EmbeddedRedis()
            self.redis.start()
            self.settings.redis_url = self.redis.url
        if not self.settings.jwt_secret:
            self.settings.jwt_secret = secrets.token_hex(32)
        redis = Redis.from_url(self.settings.redis_url)
        write_faults(redis, Faults.model_validate_json(self.settings.faults or "{}"))
        redis.close()
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for service in SERVICES:
            # Each service logs to a file of its own: the injected faults make tracebacks.
            with (logs / f"{service}.log").open("ab") as log:
                self.processes[service] = subprocess.Popen(  # nosec B603  # fixed argv
                    [sys.executable, "-m", "shop.serve", service],
                    env=self.environment(service),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # Their own session: Ctrl-C reaches the runner, which stops them in turn.
                    start_new_session=True,
                )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(SERVICES)
        while pending:
            service = pending[0]
            process = self.processes[service]
            if process.poll() is not None:
                self.stop()
                raise RuntimeError(f"the {service} service exited with {process.returncode}")
            try:
                httpx.get(f"{self.settings.url_of(service)}/liveness", timeout=1).raise_for_status()
                pending.pop(0)
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"the {service} service did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None


@contextmanager
def running_shop(settings: ShopSettings) -> Iterator[Shop]:
    shop = Shop(settings)
    shop.start()
    try:
        yield shop
    finally:
        shop.stop()
