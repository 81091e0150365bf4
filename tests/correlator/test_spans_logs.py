"""Journeys that see spans and logs: a service that sends only span v2 items is a hop, an
error log fails the order, info and warn logs never do; an order shows its logs and spans."""

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from rules.config import current_rules
from sentrail.rekey import rekey
from store.engine import Database
from store.models import CorrelationKey, Event
from tests.collector.telemetry_payloads import envelope, item, log
from tests.collector.test_endpoints import post
from tests.conftest import ProjectKey
from tests.correlator.shop_events import BASE, Shop
from tests.correlator.test_worker import correlate, journey, new_ids


def js_spans(order: str, trace: str, seconds: float = 0) -> list[dict[str, Any]]:
    """A browser's checkout as JS SDK 11 streams it: a segment and one child, span v2."""
    start = BASE.timestamp() + seconds
    segment_id, child_id = uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    common = {
        "service.name": {"value": "frontend", "type": "string"},
        "order_id": {"value": order, "type": "string"},
        "sentry.release": {"value": "r1", "type": "string"},
        "sentry.sdk.name": {"value": "sentry.javascript.browser", "type": "string"},
    }
    return [
        {
            "trace_id": trace,
            "span_id": segment_id,
            "name": "checkout",
            "status": "ok",
            "is_segment": True,
            "kind": "server",
            "start_timestamp": start,
            "end_timestamp": start + 0.5,
            "attributes": {**common, "sentry.op": {"value": "pageload", "type": "string"}},
        },
        {
            "trace_id": trace,
            "span_id": child_id,
            "parent_span_id": segment_id,
            "name": "POST /api/order",
            "status": "ok",
            "is_segment": False,
            "kind": "client",
            "start_timestamp": start + 0.05,
            "end_timestamp": start + 0.4,
            "attributes": {**common, "sentry.op": {"value": "http.client", "type": "string"}},
        },
    ]


def service_log(service: str, order: str, trace: str, level: str, body: str) -> dict[str, Any]:
    return log(
        trace_id=trace,
        level=level,
        body=body,
        timestamp=BASE.timestamp() + 1,
        attributes={"server.address": service, "order_id": order},
    )


def test_a_service_that_sends_only_spans_is_a_hop_of_the_journey(
    shop: Shop, client: TestClient, project: ProjectKey, database: Database
) -> None:
    order, trace = new_ids()
    assert post(client, project, envelope(item("span", js_spans(order, trace)))).status_code == 200
    tag = {"order_id": order}
    shop.send(
        shop.transaction("order", 0.1, trace, order),
        shop.message("payment", 1, trace, f"validation successful for order [{order}]", tags=tag),
        shop.message("order", 2, trace, f"shipment successfully requested for order [{order}]"),
        shop.message("shipping", 3, trace, f"order {order} successfully delivered"),
    )
    correlate(database)
    found = journey(database, order)
    assert found.status == "completed"
    assert (found.hops[0]["service"], found.hops[0]["status"]) == ("frontend", "ok")
    assert "frontend" in found.services


def test_an_error_log_fails_the_journey_and_info_or_warn_logs_do_not(
    shop: Shop, client: TestClient, project: ProjectKey, database: Database
) -> None:
    (failing, trace), (waiting, other_trace) = new_ids(), new_ids()
    entries = [
        service_log("payment", failing, trace, "info", "charging card"),
        service_log("payment", failing, trace, "error", "card declined"),
        service_log("payment", waiting, other_trace, "warn", "card check slow"),
        service_log("payment", waiting, other_trace, "info", "card charged"),
    ]
    assert post(client, project, envelope(item("log", entries))).status_code == 200
    shop.send(shop.transaction("order", 0.1, trace, failing))
    shop.send(shop.transaction("order", 0.1, other_trace, waiting))
    correlate(database)
    failed = journey(database, failing)
    assert (failed.status, failed.failed_service, failed.error_count) == ("failed", "payment", 1)
    # The error event made of the log has no issue: the order's pages and the API show it.
    detail = client.get(f"/api/v1/orders/{failing}").json()
    [error] = [e for e in detail["events"] if e["level"] == "error"]
    assert (error["message"], error["issue_id"], error["service"]) == (
        "card declined",
        None,
        "payment",
    )
    for page in (f"/orders/{failing}", f"/traces/{trace}", "/", "/services", "/releases/r1"):
        assert client.get(page).status_code == 200, page
    # Info and warn entries are no events: the order only waits (stalled, as its events are
    # half an hour old), with no error.
    waited = journey(database, waiting)
    assert (waited.status, waited.error_count) == ("stalled", 0)


def test_an_order_shows_its_logs_and_counts_its_spans(
    shop: Shop, client: TestClient, project: ProjectKey, database: Database
) -> None:
    order, trace = new_ids()
    keyed_elsewhere = service_log("shipping", order, uuid.uuid4().hex, "info", "label printed")
    body = envelope(
        item("span", js_spans(order, trace)),
        item("log", [service_log("payment", order, trace, "info", "charged"), keyed_elsewhere]),
    )
    assert post(client, project, body).status_code == 200
    shop.send(shop.transaction("order", 0.1, trace, order))
    correlate(database)
    detail = client.get(f"/api/v1/orders/{order}").json()
    assert {entry["body"] for entry in detail["logs"]} == {"charged", "label printed"}
    # the JS segment and its child, and the order service's transaction as its own segment
    assert detail["span_count"] == 3
    listed = client.get("/api/v1/logs", params={"order_id": order}).json()["logs"]
    assert [entry["body"] for entry in listed] == [entry["body"] for entry in detail["logs"]]


def test_each_log_of_an_order_says_how_it_belongs_to_it(
    shop: Shop, client: TestClient, project: ProjectKey, database: Database
) -> None:
    """By its own key (which attribute), or by being on one of the journey's traces."""
    order, trace = new_ids()
    keyed = service_log("shipping", order, uuid.uuid4().hex, "info", "label printed")
    on_trace = log(trace_id=trace, level="info", body="cache warm", timestamp=BASE.timestamp())
    assert post(client, project, envelope(item("log", [keyed, on_trace]))).status_code == 200
    shop.send(shop.transaction("order", 0.1, trace, order))
    correlate(database)
    joined = {
        e["body"]: e["joined_by"] for e in client.get(f"/api/v1/orders/{order}").json()["logs"]
    }
    assert joined == {
        "label printed": {
            "via": "key", "key": "order_id", "carrier": "attribute:order_id", "overruled": None
        },
        "cache warm": {"via": "trace", "value": trace, "through": None},
    }  # fmt: skip


def test_rebuilding_keys_reads_span_and_log_made_events_as_ingest_did(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    """A span v2 segment and an error log entry are events whose stored payload is the entry:
    re-extracting keys (`sentrail correlate --rebuild`) reads them as ingest did, so their
    keys stay and no key changes."""
    order, trace = new_ids()
    error_log = service_log("payment", order, trace, "error", "card declined")
    sent = envelope(item("span", js_spans(order, trace)), item("log", [error_log]))
    assert post(client, project, sent).status_code == 200
    before = _keys(database)
    assert {(s, n, v) for s, n, v, _ in before} >= {
        ("span", "order_id", order),
        ("log", "order_id", order),
    }
    result = rekey(database, current_rules())
    assert (result.events, result.changed, result.unreadable) == (2, 0, 0)
    assert _keys(database) == before


def _keys(database: Database) -> set[tuple[str, str, str, str]]:
    with database.sessions() as session:
        return {
            (source, name, value, carrier)
            for source, name, value, carrier in session.execute(
                select(
                    Event.source, CorrelationKey.name, CorrelationKey.value, CorrelationKey.carrier
                ).join(CorrelationKey, CorrelationKey.event_row_id == Event.id)
            )
        }
