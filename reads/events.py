"""Reading events: one event with its raw payload, and the events of one trace."""

from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reads import schemas
from reads.logs import trace_logs
from reads.spans import trace_spans
from store.errors import NotFound
from store.levels import is_error
from store.models import CorrelationKey, Event, LogEntry, Span
from store.payload import decompress

TRACE_EVENT_LIMIT = 1000  # events the trace page draws
# Events the trace API returns: as many as spans (every OTLP root span and span v2 segment is
# also an event), never all of an untrusted trace's (40,000 took 2.4 s and 11.6 MB).
TRACE_API_EVENT_LIMIT = 5000


def event_summary(event: Event) -> schemas.EventSummary:
    return schemas.from_row(schemas.EventSummary, event)


def _payload(raw: bytes) -> Any:
    data = decompress(raw)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")


def get_event(*, session: Session, event_id: str) -> schemas.EventDetail:
    event_id = event_id.replace("-", "").lower()
    event = session.scalar(select(Event).where(Event.event_id == event_id).order_by(Event.id))
    if event is None:
        raise NotFound(f"no event {event_id}")
    keys: dict[str, list[str]] = defaultdict(list)
    for name, value in session.execute(
        select(CorrelationKey.name, CorrelationKey.value)
        .where(CorrelationKey.event_row_id == event.id)
        .order_by(CorrelationKey.id)
    ):
        keys[name].append(value)
    return schemas.from_row(
        schemas.EventDetail, event, keys=dict(keys), payload=_payload(event.payload)
    )


def trace_events(*, session: Session, trace_id: str) -> bytes:
    """One trace's first TRACE_API_EVENT_LIMIT events, oldest first (errors, messages and
    transactions), with its spans and log entries: `schemas.TraceEvents` as JSON
    (`schemas.trace_json`)."""
    trace_id = normalize_trace_id(trace_id)
    events = trace_event_rows(session, trace_id, limit=TRACE_API_EVENT_LIMIT)
    errors = {e.span_id for e in events if e.span_id and is_error(e.type, e.level)}
    spans, logs = trace_spans(session, trace_id, errors), trace_logs(session, trace_id)
    if not (events or spans or logs):
        raise NotFound(f"no events for trace {trace_id}")
    return schemas.trace_json(trace_id, [event_summary(e) for e in events], spans, logs)


def trace_event_rows(
    session: Session, trace_id: str, limit: int = TRACE_EVENT_LIMIT
) -> list[Event]:
    """The first `limit` events of one trace (its id as stored: `normalize_trace_id`) as rows,
    oldest first."""
    return list(
        session.scalars(
            select(Event)
            .where(Event.trace_id == trace_id)
            .order_by(Event.timestamp, Event.id)
            .limit(limit)
        )
    )


def trace_exists(session: Session, trace_id: str) -> bool:
    """Whether a trace has an event, a span or a log entry (its page shows any of them)."""
    wanted = normalize_trace_id(trace_id)
    return any(
        session.scalar(select(model.id).where(model.trace_id == wanted).limit(1)) is not None
        for model in (Event, Span, LogEntry)
    )


def normalize_trace_id(trace_id: str) -> str:
    """Trace ids are stored as 32 lower-case hex characters; people paste them with dashes."""
    return trace_id.replace("-", "").lower()


def newest_event_id(session: Session) -> int:
    return session.scalar(select(func.max(Event.id))) or 0
