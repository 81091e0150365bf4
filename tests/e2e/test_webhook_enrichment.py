"""Enrichment against a local stand-in for Sentry's API (sentry.io is unreachable here): it
serves the documented `GET /api/0/issues/{id}/events/latest/` shape, failing once first so the
backoff is exercised."""

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench import webhook_payloads as sp
from bench.server import Server, free_port, running_server

SECRET, TOKEN = "enrich-client-secret", "sntrys_test_token"
EVENT_ID = uuid.uuid4().hex


def api_event(issue_id: str) -> dict[str, Any]:
    return {
        "id": EVENT_ID,
        "eventID": EVENT_ID,
        "groupID": issue_id,
        "platform": "python",
        "dateCreated": "2026-11-26T09:30:00Z",
        "message": "",
        "title": "ValueError: boom",
        "culprit": "payment.handlers in validate",
        "type": "error",
        "tags": [
            {"key": "order_id", "value": sp.ORDER},
            {"key": "environment", "value": "prod"},
            {"key": "server_name", "value": "payment"},
        ],
        "release": {"version": "abc123"},
        "contexts": {"trace": {"trace_id": "e" * 32, "span_id": "f" * 16}},
        "entries": [
            {
                "type": "exception",
                "data": {
                    "values": [
                        {"type": "ValueError", "value": "boom", "stacktrace": {"frames": []}}
                    ]
                },
            },
            {
                "type": "breadcrumbs",
                "data": {
                    "values": [{"category": "PaymentRequested", "data": {"OrderID": sp.ORDER}}]
                },
            },
        ],
    }


class StandIn:
    def __init__(self) -> None:
        self.calls: list[str | None] = []
        self.port = free_port()
        app = Starlette(routes=[Route("/api/0/issues/{issue_id}/events/latest/", self.latest)])
        self.server = uvicorn.Server(uvicorn.Config(app, port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def latest(self, request: Request) -> JSONResponse:
        self.calls.append(request.headers.get("authorization"))
        if len(self.calls) == 1:
            return JSONResponse({"detail": "try later"}, status_code=503)
        return JSONResponse(api_event(request.path_params["issue_id"]))


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    api = StandIn()
    api.thread.start()
    while not api.server.started:
        time.sleep(0.01)  # waiting for the thread's server to bind, not for a result
    yield api
    api.server.should_exit = True
    api.thread.join(timeout=10)


@pytest.fixture
def server(database_url: str, tmp_path: Path, stand_in: StandIn) -> Iterator[Server]:
    env = {
        "SENTRAIL_SENTRY_CLIENT_SECRET": SECRET,
        "SENTRAIL_SENTRY_API_TOKEN": TOKEN,
        "SENTRAIL_SENTRY_API_URL": f"http://127.0.0.1:{stand_in.port}",
        "SENTRAIL_ENRICHMENT_BACKOFF": "0.05",
    }
    with running_server(database_url, tmp_path / "server.log", extra_env=env) as running:
        yield running


def test_new_issue_gets_its_latest_event(server: Server, stand_in: StandIn) -> None:
    body, headers = sp.signed(sp.envelope("created", {"issue": sp.issue("777")}), "issue", SECRET)
    response = httpx.post(f"{server.url}/webhooks/sentry", content=body, headers=headers)
    assert response.status_code == 200
    deadline = time.monotonic() + 20
    event = httpx.get(f"{server.url}/api/v1/events/{EVENT_ID}")
    while event.status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the background fetch, bounded by the deadline
        event = httpx.get(f"{server.url}/api/v1/events/{EVENT_ID}")
    assert event.status_code == 200, "the enriched event never arrived"
    stored = event.json()
    assert stored["keys"]["order_id"] == [sp.ORDER] and stored["release"] == "abc123"
    assert stored["title"] == "ValueError: boom" and stored["source"] == "webhook"
    issue = httpx.get(f"{server.url}/api/v1/issues/{stored['issue_id']}").json()
    assert issue["sentry_id"] == "777"
    assert stand_in.calls == [f"Bearer {TOKEN}", f"Bearer {TOKEN}"]  # one 503, then success
