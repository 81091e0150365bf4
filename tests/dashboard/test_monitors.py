"""GET /api/v1/monitors[/{slug}] and the /monitors pages, on both backends."""

import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from sentrail.settings import Role
from tests.conftest import ProjectKey

HOURLY = {"schedule": {"type": "crontab", "value": "0 * * * *"}, "timezone": "Europe/Berlin"}


@pytest.fixture
def app_roles() -> frozenset[Role]:
    return frozenset({"collector", "dashboard"})


def send(client: TestClient, project: ProjectKey, **fields: Any) -> str:
    item = {"check_in_id": uuid.uuid4().hex, "monitor_slug": "nightly", **fields}
    body = orjson.dumps(item)
    envelope = b"{}\n" + orjson.dumps({"type": "check_in"}) + b"\n" + body + b"\n"
    response = client.post(f"/api/{project.id}/envelope/", content=envelope, headers=project.auth)
    assert response.status_code == 200, response.text
    return str(item["check_in_id"])


def test_monitors_and_their_runs_newest_first_paged(
    client: TestClient, project: ProjectKey
) -> None:
    ids = [send(client, project, status="ok", duration=1, monitor_config=HOURLY) for _ in range(3)]
    interval = {"schedule": {"type": "interval", "value": 5, "unit": "minute"}}
    send(client, project, monitor_slug="Every Five", status="in_progress", monitor_config=interval)
    listed = client.get("/api/v1/monitors").json()
    assert [(m["slug"], m["status"]) for m in listed["monitors"]] == [
        ("every-five", "new"),
        ("nightly", "ok"),
    ]
    assert listed["monitors"][0]["schedule"] == {"type": "interval", "value": 5, "unit": "minute"}
    nightly = listed["monitors"][1]
    assert nightly["schedule"] == {"type": "crontab", "value": "0 * * * *", "unit": None}
    assert nightly["timezone"] == "Europe/Berlin" and nightly["next_expected_at"].endswith("Z")
    assert nightly["last_check_in_at"] is not None
    first = client.get("/api/v1/monitors/nightly", params={"limit": 2}).json()
    assert [r["check_in_id"] for r in first["runs"]] == [ids[2], ids[1]]
    assert first["runs"][0]["status"] == "ok" and first["runs"][0]["duration"] == 1.0
    rest = client.get(
        "/api/v1/monitors/nightly", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [r["check_in_id"] for r in rest["runs"]] == [ids[0]] and rest["next_cursor"] is None
    filtered = client.get("/api/v1/monitors", params={"status": "new"}).json()["monitors"]
    assert [m["slug"] for m in filtered] == ["every-five"]


def test_bad_parameters_are_4xx(client: TestClient, project: ProjectKey) -> None:
    send(client, project, status="ok", monitor_config=HOURLY)
    assert client.get("/api/v1/monitors/unknown").status_code == 404
    assert client.get("/api/v1/monitors/nightly", params={"project": 999}).status_code == 404
    assert client.get("/api/v1/monitors", params={"status": "sleepy"}).status_code == 422
    assert client.get("/api/v1/monitors", params={"cursor": "x"}).status_code == 400
    assert client.get("/api/v1/monitors/" + "a" * 51).status_code == 422
    assert client.get("/monitors", params={"status": "sleepy"}).status_code == 400
    assert client.get("/monitors/nightly", params={"project": "x"}).status_code == 400
    assert client.get("/monitors/unknown").status_code == 404


def test_pages_list_monitors_and_runs_escaped(client: TestClient, project: ProjectKey) -> None:
    hostile = "<script>alert(1)</script>"
    send(client, project, status="error", environment=hostile, monitor_config=HOURLY)
    listing = client.get("/monitors")
    assert listing.status_code == 200
    assert 'href="/monitors/nightly?project=' in listing.text and "0 * * * *" in listing.text
    page = client.get("/monitors/nightly")
    assert page.status_code == 200
    assert hostile not in page.text and "&lt;script&gt;" in page.text
    assert "status-error" in page.text and "Europe/Berlin" in page.text
