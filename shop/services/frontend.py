"""frontend: the gateway customers talk to. Proxies to the services, checks the customer's
token before an order, and holds the shop's fault switches (/admin/faults)."""

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import sentry_sdk
from fastapi import FastAPI, Header, HTTPException, Request, Response

from shop.faults import Faults, read_faults, write_faults
from shop.instrument import init_sentry
from shop.services.common import redis_client
from shop.settings import ShopSettings

HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def garble(number: str) -> str:
    """A broken card form: the last digit changed, so the Luhn check fails."""
    if not number or not number[-1].isdigit():
        return number + "0"
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("frontend", settings)
    redis = redis_client(settings)
    clients: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for name in ("users", "catalog", "cart", "order"):
            # Services that fail with unhandled errors (catalog, cart) get their connections
            # closed by the server after a 500: fresh connections for them, pooled for others.
            keep = 0 if name in ("catalog", "cart") else 20
            clients[name] = httpx.AsyncClient(
                base_url=settings.url_of(name),
                timeout=10,
                limits=httpx.Limits(max_keepalive_connections=keep),
            )
        try:
            yield
        finally:
            for client in clients.values():
                await client.aclose()

    app = FastAPI(title="ACME frontend", lifespan=lifespan)

    async def forward(
        service: str, request: Request, path: str, body: bytes | None = None
    ) -> Response:
        try:
            answer = await clients[service].request(
                request.method,
                path,
                content=body if body is not None else await request.body(),
                headers={"content-type": request.headers.get("content-type", "application/json")},
                params=request.query_params,
            )
        except httpx.HTTPError as exc:
            raise HTTPException(502, f"{service} unreachable: {type(exc).__name__}") from None
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        return Response(answer.content, status_code=answer.status_code, headers=headers)

    @app.get("/products")
    async def products(request: Request) -> Response:
        return await forward("catalog", request, "/products")

    @app.get("/products/{pid}")
    async def product(pid: str, request: Request) -> Response:
        return await forward("catalog", request, f"/products/{pid}")

    @app.post("/login")
    async def login(request: Request) -> Response:
        return await forward("users", request, "/login")

    @app.post("/register")
    async def register(request: Request) -> Response:
        return await forward("users", request, "/register")

    @app.api_route("/cart/{path:path}", methods=["GET", "POST"])
    async def cart(path: str, request: Request) -> Response:
        return await forward("cart", request, f"/cart/{path}")

    @app.post("/order/add/{userid}")
    async def place_order(
        userid: str, request: Request, authorization: str = Header(default="")
    ) -> Response:
        scheme, _, token = authorization.partition(" ")
        verified = await clients["users"].post("/verify-token", json={"access_token": token})
        if scheme.lower() != "bearer" or verified.status_code != 200:
            raise HTTPException(401, "log in first")
        if verified.json().get("userid") != userid:
            raise HTTPException(403, "that is not your cart")
        order: dict[str, Any] = await request.json()
        share = read_faults(redis).invalid_card_share
        if share and random.random() < share and isinstance(order.get("card"), dict):
            order["card"]["number"] = garble(str(order["card"].get("number", "")))
        answer = await forward("order", request, f"/order/add/{userid}", orjson.dumps(order))
        try:
            order_id = orjson.loads(answer.body).get("order_id")
        except orjson.JSONDecodeError:
            order_id = None
        if order_id:
            sentry_sdk.set_tag("order_id", order_id)
        return answer

    @app.get("/order/{userid}")
    async def orders(userid: str, request: Request) -> Response:
        return await forward("order", request, f"/order/{userid}")

    @app.get("/admin/faults")
    def get_faults() -> Faults:
        return read_faults(redis)

    @app.put("/admin/faults")
    def put_faults(faults: Faults) -> Faults:
        write_faults(redis, faults)
        return faults

    @app.get("/liveness")
    def liveness() -> dict[str, Any]:
        return {"message": "frontend is alive", "status": 200, "release": settings.release}

    return app
