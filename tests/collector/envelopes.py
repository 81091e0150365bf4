"""Envelopes as sentry-python builds them, for tests that need request bodies."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": "2026-11-27T10:00:00.123Z",
        "platform": "python",
        "level": "error",
        "server_name": "payment",
        "release": "r1",
        "environment": "test",
        "message": "something happened",
        "contexts": {"trace": {"trace_id": uuid.uuid4().hex, "span_id": "a" * 16}},
    }
    base.update(fields)
    return base


def envelope_bytes(
    *events: dict[str, Any],
    headers: dict[str, Any] | None = None,
    sessions: list[dict[str, Any]] | None = None,
) -> bytes:
    envelope = Envelope(headers=headers or {})
    for item in events:
        if item.get("type") == "transaction":
            envelope.add_transaction(item)
        else:
            envelope.add_event(item)
    for session in sessions or []:
        envelope.add_session(session)  # type: ignore[arg-type]
    return envelope.serialize()


class Recording(Transport):
    """What sentry-python would send, kept through its own envelope machinery."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == "event" and item.payload.json is not None
        ]


# An SDK set up inside the test process must leave nothing behind. Its integrations, once set
# up, patch httpx for the whole process, and the shop's traffic generator, which runs in the
# test process, would then send one trace header with every request: every order of the shop
# e2e in one trace, and no failure told apart from another.
NO_PATCHING: dict[str, Any] = {"default_integrations": False, "auto_enabling_integrations": False}


@contextmanager
def recording_sdk(**options: Any) -> Iterator[Recording]:
    """sentry-python set up with a recording transport and no integrations, in a scope of its
    own; afterwards a client that sends nothing and patches nothing."""
    transport = Recording()
    sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", transport=transport, **NO_PATCHING, **options)
    try:
        with sentry_sdk.isolation_scope():
            yield transport
            sentry_sdk.flush()
    finally:
        sentry_sdk.init(**NO_PATCHING)


def recorded_envelopes() -> list[bytes]:
    """The envelopes real sentry-python sends for an error with a stack and breadcrumbs, a
    message, a transaction with a child span and a session, serialised as on the wire."""
    with recording_sdk(release="r1", traces_sample_rate=1.0) as transport:
        with (
            sentry_sdk.start_transaction(op="queue.process", name="order"),
            sentry_sdk.start_span(op="db", name="select order"),
        ):
            sentry_sdk.add_breadcrumb(category="CreditCardValidated", data={"OrderID": "1"})
            sentry_sdk.set_tag("order_id", str(uuid.uuid4()))
            try:
                raise ValueError("validation failed for order [x] : card 4111111111111111")
            except ValueError as error:
                sentry_sdk.capture_exception(error)
            sentry_sdk.capture_message("order %s shipped", level="info")
        sentry_sdk.get_isolation_scope().start_session()
        sentry_sdk.get_isolation_scope().end_session()
    return [envelope.serialize() for envelope in transport.envelopes]
