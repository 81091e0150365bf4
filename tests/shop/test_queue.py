"""The checkout queue on the real Redis: at-least-once, redelivery, dead letters, traces."""

import threading
import time
from collections.abc import Callable

import sentry_sdk
from redis import Redis

from shop import queue
from tests.collector.envelopes import NO_PATCHING


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)  # polling a condition, bounded by the deadline


def publish_one(redis: Redis, order_id: str) -> str:
    return queue.publish(
        redis,
        queue.PAYMENT_REQUESTS,
        domain="Order",
        source="order",
        type="PaymentRequested",
        data={"orderID": order_id, "total": 10.0},
    )


def test_a_message_carries_its_trace_and_is_acknowledged_once_handled(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    # No DSN: traces kept, nothing sent; no integrations: nothing patched for later tests.
    sentry_sdk.init(traces_sample_rate=1.0, **NO_PATCHING)
    try:
        with sentry_sdk.start_transaction(name="checkout") as transaction:
            publish_one(redis, "o-1")
            trace_id = transaction.trace_id
    finally:
        sentry_sdk.init(**NO_PATCHING)
    seen: list[queue.Message] = []
    consumer = queue.Consumer(redis, queue.PAYMENT_REQUESTS, "payment", seen.append)
    consumer.ensure_group()
    assert consumer.poll() == 1
    [message] = seen
    assert message.type == "PaymentRequested" and message.data["orderID"] == "o-1"
    assert message.metadata == {
        "domain": "Order", "source": "order", "type": "PaymentRequested", "status": "new",
    }  # fmt: skip
    assert message.headers["sentry-trace"].startswith(trace_id)
    assert f"sentry-trace_id={trace_id}" in message.headers["baggage"]
    assert redis.xpending(queue.PAYMENT_REQUESTS, "payment")["pending"] == 0
    assert consumer.poll() == 0  # handled once


def test_a_message_of_a_crashed_consumer_is_delivered_again(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    publish_one(redis, "o-2")
    crashed = queue.Consumer(redis, queue.PAYMENT_REQUESTS, "payment", lambda m: None, name="a")
    crashed.ensure_group()
    # Consumer "a" reads the message and dies before acknowledging it.
    redis.xreadgroup("payment", "a", {queue.PAYMENT_REQUESTS: ">"}, count=1)
    assert redis.xpending(queue.PAYMENT_REQUESTS, "payment")["pending"] == 1
    handled: list[queue.Message] = []
    survivor = queue.Consumer(
        redis, queue.PAYMENT_REQUESTS, "payment", handled.append, claim_idle_ms=100, name="b"
    )
    wait_for(lambda: survivor.poll() > 0)
    assert [m.data["orderID"] for m in handled] == ["o-2"]
    assert handled[0].deliveries == 2
    assert redis.xpending(queue.PAYMENT_REQUESTS, "payment")["pending"] == 0


def test_a_message_that_always_fails_goes_to_the_dead_letters(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    publish_one(redis, "o-3")
    attempts: list[int] = []
    buried = threading.Event()

    def crash(message: queue.Message) -> None:
        attempts.append(message.deliveries)
        raise RuntimeError("payment processor down")

    consumer = queue.Consumer(
        redis,
        queue.PAYMENT_REQUESTS,
        "payment",
        crash,
        claim_idle_ms=50,
        max_deliveries=3,
        on_dead_letter=lambda m: buried.set(),
    )
    consumer.ensure_group()
    wait_for(lambda: (consumer.poll(), buried.is_set())[1])
    assert attempts == [1, 2, 3]
    [(_, fields)] = redis.xrange(queue.DEAD_LETTERS)
    assert fields[b"stream"] == queue.PAYMENT_REQUESTS.encode()
    assert b'"orderID":"o-3"' in fields[b"message"]
    assert redis.xpending(queue.PAYMENT_REQUESTS, "payment")["pending"] == 0


def test_a_paused_consumer_leaves_messages_waiting(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    paused = threading.Event()
    paused.set()
    handled: list[queue.Message] = []
    consumer = queue.Consumer(
        redis, queue.SHIPMENT_REQUESTS, "shipping", handled.append, paused=paused.is_set
    )
    consumer.start()
    try:
        queue.publish(
            redis, queue.SHIPMENT_REQUESTS, domain="Order", source="order",
            type="ShipmentRequested", data={"_id": "o-4"},
        )  # fmt: skip
        assert redis.xlen(queue.SHIPMENT_REQUESTS) == 1 and handled == []
        paused.clear()
        wait_for(lambda: len(handled) == 1)
    finally:
        consumer.stop()
    assert handled[0].data == {"_id": "o-4"}
