"""OTLP from clients nobody here wrote, against a real `sentrail serve`: the OpenTelemetry SDK
with its protobuf and JSON exporters (traces and logs), continuing a trace that a Sentry SDK
started; and sentry-python's `OTLPIntegration` pointed at a sentrail DSN. Spans, logs and
exception events are stored and joined to the order; the mixed trace is one waterfall."""

import time
import uuid
from typing import Any

import httpx
import pytest

from bench.server import Server
from tests.conftest import ProjectKey
from tests.e2e.clients import run_client


def wait_for_order(api: httpx.Client, order_id: str, status: str, timeout: float = 30) -> Any:
    """The order once the server's correlator has built it with `status`."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/api/v1/orders/{order_id}")
        if response.status_code == 200 and response.json()["status"] == status:
            return response.json()
        assert time.monotonic() < deadline, response.text
        time.sleep(0.2)


@pytest.mark.parametrize("mode", ["protobuf", "json"])
def test_an_opentelemetry_service_joins_the_trace_and_the_order_of_a_sentry_one(
    server: Server, shop: ProjectKey, mode: str
) -> None:
    order = str(uuid.uuid4())
    dsn = server.dsn(shop.id, shop.key)
    caller = run_client("sentry_otlp_client.py", "caller", dsn, order)
    sent = run_client(
        "otel_client.py", mode, server.url, str(shop.id), shop.key, order,
        caller["traceparent"], "1",
    )  # fmt: skip
    # The spans in one export, the log records in another (batch processors, flushed at
    # shutdown): both acknowledged, so everything is stored.
    assert sent["results"] == ["SUCCESS", "SUCCESS"]
    api = httpx.Client(base_url=server.url, timeout=10)

    trace = api.get(f"/api/v1/traces/{caller['trace_id']}").json()
    spans = {s["span_id"]: s for s in trace["spans"]}
    assert set(spans) == {caller["segment"], caller["call"], sent["server"], sent["call"]}
    ship, book = spans[sent["server"]], spans[sent["call"]]
    assert (ship["service"], ship["parent_span_id"], ship["is_segment"]) == (
        "shipping",
        caller["call"],
        True,
    )
    assert (ship["release"], ship["environment"], ship["op"]) == (
        "shipping@3.0.0",
        "e2e",
        "http.server",
    )
    assert (book["parent_span_id"], book["segment_id"], book["status"]) == (
        sent["server"],
        sent["server"],
        "error",
    )
    assert (book["error"], ship["error"]) == (True, True)  # both ended in error
    assert spans[caller["segment"]]["error"] is False
    assert spans[caller["segment"]]["service"] == "order"
    assert {entry["body"] for entry in trace["logs"]} == {
        f"shipping order {order}",
        f"could not ship order {order}",
    }

    detail = wait_for_order(api, order, "failed")
    assert detail["failed_service"] == "shipping"
    assert {"order", "shipping"} <= set(detail["services"])
    assert detail["trace_ids"] == [caller["trace_id"]]
    assert detail["span_count"] == 4
    errors = [e for e in detail["events"] if e["type"] == "error"]
    assert {e["service"] for e in errors} == {"shipping"}
    assert any(
        e["title"] == f"ConnectionError: carrier unreachable for order {order}" for e in errors
    )
    assert {entry["body"] for entry in detail["logs"]} >= {f"could not ship order {order}"}


def test_sentry_python_otlp_integration_exports_to_a_sentrail_dsn(
    server: Server, shop: ProjectKey
) -> None:
    order = str(uuid.uuid4())
    sent = run_client("sentry_otlp_client.py", "otlp", server.dsn(shop.id, shop.key), order)
    api = httpx.Client(base_url=server.url, timeout=10)
    trace = api.get(f"/api/v1/traces/{sent['trace_id']}").json()
    [span] = trace["spans"]
    assert (span["span_id"], span["service"], span["is_segment"], span["name"]) == (
        sent["span_id"],
        "warehouse",
        True,
        "pick parcel",
    )
    detail = wait_for_order(api, order, "failed")
    assert detail["failed_service"] == "warehouse"
    errors = [e for e in detail["events"] if e["type"] == "error"]
    # The exception twice: as the integration captured it (a Sentry event), and as the span's
    # `exception` event arrived over OTLP; both in the span's trace.
    assert {e["trace_id"] for e in errors} == {sent["trace_id"]}
    assert all(e["title"] == f"LookupError: shelf empty for order {order}" for e in errors)
    assert len(errors) == 2
    assert [entry["body"] for entry in detail["logs"]] == [f"picking order {order}"]
