"""`python -m shop.serve SERVICE`: one ACME service in its own process (`sentrail shop` starts
all seven this way)."""

import sys
from collections.abc import Callable

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


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in SERVICES:
        raise SystemExit(f"usage: python -m shop.serve {{{'|'.join(SERVICES)}}}")
    service = argv[0]
    settings = ShopSettings()
    app = FACTORIES[service](settings)
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
