"""OTLP/HTTP export requests, traces and logs (docs/protocol.md#opentelemetry-otlp): decoded
(protobuf or JSON, any Content-Encoding the envelope takes, under the same caps), mapped to span
v2 and log entries (collector/otlp_mapping.py), scrubbed, and read into an `IngestBatch` by the
readers of the envelope's span and log items; and the answer the OTLP specification asks for.

A span event named `exception` also becomes an error event of the span's service (grouped
into an issue like an SDK's): that is how an OpenTelemetry service fails a journey.
"""

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector.batch import IngestBatch, NormalizedEvent, Outcome
from collector.encodings import ENCODINGS, decode_body, known_encoding
from collector.items import ItemReader
from collector.lanes import lane_reader
from collector.limits import MAX_ENVELOPE_ENTRIES, MAX_ITEM_ENTRIES
from collector.logs import read_log_items
from collector.otlp_mapping import (
    Mapped,
    exceptions_of,
    fill_segments,
    log_entry,
    origin_of,
    span_entry,
)
from collector.spans import read_span_items
from collector.telemetry import derived_event_id, digest_of
from store.errors import BadRequest, PayloadTooLarge, SentrailError

PROTOBUF, JSON = "protobuf", "json"
MEDIA_TYPES = {
    "application/x-protobuf": PROTOBUF,
    "application/protobuf": PROTOBUF,
    "application/json": JSON,
}
ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
MAX_ID_TEXT = 64


class UnsupportedMediaType(SentrailError):
    status_code = 415


@dataclass(frozen=True)
class Signal:
    """What differs between the two signals."""

    name: str
    category: str  # of outcomes
    entries: str  # what the partial success counts, as JSON names it
    request: type[Message]
    response: type[Message]


TRACES = Signal(
    "traces", "span", "rejectedSpans", ExportTraceServiceRequest, ExportTraceServiceResponse
)
LOGS = Signal(
    "logs", "log_item", "rejectedLogRecords", ExportLogsServiceRequest, ExportLogsServiceResponse
)
SIGNALS = {signal.name: signal for signal in (TRACES, LOGS)}


@dataclass(frozen=True)
class Answer:
    """A partial success: how many entries were rejected and why (or a warning: none
    rejected, something cut or dropped)."""

    rejected: int = 0
    message: str = ""


def media_type(content_type: str | None) -> str:
    """PROTOBUF or JSON, from the Content-Type; any other is 415, before the body is read."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind = MEDIA_TYPES.get(media)
    if kind is None:
        raise UnsupportedMediaType(
            f"unsupported content type {media[:100]!r}: OTLP/HTTP takes "
            "application/x-protobuf or application/json"
        )
    return kind


def check_encoding(encoding: str | None) -> None:
    """An encoding decode_body does not know is 415, before the body is read (OTLP clients send
    gzip or none; reading another as identity would answer 400 "malformed protobuf")."""
    if not known_encoding(encoding):
        raise UnsupportedMediaType(
            f"unsupported content encoding {(encoding or '')[:100]!r}: "
            f"OTLP/HTTP here takes {', '.join(ENCODINGS)}"
        )


def read_otlp(
    signal_name: str,
    kind: str,
    project_id: int,
    body: bytes,
    encoding: str | None,
    received_at: datetime,
    reader: ItemReader | None = None,
) -> tuple[IngestBatch, Answer]:
    """The batch of an export request and its answer, with `reader`, or the large-request
    lane's own in its process (collector/lanes.py)."""
    reader = reader or lane_reader()
    signal = SIGNALS[signal_name]
    data = decode_body(body, encoding, reader.settings.max_envelope_bytes)
    request = parse(signal, kind, data)
    batch = IngestBatch(project_id)
    if signal is TRACES:
        assert isinstance(request, ExportTraceServiceRequest)
        mapped = _clean(reader, map_traces(request))
        read_span_items(batch, mapped.entries, received_at, reader.extractor)
        _exception_events(reader, batch, mapped, received_at)
    else:
        assert isinstance(request, ExportLogsServiceRequest)
        mapped = _clean(reader, map_logs(request, received_at))
        read_log_items(batch, mapped.entries, received_at, reader.extractor)
    if mapped.duplicates:
        batch.outcomes.append(
            Outcome("invalid", signal.category, "duplicate span id in request", mapped.duplicates)
        )
    if mapped.dropped_attributes:
        batch.outcomes.append(
            Outcome(
                "truncated",
                signal.category,
                "attributes over the limit dropped",
                mapped.dropped_attributes,
            )
        )
    return batch, answer_of(batch, signal)


def parse(signal: Signal, kind: str, data: bytes) -> Message:
    request = signal.request()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(data)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise BadRequest(f"malformed OTLP protobuf: {str(exc)[:200]}") from None
        return request
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed OTLP JSON: {str(exc)[:200]}") from None
    if not isinstance(document, dict):
        raise BadRequest("malformed OTLP JSON: not an object")
    _ids_as_base64(document)
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, TypeError, ValueError) as exc:
        raise BadRequest(f"malformed OTLP JSON: {str(exc)[:200]}") from None
    return request


def _list(container: object, *names: str) -> list[Any]:
    if isinstance(container, dict):
        for name in names:
            found = container.get(name)
            if isinstance(found, list):
                return found
    return []


def _ids_as_base64(document: dict[str, Any]) -> None:
    """OTLP/JSON writes trace and span ids in hex where protobuf's JSON mapping reads base64:
    each id is rewritten (one that is no hex becomes empty, and its span or record invalid)."""
    holders: list[Any] = []
    for resource in _list(document, "resourceSpans", "resource_spans"):
        for scope in _list(resource, "scopeSpans", "scope_spans"):
            for span in _list(scope, "spans"):
                holders.append(span)
                holders.extend(_list(span, "links"))
    for resource in _list(document, "resourceLogs", "resource_logs"):
        for scope in _list(resource, "scopeLogs", "scope_logs"):
            holders.extend(_list(scope, "logRecords", "log_records"))
    for holder in holders:
        if not isinstance(holder, dict):
            continue
        for name in ID_FIELDS:
            value = holder.get(name)
            if isinstance(value, str):
                holder[name] = _base64_of_hex(value)


def _base64_of_hex(value: str) -> str:
    try:
        raw = bytes.fromhex(value) if len(value) <= MAX_ID_TEXT else b""
    except ValueError:
        raw = b""
    return base64.b64encode(raw).decode()


def _entry_count(request: Message, resources: str, scopes: str, entries: str) -> int:
    return sum(
        len(getattr(scope, entries))
        for resource in getattr(request, resources)
        for scope in getattr(resource, scopes)
    )


def map_traces(request: ExportTraceServiceRequest) -> Mapped:
    count = _entry_count(request, "resource_spans", "scope_spans", "spans")
    if count > MAX_ENVELOPE_ENTRIES:
        raise PayloadTooLarge(f"an export request holds more than {MAX_ENVELOPE_ENTRIES} spans")
    mapped = Mapped()
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in request.resource_spans:
        origin = origin_of(resource.resource.attributes, mapped)
        for scope in resource.scope_spans:
            for span in scope.spans:
                index = len(mapped.entries)
                entry = span_entry(span, origin, scope.scope.name[:128], mapped)
                if _duplicate(entry, seen, mapped):
                    continue
                mapped.entries.append(entry)
                if span.events:
                    room = MAX_ITEM_ENTRIES - len(mapped.exceptions)
                    exceptions_of(span, index, mapped, room)
    fill_segments(mapped.entries)
    return mapped


def _duplicate(
    entry: dict[str, Any], seen: dict[tuple[str, str], dict[str, Any]], mapped: Mapped
) -> bool:
    """Whether the request had a span of the entry's ids already: the first is stored, and one
    that differs from it is counted as rejected (an identical one is the same span)."""
    if entry["trace_id"] is None or entry["span_id"] is None:
        return False  # invalid: collector/spans.py counts it
    key = (entry["trace_id"], entry["span_id"])
    first = seen.setdefault(key, entry)
    if first is entry:
        return False
    if first != entry:
        mapped.duplicates += 1
    return True


def map_logs(request: ExportLogsServiceRequest, received_at: datetime) -> Mapped:
    count = _entry_count(request, "resource_logs", "scope_logs", "log_records")
    if count > MAX_ENVELOPE_ENTRIES:
        raise PayloadTooLarge(
            f"an export request holds more than {MAX_ENVELOPE_ENTRIES} log records"
        )
    mapped = Mapped()
    now = received_at.timestamp()
    for resource in request.resource_logs:
        origin = origin_of(resource.resource.attributes, mapped)
        for scope in resource.scope_logs:
            for record in scope.log_records:
                fallback = hashlib.blake2b(record.SerializeToString(), digest_size=16)
                mapped.entries.append(
                    log_entry(
                        record, origin, scope.scope.name[:128], mapped, (fallback.hexdigest(), now)
                    )
                )
    return mapped


def _clean(reader: ItemReader, mapped: Mapped) -> Mapped:
    """Scrubbed as the envelope's items are (collector/items.py `clean`), exceptions too."""
    document = {"items": mapped.entries, "exceptions": mapped.exceptions}
    cleaned = reader.clean(document, orjson.dumps(document))
    if cleaned is document:
        return mapped
    return Mapped(
        cleaned["items"],
        cleaned["exceptions"],
        mapped.dropped_attributes,
        duplicates=mapped.duplicates,
    )


def _exception_events(
    reader: ItemReader, batch: IngestBatch, mapped: Mapped, received_at: datetime
) -> None:
    """Each exception of a valid span, as an error event of the span's service."""
    for exception in mapped.exceptions:
        span = mapped.entries[exception["span"]]
        if span["trace_id"] is None or span["span_id"] is None or not span["start_timestamp"]:
            continue  # its span was rejected
        event = exception_event(exception, span)
        batch.derived.append(_normalized(reader, event, received_at))


def _normalized(
    reader: ItemReader, event: dict[str, Any], received_at: datetime
) -> NormalizedEvent:
    return reader.normalize(
        event,
        orjson.dumps(event),
        kind="event",
        received_at=received_at,
        fallback_event_id=None,
        scrubbed=True,
    )


def exception_event(exception: dict[str, Any], span: dict[str, Any]) -> dict[str, Any]:
    """The Sentry event an OTel exception stands for: in its span's trace, of its span's
    service, release and environment, with the span's attributes and its own as `extra` (the
    correlation rules read keys there, as from any event)."""
    values = {
        name: typed.get("value") if isinstance(typed, dict) else typed  # "[Filtered]"
        for name, typed in span["attributes"].items()
    }
    service = values.get("service.name")
    return {
        # Which of the span's events it is, and its content: two exceptions of one span at
        # the same time are two events, and a replay of the request derives the same ids.
        "event_id": derived_event_id(
            "otlp",
            span["trace_id"],
            span["span_id"],
            str(exception["timestamp"]),
            str(exception.get("position", 0)),
            digest_of({k: v for k, v in exception.items() if k != "span"}),
        ),
        "timestamp": exception["timestamp"] or span["end_timestamp"],
        "level": "error",
        "platform": values.get("sentry.platform") or "other",
        "logger": "opentelemetry",
        "release": values.get("sentry.release"),
        "environment": values.get("sentry.environment"),
        "transaction": span["name"][:200] or None,
        "exception": {
            "values": [
                {
                    "type": exception["type"],
                    "value": exception["message"],
                    "mechanism": {"type": "otlp", "handled": not exception["escaped"]},
                }
            ]
        },
        "contexts": {
            "trace": {
                "trace_id": span["trace_id"],
                "span_id": span["span_id"],
                "parent_span_id": span["parent_span_id"],
                "op": values.get("sentry.op"),
                "status": "internal_error",
            }
        },
        "tags": {"service": service} if isinstance(service, str) else {},
        "extra": {**values, **exception["attributes"]},
    }


def answer_of(batch: IngestBatch, signal: Signal) -> Answer:
    """A partial success names what was rejected (invalid entries) and what was cut."""
    rejected = 0
    notes = []
    for outcome in batch.outcomes:
        if outcome.category != signal.category or outcome.outcome == "accepted":
            continue
        if outcome.outcome == "invalid":
            rejected += outcome.quantity
        notes.append(f"{outcome.quantity} {outcome.reason}")
    return Answer(rejected, "; ".join(notes))


def response_body(signal: Signal, kind: str, answer: Answer) -> bytes:
    """The Export*ServiceResponse, in the request's own encoding; `partial_success` is left
    out when everything was accepted whole."""
    if kind == JSON:
        if not (answer.rejected or answer.message):
            return b"{}"
        partial = {signal.entries: answer.rejected, "errorMessage": answer.message}
        return orjson.dumps({"partialSuccess": partial})
    response = signal.response()
    if answer.rejected or answer.message:
        partial_success = response.partial_success  # type: ignore[attr-defined]
        field = "rejected_spans" if signal is TRACES else "rejected_log_records"
        setattr(partial_success, field, answer.rejected)
        partial_success.error_message = answer.message
    return response.SerializeToString()


# google.rpc.Code of each answer's HTTP status (the OTLP/HTTP spec sends a google.rpc.Status).
RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 3, 415: 3, 429: 8, 503: 14}


def status_body(kind: str, status_code: int, message: str) -> bytes:
    """A google.rpc.Status `{code, message}`, in the request's encoding."""
    code = RPC_CODES.get(status_code, 2)
    if kind == JSON:
        return orjson.dumps({"code": code, "message": message})
    text = message.encode("utf-8", "replace")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits, value = value & 0x7F, value >> 7
        out.append(bits | (0x80 if value else 0))
        if not value:
            return bytes(out)
