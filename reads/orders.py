"""Reading journeys: the orders list with its filters, one order with its events, counts."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, defer

from reads import schemas
from reads.logs import order_logs
from reads.membership import memberships
from reads.spans import span_count
from reads.status_reason import status_reason
from store.models import Event, Journey, JourneyEvent, JourneyLabel
from store.statuses import STATUSES

ORDER_EVENT_LIMIT = 1000


def _labelled(kind: str, value: str, journey_id: Any) -> Any:
    other = aliased(JourneyLabel)
    return (
        select(other.journey_id)
        .where(other.journey_id == journey_id, other.kind == kind, other.value == value)
        .exists()
    )


def list_orders(
    session: Session,
    *,
    limit: int,
    cursor: int | None,
    status: str | None = None,
    service: str | None = None,
    release: str | None = None,
    environment: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    flow: str | None = None,
    scope: str | None = None,
) -> tuple[list[Journey], str | None]:
    """Newest first (journey ids grow with first sight); the cursor is the id of the last
    journey returned, so paging is stable. With a service, release or environment filter the
    label index drives the query (in id order, stopping at the page's end)."""
    labels = [(k, v) for k, v in (("service", service), ("release", release),
                                  ("environment", environment)) if v]  # fmt: skip
    if labels:
        (kind, value), others = labels[0], labels[1:]
        ids = select(JourneyLabel.journey_id).where(
            JourneyLabel.kind == kind, JourneyLabel.value == value
        )
        column = JourneyLabel.journey_id
        if status:
            ids = ids.where(JourneyLabel.status == status)
        for other_kind, other_value in others:
            ids = ids.where(_labelled(other_kind, other_value, JourneyLabel.journey_id))
        if since or until or search or flow or scope:
            ids = ids.join(Journey, Journey.id == JourneyLabel.journey_id)
    else:
        ids = select(Journey.id)
        column = Journey.id
        if status:
            ids = ids.where(Journey.status == status)
    if since:
        ids = ids.where(Journey.last_seen_at >= since)
    if until:
        ids = ids.where(Journey.first_seen_at <= until)
    if search:
        ids = ids.where(Journey.key.startswith(search, autoescape=True))
    if flow:
        ids = ids.where(Journey.flow == flow)
    if scope:
        ids = ids.where(Journey.scope == scope)
    if cursor is not None:
        ids = ids.where(column < cursor)
    page = list(session.scalars(ids.order_by(column.desc()).limit(limit + 1)))
    found = {j.id: j for j in session.scalars(select(Journey).where(Journey.id.in_(page[:limit])))}
    rows = [found[i] for i in page[:limit] if i in found]
    return rows, str(rows[-1].id) if len(page) > limit and rows else None


def find_order(
    session: Session, order_id: str, flows: Sequence[str] = (), scope: str | None = None
) -> Journey | None:
    """The journey of this key in the first of `flows` (the rules' order) that has one, else
    in any flow: one order can make a checkout and a refund journey. Within `scope` when given;
    otherwise, of one flow's journeys in several scopes, the first made."""
    query = select(Journey).where(Journey.key == order_id)
    if scope is not None:
        query = query.where(Journey.scope == scope)
    rank = {flow: i for i, flow in enumerate(flows)}
    return min(
        session.scalars(query), key=lambda j: (rank.get(j.flow, len(rank)), j.id), default=None
    )


def order_events(
    session: Session, journey_id: int, limit: int = ORDER_EVENT_LIMIT, *, payloads: bool = False
) -> list[Event]:
    """The journey's events, oldest first; their raw payloads only when asked for (the order
    page's event details): the API's summary never shows them."""
    query = select(Event)
    if not payloads:
        query = query.options(defer(Event.payload, raiseload=True))
    return list(
        session.scalars(
            query.join(JourneyEvent, JourneyEvent.event_row_id == Event.id)
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


def order_summary(journey: Journey) -> schemas.OrderSummary:
    return schemas.from_row(schemas.OrderSummary, journey)


def order_detail(session: Session, journey: Journey) -> schemas.OrderDetail:
    found = order_events(session, journey.id)
    joined = memberships(session, journey, found)
    return schemas.from_row(
        schemas.OrderDetail,
        journey,
        hops=[schemas.Hop.model_validate(hop) for hop in journey.hops],
        events=[schemas.from_row(schemas.OrderEvent, e, joined_by=joined.get(e.id)) for e in found],
        logs=order_logs(session, journey),
        span_count=span_count(session, journey.trace_ids),
        status_reason=status_reason(journey, found),
    )


def status_counts(session: Session, *, since: datetime) -> dict[str, int]:
    """Journeys active since `since`, by status: one index range per status
    (status, last_seen_at), no table rows read."""
    return {
        status: session.scalar(
            select(func.count())
            .select_from(Journey)
            .where(Journey.status == status, Journey.last_seen_at >= since)
        )
        or 0
        for status in STATUSES
    }
