"""Real sentry-python with logs on, in a subprocess, sending to a real `sentrail serve`: the
transaction's spans come back in its trace, the logs in the log list and in the order."""

import time
from typing import Any

import httpx

from bench.server import Server
from tests.conftest import ProjectKey
from tests.e2e.clients import run_client


def wait_for_order(api: httpx.Client, order_id: str, timeout: float = 20) -> Any:
    """The order once the server's correlator has built it and its error has failed it."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/api/v1/orders/{order_id}")
        if response.status_code == 200 and response.json()["status"] == "failed":
            return response.json()
        assert time.monotonic() < deadline, response.text
        time.sleep(0.2)


def test_spans_and_logs_of_a_real_sdk_come_back_through_the_api(
    server: Server, shop: ProjectKey
) -> None:
    sent = run_client("sdk_logs_client.py", server.dsn(shop.id, shop.key))
    api = httpx.Client(base_url=server.url, timeout=10)

    trace = api.get(f"/api/v1/traces/{sent['trace_id']}").json()
    spans = {s["span_id"]: s for s in trace["spans"]}
    assert set(spans) == {sent["segment"], sent["db_span"], sent["http_span"]}
    assert spans[sent["segment"]]["is_segment"] is True
    assert spans[sent["segment"]]["name"] == "payment.charge"
    for child, (op, name) in (
        ("db_span", ("db", "select card")),
        ("http_span", ("http.client", "POST /charge")),
    ):
        assert (spans[sent[child]]["op"], spans[sent[child]]["name"]) == (op, name)
        assert spans[sent[child]]["parent_span_id"] == sent["segment"]
        assert spans[sent[child]]["service"] == "payment"
    assert {entry["level"] for entry in trace["logs"]} == {"info", "error"}

    order = sent["order_id"]
    listed = api.get("/api/v1/logs", params={"order_id": order}).json()["logs"]
    assert {entry["body"] for entry in listed} == {
        f"charging order {order}",
        f"charge failed for order {order}",
    }
    info = next(entry for entry in listed if entry["level"] == "info")
    assert info["template"] == "charging order {order_id}"
    assert (info["service"], info["release"], info["environment"]) == (
        "payment",
        "e2e-logs-1",
        "e2e",
    )
    assert info["trace_id"] == sent["trace_id"]

    # The error entry is also an error event: it fails the order, at payment.
    detail = wait_for_order(api, order)
    assert detail["failed_service"] == "payment"
    assert {entry["body"] for entry in detail["logs"]} == {entry["body"] for entry in listed}
    assert detail["span_count"] == 3
