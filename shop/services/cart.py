"""cart: one JSON list per user in Redis, each command a breadcrumb (Sentry's Redis integration).

Faults: `cart_redis` slow delays each command, down points the cart at a closed port.
"""

import time
from typing import Any, cast

import orjson
from fastapi import FastAPI
from pydantic import BaseModel
from redis import Redis

from shop.instrument import init_sentry
from shop.payloads import CartLine
from shop.services.common import FaultView, redis_client
from shop.settings import ShopSettings

SLOW_SECONDS = 0.3
CART_PREFIX = "cart:"


class Modify(BaseModel):
    itemid: str
    quantity: int


class Replace(BaseModel):
    cart: list[CartLine]


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("cart", settings)
    redis = redis_client(settings)
    faults = FaultView(redis)
    # Port 1 refuses connections: what a Redis that is down looks like to redis-py.
    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)

    def store() -> Redis:
        state = faults.current().cart_redis
        if state == "down":
            return unreachable
        if state == "slow":
            time.sleep(SLOW_SECONDS)
        return redis

    def load(userid: str) -> list[dict[str, Any]]:
        raw = cast(bytes | None, store().get(CART_PREFIX + userid))
        # A user without a cart has an empty one (upstream crashed here).
        return orjson.loads(raw) if raw else []

    def save(userid: str, cart: list[dict[str, Any]]) -> None:
        if cart:
            store().set(CART_PREFIX + userid, orjson.dumps(cart))
        else:
            store().delete(CART_PREFIX + userid)

    app = FastAPI(title="ACME cart")

    @app.get("/cart/items/{userid}")
    def items(userid: str) -> dict[str, Any]:
        return {"userid": userid, "cart": load(userid)}

    @app.get("/cart/items/total/{userid}")
    def item_total(userid: str) -> dict[str, Any]:
        return {"userid": userid, "cartitemtotal": sum(i["quantity"] for i in load(userid))}

    @app.get("/cart/total/{userid}")
    def total(userid: str) -> dict[str, Any]:
        cart = load(userid)
        return {
            "userid": userid,
            "carttotal": round(sum(i["quantity"] * i["price"] for i in cart), 2),
        }

    @app.post("/cart/item/add/{userid}")
    def add(userid: str, body: CartLine) -> dict[str, Any]:
        cart = load(userid)
        for entry in cart:
            if entry["itemid"] == body.itemid:
                entry["quantity"] += body.quantity
                break
        else:
            cart.append(body.model_dump())
        save(userid, cart)
        return {"userid": userid, "cart": cart}

    @app.post("/cart/item/modify/{userid}")
    def modify(userid: str, body: Modify) -> dict[str, Any]:
        cart = [
            {**entry, "quantity": body.quantity} if entry["itemid"] == body.itemid else entry
            for entry in load(userid)
        ]
        cart = [entry for entry in cart if entry["quantity"] > 0]
        save(userid, cart)
        return {"userid": userid, "cart": cart}

    @app.post("/cart/modify/{userid}")
    def replace(userid: str, body: Replace) -> dict[str, Any]:
        cart = [item.model_dump() for item in body.cart if item.quantity > 0]
        save(userid, cart)
        return {"userid": userid, "cart": cart}

    @app.post("/cart/clear/{userid}")
    def clear(userid: str) -> dict[str, Any]:
        save(userid, [])
        return {"userid": userid, "cart": []}

    @app.get("/cart/all")
    def all_carts() -> dict[str, Any]:
        source = store()
        keys = sorted(source.scan_iter(match=CART_PREFIX + "*", count=100))
        carts = []
        for key in keys:
            raw = cast(bytes | None, source.get(key))
            if raw:
                carts.append(
                    {"userid": key.decode()[len(CART_PREFIX) :], "cart": orjson.loads(raw)}
                )
        return {"data": carts}

    @app.get("/liveness")
    def liveness() -> dict[str, Any]:
        return {"message": "cart service is alive", "status": 200}

    return app
