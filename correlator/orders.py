"""Reading journeys: the orders list with its filters, and one order with its events."""

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from store.models import Event, Journey, JourneyEvent, JourneyLabel

ORDER_EVENT_LIMIT = 1000


def _labelled(kind: str, value: str) -> Any:
    return Journey.id.in_(
        select(JourneyLabel.journey_id).where(
            JourneyLabel.kind == kind, JourneyLabel.value == value
        )
    )


def order_query(
    *,
    status: str | None = None,
    service: str | None = None,
    release: str | None = None,
    environment: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
) -> Select[Any]:
    """Journeys matching every filter given; `since`/`until` keep those active in the range."""
    query = select(Journey)
    if status:
        query = query.where(Journey.status == status)
    for kind, value in (("service", service), ("release", release), ("environment", environment)):
        if value:
            query = query.where(_labelled(kind, value))
    if since:
        query = query.where(Journey.last_seen_at >= since)
    if until:
        query = query.where(Journey.first_seen_at <= until)
    if search:
        query = query.where(Journey.key.startswith(search, autoescape=True))
    return query


def list_orders(
    session: Session, *, limit: int, cursor: int | None, **filters: Any
) -> tuple[list[Journey], str | None]:
    """Newest first (by when the order was first seen, then id). The cursor is the id of the
    last journey returned; ids grow with first sight, so it pages through stably."""
    query = order_query(**filters).order_by(Journey.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(Journey.id < cursor)
    rows: list[Journey] = list(session.scalars(query))
    return rows[:limit], str(rows[limit - 1].id) if len(rows) > limit else None


def find_order(session: Session, order_id: str) -> Journey | None:
    return session.scalar(select(Journey).where(Journey.key == order_id))


def order_events(session: Session, journey_id: int, limit: int = ORDER_EVENT_LIMIT) -> list[Event]:
    """The journey's events, oldest first."""
    return list(
        session.scalars(
            select(Event)
            .join(JourneyEvent, JourneyEvent.event_row_id == Event.id)
            .where(JourneyEvent.journey_id == journey_id)
            .order_by(Event.timestamp, Event.id)
            .limit(limit)
        )
    )


def orders_of_trace(session: Session, trace_id: str) -> list[str]:
    """The orders a trace belongs to (through any of its events)."""
    return list(
        session.scalars(
            select(Journey.key)
            .join(JourneyEvent, JourneyEvent.journey_id == Journey.id)
            .join(Event, Event.id == JourneyEvent.event_row_id)
            .where(Event.trace_id == trace_id)
            .distinct()
        )
    )
