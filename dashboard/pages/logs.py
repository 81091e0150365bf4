"""`/logs`: the log search page, the filters of `GET /api/v1/logs` as a GET form, newest first,
paged with the API's cursor. Its first page is a live tail: the live updates every page
already has (`/live`, static/app.js) fetch it again when entries arrive (reads/changes.py
counts log entries in the change mark)."""

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dashboard.pages.common import PAGE_SIZE, render
from reads import logs, services
from reads.paging import parse_cursor
from web.deps import SessionDep

router = APIRouter()
FILTERS = ("order_id", "trace_id", "service", "level", "release", "q", "since", "until")


@router.get("/logs", response_class=HTMLResponse)
def log_search(request: Request, session: SessionDep) -> Response:
    q = request.query_params
    given = {name: (q.get(name) or "").strip() for name in FILTERS}
    filters = logs.log_filter(**given)
    cursor = q.get("cursor")
    found = logs.list_logs(
        session,
        filters,
        limit=logs.parse_limit(q.get("limit"), PAGE_SIZE),
        cursor=parse_cursor(cursor),
    )
    kept = {k: v for k, v in q.items() if k != "cursor" and v}
    next_url = (
        f"/logs?{urlencode({**kept, 'cursor': found.next_cursor})}" if found.next_cursor else None
    )
    return render(
        request,
        "logs.html",
        logs=found.logs,
        filters={name: value for name, value in given.items()},
        levels=logs.LEVELS,
        services=services.service_names(session),
        next_url=next_url,
        tail=not cursor,
    )
