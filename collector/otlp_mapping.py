"""OTLP spans and log records as the span v2 and log entries of the Sentry protocol
(docs/protocol.md#opentelemetry-otlp), so that they go through the very readers, caps, keys and
store the envelope's span and log items go through (collector/spans.py, collector/logs.py).

Resource attributes name the service (`service.name`), its release (`service.version`) and
environment (`deployment.environment.name`, or the older `deployment.environment`); these
become `service.name`, `sentry.release` and `sentry.environment` on every entry, ahead of the
entry's own attributes and then the resource's, so that the caps of collector/telemetry.py
never drop them. A span event named `exception` is kept aside as an `Exception` for
collector/otlp.py to make an error event of; a span's links become `otel.links`.

Every walk here is bounded: attributes are read up to MAX_ATTRIBUTES per list (the rest only
counted), arrays up to MAX_ATTRIBUTE_ARRAY, values nested up to MAX_VALUE_DEPTH, strings cut
just past MAX_ATTRIBUTE_VALUE (collector/telemetry.py then cuts and counts them).
"""

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.limits import (
    MAX_ATTRIBUTE_ARRAY,
    MAX_ATTRIBUTE_NAME,
    MAX_ATTRIBUTE_VALUE,
    MAX_ATTRIBUTES,
    MAX_LOG_BODY,
    MAX_SPAN_NAME,
)

MAX_VALUE_DEPTH = 8
TOO_MANY = "[Trimmed: the request's attribute values are too many]"
NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
TRIMMED = f"[Trimmed: nested deeper than {MAX_VALUE_DEPTH} levels]"
MAX_SPAN_EVENTS = 128  # events read per span, looking for exceptions
# An exception becomes an event that repeats its span's attributes: a few per span at most.
MAX_SPAN_EXCEPTIONS = 4
# Attributes read in one request, of all its resources, spans, events and records, and values
# inside them (the rest dropped and counted, a partial success): 10,000 spans of 200
# attributes each are 20 MB decoded from 16 KB of zstd, and would cost seconds and a gigabyte
# to map; a Collector's batch of 8,192 spans of 30 attributes fits.
MAX_REQUEST_ATTRIBUTES = 256 * 1024
# Resource attributes are repeated on every entry under the resource: a few dozen at most
# (the rest dropped and counted), or a small body of many spans would store a large one.
MAX_RESOURCE_ATTRIBUTES = 32
KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
SEGMENT_KINDS = frozenset({"server", "consumer"})
STATUS_ERROR = 2
# Span flags (trace.proto): whether the parent's "is remote" is known, and whether it is.
HAS_IS_REMOTE, IS_REMOTE = 0x100, 0x200
ZERO_TRACE, ZERO_SPAN = "0" * 32, "0" * 16
# Severity numbers (logs.proto) by ranges of four.
SEVERITY_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
# Without a number, the text names the level (else, as an unknown text such as NOTICE: info).
SEVERITY_TEXTS = frozenset({*SEVERITY_LEVELS, "warning", "critical"})


@dataclass
class Origin:
    """What a resource says of every entry under it, and its attributes."""

    service: str | None
    release: str | None
    environment: str | None
    platform: str | None
    attributes: dict[str, Any]
    dropped: int


@dataclass
class Mapped:
    """A request's entries (span v2 or log entries), their exceptions, and what was dropped."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    # Each: the index of its span's entry, type, message, escaped, timestamp and
    # its own attributes (plain values); JSON, so that it is scrubbed with the entries.
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    dropped_attributes: int = 0
    duplicates: int = 0  # spans of ids already in the request, with other content: rejected
    # Attributes still to be read in this request (MAX_REQUEST_ATTRIBUTES in all).
    attribute_room: int = MAX_REQUEST_ATTRIBUTES

    def attributes(
        self, pairs: Sequence[KeyValue], *, count_dropped: bool = True
    ) -> dict[str, Any]:
        """At most MAX_ATTRIBUTES of `pairs`, within the request's room; the rest counted
        (a resource's are counted on each of its entries instead)."""
        room = [self.attribute_room]
        read, dropped = attributes_of(pairs, len(pairs), min(MAX_ATTRIBUTES, room[0]), room)
        self.attribute_room = max(0, room[0])
        if count_dropped:
            self.dropped_attributes += dropped
        return read


def value_of(value: AnyValue, depth: int = 0, room: list[int] | None = None) -> Any:
    """An AnyValue as JSON: scalars as themselves, bytes as base64, arrays and key-value lists
    as lists and objects (bounded). Each value read inside a container takes one of `room`
    (the request's attribute room): once it is spent, a container is TOO_MANY."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value[: MAX_ATTRIBUTE_VALUE + 1]
    if which in ("bool_value", "int_value", "double_value"):
        return getattr(value, which)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value[:MAX_ATTRIBUTE_VALUE]).decode()
    if which is None:
        return None
    if depth >= MAX_VALUE_DEPTH:
        return TRIMMED
    if room is not None and room[0] <= 0:
        return TOO_MANY
    if which == "array_value":
        values = value.array_value.values[: _width(MAX_ATTRIBUTE_ARRAY + 1, room)]
        items = [value_of(v, depth + 1, room) for v in values]
        # An attribute's array holds scalars: a container in it is kept as its JSON text.
        return (
            items if depth else [_json_text(v) if isinstance(v, list | dict) else v for v in items]
        )
    pairs = value.kvlist_value.values
    return {
        kv.key[:MAX_ATTRIBUTE_NAME]: value_of(kv.value, depth + 1, room)
        for kv in pairs[: _width(MAX_ATTRIBUTES, room)]
    }


def _width(limit: int, room: list[int] | None) -> int:
    """How many values of a container to read (at most `limit`), taken from `room`."""
    if room is None:
        return limit
    width = min(limit, room[0])
    room[0] -= width
    return width


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()[: MAX_ATTRIBUTE_VALUE + 1]


def attributes_of(
    pairs: Iterable[KeyValue],
    size: int,
    limit: int = MAX_ATTRIBUTES,
    room: list[int] | None = None,
) -> tuple[dict[str, Any], int]:
    """At most `limit` of `pairs` (of `size` in all) as typed attributes, and how many were
    left out; each attribute and each value inside one takes one of `room`, if given."""
    read: dict[str, Any] = {}
    for index, pair in enumerate(pairs):
        if index >= limit:
            break
        if room is not None:
            room[0] -= 1
        read[pair.key[:MAX_ATTRIBUTE_NAME]] = {"value": value_of(pair.value, 0, room)}
    return read, max(0, size - limit)


def _text(attributes: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        typed = attributes.get(name)
        value = typed.get("value") if isinstance(typed, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def origin_of(resource_attributes: Sequence[KeyValue], mapped: Mapped | None = None) -> Origin:
    """What a resource says of its entries; its attributes read within `mapped`'s room."""
    size = len(resource_attributes)
    if mapped is None:
        attributes, _ = attributes_of(resource_attributes, size)
    else:
        attributes = mapped.attributes(resource_attributes, count_dropped=False)
    repeated = dict(islice(attributes.items(), MAX_RESOURCE_ATTRIBUTES))
    return Origin(
        service=_text(attributes, "service.name"),
        release=_text(attributes, "service.version"),
        environment=_text(attributes, "deployment.environment.name", "deployment.environment"),
        platform=_text(attributes, "telemetry.sdk.language"),
        attributes=repeated,
        dropped=max(0, size - MAX_RESOURCE_ATTRIBUTES),
    )


def _hex(raw: bytes, size: int, zero: str) -> str | None:
    if len(raw) != size:
        return None
    text = raw.hex()
    return text if text != zero else None


def _typed(value: Any) -> dict[str, Any]:
    return {"value": value}


def _head(origin: Origin, scope: str) -> dict[str, Any]:
    """The attributes every entry of a resource starts with."""
    head: dict[str, Any] = {}
    for name, value in (
        ("service.name", origin.service),
        ("sentry.release", origin.release),
        ("sentry.environment", origin.environment),
        ("sentry.platform", origin.platform),
        ("otel.scope.name", scope or None),
    ):
        if value is not None:
            head[name] = _typed(value)
    return head


def _op(kind: str | None, attributes: Mapping[str, Any]) -> str | None:
    """Sentry's op for an OTel span, from its kind and semantic-convention attributes."""
    if "http.request.method" in attributes or "http.method" in attributes:
        return {"server": "http.server", "client": "http.client"}.get(kind or "", "http")
    if "db.system" in attributes or "db.system.name" in attributes:
        return "db"
    if "messaging.system" in attributes:
        return {"producer": "queue.publish", "consumer": "queue.process"}.get(kind or "", "queue")
    if "rpc.system" in attributes:
        return "rpc"
    return None


def is_segment(span: Span, kind: str | None, parent: str | None) -> bool:
    """A root span, one whose parent is in another process, or (when the exporter does not say
    where the parent is) one that serves a request or a message."""
    if parent is None:
        return True
    if span.flags & HAS_IS_REMOTE:
        return bool(span.flags & IS_REMOTE)
    return kind in SEGMENT_KINDS


def span_entry(span: Span, origin: Origin, scope: str, mapped: Mapped) -> dict[str, Any]:
    """A span v2 entry (collector/spans.py reads it; an invalid one is counted there)."""
    kind = KINDS.get(span.kind)
    parent = _hex(span.parent_span_id, 8, ZERO_SPAN)
    own = mapped.attributes(span.attributes)
    mapped.dropped_attributes += origin.dropped
    attributes = _head(origin, scope)
    op = _op(kind, own)
    if op is not None:
        attributes["sentry.op"] = _typed(op)
    if kind is not None:
        attributes["otel.kind"] = _typed(kind)
    if span.status.message:
        attributes["otel.status_message"] = _typed(span.status.message[:MAX_ATTRIBUTE_VALUE])
    if span.links:
        attributes["otel.links"] = _typed(
            [
                f"{link.trace_id[:16].hex()}-{link.span_id[:8].hex()}"
                for link in span.links[:MAX_ATTRIBUTE_ARRAY]
            ]
        )
    attributes.update(own)
    for name, value in origin.attributes.items():
        attributes.setdefault(name, value)
    started = span.start_time_unix_nano
    return {
        "trace_id": _hex(span.trace_id, 16, ZERO_TRACE),
        "span_id": _hex(span.span_id, 8, ZERO_SPAN),
        "parent_span_id": parent,
        "name": span.name[:MAX_SPAN_NAME],
        "status": "error" if span.status.code == STATUS_ERROR else "ok",
        "is_segment": is_segment(span, kind, parent),
        "kind": kind,
        "start_timestamp": started / 1e9 if started else None,
        "end_timestamp": span.end_time_unix_nano / 1e9 if span.end_time_unix_nano else None,
        "attributes": attributes,
    }


def exceptions_of(span: Span, index: int, mapped: Mapped, room: int) -> None:
    """The span's events named `exception` (at most MAX_SPAN_EXCEPTIONS of them, and at most
    `room`), into `mapped`."""
    room = min(room, MAX_SPAN_EXCEPTIONS)
    for position, event in enumerate(span.events[:MAX_SPAN_EVENTS]):
        if event.name != "exception" or room <= 0:
            continue
        room -= 1
        attributes = mapped.attributes(event.attributes)
        escaped = attributes.get("exception.escaped", {}).get("value")
        mapped.exceptions.append(
            {
                "span": index,
                "position": position,  # among the span's events: part of the event's id
                "type": _text(attributes, "exception.type") or "Exception",
                "message": _text(attributes, "exception.message") or "",
                "escaped": escaped is True or escaped == "true",
                "timestamp": (event.time_unix_nano or span.end_time_unix_nano) / 1e9 or None,
                "attributes": {name: typed["value"] for name, typed in attributes.items()},
            }
        )


def fill_segments(entries: list[dict[str, Any]]) -> int:
    """`sentry.segment.id` of each span whose segment is in the same request: the nearest
    segment up its parents. Each span is walked past once: a walk stops at a span resolved
    before or at one already on its own path (a cycle, or a span its own parent: no segment),
    so the walk is linear in the spans. Returns the steps taken (at most twice the spans)."""
    by_id = {e["span_id"]: e for e in entries if e["span_id"] is not None}
    segment_of: dict[str, str | None] = {}
    steps = 0
    for entry in entries:
        chain: list[str] = []
        on_path: set[str] = set()
        current: dict[str, Any] | None = entry
        found: str | None = None
        while current is not None:
            steps += 1
            span_id = current["span_id"]
            if span_id in segment_of:
                found = segment_of[span_id]
                break
            if current["is_segment"]:
                found = span_id
                break
            if span_id is None or span_id in on_path:  # a cycle: no segment
                break
            on_path.add(span_id)
            chain.append(span_id)
            current = by_id.get(current["parent_span_id"])
        for span_id in chain:
            segment_of[span_id] = found
        if found is not None and not entry["is_segment"]:
            entry["attributes"].setdefault("sentry.segment.id", _typed(found))
    return steps


def level_of(record: LogRecord) -> str:
    number = record.severity_number
    if 1 <= number <= 24:
        return SEVERITY_LEVELS[(number - 1) // 4]
    text = record.severity_text[:16].lower()
    return text if text in SEVERITY_TEXTS else "info"  # collector/logs.py reads the aliases


def body_of(value: AnyValue) -> str:
    """A log body as text: a string as itself, bytes as base64, a double that is not finite as
    `NaN`, `Infinity` or `-Infinity`, anything else as its JSON text. Cut just past
    MAX_LOG_BODY, so that collector/logs.py cuts it and counts the cut."""
    which = value.WhichOneof("value")
    if which is None:
        return ""
    if which == "string_value":
        return value.string_value[: MAX_LOG_BODY + 1]
    if which == "bytes_value":
        # base64 of that many bytes is longer than MAX_LOG_BODY, so a cut is counted.
        return base64.b64encode(value.bytes_value[: MAX_LOG_BODY // 4 * 3 + 3]).decode()
    if which == "double_value" and not math.isfinite(value.double_value):
        return NON_FINITE.get(value.double_value, "NaN")
    return orjson.dumps(value_of(value)).decode()[: MAX_LOG_BODY + 1]


def log_entry(
    record: LogRecord, origin: Origin, scope: str, mapped: Mapped, fallback: tuple[str, float]
) -> dict[str, Any]:
    """A log entry (collector/logs.py reads it). A record outside any trace gets the trace id
    of `fallback`, an id of its own content (the log protocol requires a trace); one without a
    time its time (when it was received)."""
    own = mapped.attributes(record.attributes)
    mapped.dropped_attributes += origin.dropped
    attributes = _head(origin, scope)
    if record.event_name:
        attributes["otel.event_name"] = _typed(record.event_name[:MAX_ATTRIBUTE_VALUE])
    attributes.update(own)
    for name, value in origin.attributes.items():
        attributes.setdefault(name, value)
    at = record.time_unix_nano or record.observed_time_unix_nano
    severity = record.severity_number
    return {
        "timestamp": at / 1e9 if at else fallback[1],
        "trace_id": _hex(record.trace_id, 16, ZERO_TRACE) or fallback[0],
        "span_id": _hex(record.span_id, 8, ZERO_SPAN),
        "level": level_of(record),
        "severity_number": severity if 1 <= severity <= 24 else None,
        "body": body_of(record.body),
        "attributes": attributes,
    }
