"""frontend: the gateway customers talk to. Proxies to the services, checks the customer's
token before an order, and holds the shop's fault switches (/admin/faults)."""

import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import orjson
import sentry_sdk
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from redis import Redis

from shop.faults import Faults, read_faults, write_faults
from shop.instrument import init_sentry, log_step
from shop.services.common import context_of, liveness_router, redis_client
from shop.settings import ShopSettings

HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def garble(number: str) -> str:
    """A broken card form: the last digit changed, so the Luhn check fails."""
    if not number or not number[-1].isdigit():
        return number + "0"
    return number[:-1] + str((int(number[-1]) + 1) % 10)


@dataclass(frozen=True)
class FrontendContext:
    settings: ShopSettings
    redis: Redis
    # Opened and closed by the lifespan, so they live on the event loop that serves the app.
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    async def forward(
        self, service: str, request: Request, path: str, body: bytes | None = None
    ) -> Response:
        try:
            answer = await self.clients[service].request(
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


Gateway = Annotated[FrontendContext, Depends(context_of(FrontendContext))]

proxy = APIRouter()
checkout = APIRouter()
admin = APIRouter()


@proxy.get("/products")
async def products(request: Request, gateway: Gateway) -> Response:
    return await gateway.forward("catalog", request, "/products")


@proxy.get("/products/{pid}")
async def product(pid: str, request: Request, gateway: Gateway) -> Response:
    return await gateway.forward("catalog", request, f"/products/{pid}")


@proxy.post("/login")
async def login(request: Request, gateway: Gateway) -> Response:
    return await gateway.forward("users", request, "/login")


@proxy.post("/register")
async def register(request: Request, gateway: Gateway) -> Response:
    return await gateway.forward("users", request, "/register")


@proxy.api_route("/cart/{path:path}", methods=["GET", "POST"])
async def cart(path: str, request: Request, gateway: Gateway) -> Response:
    return await gateway.forward("cart", request, f"/cart/{path}")


@proxy.get("/order/{userid}")
async def orders(userid: str, request: Request, gateway: Gateway) -> Response:
    return await gateway.forward("order", request, f"/order/{userid}")


@checkout.post("/order/add/{userid}")
async def place_order(
    userid: str,
    request: Request,
    gateway: Gateway,
    authorization: Annotated[str, Header()] = "",
) -> Response:
    scheme, _, token = authorization.partition(" ")
    verified = await gateway.clients["users"].post("/verify-token", json={"access_token": token})
    if scheme.lower() != "bearer" or verified.status_code != 200:
        raise HTTPException(401, "log in first")
    if verified.json().get("userid") != userid:
        raise HTTPException(403, "that is not your cart")
    order: dict[str, Any] = await request.json()
    share = read_faults(gateway.redis).invalid_card_share
    roll = random.random()  # nosec B311  # which orders get a bad card is fault injection
    if share and roll < share and isinstance(order.get("card"), dict):
        order["card"]["number"] = garble(str(order["card"].get("number", "")))
    answer = await gateway.forward("order", request, f"/order/add/{userid}", orjson.dumps(order))
    try:
        order_id = orjson.loads(answer.body).get("order_id")
    except orjson.JSONDecodeError:
        order_id = None
    if order_id:
        sentry_sdk.set_tag("order_id", order_id)
        log_step("order {order_id} checked out by user {userid}", order_id, userid=userid)
    return answer


@admin.get("/admin/faults")
def get_faults(gateway: Gateway) -> Faults:
    return read_faults(gateway.redis)


@admin.put("/admin/faults")
def put_faults(faults: Faults, gateway: Gateway) -> Faults:
    write_faults(gateway.redis, faults)
    return faults


def connect(context: FrontendContext) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that opens the clients to the services and closes them on shutdown."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for name in ("users", "catalog", "cart", "order"):
            # Services that fail with unhandled errors (catalog, cart) get their connections
            # closed by the server after a 500: fresh connections for them, pooled for others.
            keep = 0 if name in ("catalog", "cart") else 20
            context.clients[name] = httpx.AsyncClient(
                base_url=context.settings.url_of(name),
                timeout=10,
                limits=httpx.Limits(max_keepalive_connections=keep),
            )
        try:
            yield
        finally:
            for client in context.clients.values():
                await client.aclose()

    return lifespan


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("frontend", settings)
    context = FrontendContext(settings, redis_client(settings))
    app = FastAPI(title="ACME frontend", lifespan=connect(context))
    app.state.context = context
    app.include_router(proxy)
    app.include_router(checkout)
    app.include_router(admin)
    app.include_router(liveness_router("frontend is alive", release=settings.release))
    return app
