"""Real sentry-python cron check-ins (`sentry_sdk.crons`), in a subprocess, sent to a real
`sentrail serve` over HTTP; then the monitor checker with the clock moved on."""

from datetime import datetime, timedelta

import httpx

from bench.server import Server
from correlator.monitors import MonitorChecker
from store.engine import Database
from tests.conftest import ProjectKey, make_project
from tests.e2e.clients import run_client


def check_at(database: Database, at: datetime) -> tuple[int, int]:
    result = MonitorChecker(database, clock=lambda: at).run_once()
    return result.missed, result.timed_out


def test_check_ins_from_sentry_python_are_stored_and_a_silent_monitor_is_missed(
    server: Server, database: Database
) -> None:
    project: ProjectKey = make_project(database)
    sent = run_client("crons_client.py", server.dsn(project.id, project.key))
    api = httpx.Client(base_url=server.url, timeout=10)

    listed = {m["slug"]: m for m in api.get("/api/v1/monitors").json()["monitors"]}
    assert set(listed) == {"e2e-nightly", "e2e-heartbeat"}
    nightly = api.get("/api/v1/monitors/e2e-nightly").json()
    assert nightly["schedule"] == {"type": "crontab", "value": "0 3 * * *", "unit": None}
    assert (nightly["timezone"], nightly["checkin_margin"], nightly["max_runtime"]) == (
        "Europe/Berlin",
        5,
        10,
    )
    # the decorator's in_progress and its end are one run each: ok, then the failing one
    assert [r["status"] for r in nightly["runs"]] == ["error", "ok"]
    assert nightly["status"] == "error"
    assert all(r["release"] == "crons-1" and r["duration"] > 0 for r in nightly["runs"])

    heartbeat = api.get("/api/v1/monitors/e2e-heartbeat").json()
    assert [(r["check_in_id"], r["status"]) for r in heartbeat["runs"]] == [
        (sent["hanging"], "in_progress"),
        (sent["heartbeat"], "ok"),
    ]
    expected = datetime.fromisoformat(heartbeat["next_expected_at"])
    margin = timedelta(minutes=heartbeat["checkin_margin"])

    # The clock moved on, and nothing checked in: missed once the margin has passed.
    assert check_at(database, expected + margin - timedelta(seconds=5)) == (0, 0)
    assert check_at(database, expected + margin + timedelta(seconds=5)) == (1, 0)
    heartbeat = api.get("/api/v1/monitors/e2e-heartbeat").json()
    assert heartbeat["status"] == "missed"
    assert heartbeat["runs"][0]["status"] == "missed"
    assert heartbeat["runs"][0]["expected_at"] == expected.isoformat().replace("+00:00", "Z")
    # and the run left in progress times out after the default 30 minutes
    started = datetime.fromisoformat(heartbeat["runs"][1]["started_at"])
    assert check_at(database, started + timedelta(minutes=31))[1] == 1
    statuses = [r["status"] for r in api.get("/api/v1/monitors/e2e-heartbeat").json()["runs"]]
    assert "timeout" in statuses and "in_progress" not in statuses

    page = api.get("/monitors/e2e-heartbeat")
    assert page.status_code == 200 and "status-missed" in page.text
