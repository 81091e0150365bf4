"""What every service shares: its settings, Sentry, Redis, the faults in force, and the way its
routes reach the service's state (one typed context object on `app.state`)."""

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from redis import Redis

from shop import queue
from shop.faults import Faults, read_faults
from shop.settings import ShopSettings

ContextT = TypeVar("ContextT")


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


def context_of(kind: type[ContextT]) -> Callable[[Request], Awaitable[ContextT]]:
    """The dependency that hands a route its service's context, which the app factory put on
    `app.state.context`."""

    # Async, so that FastAPI does not send a mere attribute read through its thread pool.
    async def read(request: Request) -> ContextT:
        context = request.app.state.context
        if not isinstance(context, kind):
            raise TypeError(f"app.state.context is a {type(context).__name__}, not {kind.__name__}")
        return context

    return read


def liveness_router(message: str, **extra: Any) -> APIRouter:
    router = APIRouter()

    @router.get("/liveness")
    def liveness() -> dict[str, Any]:
        return {"message": message, "status": 200, **extra}

    return router


def queue_consumer(
    settings: ShopSettings,
    redis: Redis,
    stream: str,
    group: str,
    handler: queue.Handler,
    *,
    paused: Callable[[], bool] = lambda: False,
    on_dead_letter: queue.Handler | None = None,
) -> queue.Consumer:
    """A consumer that redelivers and dead-letters as the settings say."""
    return queue.Consumer(
        redis,
        stream,
        group,
        handler,
        claim_idle_ms=settings.claim_idle_ms,
        max_deliveries=settings.max_deliveries,
        paused=paused,
        on_dead_letter=on_dead_letter,
    )


def run_consumers(
    consumers: list[queue.Consumer],
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
