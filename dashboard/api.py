"""The read API, `/api/v1` (docs/reference.md): each route validates its parameters and asks
the read side (reads/) for the answer."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from dashboard.auth import allowed
from dashboard.downloads import download
from reads import (
    alerts,
    attachments,
    deliveries,
    events,
    feedback,
    flows,
    issues,
    logs,
    monitors,
    orders,
    outcomes,
    releases,
    schemas,
    services,
    sessions,
)
from reads.gate import GateLimits, release_gate
from reads.paging import parse_cursor
from rules.config import current_rules
from store.errors import BadRequest, NotFound, Unauthorized
from web.deps import SessionDep
from web.params import UtcTime


def require_token(request: Request) -> None:
    """A Bearer token, or the dashboard's session cookie (its pages read the API too)."""
    if not allowed(request):
        raise Unauthorized(
            "a valid Bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


def refuse_nul(request: Request) -> None:
    """NUL characters cannot be matched against stored text (PostgreSQL refuses them)."""
    values = [*request.query_params.values(), *map(str, request.path_params.values())]
    if any("\x00" in value for value in values):
        raise BadRequest("NUL characters are not allowed in parameters")


router = APIRouter(
    prefix="/api/v1", tags=["read"], dependencies=[Depends(require_token), Depends(refuse_nul)]
)
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/events/{event_id}", response_model=schemas.EventDetail)
def get_event(event_id: str, session: SessionDep) -> schemas.EventDetail:
    return events.get_event(session=session, event_id=event_id)


@router.get("/events/{event_id}/attachments", response_model=schemas.AttachmentList)
def list_attachments(event_id: str, session: SessionDep) -> schemas.AttachmentList:
    """The files sent with one event: name, the client's content type, size."""
    return attachments.list_attachments(session, event_id)


@router.get(
    "/events/{event_id}/attachments/{name:path}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_attachment(event_id: str, name: str, session: SessionDep) -> Response:
    """One attachment's bytes, always as a download (`application/octet-stream`,
    `Content-Disposition: attachment`), never rendered."""
    return download(attachments.get_attachment(session, event_id, name))


@router.get("/feedback", response_model=schemas.FeedbackList)
def list_feedback(
    session: SessionDep,
    order_id: str | None = None,
    release: str | None = None,
    since: UtcTime | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> schemas.FeedbackList:
    """User feedback, newest first, each with the event it is about, its trace and order."""
    order = None
    if order_id is not None:
        order = orders.find_order(session, order_id, current_rules().flow_names)
        if order is None:
            raise NotFound(f"no order {order_id}")
    return feedback.list_feedback(
        session,
        limit=limit,
        cursor=parse_cursor(cursor),
        order=order,
        release=release,
        since=since,
    )


@router.get("/traces/{trace_id}", response_model=schemas.TraceEvents)
def trace_events(trace_id: str, session: SessionDep) -> Response:
    """The events of one trace, across every service it crossed, oldest first; its spans
    (a flat list linked by `parent_span_id`) and its log entries."""
    body = events.trace_events(session=session, trace_id=trace_id)  # TraceEvents' JSON
    return Response(body, media_type="application/json")


@router.get("/logs", response_model=schemas.LogList)
def list_logs(
    session: SessionDep,
    order_id: Annotated[str | None, Query(description="keyed by it, or on its traces")] = None,
    trace_id: Annotated[str | None, Query(description="32 hex characters")] = None,
    service: str | None = None,
    level: Annotated[str | None, Query(description="trace|debug|info|warn|error|fatal")] = None,
    release: str | None = None,
    q: Annotated[str | None, Query(description="a substring of the body, any case")] = None,
    since: Annotated[str | None, Query(description="ISO 8601; UTC when no offset")] = None,
    until: Annotated[str | None, Query(description="ISO 8601; UTC when no offset")] = None,
    limit: Annotated[str | None, Query(description="1-500, default 50")] = None,
    cursor: str | None = None,
) -> schemas.LogList:
    """Log entries, newest first. Parameters are checked by the read side: a bad one is a
    400 that names it."""
    filters = logs.log_filter(
        order_id=order_id, trace_id=trace_id, service=service, level=level,
        release=release, q=q, since=since, until=until,
    )  # fmt: skip
    return logs.list_logs(
        session, filters, limit=logs.parse_limit(limit), cursor=parse_cursor(cursor)
    )


@router.get("/issues", response_model=schemas.IssueList)
def list_issues(
    session: SessionDep,
    release: str | None = None,
    service: str | None = None,
    status: str | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> schemas.IssueList:
    return issues.list_issues(
        session=session,
        release=release,
        service=service,
        status=status,
        limit=limit,
        cursor=parse_cursor(cursor),
    )


@router.get("/issues/{issue_id}", response_model=schemas.IssueDetail)
def get_issue(
    issue_id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep
) -> schemas.IssueDetail:
    return issues.get_issue(session=session, issue_id=issue_id)


@router.get("/sessions", response_model=schemas.SessionList)
def session_totals(
    session: SessionDep, release: str | None = None, environment: str | None = None
) -> schemas.SessionList:
    """Release-health counters as stored."""
    return sessions.session_totals(session=session, release=release, environment=environment)


@router.get("/outcomes", response_model=schemas.OutcomeList)
def outcome_totals(session: SessionDep) -> schemas.OutcomeList:
    """Items received but not stored as events."""
    return outcomes.outcome_totals(session=session)


@router.get("/webhooks/deliveries", response_model=schemas.DeliveryList)
def list_deliveries(
    session: SessionDep,
    resource: str | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> schemas.DeliveryList:
    """Webhook deliveries from sentry.io, newest first."""
    return deliveries.list_deliveries(
        session=session, resource=resource, limit=limit, cursor=parse_cursor(cursor)
    )


@router.get("/alerts", response_model=schemas.AlertList)
def list_alerts(
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(firing|resolved)$")] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> schemas.AlertList:
    """Alerts, newest first: what fired, when it resolved, each notification sent and its
    outcome (delivered, pending a retry, or dead-lettered)."""
    return alerts.list_alerts(
        session=session, status=status, rule=rule, limit=limit, cursor=parse_cursor(cursor)
    )


@router.get("/alerts/deliveries", response_model=schemas.AlertDeliveryList)
def list_alert_deliveries(
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|dead)$")] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> schemas.AlertDeliveryList:
    """Alert notifications, newest first; `status=dead` is the dead-letter list."""
    return alerts.list_alert_deliveries(
        session=session, status=status, limit=limit, cursor=parse_cursor(cursor)
    )


@router.get("/monitors", response_model=schemas.MonitorList)
def list_monitors(
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(new|ok|error|missed|timeout)$")] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> schemas.MonitorList:
    """Cron monitors, newest first: schedule, status, last check-in, next expected run."""
    return monitors.list_monitors(
        session=session, status=status, limit=limit, cursor=parse_cursor(cursor)
    )


@router.get("/monitors/{slug}", response_model=schemas.MonitorDetail)
def get_monitor(
    slug: Annotated[str, Path(max_length=50)],
    session: SessionDep,
    project: Annotated[int | None, Query(ge=1, le=2**31)] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> schemas.MonitorDetail:
    """One cron monitor and its runs, newest first (`cursor` pages the runs); `project`
    picks among monitors of the same slug in several projects."""
    return monitors.get_monitor(
        session=session, slug=slug, project_id=project, limit=limit, cursor=parse_cursor(cursor)
    )


@router.get("/orders", response_model=schemas.OrderList)
def list_orders(
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(completed|failed|stalled|in_progress)$")] = None,
    service: str | None = None,
    release: str | None = None,
    environment: str | None = None,
    since: UtcTime | None = None,
    until: UtcTime | None = None,
    flow: str | None = None,
    scope: str | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> schemas.OrderList:
    """Order journeys, newest first, filtered by status, service, release, environment, flow,
    correlation scope and the time range they were active in."""
    found, next_cursor = orders.list_orders(
        session,
        limit=limit,
        cursor=parse_cursor(cursor),
        status=status,
        service=service,
        release=release,
        environment=environment,
        since=since,
        until=until,
        flow=flow,
        scope=scope,
    )
    return schemas.OrderList(
        orders=[orders.order_summary(journey) for journey in found], next_cursor=next_cursor
    )


@router.get("/orders/{order_id:path}", response_model=schemas.OrderDetail)
def get_order(order_id: str, session: SessionDep, scope: str | None = None) -> schemas.OrderDetail:
    """One order's journey: hops, status, failing and missing hop, its events oldest first."""
    flow_names = current_rules().flow_names
    journey = orders.find_order(session, order_id, flow_names, scope)
    if journey is None:
        raise NotFound(f"no order {order_id}")
    return orders.order_detail(session, journey)


@router.get("/flows", response_model=schemas.FlowList)
def list_flows(session: SessionDep) -> schemas.FlowList:
    """Each flow of the rules with the hops its journeys are judged by: declared, or learned
    from its completed journeys (with each service's support), or how far learning is."""
    return schemas.FlowList(flows=flows.list_flows(session, current_rules()))


@router.get("/services", response_model=schemas.ServiceList)
def list_services(
    session: SessionDep,
    release: str | None = None,
    environment: str | None = None,
    since: UtcTime | None = None,
) -> schemas.ServiceList:
    """Per service: events, errors, the failed and stalled orders it is impacted by."""
    found = services.service_impact(session, release=release, environment=environment, since=since)
    return schemas.ServiceList(
        services=[schemas.ServiceImpact.model_validate(s, from_attributes=True) for s in found]
    )


@router.get("/releases", response_model=schemas.ReleaseList)
def list_releases(session: SessionDep) -> schemas.ReleaseList:
    """Every release with its health numbers, newest first."""
    return schemas.ReleaseList.model_validate({"releases": releases.list_releases(session)})


@router.get("/releases/{version}", response_model=schemas.ReleaseDetail)
def get_release(
    version: str, session: SessionDep, environment: str | None = None
) -> schemas.ReleaseDetail:
    """Release health and the delta against the previous release of the same environment."""
    health = releases.release_health(session, version, environment)
    if health is None:
        raise NotFound(f"no release {version}")
    return schemas.ReleaseDetail.model_validate(health)


@router.get("/releases/{version}/gate", response_model=schemas.ReleaseGate)
def get_release_gate(
    version: str,
    session: SessionDep,
    baseline: str | None = None,
    environment: str | None = None,
    min_orders: Annotated[int, Query(ge=0)] = GateLimits.min_orders,
    max_success_drop: Annotated[float, Query(ge=0, le=1)] = GateLimits.max_success_drop,
    max_crash_free_drop: Annotated[float, Query(ge=0, le=1)] = GateLimits.max_crash_free_drop,
    no_new_issues: bool = False,
) -> schemas.ReleaseGate:
    """The release gate's verdict (`pass`, `fail`, `insufficient_data`), as
    `sentrail release gate` gives it."""
    limits = GateLimits(
        baseline, environment, min_orders, max_success_drop, max_crash_free_drop, no_new_issues
    )
    verdict = release_gate(session, version, limits)
    if verdict is None:
        raise NotFound(f"no release {version}")
    return schemas.ReleaseGate.model_validate(verdict)
