"""Feedback, user reports and attachments in envelopes, serialised by sentry-python's own
envelope code (`sentry_sdk.envelope`), for tests that need request bodies.

The feedback event follows the `feedback` item of develop.sentry.dev
(https://develop.sentry.dev/sdk/data-model/envelope-items/, "User Feedback": an event of type
"feedback" whose `contexts.feedback` holds message, contact_email, name, url and
associated_event_id) and the user report its deprecated `user_report` item
(`{event_id, name, email, comments}`); the values are made up for these tests.
"""

import uuid
from typing import Any

from sentry_sdk.envelope import Envelope, Item, PayloadRef


def feedback_event(
    message: str = "The checkout said my card was declined, but I was charged",
    *,
    associated_event_id: str | None = None,
    trace_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    said: dict[str, Any] = {
        "message": message,
        "contact_email": "jane@example.com",
        "name": "Jane Doe",
        "url": "https://shop.example.com/checkout",
    }
    if associated_event_id is not None:
        said["associated_event_id"] = associated_event_id
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "type": "feedback",
        "timestamp": "2026-11-27T10:01:00.000Z",
        "platform": "javascript",
        "level": "info",
        "release": "r1",
        "environment": "test",
        "contexts": {
            "feedback": said,
            "trace": {"trace_id": trace_id or uuid.uuid4().hex, "span_id": "b" * 16},
        },
    }
    event.update(fields)
    return event


def user_report(event_id: str, comments: str = "It broke when I paid") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "name": "Jane Doe",
        "email": "jane@example.com",
        "comments": comments,
    }


def json_item(kind: str, value: Any) -> Item:
    return Item(payload=PayloadRef(json=value), type=kind)


def raw_item(kind: str, payload: bytes) -> Item:
    return Item(payload=PayloadRef(bytes=payload), type=kind)


def attachment_item(
    data: bytes, filename: str = "cart.txt", content_type: str | None = "text/plain", **headers: Any
) -> Item:
    return Item(
        payload=PayloadRef(bytes=data),
        type="attachment",
        filename=filename,
        content_type=content_type,
        headers=headers or None,
    )


def envelope_with(*items: Item, event: dict[str, Any] | None = None, **headers: Any) -> bytes:
    """An envelope of `items`, after `event` when given (its id in the header, as SDKs do)."""
    envelope = Envelope(headers=headers)
    if event is not None:
        envelope.headers.setdefault("event_id", event["event_id"])
        envelope.add_event(event)
    for item in items:
        envelope.add_item(item)
    return envelope.serialize()
