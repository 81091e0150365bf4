"""User feedback items: `feedback` (an event whose `contexts.feedback` holds what the user
said) and the older `user_report` (`{event_id, name, email, comments}`), read into the one
`FeedbackRow` shape (docs/protocol.md#user-feedback).

The feedback event is normalised like any event (collector/normalize.py) so that its id,
trace, release, environment and correlation keys are read by the same code and the same rules
as the events it is about; only the rows differ.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from collector.batch import DroppedItem, FeedbackRow
from collector.limits import MAX_FEEDBACK_MESSAGE, MAX_FEEDBACK_NAME, MAX_FEEDBACK_URL
from collector.normalize import NUL, normalize_event, normalize_event_id
from rules.extract import KeyExtractor
from store.errors import BadRequest


def _text(value: object, limit: int) -> str | None:
    """A string field cut to `limit`, NULs dropped (PostgreSQL text refuses them); None when
    absent, empty or not a string."""
    if not isinstance(value, str):
        return None
    text = value.replace(NUL, "")[:limit].strip()
    return text or None


def _message(value: object) -> str:
    message = _text(value, MAX_FEEDBACK_MESSAGE)
    if message is None:
        raise DroppedItem("invalid", "feedback without a message")
    return message


def feedback_row(
    event: dict[str, Any],
    payload: bytes,
    *,
    received_at: datetime,
    fallback_event_id: object,
    extractor: KeyExtractor,
    journey_key: str,
) -> FeedbackRow:
    """A `feedback` item (already parsed and scrubbed). Its order is the journey key it
    carries itself (tags, extra, contexts, as for events), when it carries one."""
    contexts = event.get("contexts")
    said: Mapping[str, Any] = {}
    if isinstance(contexts, dict) and isinstance(contexts.get("feedback"), dict):
        said = contexts["feedback"]
    message = _message(said.get("message"))
    try:
        normalized = normalize_event(
            event,
            kind="event",
            payload=payload,
            received_at=received_at,
            fallback_event_id=fallback_event_id,
            extractor=extractor,
        )
    except BadRequest as exc:
        raise DroppedItem("invalid", str(exc)[:128]) from None
    row = normalized.row
    order = next((k.value for k in normalized.keys if k.name == journey_key), None)
    return FeedbackRow(
        event_id=row["event_id"],
        associated_event_id=normalize_event_id(said.get("associated_event_id")),
        source="feedback",
        trace_id=row["trace_id"],
        order_id=order,
        name=_text(said.get("name"), MAX_FEEDBACK_NAME),
        email=_text(said.get("contact_email"), MAX_FEEDBACK_NAME),
        message=message,
        url=_text(said.get("url"), MAX_FEEDBACK_URL),
        release=row["release"],
        environment=row["environment"],
        timestamp=row["timestamp"],
        received_at=received_at,
    )


def user_report_row(
    report: dict[str, Any], *, received_at: datetime, fallback_event_id: object
) -> FeedbackRow:
    """A `user_report` item (already parsed and scrubbed): about the event `event_id` (or the
    envelope's), one per event, so it is stored under that id. Its trace and order are the
    event's, found at read time."""
    event_id = normalize_event_id(report.get("event_id")) or normalize_event_id(fallback_event_id)
    if event_id is None:
        raise DroppedItem("invalid", "user report without a valid event_id")
    return FeedbackRow(
        event_id=event_id,
        associated_event_id=event_id,
        source="user_report",
        trace_id=None,
        order_id=None,
        name=_text(report.get("name"), MAX_FEEDBACK_NAME),
        email=_text(report.get("email"), MAX_FEEDBACK_NAME),
        message=_message(report.get("comments")),
        url=None,
        release=None,
        environment=None,
        timestamp=received_at,
        received_at=received_at,
    )
