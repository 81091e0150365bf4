"""Real sentry-sdk clients, in subprocesses, sending to a real `sentrail serve` over HTTP."""

import httpx
import pytest
from sqlalchemy import select

from bench.server import Server
from store.engine import Database
from store.models import Event
from store.settings import DatabaseSettings
from tests.conftest import ProjectKey
from tests.e2e.clients import run_client


def test_everything_a_real_sdk_sends_comes_back_through_the_api(
    server: Server, shop: ProjectKey
) -> None:
    sent = run_client("sdk_client.py", server.dsn(shop.id, shop.key))
    api = httpx.Client(base_url=server.url, timeout=10)

    error = api.get(f"/api/v1/events/{sent['error_id']}").json()
    assert error["type"] == "error" and error["level"] == "error"
    assert error["title"].startswith("ValueError: validation failed for order [")
    assert (error["service"], error["release"], error["environment"]) == (
        "payment",
        "e2e-release-1",
        "e2e",
    )
    assert error["trace_id"] == sent["trace_id"]
    assert error["tags"]["order_id"] == sent["order_id"]
    assert error["keys"]["order_id"] == [sent["order_id"]]
    assert error["handled"] is True
    crumbs = error["payload"]["breadcrumbs"]["values"]
    assert any(c.get("category") == "CreditCardValidated" for c in crumbs)
    assert error["payload"]["exception"]["values"][-1]["stacktrace"]["frames"]

    message = api.get(f"/api/v1/events/{sent['message_id']}").json()
    assert message["type"] == "default" and message["level"] == "info"
    assert message["message"] == f"validation successful for order [{sent['order_id']}]"
    assert message["keys"]["order_id"] == [sent["order_id"]]

    crash = api.get(f"/api/v1/events/{sent['crash_id']}").json()
    assert crash["handled"] is False and crash["title"] == "KeyError: 'card'"

    issues = api.get("/api/v1/issues", params={"release": "e2e-release-1"}).json()["issues"]
    failed = api.get(f"/api/v1/events/{sent['failed_id']}").json()
    assert {i["id"] for i in issues} == {
        error["issue_id"],
        message["issue_id"],
        crash["issue_id"],
        failed["issue_id"],
    }
    issue = api.get(f"/api/v1/issues/{error['issue_id']}").json()
    assert issue["count"] == 1 and issue["services"] == ["payment"]
    assert issue["first_release"] == "e2e-release-1"

    # one application session that crashed (its crash sent twice by the SDK, counted once)
    # plus three request sessions, one of which errored
    sessions = api.get("/api/v1/sessions", params={"release": "e2e-release-1"}).json()
    assert sessions["sessions"] == [
        {
            "release": "e2e-release-1",
            "environment": "e2e",
            "total": 4,
            "exited": 2,
            "errored": 1,
            "abnormal": 0,
            "crashed": 1,
            "unhandled": 0,
            "users": 1,
            "crashed_users": 1,
        }
    ]


def test_transactions_keep_trace_span_op_and_duration(
    server: Server, shop: ProjectKey, database_url: str
) -> None:
    sent = run_client("sdk_client.py", server.dsn(shop.id, shop.key))
    database = Database(DatabaseSettings(database_url=database_url))
    try:
        with database.sessions() as session:
            tx = session.scalars(select(Event).where(Event.type == "transaction")).one()
    finally:
        database.dispose()
    assert tx.trace_id == sent["trace_id"]
    assert tx.transaction == "payment.validate" and tx.op == "queue.process"
    assert tx.span_id is not None and len(tx.span_id) == 16
    assert tx.duration_ms is not None and tx.duration_ms > 0
    detail = httpx.get(f"{server.url}/api/v1/events/{tx.event_id}").json()
    assert detail["duration_ms"] == pytest.approx(tx.duration_ms)
