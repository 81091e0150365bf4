"""OTLP requests built to cost the server: parent cycles, huge free text, many attributes in a
small compressed body, odd log bodies, repeated exceptions and span ids, unknown encodings.
Each is bounded by a count that would fail if the cost came back (no wall-clock assertions)."""

import base64
import gzip
import math

import zstandard
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from sqlalchemy import select

from collector.lanes import LARGE_BODY, LARGE_DECODED_BODY, LargeRequestLane
from collector.limits import MAX_ATTRIBUTES, MAX_LOG_BODY, MAX_SPAN_NAME
from collector.otlp import map_traces
from collector.otlp_mapping import TOO_MANY, Mapped, fill_segments, origin_of, span_entry
from store.engine import Database
from store.models import Event, LogEntry
from tests.collector import otlp_payloads as otlp
from tests.collector.otlp_payloads import CHILD_ID, ROOT_ID
from tests.collector.test_otlp import export, spans_of, status_of, traces_answer
from tests.conftest import ProjectKey

SPANS = 20_000


def _entry(span_id: str, parent: str | None, segment: bool = False) -> dict[str, object]:
    return {"span_id": span_id, "parent_span_id": parent, "is_segment": segment, "attributes": {}}


def test_the_segment_walk_is_linear_on_self_parents_and_cycles() -> None:
    self_parented = [_entry(f"{i:016x}", f"{i:016x}") for i in range(SPANS)]
    assert fill_segments(self_parented) <= 2 * SPANS  # was SPANS * (SPANS + 1)
    assert all("sentry.segment.id" not in e["attributes"] for e in self_parented)
    ring = [_entry(f"{i:016x}", f"{(i + 1) % SPANS:016x}") for i in range(SPANS)]
    assert fill_segments(ring) <= 2 * SPANS
    assert all("sentry.segment.id" not in e["attributes"] for e in ring)
    # A chain under a segment, walked from its leaf first: every span finds the segment.
    chain = [_entry(f"{i:016x}", f"{i - 1:016x}") for i in range(SPANS - 1, 0, -1)]
    chain.append(_entry(f"{0:016x}", None, segment=True))
    assert fill_segments(chain) <= 2 * SPANS
    assert {e["attributes"]["sentry.segment.id"]["value"] for e in chain[:-1]} == {f"{0:016x}"}


def test_self_parented_spans_map_in_linear_steps() -> None:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for i in range(2_000):
        span_id = bytes.fromhex(f"{i + 1:016x}")
        scope.spans.add(trace_id=b"\1" * 16, span_id=span_id, parent_span_id=span_id, name="s")
    mapped = map_traces(request)
    assert fill_segments(mapped.entries) <= 2 * len(mapped.entries)


def test_free_text_is_cut_before_anything_scans_it() -> None:
    huge = "password=x&" * 200_000  # 2.2 MB
    span = otlp.span(ROOT_ID, huge, kind=OtlpSpan.SPAN_KIND_SERVER)
    span.status.message = huge
    link = span.links.add()
    link.trace_id, link.span_id = huge.encode(), huge.encode()
    entry = span_entry(span, origin_of([]), "scope", Mapped())
    assert len(entry["name"]) == MAX_SPAN_NAME
    assert len(entry["attributes"]["otel.status_message"]["value"]) <= 1024
    [linked] = entry["attributes"]["otel.links"]["value"]
    assert len(linked) == 32 + 1 + 16


def test_attributes_are_read_within_the_request_room() -> None:
    mapped = Mapped(attribute_room=3 * MAX_ATTRIBUTES)
    attrs = {f"a{i}": i for i in range(200)}
    entries = [
        span_entry(otlp.span(f"{i + 1:016x}", "s", attrs=attrs), origin_of([]), "", mapped)
        for i in range(5)
    ]
    read = sum(len(e["attributes"]) for e in entries)
    assert read == 3 * MAX_ATTRIBUTES + 5  # + each span's `otel.kind`
    assert mapped.dropped_attributes == 5 * 200 - 3 * MAX_ATTRIBUTES
    assert mapped.attribute_room == 0


def test_values_inside_attributes_take_the_request_room() -> None:
    nested = AnyValue()
    for _ in range(100):
        nested.array_value.values.add().kvlist_value.values.add(
            key="k", value=AnyValue(int_value=1)
        )
    span = otlp.span(ROOT_ID, "s")
    span.attributes.add(key="deep", value=nested)
    mapped = Mapped(attribute_room=50)
    value = span_entry(span, origin_of([]), "", mapped)["attributes"]["deep"]["value"]
    assert len(value) == 49 and set(value) == {TOO_MANY}
    assert mapped.attribute_room == 0


def test_a_small_compressed_body_that_expands_is_large() -> None:
    expanding = zstandard.ZstdCompressor().compress(b"\0" * (20 * 1024 * 1024))
    assert len(expanding) < 16 * 1024
    assert LargeRequestLane.small_body(expanding, "zstd") is None
    too_big = b"\0" * (LARGE_DECODED_BODY + 1)
    assert LargeRequestLane.small_body(gzip.compress(too_big), "gzip") is None
    # An SDK's batch of logs or spans (~100 KiB decoded) stays on the fast path.
    small = b"x" * LARGE_DECODED_BODY
    assert LargeRequestLane.small_body(gzip.compress(small), "gzip") == small
    plain = b"x" * LARGE_BODY  # as sent, a body is small up to LARGE_BODY
    assert LargeRequestLane.small_body(plain, None) == plain
    assert LargeRequestLane.small_body(plain + b"x", None) is None


def test_many_attributes_in_a_small_zstd_body_are_a_partial_success(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    attrs = {f"k{i}": "v" for i in range(200)}
    spans = [otlp.span(f"{i + 1:016x}", "s", attrs=attrs) for i in range(1_500)]
    body = zstandard.ZstdCompressor().compress(otlp.traces(spans))
    answer = traces_answer(export(client, project, body, headers={"content-encoding": "zstd"}))
    assert answer.partial_success.rejected_spans == 0
    assert "attributes over the limit dropped" in answer.partial_success.error_message
    assert len(spans_of(database)) == 1_500


def test_log_bodies_of_bytes_non_finite_doubles_and_a_cut(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    records = []
    for i, body in enumerate(
        [
            AnyValue(bytes_value=b"\0\1binary"),
            AnyValue(double_value=math.nan),
            AnyValue(double_value=math.inf),
            AnyValue(double_value=-math.inf),
            AnyValue(string_value="x" * (1024 * 1024)),
        ]
    ):
        record = otlp.log_record("", 9, n=i)
        record.body.CopyFrom(body)
        records.append(record)
    response = export(client, project, otlp.logs(records), "logs")
    assert response.status_code == 200, response.content
    answer = ExportLogsServiceResponse()
    answer.ParseFromString(response.content)
    assert answer.partial_success.rejected_log_records == 0
    assert f"1 body over {MAX_LOG_BODY} bytes cut" in answer.partial_success.error_message
    with database.sessions() as session:
        bodies = {e.body[:8] for e in session.scalars(select(LogEntry))}
    assert bodies == {
        base64.b64encode(b"\0\1binary").decode()[:8],
        "NaN",
        "Infinity",
        "-Infinit",
        "x" * 8,
    }


def test_exceptions_of_one_span_without_times_are_distinct_events(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    root = otlp.span(ROOT_ID, "POST /ship", kind=OtlpSpan.SPAN_KIND_SERVER, error=True)
    for kind, message in (("Carrier", "down"), ("Carrier", "down"), ("Label", "unreadable")):
        otlp.exception_event(root, kind, message)
    for event in root.events:
        event.time_unix_nano = 0
    body = otlp.traces([root])
    for _ in range(2):  # a replay derives the same ids
        assert export(client, project, body).status_code == 200
    with database.sessions() as session:
        errors = [e for e in session.scalars(select(Event)) if e.type == "error"]
    assert len(errors) == 3  # one each, the two alike too


def test_a_duplicate_span_id_with_other_content_is_rejected(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    first = otlp.span(ROOT_ID, "first")
    same = otlp.span(ROOT_ID, "first")
    same.start_time_unix_nano, same.end_time_unix_nano = (
        first.start_time_unix_nano,
        first.end_time_unix_nano,
    )
    other = otlp.span(ROOT_ID, "second")
    child = otlp.span(CHILD_ID, "child", parent=ROOT_ID)
    answer = traces_answer(export(client, project, otlp.traces([first, same, other, child])))
    assert answer.partial_success.rejected_spans == 1
    assert "1 duplicate span id in request" in answer.partial_success.error_message
    stored = spans_of(database)
    assert set(stored) == {ROOT_ID, CHILD_ID} and stored[ROOT_ID].name == "first"


def test_an_unknown_encoding_is_415_and_metrics_are_404(
    client: TestClient, project: ProjectKey
) -> None:
    body = otlp.traces([otlp.span(ROOT_ID, "s")])
    for encoding in ("compress", "gzip, gzip"):
        response = export(client, project, body, headers={"content-encoding": encoding})
        assert response.status_code == 415
        assert "unsupported content encoding" in status_of(response)[1]
    for path in ("/v1/metrics", f"/api/{project.id}/integration/otlp/v1/metrics"):
        response = client.post(path, content=b"", headers={**project.auth, **otlp_protobuf()})
        assert response.status_code == 404
        assert status_of(response) == (
            5,
            "metrics are not stored: sentrail takes OTLP traces and logs",
        )


def otlp_protobuf() -> dict[str, str]:
    return {"content-type": "application/x-protobuf"}
