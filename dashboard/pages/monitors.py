"""Cron monitors: every monitor with its schedule and status, and one monitor's recent runs."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dashboard.pages.common import PAGE_SIZE, render
from reads import monitors
from reads.paging import parse_cursor
from store.errors import BadRequest
from web.deps import SessionDep

router = APIRouter()
STATUSES = ("new", "ok", "error", "missed", "timeout")


@router.get("/monitors", response_class=HTMLResponse)
def monitor_list(request: Request, session: SessionDep) -> Response:
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest("status is one of " + ", ".join(STATUSES))
    found = monitors.list_monitors(
        session=session,
        status=status,
        limit=PAGE_SIZE,
        cursor=parse_cursor(request.query_params.get("cursor")),
    )
    return render(request, "monitors.html", found=found, chosen=status, statuses=STATUSES)


@router.get("/monitors/{slug}", response_class=HTMLResponse)
def monitor(request: Request, slug: str, session: SessionDep) -> Response:
    project = request.query_params.get("project")
    if project is not None and not (project.isascii() and project.isdigit() and len(project) < 10):
        raise BadRequest("project is a project id")
    detail = monitors.get_monitor(
        session=session,
        slug=slug[:50],
        project_id=int(project) if project else None,
        limit=PAGE_SIZE,
        cursor=parse_cursor(request.query_params.get("cursor")),
    )
    return render(request, "monitor.html", monitor=detail, project=project)
