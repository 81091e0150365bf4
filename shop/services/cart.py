"""cart: one JSON list per user in Redis, each command a breadcrumb (Sentry's Redis integration).

Faults: `cart_redis` slow delays each command, down points the cart at a closed port.
"""

import time
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

import orjson
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel
from redis import Redis

from shop.instrument import init_sentry
from shop.payloads import CartLine
from shop.services.common import FaultView, context_of, liveness_router, redis_client
from shop.settings import ShopSettings

SLOW_SECONDS = 0.3
CART_PREFIX = "cart:"


class Modify(BaseModel):
    itemid: str
    quantity: int


class Replace(BaseModel):
    cart: list[CartLine]


@dataclass(frozen=True)
class CartContext:
    redis: Redis
    faults: FaultView
    # Port 1 refuses connections: what a Redis that is down looks like to redis-py.
    unreachable: Redis = field(
        default_factory=lambda: Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    )

    def store(self) -> Redis:
        state = self.faults.current().cart_redis
        if state == "down":
            return self.unreachable
        if state == "slow":
            time.sleep(SLOW_SECONDS)
        return self.redis

    def load(self, userid: str) -> list[dict[str, Any]]:
        raw = cast(bytes | None, self.store().get(CART_PREFIX + userid))
        # A user without a cart has an empty one (upstream crashed here).
        return orjson.loads(raw) if raw else []

    def save(self, userid: str, cart: list[dict[str, Any]]) -> None:
        if cart:
            self.store().set(CART_PREFIX + userid, orjson.dumps(cart))
        else:
            self.store().delete(CART_PREFIX + userid)


Carts = Annotated[CartContext, Depends(context_of(CartContext))]

reads = APIRouter(prefix="/cart")
changes = APIRouter(prefix="/cart")


@reads.get("/items/{userid}")
def items(userid: str, carts: Carts) -> dict[str, Any]:
    return {"userid": userid, "cart": carts.load(userid)}


@reads.get("/items/total/{userid}")
def item_total(userid: str, carts: Carts) -> dict[str, Any]:
    return {"userid": userid, "cartitemtotal": sum(i["quantity"] for i in carts.load(userid))}


@reads.get("/total/{userid}")
def total(userid: str, carts: Carts) -> dict[str, Any]:
    cart = carts.load(userid)
    return {
        "userid": userid,
        "carttotal": round(sum(i["quantity"] * i["price"] for i in cart), 2),
    }


@reads.get("/all")
def all_carts(carts: Carts) -> dict[str, Any]:
    source = carts.store()
    keys = sorted(source.scan_iter(match=CART_PREFIX + "*", count=100))
    found = []
    for key in keys:
        raw = cast(bytes | None, source.get(key))
        if raw:
            found.append({"userid": key.decode()[len(CART_PREFIX) :], "cart": orjson.loads(raw)})
    return {"data": found}


@changes.post("/item/add/{userid}")
def add(userid: str, body: CartLine, carts: Carts) -> dict[str, Any]:
    cart = carts.load(userid)
    for entry in cart:
        if entry["itemid"] == body.itemid:
            entry["quantity"] += body.quantity
            break
    else:
        cart.append(body.model_dump())
    carts.save(userid, cart)
    return {"userid": userid, "cart": cart}


@changes.post("/item/modify/{userid}")
def modify(userid: str, body: Modify, carts: Carts) -> dict[str, Any]:
    cart = [
        {**entry, "quantity": body.quantity} if entry["itemid"] == body.itemid else entry
        for entry in carts.load(userid)
    ]
    cart = [entry for entry in cart if entry["quantity"] > 0]
    carts.save(userid, cart)
    return {"userid": userid, "cart": cart}


@changes.post("/modify/{userid}")
def replace(userid: str, body: Replace, carts: Carts) -> dict[str, Any]:
    cart = [item.model_dump() for item in body.cart if item.quantity > 0]
    carts.save(userid, cart)
    return {"userid": userid, "cart": cart}


@changes.post("/clear/{userid}")
def clear(userid: str, carts: Carts) -> dict[str, Any]:
    carts.save(userid, [])
    return {"userid": userid, "cart": []}


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("cart", settings)
    redis = redis_client(settings)
    app = FastAPI(title="ACME cart")
    app.state.context = CartContext(redis, FaultView(redis))
    app.include_router(reads)
    app.include_router(changes)
    app.include_router(liveness_router("cart service is alive"))
    return app
