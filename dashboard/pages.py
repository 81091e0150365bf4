"""The dashboard's HTML pages (CONTRACT.md), a mounted app with its own HTML error pages.

Server-rendered with Jinja2 (autoescaped: event text is data, never markup); the only script is
our own static file, which keeps open pages live through server-sent events.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from correlator import orders as order_reads
from correlator import releases as release_reads
from correlator import services as service_reads
from correlator.journeys import STATUSES
from dashboard import queries
from dashboard.auth import COOKIE, allowed, session_value, token_of
from dashboard.event_details import details
from dashboard.timeline import build
from store.engine import Database
from store.errors import BadRequest, FastJSONResponse, NotFound, SentrailError
from store.models import CorrelatorState, Event, EventRollup, Issue, Journey
from store.session import SessionDep

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
PAGE_SIZE = 50
MACHINE_PATHS = ("/api/", "/webhooks/")
DETAILED_EVENTS = 100


class LoginRequired(Exception):
    pass


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("live", True)
    return templates.TemplateResponse(request, name, context, status_code=status)


def guard(request: Request) -> None:
    if not allowed(request):
        raise LoginRequired


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest("dates are ISO 8601, like 2026-11-27T10:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cursor(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _sparkline(values: list[int], width: int = 160, height: int = 28) -> str:
    top = max(values) or 1
    step = width / max(1, len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - v / top * (height - 4):.1f}" for i, v in enumerate(values)
    )


def _hourly(
    session: Session, column: Any, value: str, hours: int = 24
) -> list[tuple[datetime, int, int]]:
    """(hour, events, errors) for the last `hours` hours where `column` = `value`."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours - 1)
    rows = {
        hour: (int(events), int(errors))
        for hour, events, errors in session.execute(
            select(EventRollup.hour_at, func.sum(EventRollup.events), func.sum(EventRollup.errors))
            .where(column == value, EventRollup.hour_at >= start)
            .group_by(EventRollup.hour_at)
        )
    }
    return [
        (at, *rows.get(at, (0, 0))) for at in (start + timedelta(hours=i) for i in range(hours))
    ]


def create_pages_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(SentrailError)
    async def sentrail_error(request: Request, exc: SentrailError) -> Response:
        return render(request, "error.html", exc.status_code, message=exc.detail, live=False)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(MACHINE_PATHS):
            # Machines (SDKs, scripts) get the API's answer even where no route matched.
            return FastJSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code)
        message = "No such page." if exc.status_code == 404 else str(exc.detail)
        return render(request, "error.html", exc.status_code, message=message, live=False)

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> Response:
        return render(request, "error.html", 400, message="That request is not valid.", live=False)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> Response:
        return render(request, "login.html", next=next if next.startswith("/") else "/", live=False)

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = form.get("token", [""])[0]
        target = form.get("next", ["/"])[0]
        target = target if target.startswith("/") and not target.startswith("//") else "/"
        token = token_of(request)
        if token is None:
            return RedirectResponse(target, status_code=303)
        if not secrets.compare_digest(given.encode(), token.encode()):
            return render(request, "login.html", 401, next=target, failed=True, live=False)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            session_value(token),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=12 * 3600,
        )
        return response

    @app.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, session: SessionDep) -> Response:
        guard(request)
        since = datetime.now(UTC) - timedelta(hours=24)
        # One index range per status (status, last_seen_at): no table rows read.
        counts = {
            status: session.scalar(
                select(func.count())
                .select_from(Journey)
                .where(Journey.status == status, Journey.last_seen_at >= since)
            )
            or 0
            for status in STATUSES
        }
        hurting, _ = order_reads.list_orders(
            session, limit=10, cursor=None, status=None, since=since
        )
        hurting = [j for j in hurting if j.status in ("failed", "stalled")][:10]
        return render(
            request,
            "overview.html",
            counts=counts,
            services=service_reads.service_impact(session, since=since)[:8],
            releases=release_reads.list_releases(session)[:5],
            recent=hurting,
        )

    @app.get("/orders", response_class=HTMLResponse)
    def orders(request: Request, session: SessionDep) -> Response:
        guard(request)
        q = request.query_params
        search = (q.get("q") or "").strip()
        if search:
            exact = order_reads.find_order(session, search)
            if exact is not None:
                return RedirectResponse(f"/orders/{quote(exact.key)}", status_code=303)
            if session.scalar(
                select(Event.id).where(Event.trace_id == search.replace("-", "").lower()).limit(1)
            ):
                return RedirectResponse(f"/traces/{quote(search)}", status_code=303)
        status = q.get("status") or None
        if status and status not in STATUSES:
            raise BadRequest(f"unknown status {status!r}")
        found, next_cursor = order_reads.list_orders(
            session,
            limit=PAGE_SIZE,
            cursor=_cursor(q.get("cursor")),
            status=status,
            service=q.get("service") or None,
            release=q.get("release") or None,
            environment=q.get("environment") or None,
            since=_time(q.get("since")),
            until=_time(q.get("until")),
            search=search or None,
        )
        kept = {k: v for k, v in q.items() if k != "cursor" and v}
        return render(
            request,
            "orders.html",
            orders=found,
            filters=kept,
            statuses=STATUSES,
            services=sorted(
                s for (s,) in session.execute(select(EventRollup.service).distinct()) if s
            ),
            releases=[r["version"] for r in release_reads.list_releases(session)],
            next_url=f"/orders?{urlencode({**kept, 'cursor': next_cursor})}"
            if next_cursor
            else None,
        )

    @app.get("/orders/{order_id}", response_class=HTMLResponse)
    def order(request: Request, order_id: str, session: SessionDep) -> Response:
        guard(request)
        journey = order_reads.find_order(session, order_id)
        if journey is None:
            raise NotFound(f"No order {order_id} has been seen.")
        events = order_reads.order_events(session, journey.id)
        return render(
            request,
            "journey.html",
            journey=journey,
            events=events,
            details={e.id: details(e) for e in events[:DETAILED_EVENTS]},
            timeline=build(events, journey.hops, journey.failed_service),
        )

    @app.get("/traces/{trace_id}", response_class=HTMLResponse)
    def trace(request: Request, trace_id: str, session: SessionDep) -> Response:
        guard(request)
        wanted = trace_id.replace("-", "").lower()
        events = list(
            session.scalars(
                select(Event)
                .where(Event.trace_id == wanted)
                .order_by(Event.timestamp, Event.id)
                .limit(1000)
            )
        )
        if not events:
            raise NotFound(f"No events for trace {trace_id}.")
        return render(
            request,
            "trace.html",
            trace_id=wanted,
            events=events,
            orders=order_reads.orders_of_trace(session, wanted),
            details={e.id: details(e) for e in events[:DETAILED_EVENTS]},
            timeline=build(events, []),
        )

    @app.get("/services", response_class=HTMLResponse)
    def services(request: Request, session: SessionDep) -> Response:
        guard(request)
        q = request.query_params
        found = service_reads.service_impact(
            session,
            release=q.get("release") or None,
            environment=q.get("environment") or None,
            since=_time(q.get("since")),
        )
        trends = {
            s.service: _sparkline(
                [errors for _, _, errors in _hourly(session, EventRollup.service, s.service)]
            )
            for s in found
        }
        return render(request, "services.html", services=found, trends=trends, filters=dict(q))

    @app.get("/releases", response_class=HTMLResponse)
    def releases(request: Request, session: SessionDep) -> Response:
        guard(request)
        return render(request, "releases.html", releases=release_reads.list_releases(session))

    @app.get("/releases/{version}", response_class=HTMLResponse)
    def release(request: Request, version: str, session: SessionDep) -> Response:
        guard(request)
        health = release_reads.release_health(
            session, version, request.query_params.get("environment")
        )
        if health is None:
            raise NotFound(f"No release {version} has been seen.")
        hours = _hourly(session, EventRollup.release, version, hours=48)
        top = max((events for _, events, _ in hours), default=0) or 1
        return render(request, "release.html", health=health, hours=hours, top=top)

    @app.get("/issues/{issue_id}", response_class=HTMLResponse)
    def issue(request: Request, issue_id: int, session: SessionDep) -> Response:
        guard(request)
        if not 1 <= issue_id <= 2**62 or session.get(Issue, issue_id) is None:
            raise NotFound(f"No issue {issue_id}.")
        return render(
            request, "issue.html", issue=queries.get_issue(session=session, issue_id=issue_id)
        )

    @app.get("/live")
    async def live(request: Request) -> Response:
        """Server-sent events: `changed` whenever new events or correlations arrived."""
        guard(request)
        database: Database = request.state.database

        def mark() -> tuple[int, int]:
            with database.sessions() as session:
                passes = session.scalar(select(CorrelatorState.passes)) or 0
                newest = session.scalar(select(func.max(Event.id))) or 0
                return passes, newest

        async def stream() -> AsyncIterator[bytes]:
            last = await run_in_threadpool(mark)
            yield b"retry: 3000\n\n"
            while not await request.is_disconnected():
                await asyncio.sleep(2)
                now = await run_in_threadpool(mark)
                if now != last:
                    last = now
                    yield b"event: changed\ndata: {}\n\n"
                else:
                    yield b": keep-alive\n\n"

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    return app
