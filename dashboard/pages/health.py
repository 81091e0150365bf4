"""Services, releases and issues: which parts hurt, and whether a release made it worse."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dashboard.pages.common import parse_time, render, sparkline
from reads import issues, releases, services
from store.errors import NotFound
from web.deps import SessionDep

router = APIRouter()


@router.get("/services", response_class=HTMLResponse)
def service_list(request: Request, session: SessionDep) -> Response:
    q = request.query_params
    found = services.service_impact(
        session,
        release=q.get("release") or None,
        environment=q.get("environment") or None,
        since=parse_time(q.get("since")),
    )
    trends = {
        s.service: sparkline(
            [errors for _, _, errors in services.hourly_counts(session, service=s.service)]
        )
        for s in found
    }
    return render(request, "services.html", services=found, trends=trends, filters=dict(q))


@router.get("/releases", response_class=HTMLResponse)
def release_list(request: Request, session: SessionDep) -> Response:
    return render(request, "releases.html", releases=releases.list_releases(session))


@router.get("/releases/{version}", response_class=HTMLResponse)
def release(request: Request, version: str, session: SessionDep) -> Response:
    health = releases.release_health(session, version, request.query_params.get("environment"))
    if health is None:
        raise NotFound(f"No release {version} has been seen.")
    hours = services.hourly_counts(session, release=version, hours=48)
    top = max((count for _, count, _ in hours), default=0) or 1
    return render(request, "release.html", health=health, hours=hours, top=top)


@router.get("/issues/{issue_id}", response_class=HTMLResponse)
def issue(request: Request, issue_id: int, session: SessionDep) -> Response:
    return render(request, "issue.html", issue=issues.get_issue(session=session, issue_id=issue_id))
