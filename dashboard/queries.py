"""Reads behind the event, trace, issue, session, outcome, delivery and order endpoints."""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, TypeVar

import orjson
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from correlator.orders import order_events
from dashboard import schemas
from store.errors import NotFound
from store.models import (
    CorrelationKey,
    Event,
    Issue,
    IssueComment,
    ItemOutcome,
    Journey,
    SessionCount,
    SessionUser,
    WebhookDelivery,
)
from store.payload import decompress


def event_summary(event: Event) -> schemas.EventSummary:
    return schemas.EventSummary(
        event_id=event.event_id,
        timestamp=event.timestamp,
        service=event.service,
        level=event.level,
        type=event.type,
        title=event.title,
        message=event.message,
        release=event.release,
        environment=event.environment,
        trace_id=event.trace_id,
        issue_id=event.issue_id,
    )


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
    return schemas.EventDetail(
        **event_summary(event).model_dump(),
        project_id=event.project_id,
        received_at=event.received_at,
        platform=event.platform,
        logger=event.logger,
        server_name=event.server_name,
        transaction=event.transaction,
        culprit=event.culprit,
        span_id=event.span_id,
        parent_span_id=event.parent_span_id,
        op=event.op,
        duration_ms=event.duration_ms,
        handled=event.handled,
        source=event.source,
        external_url=event.external_url,
        tags=event.tags,
        keys=dict(keys),
        payload=_payload(event.payload),
    )


def trace_events(*, session: Session, trace_id: str) -> schemas.TraceEvents:
    """Every event of one trace, oldest first (errors, messages and transactions)."""
    trace_id = trace_id.replace("-", "").lower()
    events = list(
        session.scalars(
            select(Event).where(Event.trace_id == trace_id).order_by(Event.timestamp, Event.id)
        )
    )
    if not events:
        raise NotFound(f"no events for trace {trace_id}")
    return schemas.TraceEvents(trace_id=trace_id, events=[event_summary(e) for e in events])


def issue_summary(issue: Issue) -> schemas.IssueSummary:
    return schemas.IssueSummary(
        id=issue.id,
        project_id=issue.project_id,
        title=issue.title,
        culprit=issue.culprit,
        type=issue.type,
        level=issue.level,
        status=issue.status,
        substatus=issue.substatus,
        count=issue.count,
        first_seen=issue.first_seen_at,
        last_seen=issue.last_seen_at,
        first_release=issue.first_release,
        last_release=issue.last_release,
    )


def list_issues(
    *,
    session: Session,
    release: str | None,
    service: str | None,
    status: str | None,
    limit: int,
    cursor: int | None,
) -> schemas.IssueList:
    query = select(Issue)
    if status:
        query = query.where(Issue.status == status)
    if release or service:
        events = select(Event.issue_id).where(Event.issue_id == Issue.id)
        if release:
            events = events.where(Event.release == release)
        if service:
            events = events.where(Event.service == service)
        query = query.where(events.exists())
    issues, next_cursor = _page(session, Issue, query, limit, cursor)
    return schemas.IssueList(issues=[issue_summary(i) for i in issues], next_cursor=next_cursor)


def get_issue(*, session: Session, issue_id: int) -> schemas.IssueDetail:
    issue = session.get(Issue, issue_id)
    if issue is None:
        raise NotFound(f"no issue {issue_id}")

    def distinct_of(column: Any) -> list[str]:
        query = select(column).where(Event.issue_id == issue_id, column.is_not(None)).distinct()
        return sorted(session.scalars(query))

    latest = session.scalars(
        select(Event).where(Event.issue_id == issue_id).order_by(Event.timestamp.desc()).limit(20)
    )
    comments: Iterable[IssueComment] = (
        session.scalars(
            select(IssueComment)
            .where(
                IssueComment.sentry_issue_id == issue.sentry_id, IssueComment.deleted_at.is_(None)
            )
            .order_by(IssueComment.created_at)
        )
        if issue.sentry_id
        else []
    )
    return schemas.IssueDetail(
        **issue_summary(issue).model_dump(),
        resolved_at=issue.resolved_at,
        regressed_at=issue.regressed_at,
        regressed_release=issue.regressed_release,
        sentry_id=issue.sentry_id,
        external_url=issue.external_url,
        assigned_to=issue.assigned_to,
        comments=[schemas.Comment.model_validate(c) for c in comments],
        services=distinct_of(Event.service),
        releases=distinct_of(Event.release),
        latest_events=[event_summary(e) for e in latest],
    )


def session_totals(
    *, session: Session, release: str | None, environment: str | None
) -> schemas.SessionList:
    counters = ("total", "exited", "errored", "abnormal", "crashed")
    query = select(
        SessionCount.release,
        SessionCount.environment,
        *(func.sum(getattr(SessionCount, c)).label(c) for c in counters),
    ).group_by(SessionCount.release, SessionCount.environment)
    users = select(
        SessionUser.release,
        SessionUser.environment,
        func.count().label("users"),
        func.count().filter(SessionUser.crashed.is_(True)).label("crashed_users"),
    ).group_by(SessionUser.release, SessionUser.environment)
    if release:
        query = query.where(SessionCount.release == release)
        users = users.where(SessionUser.release == release)
    if environment:
        query = query.where(SessionCount.environment == environment)
        users = users.where(SessionUser.environment == environment)
    user_counts = {(r.release, r.environment): r for r in session.execute(users)}
    result = []
    for row in session.execute(query.order_by(SessionCount.release, SessionCount.environment)):
        u = user_counts.get((row.release, row.environment))
        result.append(
            schemas.SessionTotals(
                release=row.release,
                environment=row.environment,
                **{c: int(getattr(row, c) or 0) for c in counters},
                users=u.users if u else 0,
                crashed_users=u.crashed_users if u else 0,
            )
        )
    return schemas.SessionList(sessions=result)


def outcome_totals(*, session: Session) -> schemas.OutcomeList:
    query = select(
        ItemOutcome.outcome,
        ItemOutcome.category,
        ItemOutcome.reason,
        func.sum(ItemOutcome.quantity).label("quantity"),
    ).group_by(ItemOutcome.outcome, ItemOutcome.category, ItemOutcome.reason)
    return schemas.OutcomeList(
        outcomes=[
            schemas.OutcomeTotal(
                outcome=r.outcome, category=r.category, reason=r.reason, quantity=int(r.quantity)
            )
            for r in session.execute(query.order_by(ItemOutcome.outcome, ItemOutcome.category))
        ]
    )


def list_deliveries(
    *, session: Session, resource: str | None, limit: int, cursor: int | None
) -> schemas.DeliveryList:
    query = select(WebhookDelivery)
    if resource:
        query = query.where(WebhookDelivery.resource == resource)
    deliveries, next_cursor = _page(session, WebhookDelivery, query, limit, cursor)
    return schemas.DeliveryList(
        deliveries=[schemas.DeliverySummary.model_validate(d) for d in deliveries],
        next_cursor=next_cursor,
    )


Row = TypeVar("Row", Issue, WebhookDelivery)


def _page(
    session: Session, model: type[Row], query: Select[Any], limit: int, cursor: int | None
) -> tuple[list[Row], str | None]:
    """Newest first, by id. One row more than asked is fetched: it says whether a next page
    exists, and the cursor is the id the page ends at."""
    query = query.order_by(model.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(model.id < cursor)
    rows: list[Row] = list(session.scalars(query))
    return rows[:limit], str(rows[limit - 1].id) if len(rows) > limit else None


def order_summary(journey: Journey) -> schemas.OrderSummary:
    return schemas.OrderSummary(
        order_id=journey.key,
        status=journey.status,
        first_seen=journey.first_seen_at,
        last_seen=journey.last_seen_at,
        services=journey.services,
        failed_service=journey.failed_service,
        releases=journey.releases,
        event_count=journey.event_count,
        error_count=journey.error_count,
    )


def order_detail(session: Session, journey: Journey) -> schemas.OrderDetail:
    summary = order_summary(journey).model_dump(exclude={"order_id", "status"})
    return schemas.OrderDetail(
        order_id=journey.key,
        status=journey.status,
        **summary,
        impacted_services=journey.impacted_services,
        missing_hops=journey.missing_hops,
        environments=journey.environments,
        trace_ids=journey.trace_ids,
        hops=[schemas.Hop.model_validate(hop) for hop in journey.hops],
        events=[event_summary(e) for e in order_events(session, journey.id)],
    )
