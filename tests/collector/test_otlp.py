"""OTLP/HTTP traces and logs through the real ingest path, on both backends: mapping into the
span and log store, the error events of exceptions, the answers the OTLP specification asks
for, and hostile input (a clear 4xx or a partial success, never a 5xx)."""

import gzip
import uuid

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from sqlalchemy import select

from collector.limits import MAX_ENVELOPE_ENTRIES
from collector.settings import CollectorSettings
from store.engine import Database
from store.models import CorrelationKey, Event, Issue, LogEntry, LogKey, Span, SpanKey
from tests.collector import otlp_payloads as otlp
from tests.collector.otlp_payloads import CHILD_ID, GRANDCHILD_ID, ROOT_ID, TRACE_ID
from tests.conftest import ProjectKey

PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


def export(
    client: TestClient,
    project: ProjectKey,
    body: bytes,
    signal: str = "traces",
    *,
    plain: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    path = f"/v1/{signal}" if plain else f"/api/{project.id}/integration/otlp/v1/{signal}/"
    sent = {**PROTOBUF, **project.auth, **(headers or {})}
    return client.post(path, content=body, headers=sent)


def traces_answer(response: httpx.Response) -> ExportTraceServiceResponse:
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse()
    answer.ParseFromString(response.content)
    return answer


def status_of(response: httpx.Response) -> tuple[int, str]:
    """The google.rpc.Status of an OTLP error answer (protobuf: field 1 code, 2 message)."""
    from google.rpc.status_pb2 import Status  # googleapis-common-protos, with the exporter

    status = Status()
    status.ParseFromString(response.content)
    return status.code, status.message


def spans_of(database: Database) -> dict[str, Span]:
    with database.sessions() as session:
        return {s.span_id: s for s in session.scalars(select(Span))}


def test_protobuf_traces_are_stored_as_spans_of_the_resource_service(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    order = str(uuid.uuid4())
    answer = traces_answer(export(client, project, otlp.traces(otlp.shipment_trace(order))))
    assert not answer.HasField("partial_success")
    stored = spans_of(database)
    root, child, db = stored[ROOT_ID], stored[CHILD_ID], stored[GRANDCHILD_ID]
    assert {s.trace_id for s in stored.values()} == {TRACE_ID}
    assert (root.service, root.release, root.environment) == (
        "shipping",
        "shipping@2.1.0",
        "production",
    )
    assert (root.is_segment, root.op, root.status, root.name) == (
        True,
        "http.server",
        "ok",
        "POST /ship",
    )
    assert (child.parent_span_id, child.segment_id, child.is_segment) == (ROOT_ID, ROOT_ID, False)
    assert (db.segment_id, db.op, db.attributes["otel.kind"]) == (ROOT_ID, "db", "client")
    assert child.attributes["otel.links"] == [f"{otlp.LINKED_TRACE}-{otlp.LINKED_SPAN}"]
    assert child.attributes["parcel.size"] == 3
    assert round(root.duration_ms) == 50
    with database.sessions() as session:
        [tx] = session.scalars(select(Event))
        keys = {(k.name, k.value) for k in session.scalars(select(SpanKey))}
    assert (tx.type, tx.service, tx.trace_id, tx.span_id) == (
        "transaction",
        "shipping",
        TRACE_ID,
        ROOT_ID,
    )
    assert keys == {("order_id", order)}


def test_an_exception_span_event_is_an_error_event_of_the_service(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    order = str(uuid.uuid4())
    body = otlp.traces(otlp.shipment_trace(order, fail=True))
    traces_answer(export(client, project, body))
    assert spans_of(database)[ROOT_ID].status == "error"
    with database.sessions() as session:
        [error] = session.scalars(select(Event).where(Event.type == "error"))
        keys = {(k.name, k.value) for k in session.scalars(select(CorrelationKey))}
        [issue] = session.scalars(select(Issue))
    assert (error.service, error.level, error.trace_id, error.span_id, error.release) == (
        "shipping",
        "error",
        TRACE_ID,
        ROOT_ID,
        "shipping@2.1.0",
    )
    assert error.title.startswith("CarrierUnavailable: no carrier for order")
    assert error.handled is False
    assert ("order_id", order) in keys
    assert issue.type == "error"
    # A replay stores no second error.
    traces_answer(export(client, project, body))
    with database.sessions() as session:
        assert len(session.scalars(select(Event).where(Event.type == "error")).all()) == 1


def test_json_traces_gzip_and_the_plain_path(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    order = str(uuid.uuid4())
    document = otlp.as_json(otlp.traces(otlp.shipment_trace(order)), ExportTraceServiceRequest)
    assert document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] == TRACE_ID
    response = export(
        client,
        project,
        gzip.compress(orjson.dumps(document)),
        plain=True,
        headers={**JSON, "content-encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    stored = spans_of(database)
    assert set(stored) == {ROOT_ID, CHILD_ID, GRANDCHILD_ID}
    assert stored[CHILD_ID].segment_id == ROOT_ID
    assert stored[ROOT_ID].service == "shipping"


def test_logs_are_stored_with_levels_and_an_error_log_is_an_error_event(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    order = str(uuid.uuid4())
    body = otlp.logs(
        [
            otlp.log_record(f"shipping order {order}", 9, order_id=order),
            otlp.log_record("carrier down", 17, order_id=order),
            otlp.log_record("outside any trace", 13, trace=False),
        ]
    )
    response = export(client, project, body, "logs")
    assert response.status_code == 200, response.content
    answer = ExportLogsServiceResponse()
    answer.ParseFromString(response.content)
    assert not answer.HasField("partial_success")
    with database.sessions() as session:
        entries = {e.body: e for e in session.scalars(select(LogEntry))}
        [error] = session.scalars(select(Event))
        log_keys = {(k.name, k.value) for k in session.scalars(select(LogKey))}
    info, bad, loose = (
        entries[f"shipping order {order}"],
        entries["carrier down"],
        entries["outside any trace"],
    )
    assert (info.level, info.service, info.release, info.trace_id, info.span_id) == (
        "info",
        "shipping",
        "shipping@2.1.0",
        TRACE_ID,
        ROOT_ID,
    )
    assert (bad.level, loose.level, loose.environment) == ("error", "warn", "production")
    assert loose.trace_id is not None and loose.trace_id != TRACE_ID
    assert (error.service, error.level, error.message) == ("shipping", "error", "carrier down")
    assert log_keys == {("order_id", order)}


def test_json_logs(client: TestClient, project: ProjectKey, database: Database) -> None:
    body = otlp.logs([otlp.log_record("json log", 5)])
    document = otlp.as_json(body, ExportLogsServiceRequest)
    response = export(client, project, orjson.dumps(document), "logs", headers=JSON)
    assert response.status_code == 200, response.text
    with database.sessions() as session:
        [entry] = session.scalars(select(LogEntry))
    assert (entry.body, entry.level, entry.trace_id) == ("json log", "debug", TRACE_ID)


def test_the_key_decides_the_project_on_the_plain_path(
    client: TestClient, project: ProjectKey
) -> None:
    body = otlp.traces(otlp.shipment_trace("o-1"))
    wrong = {"X-Sentry-Auth": "sentry sentry_key=" + "0" * 32}
    assert export(client, project, body, plain=True, headers=wrong).status_code == 403
    response = client.post("/v1/traces", content=body, headers=PROTOBUF)
    assert response.status_code == 401
    assert status_of(response) == (16, "missing authentication: no sentry_key given")
    sentry_path = export(client, project, body, headers=wrong)
    assert sentry_path.status_code == 403


def test_scrubbing_applies_to_attributes_and_exceptions(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    root = otlp.span(ROOT_ID, "login", attrs={"password": "hunter2", "card": "4111111111111111"})
    otlp.exception_event(root, "LoginError", "card 4111 1111 1111 1111 refused")
    traces_answer(export(client, project, otlp.traces([root])))
    stored = spans_of(database)[ROOT_ID]
    assert stored.attributes["password"] == "[Filtered]"
    assert "4111111111111111" not in orjson.dumps(stored.attributes).decode()
    with database.sessions() as session:
        [error] = session.scalars(select(Event).where(Event.type == "error"))
    assert "4111" not in error.title


# Hostile input: a clear 4xx, or a partial success naming what was rejected; never a 5xx.


def test_malformed_protobuf_and_json_are_400(client: TestClient, project: ProjectKey) -> None:
    response = export(client, project, b"\x0a\xff\xff\xff\xff\x0f garbage")
    assert response.status_code == 400
    code, message = status_of(response)
    assert code == 3 and message.startswith("malformed OTLP protobuf")
    for body in (b"{not json", b"[1, 2]", b'{"resourceSpans": 7}'):
        answer = export(client, project, body, headers=JSON)
        assert answer.status_code == 400, body
        assert answer.json()["message"].startswith("malformed OTLP JSON")


def test_wrong_content_type_is_415(client: TestClient, project: ProjectKey) -> None:
    body = otlp.traces(otlp.shipment_trace("o-1"))
    response = export(client, project, body, headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert "application/x-protobuf" in status_of(response)[1]


def test_a_decompression_bomb_and_an_oversized_body_are_413(
    client: TestClient, project: ProjectKey
) -> None:
    bomb = gzip.compress(b"\0" * (30 * 1024 * 1024))
    response = export(client, project, bomb, headers={"content-encoding": "gzip"})
    assert response.status_code == 413
    assert "decompresses to more than" in status_of(response)[1]
    oversized = b"\0" * (21 * 1024 * 1024)
    assert export(client, project, oversized).status_code == 413
    truncated = gzip.compress(otlp.traces(otlp.shipment_trace("o-1")))[:-20]
    assert (
        export(client, project, truncated, headers={"content-encoding": "gzip"}).status_code == 400
    )


def test_ten_thousand_attributes_are_a_partial_success(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    many = {f"attribute.{i}": i for i in range(10_000)}
    root = otlp.span(ROOT_ID, "crowded", attrs={"order_id": "o-1", **many})
    answer = traces_answer(export(client, project, otlp.traces([root])))
    assert answer.partial_success.rejected_spans == 0
    assert "attributes over the limit dropped" in answer.partial_success.error_message
    stored = spans_of(database)[ROOT_ID]
    assert len(stored.attributes) == 256 and stored.attributes["order_id"] == "o-1"
    assert stored.service == "shipping"


def test_invalid_spans_are_rejected_by_count(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    good = otlp.span(ROOT_ID, "good")
    no_ids = otlp.span(CHILD_ID, "no ids")
    no_ids.trace_id = b"\0" * 16
    short = otlp.span(GRANDCHILD_ID, "short id")
    short.span_id = b"\x01\x02"
    answer = traces_answer(export(client, project, otlp.traces([good, no_ids, short])))
    assert answer.partial_success.rejected_spans == 2
    assert "2 invalid span" in answer.partial_success.error_message
    assert set(spans_of(database)) == {ROOT_ID}


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    size, length = bytearray(), len(payload)
    while True:
        bits, length = length & 0x7F, length >> 7
        size.append(bits | (0x80 if length else 0))
        if not length:
            break
    return bytes([number << 3 | 2]) + bytes(size) + payload


def _nested_attribute_request(levels: int) -> bytes:
    """A request of one span with an attribute of `levels` nested arrays, encoded by hand:
    the protobuf classes refuse to build what their parser would refuse."""
    value = AnyValue(string_value="leaf").SerializeToString()
    for _ in range(levels):
        value = _field(5, _field(1, value))  # AnyValue.array_value.values
    attribute = _field(1, b"deep") + _field(2, value)
    span = otlp.span(ROOT_ID, "deep").SerializeToString() + _field(9, attribute)
    return _field(1, _field(2, _field(2, span)))


def test_deeply_nested_values_and_too_many_spans(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    traces_answer(export(client, project, _nested_attribute_request(40)))
    [stored] = spans_of(database)[ROOT_ID].attributes["deep"]
    assert stored == '[[[[[[["[Trimmed: nested deeper than 8 levels]"]]]]]]]'
    response = export(client, project, _nested_attribute_request(5000))
    assert response.status_code == 400
    assert status_of(response)[1].startswith("malformed OTLP protobuf")
    crowd = [otlp.span(f"{i + 1:016x}", "s") for i in range(MAX_ENVELOPE_ENTRIES + 1)]
    response = export(client, project, otlp.traces(crowd))
    assert response.status_code == 413
    assert "more than 10000 spans" in status_of(response)[1]


@pytest.mark.parametrize("collector_settings", [CollectorSettings(rate_limit_per_minute=1)])
def test_the_rate_limit_applies(client: TestClient, project: ProjectKey) -> None:
    body = otlp.traces(otlp.shipment_trace("o-1"))
    assert export(client, project, body).status_code == 200
    refused = export(client, project, body)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert status_of(refused)[0] == 8


def test_odd_values_are_stored_or_refused_never_a_500(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    odd = {"nan": float("nan"), "inf": float("inf"), "nul\x00name": "nul\x00value"}
    root = otlp.span(ROOT_ID, "odd\x00name", attrs=odd)
    otlp.exception_event(root, "Nul\x00Error", "message with \x00 inside")
    traces_answer(export(client, project, otlp.traces([root])))
    stored = spans_of(database)[ROOT_ID]
    assert stored.name == "oddname" and stored.attributes["nulname"] == "nulvalue"
    with database.sessions() as session:
        [error] = session.scalars(select(Event).where(Event.type == "error"))
    assert "\x00" not in error.title
    # Invalid UTF-8 in a protobuf string field is malformed protobuf.
    bad = otlp.traces([otlp.span(CHILD_ID, "NAME")]).replace(b"NAME", b"N\xffME")
    assert export(client, project, bad).status_code == 400
    # JSON nested past the parser's limits.
    deep = b'{"resourceSpans": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert export(client, project, deep, headers=JSON).status_code == 400


def test_a_log_level_from_its_text_when_it_has_no_number(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    records = [otlp.log_record("by text", 0), otlp.log_record("unknown text", 0)]
    records[0].severity_text, records[1].severity_text = "WARNING", "NOTICE"
    response = export(client, project, otlp.logs(records), "logs")
    assert response.status_code == 200, response.content
    with database.sessions() as session:
        levels = {e.body: e.level for e in session.scalars(select(LogEntry))}
    assert levels == {"by text": "warn", "unknown text": "info"}
