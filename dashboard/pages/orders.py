"""Orders: the filtered list with its search box, one order's journey, one trace."""

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard import waterfall
from dashboard.event_details import details
from dashboard.pages.common import DETAILED_EVENTS, PAGE_SIZE, parse_time, render
from dashboard.timeline import build, interleave
from reads import attachments, events, feedback, logs, membership, orders, releases, services
from reads.logs import trace_logs
from reads.paging import parse_cursor
from reads.spans import TRACE_SPAN_LIMIT, trace_spans
from reads.status_reason import status_reason
from rules.config import current_rules
from store.errors import BadRequest, NotFound
from store.levels import is_error
from store.statuses import STATUSES
from web.deps import SessionDep

router = APIRouter()


@router.get("/orders", response_class=HTMLResponse)
def order_list(request: Request, session: SessionDep) -> Response:
    q = request.query_params
    search = (q.get("q") or "").strip()
    if search:
        exact = orders.find_order(session, search)
        if exact is not None:
            return RedirectResponse(f"/orders/{quote(exact.key)}", status_code=303)
        if events.trace_exists(session, search):
            return RedirectResponse(f"/traces/{quote(search)}", status_code=303)
    status = q.get("status") or None
    if status and status not in STATUSES:
        raise BadRequest(f"unknown status {status!r}")
    found, next_cursor = orders.list_orders(
        session,
        limit=PAGE_SIZE,
        cursor=parse_cursor(q.get("cursor")),
        status=status,
        service=q.get("service") or None,
        release=q.get("release") or None,
        environment=q.get("environment") or None,
        since=parse_time(q.get("since")),
        until=parse_time(q.get("until")),
        search=search or None,
        flow=q.get("flow") or None,
    )
    kept = {k: v for k, v in q.items() if k != "cursor" and v}
    next_url = f"/orders?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None
    return render(
        request,
        "orders.html",
        orders=found,
        filters=kept,
        statuses=STATUSES,
        services=services.service_names(session),
        releases=[r["version"] for r in releases.list_releases(session)],
        next_url=next_url,
    )


@router.get("/orders/{order_id:path}", response_class=HTMLResponse)
def order(request: Request, order_id: str, session: SessionDep) -> Response:
    journey = orders.find_order(session, order_id, current_rules().flow_names)
    if journey is None:
        raise NotFound(f"No order {order_id} has been seen.")
    found = orders.order_events(session, journey.id, payloads=True)
    q = request.query_params
    wanted = logs.log_filter(level=q.get("log_level"), q=q.get("log_q"))
    entries = logs.order_logs(session, journey)
    listed = logs.order_logs(session, journey, wanted) if wanted.level or wanted.q else entries
    return render(
        request,
        "journey.html",
        journey=journey,
        events=found,
        entries=interleave(found, entries),
        logs=listed,
        log_levels=logs.LEVELS,
        log_filters={"level": wanted.level or "", "q": wanted.q or ""},
        details={e.id: details(e) for e in found[:DETAILED_EVENTS]},
        joined=membership.memberships(session, journey, found),
        reason=status_reason(journey, found),
        timeline=build(found, journey.hops, journey.failed_service, entries),
        feedback=feedback.order_feedback(session, journey),
        attachments=attachments.attachments_of(session, [e.event_id for e in found]),
    )


@router.get("/traces/{trace_id}", response_class=HTMLResponse)
def trace(request: Request, trace_id: str, session: SessionDep) -> Response:
    """The trace's span waterfall (dashboard/waterfall.py), its logs, and its events."""
    wanted = events.normalize_trace_id(trace_id)
    found = events.trace_event_rows(session, wanted)
    errors = {e.span_id for e in found if e.span_id and is_error(e.type, e.level)}
    spans, entries = trace_spans(session, wanted, errors), trace_logs(session, wanted)
    if not (found or spans or entries):
        raise NotFound(f"No events for trace {trace_id}.")
    return render(
        request,
        "trace.html",
        trace_id=wanted,
        events=found,
        logs=entries,
        waterfall=waterfall.build(spans, found, entries),
        span_limit=TRACE_SPAN_LIMIT,
        orders=orders.orders_of_trace(session, wanted),
        details={e.id: details(e) for e in found[:DETAILED_EVENTS]},
        timeline=build(found, []),
        attachments=attachments.attachments_of(session, [e.event_id for e in found]),
    )
