"""What every service shares: its settings, Sentry, Redis, and the faults in force."""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from redis import Redis

from shop.faults import Faults, read_faults
from shop.queue import Consumer
from shop.settings import ShopSettings


@dataclass
class FaultView:
    """The faults in force, read from Redis at most every `ttl` seconds."""

    redis: Redis
    ttl: float = 0.5
    _faults: Faults = field(default_factory=Faults)
    _read_at: float = float("-inf")

    def current(self) -> Faults:
        now = time.monotonic()
        if now - self._read_at > self.ttl:
            self._faults = read_faults(self.redis)
            self._read_at = now
        return self._faults


def redis_client(settings: ShopSettings) -> Redis:
    if not settings.redis_url:
        raise RuntimeError("SENTRAIL_REDIS_URL is not set: start the services with `sentrail shop`")
    return Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)


def run_consumers(
    consumers: list[Consumer],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that starts the service's queue consumers and stops them on shutdown."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for consumer in consumers:
            consumer.start()
        try:
            yield
        finally:
            for consumer in consumers:
                consumer.stop()

    return lifespan
