"""`python -m shop.serve SERVICE`: one ACME service in its own process (`sentrail shop` starts
all seven this way)."""

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import sentry_sdk
import uvicorn
from fastapi import FastAPI

from shop.services import cart, catalog, frontend, order, payment, shipping, users
from shop.settings import SERVICES, ShopSettings

FACTORIES: dict[str, Callable[[ShopSettings], FastAPI]] = {
    "frontend": frontend.create_app,
    "users": users.create_app,
    "catalog": catalog.create_app,
    "cart": cart.create_app,
    "order": order.create_app,
    "payment": payment.create_app,
    "shipping": shipping.create_app,
}


def flushing_on_shutdown(
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]],
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    """`lifespan`, then the SDK flushed. uvicorn ends a SIGTERM'd process by raising the signal
    again once it has shut down, so `atexit` (sentry-sdk's own flush at exit) never runs: what
    the SDK still holds, above all the request sessions it sends once a minute, would be lost
    at every stop or deploy."""

    @asynccontextmanager
    async def lifespan_then_flush(app: Any) -> AsyncIterator[Any]:
        try:
            async with lifespan(app) as state:
                yield state
        finally:
            sentry_sdk.flush(timeout=3)

    return lifespan_then_flush


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in SERVICES:
        raise SystemExit(f"usage: python -m shop.serve {{{'|'.join(SERVICES)}}}")
    service = argv[0]
    settings = ShopSettings()
    app = FACTORIES[service](settings)
    app.router.lifespan_context = flushing_on_shutdown(app.router.lifespan_context)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port_of(service),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
        # Longer than the clients' keep-alive (httpx: 5 s), so a client never reuses a
        # connection the server is closing at that moment.
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
