"""The read API's spans and logs: a trace's spans and entries, the filtered log list."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reads import schemas
from reads.logs import MAX_TEXT
from reads.schemas import SpanRow, SpanSummary
from reads.spans import SUMMARY_COLUMNS
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
from tests.collector.test_endpoints import post
from tests.conftest import ProjectKey


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_trace_has_its_spans_linked_and_its_logs(client: TestClient, project: ProjectKey) -> None:
    error = event(contexts={"trace": {"trace_id": TRACE_ID, "span_id": CHILD_ID}})
    entry = log(trace_id=TRACE_ID, span_id=CHILD_ID, body="handling users")
    for body in (
        envelope(item("span", spans()), item("log", [entry])),
        envelope_bytes(error),
    ):
        assert post(client, project, body).status_code == 200
    trace = get(client, f"/api/v1/traces/{TRACE_ID}")
    # the segment became a transaction event; the example spans are older than the error
    assert [e["type"] for e in trace["events"]] == ["transaction", "default"]
    by_id = {s["span_id"]: s for s in trace["spans"]}
    assert [s["span_id"] for s in trace["spans"]] == [SEGMENT_ID, CHILD_ID]
    assert by_id[CHILD_ID]["parent_span_id"] == SEGMENT_ID
    assert (by_id[CHILD_ID]["error"], by_id[SEGMENT_ID]["error"]) == (True, False)
    assert by_id[SEGMENT_ID]["start"].startswith("2025-03-25T16:54:29.158")
    assert (by_id[SEGMENT_ID]["op"], by_id[SEGMENT_ID]["service"]) == (
        "http.server",
        "orange.local",
    )
    assert [(lg["body"], lg["span_id"]) for lg in trace["logs"]] == [("handling users", CHILD_ID)]


def test_a_span_row_holds_the_summary_fields_in_their_order() -> None:
    """The read returns tuples that the columns fill by position and that the API writes
    by the summary's field names."""
    assert SpanRow._fields == tuple(SpanSummary.model_fields)
    assert len(SUMMARY_COLUMNS) == len(SpanRow._fields) - 1  # `error` is not a column
    assert [c.key for c in SUMMARY_COLUMNS] == [
        {"start": "started_at", "end": "ended_at"}.get(name, name) for name in SpanRow._fields[:-1]
    ]


def test_a_trace_is_written_as_its_schema_writes_it() -> None:
    """`trace_json` writes the spans itself: byte for byte what TraceEvents would write,
    whole and fractional milliseconds, text that JSON escapes, a null parent, an error."""
    start = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    rows = [
        SpanRow("a" * 16, None, "a" * 16, True, "shop", "http.server", 'POST /"x"\\\n\u2028é',
                start, start + timedelta(microseconds=1), 0.001, "ok", "1.0", "prod", False),
        SpanRow("b" * 16, "a" * 16, None, False, None, None, "<b>\x00\x1f", start +
                timedelta(milliseconds=12.5), start + timedelta(seconds=3), 2987.5, None, None,
                None, True),
    ]  # fmt: skip
    event = schemas.EventSummary(
        event_id="e" * 32, timestamp=start, service="shop", level="error", type="error",
        title="t", message="m", release=None, environment=None, trace_id="f" * 32, issue_id=3,
    )  # fmt: skip
    entry = schemas.LogSummary(
        id=1, timestamp=start, level="info", severity_number=9, body="b", template="{}",
        parameters=[1.5, "x", None], trace_id="f" * 32, span_id="a" * 16, service=None,
        release=None, environment=None, attributes={"n": 1e-7, "big": 2**53, "s": "\t"},
    )  # fmt: skip
    whole = schemas.TraceEvents(
        trace_id="f" * 32, events=[event], logs=[entry],
        spans=[SpanSummary.model_validate(row._asdict()) for row in rows],
    )  # fmt: skip
    written = schemas.trace_json("f" * 32, [event], rows, [entry])
    assert written == whole.model_dump_json().encode()


def test_a_trace_of_spans_alone_is_found(client: TestClient, project: ProjectKey) -> None:
    child = spans()[1]
    assert post(client, project, envelope(item("span", [child]))).status_code == 200
    trace = get(client, f"/api/v1/traces/{TRACE_ID}")
    assert (trace["events"], [s["span_id"] for s in trace["spans"]]) == ([], [CHILD_ID])
    assert client.get(f"/api/v1/traces/{uuid.uuid4().hex}").status_code == 404


def _send_logs(client: TestClient, project: ProjectKey) -> tuple[str, str]:
    order, trace = str(uuid.uuid4()), uuid.uuid4().hex
    entries = [
        log(body=f"Order {order} CHARGED", attributes={"server.address": "payment"}),
        log(level="warn", trace_id=trace, body="slow", attributes={"sentry.release": "2.0"}),
        log(level="error", body="declined", timestamp=1764237600.0),
        *[log(body=f"noise {i}", attributes={"server.address": "catalog"}) for i in range(5)],
    ]
    assert post(client, project, envelope(item("log", entries))).status_code == 200
    return order, trace


def bodies(client: TestClient, **params: Any) -> list[str]:
    return [entry["body"] for entry in get(client, "/api/v1/logs", **params)["logs"]]


def test_logs_are_listed_newest_first_and_filtered(client: TestClient, project: ProjectKey) -> None:
    order, trace = _send_logs(client, project)
    everything = bodies(client, limit=500)
    assert len(everything) == 8
    assert everything[0] == "declined"  # the newest: a request's entries are stored in time order
    assert bodies(client, level="error") == ["declined"]
    assert bodies(client, service="payment") == [f"Order {order} CHARGED"]
    assert bodies(client, release="2.0") == ["slow"]
    assert bodies(client, trace_id=trace.upper()) == ["slow"]
    assert bodies(client, q="charged") == [f"Order {order} CHARGED"]
    assert bodies(client, q="%") == []  # no wildcard
    assert bodies(client, order_id=order) == [f"Order {order} CHARGED"]
    assert bodies(client, since="2025-12-01T00:00:00Z", until="2025-11-28T00:00:00") == []
    assert bodies(client, since="2025-11-27T00:00:00+00:00", until="2025-11-28") == ["declined"]
    seen: list[str] = []
    cursor = None
    while True:
        page = get(client, "/api/v1/logs", limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [entry["body"] for entry in page["logs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"level": "loud"}, "level must be one of"),
        ({"trace_id": "xyz"}, "trace_id must be 32 hex"),
        ({"since": "yesterday"}, "since must be an ISO 8601 time"),
        ({"limit": "0"}, "limit must be a whole number"),
        ({"limit": "abc"}, "limit must be a whole number"),
        ({"limit": "99999999999999999999"}, "limit must be a whole number"),
        ({"cursor": "abc"}, "invalid cursor"),
        ({"q": "x" * (MAX_TEXT + 1)}, f"q is longer than {MAX_TEXT}"),
    ],
)
def test_bad_log_filters_are_400(client: TestClient, params: dict[str, str], message: str) -> None:
    response = client.get("/api/v1/logs", params=params)
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]
