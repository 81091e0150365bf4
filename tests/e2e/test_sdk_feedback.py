"""Real sentry-python, in a subprocess, sending an error with attachments and feedback about
it to a real `sentrail serve`: both come back through the read API, the feedback in the order
of the error."""

import json

import httpx

from bench.server import Server
from correlator.worker import Correlator
from store.engine import Database
from tests.conftest import ProjectKey
from tests.e2e.clients import run_client
from tests.e2e.feedback_client import BIG


def test_attachments_and_feedback_from_a_real_sdk_come_back_through_the_api(
    server: Server, shop: ProjectKey, database: Database
) -> None:
    sent = run_client("feedback_client.py", server.dsn(shop.id, shop.key))
    Correlator(database).run_until_idle()
    api = httpx.Client(base_url=server.url, timeout=10)

    base = f"/api/v1/events/{sent['error_id']}/attachments"
    listed = api.get(base).json()["attachments"]
    assert {(a["filename"], a["content_type"]) for a in listed} == {
        ("cart.json", "application/json"),
        ("../../etc/passwd", "application/octet-stream"),
        ("dump.bin", "application/octet-stream"),
    }
    cart = api.get(f"{base}/cart.json")
    assert cart.headers["content-type"] == "application/octet-stream"
    assert json.loads(cart.content) == {"items": 3, "total": 62.5, "password": "[Filtered]"}
    assert api.get(f"{base}/dump.bin").content == BIG
    hostile = api.get(f"{base}/..%2F..%2Fetc%2Fpasswd")
    assert hostile.content == b"<script>alert(1)</script>"
    assert hostile.headers["content-type"] == "application/octet-stream"
    assert hostile.headers["x-content-type-options"] == "nosniff"
    assert hostile.headers["content-disposition"].startswith('attachment; filename="passwd"')

    found = api.get("/api/v1/feedback", params={"order_id": sent["order_id"]}).json()["feedback"]
    by_source = {f["source"]: f for f in found}
    assert set(by_source) == {"feedback", "user_report"}
    said = by_source["feedback"]
    assert said["event_id"] == sent["feedback_id"]
    assert said["message"] == "I was charged but the order failed"
    assert (said["associated_event_id"], said["trace_id"]) == (sent["error_id"], sent["trace_id"])
    assert said["order_id"] == sent["order_id"]
    assert by_source["user_report"]["message"] == "Same here"
    page = api.get(f"/orders/{sent['order_id']}")
    assert "I was charged but the order failed" in page.text and "Same here" in page.text
