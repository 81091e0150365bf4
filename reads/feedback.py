"""Reading user feedback: the list with its filters, an order's feedback, and the order each
feedback belongs to.

The order is decided at read time, in this order: the journey key the feedback carries itself
(`feedback.order_id`, extracted at ingest by the same rules as events), else the journey of
the event it is about (`associated_event_id`), else the journey of its trace when that trace
leads to exactly one (the correlator's trace links). Feedback usually arrives after the
correlator placed its event, and a journey rebuilt later is found the same way.

The associated event is found by its id alone, as `reads.events.get_event` finds an event
(ids are UUIDs): with one project per service, a journey spans projects, and what the user
said may come through another project than the event it is about.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from reads import schemas
from store.models import Event, Feedback, Journey, JourneyEvent, JourneyLink

TRACE = "trace"  # journey_link.kind of a trace (correlator/worker.py)
ORDER_FEEDBACK_LIMIT = 100


@dataclass(frozen=True)
class _AboutEvent:
    """The associated event's trace and journey (the first stored, as `get_event` reads)."""

    trace_id: str | None
    order_id: str | None


def _about_events(session: Session, rows: list[Feedback]) -> dict[str, _AboutEvent]:
    wanted = sorted({r.associated_event_id for r in rows if r.associated_event_id})
    if not wanted:
        return {}
    query = (
        select(Event.event_id, Event.trace_id, Journey.key)
        .outerjoin(JourneyEvent, JourneyEvent.event_row_id == Event.id)
        .outerjoin(Journey, Journey.id == JourneyEvent.journey_id)
        .where(Event.event_id.in_(wanted))
        .order_by(Event.id, Journey.id)
    )
    found: dict[str, _AboutEvent] = {}
    for event_id, trace_id, key in session.execute(query):
        known = found.get(event_id)
        if known is None or (known.order_id is None and key is not None):
            found[event_id] = _AboutEvent(trace_id, key)
    return found


def _trace_orders(session: Session, traces: set[str]) -> dict[str, str]:
    """Each trace that leads to exactly one journey, with that journey's key."""
    if not traces:
        return {}
    journeys: dict[str, set[str]] = {}
    query = (
        select(JourneyLink.value, Journey.key)
        .join(Journey, Journey.id == JourneyLink.journey_id)
        .where(JourneyLink.kind == TRACE, JourneyLink.value.in_(sorted(traces)))
    )
    for trace_id, key in session.execute(query):
        journeys.setdefault(trace_id, set()).add(key)
    return {trace_id: keys.pop() for trace_id, keys in journeys.items() if len(keys) == 1}


def summaries(session: Session, rows: list[Feedback]) -> list[schemas.FeedbackSummary]:
    """The rows with their trace and order resolved: a fixed number of queries per page."""
    about = _about_events(session, rows)
    traces = {r.trace_id for r in rows if r.trace_id}
    traces |= {a.trace_id for a in about.values() if a.trace_id}
    by_trace = _trace_orders(session, traces)
    result = []
    for row in rows:
        event = about.get(row.associated_event_id or "")
        trace_id = row.trace_id or (event.trace_id if event else None)
        order = row.order_id or (event.order_id if event else None)
        if order is None and trace_id:
            order = by_trace.get(trace_id)
        result.append(
            schemas.from_row(schemas.FeedbackSummary, row, trace_id=trace_id, order_id=order)
        )
    return result


def _of_order(journey: Journey) -> Any:
    """Feedback whose order (as `summaries` decides it) is `journey`'s. Driven by the three
    indexes (order_id, associated_event_id, trace_id), then the precedence is checked."""
    events_of_journey = (
        select(Event.event_id)
        .join(JourneyEvent, JourneyEvent.event_row_id == Event.id)
        .where(JourneyEvent.journey_id == journey.id)
    )
    traces_of_journey = select(JourneyLink.value).where(
        JourneyLink.kind == TRACE, JourneyLink.journey_id == journey.id
    )
    about_placed = exists(
        select(Event.id)
        .join(JourneyEvent, JourneyEvent.event_row_id == Event.id)
        .where(Event.event_id == Feedback.associated_event_id)
    )
    trace_elsewhere = exists(
        select(JourneyLink.journey_id).where(
            JourneyLink.kind == TRACE,
            JourneyLink.value == Feedback.trace_id,
            JourneyLink.journey_id != journey.id,
        )
    )
    by_event = Feedback.associated_event_id.in_(events_of_journey)
    by_trace = and_(Feedback.trace_id.in_(traces_of_journey), ~about_placed, ~trace_elsewhere)
    return or_(
        Feedback.order_id == journey.key,
        and_(Feedback.order_id.is_(None), or_(by_event, by_trace)),
    )


def list_feedback(
    session: Session,
    *,
    limit: int,
    cursor: int | None,
    order: Journey | None = None,
    release: str | None = None,
    since: datetime | None = None,
) -> schemas.FeedbackList:
    """Newest first (by arrival); the cursor is the id the page ends at."""
    query = select(Feedback)
    if order is not None:
        query = query.where(_of_order(order))
    if release:
        query = query.where(Feedback.release == release)
    if since:
        # A time without an offset is UTC (docs/decisions.md#8), as the pages read it.
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        query = query.where(Feedback.timestamp >= since)
    if cursor is not None:
        query = query.where(Feedback.id < cursor)
    rows = list(session.scalars(query.order_by(Feedback.id.desc()).limit(limit + 1)))
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return schemas.FeedbackList(feedback=summaries(session, rows[:limit]), next_cursor=next_cursor)


def order_feedback(
    session: Session, journey: Journey, limit: int = ORDER_FEEDBACK_LIMIT
) -> list[schemas.FeedbackSummary]:
    """An order's feedback, oldest first (it reads beside the order's events)."""
    found = list_feedback(session, limit=limit, cursor=None, order=journey).feedback
    return sorted(found, key=lambda f: (f.timestamp, f.received_at))
