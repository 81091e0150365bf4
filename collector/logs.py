"""Log entries at ingest: the entries of a `log` item (docs/protocol.md#spans-and-logs).

An entry at level error or fatal is also made an event (type "default", source "log", not
grouped into an issue): an error log is how some services report a failure, and journeys are
judged from events. Info and warn entries never fail a journey.
"""

from datetime import datetime
from typing import Any

import orjson

from collector.batch import EventRow, IngestBatch, LogRecord, LogRow, NormalizedEvent, Outcome
from collector.limits import MAX_LOG_BODY, MAX_SCANNED_TEXT
from collector.normalize import HEX16, HEX32, title_of
from collector.telemetry import (
    Attributes,
    KeyCache,
    attributes_of,
    clean,
    derived_event_id,
    digest_of,
    hex_id,
    keys_of,
    tags_of,
    text_of,
)
from collector.timestamps import event_time, parse_timestamp
from rules.extract import KeyExtractor
from store.payload import compress

CATEGORY = "log_item"
LEVELS = frozenset({"trace", "debug", "info", "warn", "error", "fatal"})
LEVEL_ALIASES = {"warning": "warn", "critical": "fatal"}
EVENT_LEVELS = frozenset({"error", "fatal"})
SERVICE_ATTRIBUTES = ("service", "service.name", "server.address")
PARAMETER = "sentry.message.parameter."


def read_log_items(
    batch: IngestBatch, entries: list[Any], received_at: datetime, extractor: KeyExtractor
) -> None:
    """Every valid entry becomes a log row (an error or fatal one also an event); an invalid
    one is dropped and counted, the rest of the item kept."""
    counts = dict.fromkeys(("invalid", "dropped", "cut", "body"), 0)
    cache: KeyCache = {}
    for entry in entries:
        read = _log_entry(entry, received_at)
        if read is None:
            counts["invalid"] += 1
            continue
        row, attributes, body_cut = read
        counts["dropped"] += attributes.dropped
        counts["cut"] += attributes.cut
        counts["body"] += body_cut
        keys = keys_of(extractor, attributes, "log body", row["body"], cache)
        batch.logs.append(LogRecord(row, keys))
        if row["level"] in EVENT_LEVELS:
            batch.derived.append(_error_event(row, attributes, entry, keys))
    for outcome, reason, quantity in (
        ("accepted", "stored", len(entries) - counts["invalid"]),
        ("invalid", "invalid log entry", counts["invalid"]),
        ("truncated", "attributes over the limit dropped", counts["dropped"]),
        ("truncated", "attribute values cut", counts["cut"]),
        ("truncated", f"body over {MAX_LOG_BODY} bytes cut", counts["body"]),
    ):
        if quantity:
            batch.outcomes.append(Outcome(outcome, CATEGORY, reason, quantity))


def _level(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    level = value.lower()
    level = LEVEL_ALIASES.get(level, level)
    return level if level in LEVELS else None


def _body(value: str) -> tuple[str, bool]:
    """The body, cut at MAX_LOG_BODY bytes of UTF-8 (never inside a character)."""
    if len(value) * 4 <= MAX_LOG_BODY:
        return clean(value, len(value)), False
    data = value.encode("utf-8", "replace")
    if len(data) <= MAX_LOG_BODY:
        return clean(value, len(value)), False
    return clean(data[:MAX_LOG_BODY].decode("utf-8", "ignore"), MAX_LOG_BODY), True


def _parameters(attributes: Attributes) -> list[Any]:
    """`sentry.message.parameter.<n or name>` values, in the order sent."""
    return [v for k, v in attributes.values.items() if k.startswith(PARAMETER)]


def _log_entry(entry: object, received_at: datetime) -> tuple[LogRow, Attributes, bool] | None:
    if not isinstance(entry, dict):
        return None
    trace_id, level = hex_id(entry.get("trace_id"), HEX32), _level(entry.get("level"))
    at, body = parse_timestamp(entry.get("timestamp")), entry.get("body")
    if trace_id is None or level is None or at is None or not isinstance(body, str):
        return None
    attributes = attributes_of(entry.get("attributes"))
    text, body_cut = _body(body)
    severity = entry.get("severity_number")
    row: LogRow = {
        "digest": digest_of(entry),
        "timestamp": event_time(entry.get("timestamp"), received_at),
        "level": level,
        "severity_number": severity
        if isinstance(severity, int) and not isinstance(severity, bool) and 1 <= severity <= 24
        else None,
        "body": text,
        "template": attributes.text("sentry.message.template", limit=MAX_SCANNED_TEXT),
        "parameters": _parameters(attributes),
        "trace_id": trace_id,
        "span_id": hex_id(entry.get("span_id"), HEX16)
        or hex_id(attributes.values.get("sentry.trace.parent_span_id"), HEX16),
        "service": attributes.text(*SERVICE_ATTRIBUTES, limit=128),
        "release": attributes.text("sentry.release", limit=250),
        "environment": attributes.text("sentry.environment", limit=64),
        "attributes": attributes.values,
        "received_at": received_at,
    }
    return row, attributes, body_cut


def _error_event(
    log: LogRow, attributes: Attributes, entry: dict[str, Any], keys: list[Any]
) -> NormalizedEvent:
    """The error event an error or fatal log entry stands for; it joins its order's journey
    (by its keys or its trace) and fails it, but opens no issue."""
    row: EventRow = {
        "event_id": derived_event_id("log", log["digest"]),
        "type": "default",
        "timestamp": log["timestamp"],
        "received_at": log["received_at"],
        "level": log["level"],
        "platform": attributes.text("sentry.platform", limit=64),
        "logger": text_of(attributes.values.get("sentry.origin"), 128),
        "service": log["service"],
        "server_name": attributes.text("server.address", limit=128),
        "release": log["release"],
        "environment": log["environment"],
        "transaction": None,
        "title": title_of("default", {}, [], log["body"]),
        "culprit": "",
        "message": log["body"][:MAX_SCANNED_TEXT],
        "trace_id": log["trace_id"],
        "span_id": log["span_id"],
        "parent_span_id": None,
        "op": None,
        "duration_ms": None,
        "handled": None,
        "tags": tags_of(attributes),
        "payload": compress(orjson.dumps(entry)),
        "source": "log",
        "external_url": None,
    }
    return NormalizedEvent(row, keys, None)
