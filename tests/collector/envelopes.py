"""Envelopes as sentry-python builds them, for tests that need request bodies."""

import uuid
from typing import Any

from sentry_sdk.envelope import Envelope


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
