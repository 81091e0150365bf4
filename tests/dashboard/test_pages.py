"""The pages in-process: HTML errors of their own, JSON for machine paths, security headers,
the token wall (the browser tests cover rendering in Chromium)."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from collector.settings import CollectorSettings
from dashboard.settings import DashboardSettings
from reads.changes import change_mark
from sentrail.app import create_app
from store.engine import Database
from store.models import CorrelatorState
from store.settings import DatabaseSettings
from tests.conftest import ProjectKey

TOKEN = "a-dashboard-token-for-tests"


def test_unknown_pages_get_an_html_page_and_machine_paths_json(client: TestClient) -> None:
    page = client.get(f"/orders/{uuid.uuid4()}")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "has been seen" in page.text
    assert client.get("/no/such/page").status_code == 404
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    bad = client.get("/orders", params={"since": "last tuesday"})
    assert bad.status_code == 400 and "ISO 8601" in bad.text


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/orders", "/api/v1/orders", "/nope"):
        headers = client.get(path).headers
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


@pytest.fixture
def walled(database_url: str, project: ProjectKey) -> Iterator[TestClient]:
    app = create_app(
        DatabaseSettings(database_url=database_url),
        CollectorSettings(),
        DashboardSettings(dashboard_token=TOKEN),
    )
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def test_the_token_wall(walled: TestClient) -> None:
    assert walled.get("/services").headers["location"] == "/login?next=/services"
    assert walled.get("/api/v1/services").status_code == 401
    wrong = walled.post("/login", data={"token": "nope", "next": "/services"})
    assert wrong.status_code == 401
    right = walled.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
    assert right.status_code == 303 and right.headers["location"] == "/"  # no open redirect
    assert walled.get("/services").status_code == 200  # the session cookie
    assert walled.get("/api/v1/services").status_code == 200
    walled.post("/logout")
    assert walled.get("/services").status_code == 303


def test_the_overview_lists_the_flows_and_orders_filter_by_flow(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "<h2>Flows</h2>" in page.text
    assert 'href="/orders?flow=checkout"' in page.text
    assert "frontend → order → payment → order → shipping" in page.text
    assert client.get("/orders", params={"flow": "checkout"}).status_code == 200


def test_the_live_mark_reads_the_correlators_passes_not_the_alert_evaluators(
    database: Database,
) -> None:
    """`correlator_state` holds a row per loop (journeys, alerts): the pages' live mark moves
    with the correlator's, whichever row was written first."""
    now = datetime.now(UTC)
    rows = [
        {"name": name, "watermark": 0, "gaps": {}, "passes": passes, "updated_at": now}
        for name, passes in (("alerts", 70), ("journeys", 3))  # the evaluator's row first
    ]
    with database.writing() as connection:
        connection.execute(insert(CorrelatorState), rows)
        connection.commit()
    with database.sessions() as session:
        assert change_mark(session)[0] == 3
