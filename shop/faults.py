"""Fault injection, switchable at run time: kept in Redis so that every service sees it."""

import hashlib
from typing import Literal, cast

import orjson
from pydantic import BaseModel, Field
from redis import Redis

KEY = "shop:faults"


class Faults(BaseModel):
    # Share of checkouts whose card the frontend garbles (a broken card form).
    invalid_card_share: float = Field(default=0.0, ge=0, le=1)
    # Share of orders whose payment processing crashes (an unhandled exception, every try).
    payment_crash_share: float = Field(default=0.0, ge=0, le=1)
    # Nothing consumes shipment requests: orders stall after payment.
    shipping_down: bool = False
    # The cart's Redis: fine, slow (each command delayed) or down (connection refused).
    cart_redis: Literal["ok", "slow", "down"] = "ok"
    # The bad release: the catalog fails for some products.
    bad_release: bool = False


def read_faults(redis: Redis) -> Faults:
    raw = cast(bytes | None, redis.get(KEY))
    return Faults.model_validate(orjson.loads(raw)) if raw else Faults()


def write_faults(redis: Redis, faults: Faults) -> None:
    redis.set(KEY, faults.model_dump_json())


def share_hit(key: str, share: float) -> bool:
    """Whether `key` (an order id) falls in the first `share` of the key space: the same key
    always gets the same answer, so a redelivered message crashes again."""
    if share <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 10_000
    return bucket < share * 10_000
