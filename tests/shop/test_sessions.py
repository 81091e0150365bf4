"""Release health as the shop's services report it: one request-mode session per HTTP request
and per queue message, crashed when the handler raised, in what sentry-sdk sends."""

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from fastapi import FastAPI
from fastapi.testclient import TestClient
from redis import Redis
from sentry_sdk.integrations.fastapi import FastApiIntegration
from sentry_sdk.integrations.starlette import StarletteIntegration

from shop import queue
from shop.faults import Faults, share_hit, write_faults
from shop.seed import PRODUCTS
from shop.serve import flushing_on_shutdown
from shop.services import catalog, payment
from shop.services.catalog import BAD_RELEASE_SHARE, product_id
from shop.settings import ShopSettings
from tests.collector.envelopes import Recording, recording_sdk

# The web framework's integrations only: the shop's own set would patch httpx for the whole
# test process (see NO_PATCHING).
WEB = [StarletteIntegration(), FastApiIntegration()]


def session_counts(transport: Recording) -> Counter[str]:
    """Every session sentry-sdk sent, by how it ended: the pre-aggregated `sessions` items of
    request mode added up, single `session` updates by their last status."""
    counts: Counter[str] = Counter()
    for envelope in transport.envelopes:
        for item in envelope.items:
            body: dict[str, Any] = item.payload.json or {}
            if item.type == "sessions":
                for bucket in body["aggregates"]:
                    counts.update({k: v for k, v in bucket.items() if k not in ("started", "did")})
            elif item.type == "session":
                counts[body["status"]] += 1
    return counts


def mechanisms(transport: Recording) -> list[Any]:
    return [
        value.get("mechanism", {}).get("handled")
        for event in transport.events
        for value in event.get("exception", {}).get("values", [])
    ]


@pytest.fixture
def sdk() -> Iterator[Recording]:
    with recording_sdk(release="r1", integrations=WEB) as transport:
        yield transport


def lost_product() -> str:
    """A seeded product the bad release fails for."""
    return next(
        pid
        for pid in (product_id(name) for name, *_ in PRODUCTS)
        if share_hit(pid, BAD_RELEASE_SHARE)
    )


def bad_catalog(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """The catalog app in the bad release, with the test's SDK rather than its own."""
    monkeypatch.setattr(catalog, "init_sentry", lambda *_: None)
    write_faults(Redis.from_url(redis_url), Faults(bad_release=True))
    settings = ShopSettings(SENTRAIL_REDIS_URL=redis_url, SHOP_DATA_DIR=tmp_path)
    return catalog.create_app(settings)


def test_a_request_that_raises_is_a_crashed_session_and_a_normal_one_exited(
    sdk: Recording, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = bad_catalog(redis_url, tmp_path, monkeypatch)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/products").status_code == 200
    assert client.get(f"/products/{lost_product()}").status_code == 500
    sentry_sdk.flush()
    assert session_counts(sdk) == {"exited": 1, "crashed": 1}
    # The crash is reported unhandled: that, and nothing the shop does, is what crashes it.
    assert mechanisms(sdk) and set(mechanisms(sdk)) == {False}


def test_a_handled_error_in_a_request_is_an_errored_session(
    sdk: Recording, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payment, "init_sentry", lambda *_: None)
    settings = ShopSettings(SENTRAIL_REDIS_URL=redis_url, SHOP_DATA_DIR=tmp_path)
    client = TestClient(payment.create_app(settings))
    card = {"type": "Visa", "number": "4111111111111112", "expMonth": 12, "expYear": 2100}
    answer = client.post("/pay", json={"card": {**card, "ccv": "123"}, "total": 9.5})
    assert answer.json()["success"] is False  # a declined card: a business error, handled
    sentry_sdk.flush()
    assert session_counts(sdk) == {"errored": 1}
    assert mechanisms(sdk) == [True]


def publish(redis: Redis, order_id: str) -> None:
    queue.publish(
        redis,
        queue.PAYMENT_REQUESTS,
        domain="Order",
        source="order",
        type="PaymentRequested",
        data={"orderID": order_id, "total": 10.0},
    )


def test_each_message_is_a_session_crashed_when_its_handler_raised(
    sdk: Recording, redis_url: str
) -> None:
    redis = Redis.from_url(redis_url)

    def handler(message: queue.Message) -> None:
        if message.data["orderID"] == "crash":
            raise RuntimeError("payment processor crashed")

    consumer = queue.Consumer(redis, queue.PAYMENT_REQUESTS, "payment", handler)
    consumer.ensure_group()
    for order_id in ("ok-1", "crash", "ok-2"):
        publish(redis, order_id)
    assert consumer.poll() == 3
    # The consumer flushes after each message: nothing waits for the SDK's minute.
    assert session_counts(sdk) == {"exited": 2, "crashed": 1}
    assert mechanisms(sdk) == [False]


def test_a_crashing_payment_is_a_crashed_session_on_every_delivery(
    sdk: Recording, redis_url: str
) -> None:
    redis = Redis.from_url(redis_url)
    payments = payment.PaymentContext(redis, payment.FaultView(redis))
    write_faults(redis, Faults(payment_crash_share=1.0))
    consumer = queue.Consumer(
        redis,
        queue.PAYMENT_REQUESTS,
        "payment",
        lambda m: payment.requested(payments, m),
        claim_idle_ms=0,
        max_deliveries=2,
        on_dead_letter=lambda m: payment.gave_up(payments, m),
    )
    consumer.ensure_group()
    publish(redis, "o-1")
    for _ in range(3):  # two deliveries that crash, then the dead letter
        consumer.poll()
    assert session_counts(sdk) == {"crashed": 2, "exited": 1}


def test_a_service_flushes_its_sessions_when_it_shuts_down(sdk: Recording) -> None:
    app = FastAPI()
    lifespan = flushing_on_shutdown(app.router.lifespan_context)

    async def serve_and_stop() -> None:
        async with lifespan(app):
            with sentry_sdk.isolation_scope() as scope:
                scope.start_session(session_mode="request")
                scope.end_session()  # held by the SDK, to be sent within the minute
            assert session_counts(sdk) == {}

    asyncio.run(serve_and_stop())
    assert session_counts(sdk) == {"exited": 1}
