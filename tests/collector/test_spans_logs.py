"""Span v2 and log items through the real ingest path, on both backends."""

import uuid
from datetime import UTC, datetime

import httpx
import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select

from collector.batch import IngestBatch
from collector.limits import MAX_ATTRIBUTES, MAX_ITEM_ENTRIES, MAX_LOG_BODY
from collector.logs import read_log_items
from collector.persist import write_batches
from collector.spans import read_span_items
from rules.config import current_rules
from rules.extract import KeyExtractor
from store.engine import Database
from store.models import Event, LogEntry, LogKey, Span, SpanKey
from tests.collector.envelopes import envelope_bytes, event
from tests.collector.telemetry_payloads import (
    CHILD_ID,
    SEGMENT_ID,
    TRACE_ID,
    envelope,
    item,
    log,
    spans,
)
from tests.collector.test_endpoints import count, post
from tests.conftest import ProjectKey


def outcomes(client: TestClient) -> set[tuple[str, str, str, int]]:
    found = client.get("/api/v1/outcomes").json()["outcomes"]
    return {(o["outcome"], o["category"], o["reason"], o["quantity"]) for o in found}


def ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


def test_span_v2_item_is_stored_and_its_segment_is_a_transaction(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    order = str(uuid.uuid4())
    response = post(client, project, envelope(item("span", spans(order_id=order))))
    ok(response)
    assert response.json() == {}
    with database.sessions() as session:
        stored = {s.span_id: s for s in session.scalars(select(Span))}
        [tx] = session.scalars(select(Event))
        keys = {(k.name, k.value, k.carrier) for k in session.scalars(select(SpanKey))}
    segment, child = stored[SEGMENT_ID], stored[CHILD_ID]
    assert (segment.is_segment, segment.segment_id, segment.parent_span_id) == (
        True,
        SEGMENT_ID,
        None,
    )
    assert (child.parent_span_id, child.segment_id, child.op, child.name) == (
        SEGMENT_ID,
        SEGMENT_ID,
        "code",
        "app.handle",
    )
    assert (segment.service, segment.release, segment.environment) == (
        "orange.local",
        "1.0.0",
        "local",
    )
    assert round(segment.duration_ms, 3) == 22.327
    assert segment.attributes["http.response.status_code"] == 200
    assert (tx.type, tx.transaction, tx.op, tx.trace_id, tx.span_id, tx.source) == (
        "transaction",
        "GET /users",
        "http.server",
        TRACE_ID,
        SEGMENT_ID,
        "span",
    )
    assert tx.issue_id is None and tx.service == "orange.local"
    assert keys == {("order_id", order, "attribute:order_id")}
    assert outcomes(client) == {("accepted", "span", "stored", 2)}


def test_a_replayed_span_item_stores_nothing_twice(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    body = envelope(item("span", spans(order_id=str(uuid.uuid4()))))
    for _ in range(2):
        ok(post(client, project, body))
    assert (count(database, Span), count(database, SpanKey), count(database, Event)) == (2, 2, 1)
    # Outcomes count what arrived: both deliveries.
    assert outcomes(client) == {("accepted", "span", "stored", 4)}


def test_log_items_are_stored_and_error_logs_are_error_events(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    order = str(uuid.uuid4())
    entries = [
        log(),
        log(level="warn", body=f"retrying order {order}"),
        log(level="error", body="card declined", attributes={"order_id": order}),
    ]
    body = envelope(item("log", entries), item("log", [log(level="fatal", body="gone")]))
    ok(post(client, project, body))
    ok(post(client, project, body))  # a replay: stored once
    with database.sessions() as session:
        rows = {row.body: row for row in session.scalars(select(LogEntry))}
        events = list(session.scalars(select(Event).order_by(Event.level)))
        keys = {(k.value, k.carrier) for k in session.scalars(select(LogKey))}
    assert set(rows) == {"User John has logged in!", f"retrying order {order}", "card declined",
                         "gone"}  # fmt: skip
    example = rows["User John has logged in!"]
    assert (example.level, example.template, example.parameters) == (
        "info",
        "User %s has logged in!",
        ["John"],
    )
    assert (example.trace_id, example.span_id, example.release, example.environment) == (
        "5b8efff798038103d269b633813fc60c",
        "b0e6f15b45c36b12",
        "1.0.0",
        "production",
    )
    assert [(e.type, e.level, e.message, e.source, e.issue_id) for e in events] == [
        ("default", "error", "card declined", "log", None),
        ("default", "fatal", "gone", "log", None),
    ]
    assert keys == {(order, "log body"), (order, "attribute:order_id")}
    assert outcomes(client) == {("accepted", "log_item", "stored", 8)}


def test_invalid_entries_are_dropped_and_counted_the_rest_kept(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    no_trace = {k: v for k, v in log().items() if k != "trace_id"}
    bad_spans = [*spans(), "not a span", {"span_id": "x"}]
    sent = event()
    body = envelope(
        item("log", [log(), 42, no_trace, log(level="loud")]),
        item("span", bad_spans),
        b'{"type":"log","item_count":7}\n{"items": [',  # not JSON: the whole item, as counted
        b'{"type":"span","item_count":3}\n{"spans": []}',  # no `items`
        envelope_bytes(sent).split(b"\n", 1)[1].rstrip(b"\n"),
    )
    response = post(client, project, body)
    ok(response)
    assert response.json() == {"id": sent["event_id"]}
    assert (count(database, LogEntry), count(database, Span)) == (1, 2)
    assert outcomes(client) == {
        ("accepted", "log_item", "stored", 1),
        ("invalid", "log_item", "invalid log entry", 3),
        ("invalid", "log_item", "invalid item", 7),
        ("accepted", "span", "stored", 2),
        ("invalid", "span", "invalid span", 2),
        ("invalid", "span", "invalid item", 3),
    }


def test_caps_cut_bodies_and_attributes_and_count_what_they_cut(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    many = {f"a{i}": i for i in range(MAX_ATTRIBUTES + 44)}
    long_body = "é" * MAX_LOG_BODY
    entries = [log(body=long_body), log(attributes=many), log(attributes={"x": "v" * 5000})]
    ok(post(client, project, envelope(item("log", entries))))
    with database.sessions() as session:
        rows = sorted(session.scalars(select(LogEntry)), key=lambda r: (len(r.attributes), r.id))
    cut = [r for r in rows if r.body != "User John has logged in!"]
    assert [len(r.body.encode()) for r in cut] == [MAX_LOG_BODY]
    assert max(len(r.attributes) for r in rows) == MAX_ATTRIBUTES
    assert [len(r.attributes["x"]) for r in rows if "x" in r.attributes] == [1024]
    assert outcomes(client) == {
        ("accepted", "log_item", "stored", 3),
        ("truncated", "log_item", f"body over {MAX_LOG_BODY} bytes cut", 1),
        # the example's own five attributes count towards the bound
        ("truncated", "log_item", "attributes over the limit dropped", 49),
        ("truncated", "log_item", "attribute values cut", 1),
    }


def test_too_many_entries_is_413_for_the_envelope(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    body = envelope(item("log", [log()] * (MAX_ITEM_ENTRIES + 1)))
    response = post(client, project, body)
    assert response.status_code == 413
    assert "1000 entries" in response.json()["detail"]
    many_items = envelope(*[item("log", [log(body=str(i))] * 1000) for i in range(11)])
    assert post(client, project, many_items).status_code == 413
    assert count(database, LogEntry) == 0


def test_a_transaction_and_its_child_spans_are_spans(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    trace = uuid.uuid4().hex
    tx = event(
        type="transaction",
        transaction="checkout",
        level="info",
        start_timestamp="2026-11-27T10:00:00.000Z",
        timestamp="2026-11-27T10:00:00.500Z",
        contexts={"trace": {"trace_id": trace, "span_id": "a" * 16, "op": "http.server"}},
        spans=[
            {
                "span_id": "b" * 16,
                "parent_span_id": "a" * 16,
                "op": "db",
                "description": "select order",
                "start_timestamp": "2026-11-27T10:00:00.100Z",
                "timestamp": "2026-11-27T10:00:00.200Z",
                "status": "ok",
                "data": {"order_id": "o-7"},
            },
            {"span_id": "nope"},
        ],
    )
    ok(post(client, project, envelope_bytes(tx)))
    with database.sessions() as session:
        stored = {s.span_id: s for s in session.scalars(select(Span))}
        keys = {(k.value, k.carrier) for k in session.scalars(select(SpanKey))}
    assert set(stored) == {"a" * 16, "b" * 16}
    root, child = stored["a" * 16], stored["b" * 16]
    assert (root.is_segment, root.name, root.op, root.duration_ms) == (
        True,
        "checkout",
        "http.server",
        500.0,
    )
    assert (child.parent_span_id, child.segment_id, child.service, child.trace_id) == (
        "a" * 16,
        "a" * 16,
        "payment",
        trace,
    )
    assert round(child.duration_ms) == 100
    assert keys == {("o-7", "attribute:order_id")}
    assert outcomes(client) == {
        ("accepted", "span", "stored", 2),
        ("invalid", "span", "invalid span", 1),
    }


def test_attributes_and_bodies_are_scrubbed(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    entry = log(body="paid with 4111111111111111", attributes={"password": "hunter2"})
    ok(post(client, project, envelope(item("log", [entry]))))
    with database.sessions() as session:
        [row] = session.scalars(select(LogEntry))
    assert "4111111111111111" not in row.body
    assert row.attributes["password"] == "[Filtered]"
    assert "hunter2" not in orjson.dumps(row.attributes).decode()


def test_a_transaction_keeps_its_first_1000_child_spans(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    children = [
        {
            "span_id": f"abcdefabcdef{i:04x}",
            "op": "db",
            "start_timestamp": "2026-11-27T10:00:00.100Z",
        }
        for i in range(1, MAX_ITEM_ENTRIES + 6)
    ]
    tx = event(
        type="transaction",
        transaction="bulk",
        start_timestamp="2026-11-27T10:00:00.000Z",
        contexts={"trace": {"trace_id": uuid.uuid4().hex, "span_id": "a" * 16}},
        spans=children,
    )
    ok(post(client, project, envelope_bytes(tx)))
    assert count(database, Span) == MAX_ITEM_ENTRIES + 1  # and the transaction itself
    assert outcomes(client) == {
        ("accepted", "span", "stored", MAX_ITEM_ENTRIES + 1),
        ("truncated", "span", f"spans over {MAX_ITEM_ENTRIES} per transaction dropped", 5),
    }


def _browser_span(span_id: str, op: str, segment: str, **attributes: str) -> dict[str, object]:
    """A span as @sentry/browser 11 streams it (observed): no kind, no service attribute."""
    typed = {name: {"value": value, "type": "string"} for name, value in attributes.items()}
    return {
        "trace_id": TRACE_ID,
        "span_id": span_id,
        **({"parent_span_id": segment} if span_id != segment else {}),
        "name": attributes.get("server.address", op),
        "status": "ok",
        "is_segment": span_id == segment,
        "start_timestamp": 1742921669.1,
        "end_timestamp": 1742921669.2,
        "attributes": {
            "sentry.op": {"value": op, "type": "string"},
            "sentry.segment.id": {"value": segment, "type": "string"},
            **typed,
        },
    }


def test_server_address_of_a_client_call_is_its_peer_not_the_spans_service(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    """The browser's fetch and resource spans name the host they called in `server.address`,
    and a fetch outside any span is a segment of its own: none of them is that host's span.
    A span of kind server keeps its own address as its service."""
    pageload, fetch, resource, alone, node = (uuid.uuid4().hex[:16] for _ in range(5))
    entries = [
        _browser_span(pageload, "pageload", pageload),
        _browser_span(fetch, "http.client", pageload, **{"server.address": "api.shop.test"}),
        _browser_span(resource, "resource.script", pageload, **{"server.address": "cdn.test:80"}),
        _browser_span(alone, "http.client", alone, **{"server.address": "api.shop.test"}),
        _browser_span(node, "http.client", pageload, **{"server.address": "payment.internal"}),
    ]
    entries[-1]["attributes"]["sentry.kind"] = {"value": "client", "type": "string"}  # type: ignore[index]
    ok(post(client, project, envelope(item("span", entries), item("span", spans()))))
    with database.sessions() as session:
        service = {s.span_id: s.service for s in session.scalars(select(Span))}
        segments = {e.span_id: e.service for e in session.scalars(select(Event))}
    assert {service[s] for s in (pageload, fetch, resource, alone, node)} == {None}
    assert segments[alone] is None and segments[pageload] is None
    assert service[SEGMENT_ID] == service[CHILD_ID] == "orange.local"  # PHP: kind server


def test_a_group_of_new_and_replayed_entries_keys_only_the_new_rows_each_its_own(
    database: Database, project: ProjectKey
) -> None:
    """The writer's group holds replays beside new entries: each new row gets its own keys
    (SQLite knows the new ids without RETURNING, collector/persist_telemetry.py), a replayed
    row no second set."""
    extractor = KeyExtractor(current_rules())
    now = datetime.now(UTC)

    def batch(order: str, trace: str, body: str) -> IngestBatch:
        found = IngestBatch(project.id)
        entries = spans(order_id=order)
        for entry in entries:
            entry["trace_id"] = trace
        read_span_items(found, entries, now, extractor)
        read_log_items(found, [log(body=body, attributes={"order_id": order})], now, extractor)
        return found

    orders = [str(uuid.uuid4()) for _ in range(3)]
    traces = [f"{n:032x}" for n in range(1, 4)]
    first = batch(orders[0], traces[0], "first")
    with database.writing() as connection, connection.begin():
        write_batches(connection, [first], {})
    group = [batch(orders[1], traces[1], "second"), first, batch(orders[2], traces[2], "third")]
    with database.writing() as connection, connection.begin():
        write_batches(connection, group, {})
    with database.sessions() as session:
        span_keys = session.execute(
            select(Span.trace_id, SpanKey.value).join(SpanKey, SpanKey.span_row_id == Span.id)
        ).all()
        log_keys = session.execute(
            select(LogEntry.body, LogKey.value).join(LogKey, LogKey.log_row_id == LogEntry.id)
        ).all()
    pairs = list(zip(traces, orders, strict=True))
    assert sorted(span_keys) == sorted(pairs * 2)  # two spans a trace, each keyed
    assert sorted(log_keys) == sorted(zip(["first", "second", "third"], orders, strict=True))
