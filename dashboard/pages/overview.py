"""The overview (`/`): the last 24 hours at a glance, and the live-update stream."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dashboard.pages.common import render
from reads import flows, orders, releases, services
from reads.changes import change_mark
from rules.config import current_rules
from store.clock import utcnow
from store.engine import Database
from store.statuses import FAILED, STALLED
from web.deps import SessionDep

router = APIRouter()
LIVE_POLL_SECONDS = 2


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, session: SessionDep) -> Response:
    since = utcnow() - timedelta(hours=24)
    latest, _ = orders.list_orders(session, limit=10, cursor=None, since=since)
    return render(
        request,
        "overview.html",
        counts=orders.status_counts(session, since=since),
        services=services.service_impact(session, since=since)[:8],
        releases=releases.list_releases(session)[:5],
        recent=[j for j in latest if j.status in (FAILED, STALLED)],
        flows=flows.list_flows(session, current_rules()),
    )


@router.get("/live")
async def live(request: Request) -> Response:
    """Server-sent events: `changed` whenever new events or correlations arrived."""
    database: Database = request.state.database

    def mark() -> tuple[int, int, int]:
        with database.sessions() as session:
            return change_mark(session)

    async def stream() -> AsyncIterator[bytes]:
        last = await run_in_threadpool(mark)
        yield b"retry: 3000\n\n"
        while not await request.is_disconnected():
            await asyncio.sleep(LIVE_POLL_SECONDS)
            now = await run_in_threadpool(mark)
            if now != last:
                last = now
                yield b"event: changed\ndata: {}\n\n"
            else:
                yield b": keep-alive\n\n"

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
