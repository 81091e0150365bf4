"""Spans at ingest: the entries of a span v2 item, and a transaction with the child spans of
its `spans` array (docs/protocol.md#spans-and-logs).

A span v2 segment (`is_segment: true`) is also made a `transaction` event: journeys and hops
are built from events, and a service that sends only spans (the JS SDK 11 default) must still
be a hop of the order it worked on.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from collector.batch import EventRow, IngestBatch, NormalizedEvent, Outcome, SpanRecord, SpanRow
from collector.limits import MAX_ITEM_ENTRIES, MAX_SPAN_NAME
from collector.normalize import HEX16, HEX32
from collector.telemetry import (
    Attributes,
    KeyCache,
    attributes_of,
    derived_event_id,
    hex_id,
    keys_of,
    tags_of,
    text_of,
)
from collector.timestamps import event_time, parse_timestamp
from rules.extract import KeyExtractor
from store.payload import compress

CATEGORY = "span"
SERVICE_ATTRIBUTES = ("service", "service.name")
# `server.address` names the span's own server only on the server side of a call
# (OpenTelemetry's convention); on a client call it is the peer. JS SDK 11 streams the
# browser's fetch and resource spans with no kind and `server.address` = the host they called,
# and a fetch made outside any span is a segment of its own.
OWN_ADDRESS_KINDS = frozenset({"server", "consumer"})
CLIENT_KINDS = frozenset({"client", "producer"})
CLIENT_OPS = ("http.client", "resource.")


def read_span_items(
    batch: IngestBatch, entries: list[Any], received_at: datetime, extractor: KeyExtractor
) -> None:
    """Every valid entry becomes a span (a segment also an event); an invalid one is dropped
    and counted, the rest of the item kept."""
    invalid = dropped = cut = 0
    cache: KeyCache = {}
    for entry in entries:
        read = _span_v2(entry, received_at)
        if read is None:
            invalid += 1
            continue
        row, attributes = read
        dropped, cut = dropped + attributes.dropped, cut + attributes.cut
        keys = keys_of(extractor, attributes, "span name", row["name"], cache)
        batch.spans.append(SpanRecord(row, keys))
        if row["is_segment"]:
            batch.derived.append(_segment_event(row, attributes, entry, keys))
    _count(batch, len(entries) - invalid, invalid, dropped, cut)


def _count(batch: IngestBatch, accepted: int, invalid: int, dropped: int, cut: int) -> None:
    for outcome, reason, quantity in (
        ("accepted", "stored", accepted),
        ("invalid", "invalid span", invalid),
        ("truncated", "attributes over the limit dropped", dropped),
        ("truncated", "attribute values cut", cut),
    ):
        if quantity:
            batch.outcomes.append(Outcome(outcome, CATEGORY, reason, quantity))


def _span_v2(entry: object, received_at: datetime) -> tuple[SpanRow, Attributes] | None:
    if not isinstance(entry, dict):
        return None
    trace_id, span_id = hex_id(entry.get("trace_id"), HEX32), hex_id(entry.get("span_id"), HEX16)
    started = parse_timestamp(entry.get("start_timestamp"))
    if trace_id is None or span_id is None or started is None:
        return None
    ended = event_time(entry.get("end_timestamp"), received_at)
    started = min(started, ended)
    attributes = attributes_of(entry.get("attributes"))
    is_segment = entry.get("is_segment") is True
    name = span_name(entry, attributes)
    row: SpanRow = {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": hex_id(entry.get("parent_span_id"), HEX16),
        "segment_id": span_id
        if is_segment
        else hex_id(attributes.values.get("sentry.segment.id"), HEX16),
        "is_segment": is_segment,
        "service": span_service(entry, attributes, is_segment),
        "op": attributes.text("sentry.op", limit=128),
        "name": name,
        "started_at": started,
        "ended_at": ended,
        "duration_ms": (ended - started).total_seconds() * 1000,
        "status": text_of(entry.get("status"), 32),
        "release": attributes.text("sentry.release", limit=250),
        "environment": attributes.text("sentry.environment", limit=64),
        "attributes": attributes.values,
        "received_at": received_at,
    }
    return row, attributes


def _segment_event(
    span: SpanRow, attributes: Attributes, entry: dict[str, Any], keys: list[Any]
) -> NormalizedEvent:
    """The transaction a segment stands for, with the segment's keys."""
    name = span["name"][:200]
    row: EventRow = {
        "event_id": derived_event_id("span", span["trace_id"], span["span_id"]),
        "type": "transaction",
        "timestamp": span["ended_at"],
        "received_at": span["received_at"],
        "level": "info",
        "platform": attributes.text("sentry.platform", limit=64),
        "logger": None,
        "service": span["service"],
        "server_name": attributes.text("server.address", limit=128),
        "release": span["release"],
        "environment": span["environment"],
        "transaction": name,
        "title": name,
        "culprit": name,
        "message": "",
        "trace_id": span["trace_id"],
        "span_id": span["span_id"],
        "parent_span_id": span["parent_span_id"],
        "op": span["op"],
        "duration_ms": span["duration_ms"],
        "handled": None,
        "tags": tags_of(attributes),
        "payload": compress(orjson.dumps(entry)),
        "source": "span",
        "external_url": None,
    }
    return NormalizedEvent(row, keys, None)


def transaction_spans(
    event: Mapping[str, Any], normalized: NormalizedEvent, extractor: KeyExtractor
) -> tuple[list[SpanRecord], int, int]:
    """A transaction as its own segment span and the children of its `spans` array (at most
    MAX_ITEM_ENTRIES), each tied to the transaction's trace, service, release and environment;
    and how many children were invalid, and how many beyond the bound."""
    tx = normalized.row
    trace_id, span_id = tx["trace_id"], tx["span_id"]
    started = parse_timestamp(event.get("start_timestamp"))
    if trace_id is None or span_id is None or started is None:
        return [], 0, 0
    contexts = event.get("contexts")
    trace = contexts.get("trace") if isinstance(contexts, dict) else None
    trace = trace if isinstance(trace, dict) else {}
    own = {**trace, "description": tx["transaction"], "start_timestamp": started.timestamp()}
    segment = _child(own, tx, segment_id=span_id, ended=tx["timestamp"])
    records = []
    if segment is not None:
        records.append(SpanRecord({**segment[0], "is_segment": True}, normalized.keys))
    children = event.get("spans")
    children = children if isinstance(children, list) else []
    invalid = 0
    cache: KeyCache = {}
    for child in children[:MAX_ITEM_ENTRIES]:
        read = _child(child, tx, segment_id=span_id) if isinstance(child, dict) else None
        if read is None:
            invalid += 1
            continue
        row, attributes = read
        keys = keys_of(extractor, attributes, "span name", row["name"], cache)
        records.append(SpanRecord(row, keys))
    return records, invalid, max(0, len(children) - MAX_ITEM_ENTRIES)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _child(
    span: Mapping[str, Any], tx: EventRow, *, segment_id: str, ended: datetime | None = None
) -> tuple[SpanRow, Attributes] | None:
    """One span of a transaction's tree (the `spans` array's shape: op, description,
    start_timestamp, timestamp, status, data, tags)."""
    span_id = hex_id(span.get("span_id"), HEX16)
    started = parse_timestamp(span.get("start_timestamp"))
    if span_id is None or started is None or tx["trace_id"] is None:
        return None
    ended = ended or event_time(span.get("timestamp"), tx["received_at"])
    started = min(started, ended)
    attributes = attributes_of({**_mapping(span.get("tags")), **_mapping(span.get("data"))})
    op = text_of(span.get("op"), 128)
    row: SpanRow = {
        "trace_id": hex_id(span.get("trace_id"), HEX32) or tx["trace_id"],
        "span_id": span_id,
        "parent_span_id": hex_id(span.get("parent_span_id"), HEX16),
        "segment_id": segment_id,
        "is_segment": False,
        "service": tx["service"],
        "op": op,
        "name": text_of(span.get("description"), MAX_SPAN_NAME) or op or "<unnamed>",
        "started_at": started,
        "ended_at": ended,
        "duration_ms": (ended - started).total_seconds() * 1000,
        "status": text_of(span.get("status"), 32),
        "release": tx["release"],
        "environment": tx["environment"],
        "attributes": attributes.values,
        "received_at": tx["received_at"],
    }
    return row, attributes


def span_service(entry: Mapping[str, Any], attributes: Attributes, is_segment: bool) -> str | None:
    """`service`, else `service.name`, else `server.address` where it names the span's own
    server: a segment or a span of kind server or consumer, and never a client call (kind
    client or producer, op `http.client…` or `resource.…`), whose address is its peer's."""
    named = attributes.text(*SERVICE_ATTRIBUTES, limit=128)
    if named is not None:
        return named
    kind = entry.get("kind") or attributes.values.get("sentry.kind")
    op = attributes.text("sentry.op", limit=128) or ""
    client_call = kind in CLIENT_KINDS or op.startswith(CLIENT_OPS)
    if client_call or not (is_segment or kind in OWN_ADDRESS_KINDS):
        return None
    return attributes.text("server.address", limit=128)


def span_name(entry: Mapping[str, Any], attributes: Attributes) -> str:
    """A span v2 entry's name: its own, else its op (JS SDKs leave some spans unnamed)."""
    return text_of(entry.get("name"), MAX_SPAN_NAME) or attributes.text("sentry.op") or "<unnamed>"
