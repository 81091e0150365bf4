"""The checkout's queue: Redis Streams with consumer groups, at-least-once.

A consumer acknowledges a message only after handling it; one that is not acknowledged (the
consumer crashed, or the handler raised) is claimed again after `claim_idle_ms`, and after
`max_deliveries` it moves to the dead-letter stream. Each message carries `sentry-trace` and
`baggage`, so the consumer continues the producer's trace; the SDK is flushed after each
message, as the serverless functions of the original do.

Release health: each message handled is one request-mode session of the service's release, as
sentry-sdk's web integrations track one per HTTP request (a consumer is a server whose requests
are messages); a handler that raises makes that session crashed.
"""

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import orjson
import sentry_sdk
from redis import Redis
from redis.exceptions import RedisError, ResponseError
from sentry_sdk.sessions import track_session
from sentry_sdk.utils import event_from_exception

log = logging.getLogger(__name__)

# The streams of the flow (docs/shop.md#checkout-flow): who publishes what, and who consumes it.
PAYMENT_REQUESTS = "shop:payment-requests"  # order → payment
PAYMENT_RESULTS = "shop:payment-results"  # payment → order
SHIPMENT_REQUESTS = "shop:shipment-requests"  # order → shipping
SHIPMENT_EVENTS = "shop:shipment-events"  # shipping → order
DEAD_LETTERS = "shop:dead-letters"


@dataclass(frozen=True)
class Message:
    id: str
    stream: str
    metadata: dict[str, Any]
    data: dict[str, Any]
    headers: dict[str, str]
    deliveries: int = 1

    @property
    def type(self) -> str:
        return str(self.metadata.get("type", ""))


def publish(
    redis: Redis,
    stream: str,
    *,
    domain: str,
    source: str,
    type: str,
    data: dict[str, Any],
    sentry_trace: str | None = None,
) -> str:
    """Adds `{metadata, data}` to `stream` with the current trace in its headers: the Sentry
    SDK's, or `sentry_trace` from a service traced with OpenTelemetry (shop/otel.py)."""
    body = {"metadata": {"domain": domain, "source": source, "type": type, "status": "new"}}
    body["data"] = data
    fields = {"message": orjson.dumps(body)}
    traceparent = sentry_trace or sentry_sdk.get_traceparent()
    baggage = None if sentry_trace else sentry_sdk.get_baggage()
    if traceparent:
        fields["sentry-trace"] = traceparent.encode()
    if baggage:
        fields["baggage"] = baggage.encode()
    return str(redis.xadd(stream, fields))  # type: ignore[arg-type]


def _decode(stream: str, message_id: Any, fields: dict[bytes, bytes], deliveries: int) -> Message:
    body = orjson.loads(fields.get(b"message", b"{}"))
    headers = {
        key.decode(): value.decode()
        for key, value in fields.items()
        if key in (b"sentry-trace", b"baggage")
    }
    return Message(
        id=message_id.decode() if isinstance(message_id, bytes) else str(message_id),
        stream=stream,
        metadata=body.get("metadata", {}),
        data=body.get("data", {}),
        headers=headers,
        deliveries=deliveries,
    )


Handler = Callable[[Message], None]


def capture_crash(exc: BaseException) -> None:
    """Reports `exc` as a crash of the consumer: `mechanism.handled` false, which is what makes
    sentry-sdk mark the session it happened in as crashed."""
    client = sentry_sdk.get_client()
    event, hint = event_from_exception(
        exc, client_options=client.options, mechanism={"type": "queue", "handled": False}
    )
    sentry_sdk.capture_event(event, hint=hint)


class Consumer:
    """One consumer of a group, in a thread of the service that owns it."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        handler: Handler,
        *,
        claim_idle_ms: int = 2000,
        max_deliveries: int = 3,
        paused: Callable[[], bool] = lambda: False,
        on_dead_letter: Handler | None = None,
        name: str | None = None,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.handler = handler
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.paused = paused
        self.on_dead_letter = on_dead_letter
        self.name = name or f"{group}-{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self.handled = 0

    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def start(self) -> None:
        self.ensure_group()
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                if self.paused():
                    self.stop_event.wait(0.2)
                    continue
                self.poll(block_ms=200)
            except RedisError:
                log.exception("%s: Redis unavailable, retrying", self.name)
                self.stop_event.wait(1.0)

    def poll(self, block_ms: int = 0) -> int:
        """Claims idle messages of crashed consumers, reads new ones, handles them."""
        messages = self._claim()
        if not messages:
            read: Any = self.redis.xreadgroup(
                self.group, self.name, {self.stream: ">"}, count=10, block=block_ms or None
            )
            for _stream, entries in read or []:
                messages += [_decode(self.stream, mid, f, 1) for mid, f in entries if f]
        for message in messages:
            self._handle(message)
        return len(messages)

    def _claim(self) -> list[Message]:
        claim: Any = self.redis.xautoclaim(
            self.stream, self.group, self.name, min_idle_time=self.claim_idle_ms, count=10
        )
        claimed = claim[1]
        if not claimed:
            return []
        counts = {
            entry["message_id"]: entry["times_delivered"]
            for entry in cast(
                Any,
                self.redis.xpending_range(
                    self.stream, self.group, min="-", max="+", count=1000, consumername=self.name
                ),
            )
        }
        return [
            _decode(self.stream, mid, fields, int(counts.get(mid, 1)))
            for mid, fields in claimed
            if fields
        ]

    def _handle(self, message: Message) -> None:
        if message.deliveries > self.max_deliveries:
            self._dead_letter(message)
            return
        transaction = sentry_sdk.continue_trace(
            message.headers, op="queue.process", name=f"{self.group}: {message.type}"
        )
        with sentry_sdk.isolation_scope() as scope, track_session(scope, session_mode="request"):
            scope.set_tag("messaging.message_id", message.id)
            with sentry_sdk.start_transaction(transaction):
                try:
                    self.handler(message)
                except Exception as exc:
                    # Unhandled, as far as the service goes: reported as a crash (which makes
                    # the message's session crashed) and left unacknowledged, so the message is
                    # delivered again.
                    capture_crash(exc)
                    log.warning("%s: %s failed: %r", self.name, message.id, exc)
                else:
                    self.redis.xack(self.stream, self.group, message.id)
                    self.handled += 1
        sentry_sdk.flush(timeout=3)

    def _dead_letter(self, message: Message) -> None:
        body = {"metadata": message.metadata, "data": message.data}
        self.redis.xadd(
            DEAD_LETTERS,
            cast(
                Any,
                {
                    "message": orjson.dumps(body),
                    "stream": self.stream,
                    "group": self.group,
                    "id": message.id,
                    **message.headers,
                },
            ),
        )
        self.redis.xack(self.stream, self.group, message.id)
        log.warning(
            "%s: %s dead-lettered after %d deliveries",
            self.name,
            message.id,
            message.deliveries - 1,
        )
        if self.on_dead_letter is not None:
            transaction = sentry_sdk.continue_trace(
                message.headers, op="queue.dead_letter", name=f"{self.group}: dead letter"
            )
            with (
                sentry_sdk.isolation_scope() as scope,
                track_session(scope, session_mode="request"),
                sentry_sdk.start_transaction(transaction),
            ):
                self.on_dead_letter(message)
            sentry_sdk.flush(timeout=3)
