"""Alerts: what fired, whether it resolved, and how each notification went."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dashboard.links import http_link
from dashboard.pages.common import PAGE_SIZE, render
from reads import alerts
from reads.paging import parse_cursor
from store.errors import BadRequest
from web.deps import SessionDep

router = APIRouter()
STATUSES = ("firing", "resolved")


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(request: Request, session: SessionDep) -> Response:
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest("status is one of " + ", ".join(STATUSES))
    found = alerts.list_alerts(
        session=session,
        status=status,
        rule=None,
        limit=PAGE_SIZE,
        cursor=parse_cursor(request.query_params.get("cursor")),
    )
    links = {a.id: http_link(a.url) for a in found.alerts}
    return render(
        request, "alerts.html", found=found, chosen=status, statuses=STATUSES, links=links
    )
