"""Bounds on the shape of what a client sends, applied once, at ingest (README, Ingestion:
Limits), so that nothing stored can break a page, the API or a later walk.

Every JSON document that enters (envelope and item headers, events, transactions, sessions,
client reports, store bodies, webhook deliveries, events fetched from Sentry's API) is parsed
by `collector.parsers.parse_json_document`, which calls `bound_depth` here: containers nested
deeper than `MAX_DEPTH` are replaced by `TRIMMED`, as Relay trims what is nested too deep and
records it, and the raw text stored beside the event is written anew from the trimmed value.
"""

from typing import Any

import orjson

# SDKs trim their own payloads far above this (sentry-python stops at 5 levels inside a
# databag, which sits about 6 levels into an event); orjson cannot write a document nested
# deeper than 254 levels, and the pages and the API write stored payloads with orjson.
MAX_DEPTH = 64
TRIMMED = f"[Trimmed: nested deeper than {MAX_DEPTH} levels]"
# The longest text that any pattern over event text (grouping's parameter masking, the
# correlation rules' message patterns) looks at; the stored message is cut at this length too.
MAX_SCANNED_TEXT = 8192
# A formatted `logentry` (`message % params`) is cut here, and no width or precision in the
# template goes beyond MAX_FORMAT_WIDTH: `%(a)100000000s` in an event must not allocate 100 MB.
MAX_FORMATTED = MAX_SCANNED_TEXT
MAX_FORMAT_WIDTH = 32
# Entries of a client report and buckets of a `sessions` item become rows: SDKs send a few.
MAX_REPORT_ENTRIES = 100
MAX_SESSION_BUCKETS = 1000
# Spans and logs (collector/telemetry.py, spans.py, logs.py). Each entry becomes a row and its
# keys: an item holds at most MAX_ITEM_ENTRIES (the span protocol's own bound; more is 413 for
# the envelope), an envelope at most MAX_ENVELOPE_ENTRIES of them all (413 too). An entry keeps
# at most MAX_ATTRIBUTES attributes (the rest dropped and counted), names cut at
# MAX_ATTRIBUTE_NAME, string values at MAX_ATTRIBUTE_VALUE, arrays at MAX_ATTRIBUTE_ARRAY
# elements (counted); a log body is cut at MAX_LOG_BODY bytes (counted), a span name at
# MAX_SPAN_NAME characters. A transaction's own `spans` array is read up to MAX_ITEM_ENTRIES.
MAX_ITEM_ENTRIES = 1000
MAX_ENVELOPE_ENTRIES = 10_000
MAX_ATTRIBUTES = 256
MAX_ATTRIBUTE_NAME = 128
MAX_ATTRIBUTE_VALUE = 1024
# 128: @sentry/node 11.12.0 lists its 60 default integrations in `sentry.sdk.integrations` on
# every segment it streams; 32 cut that list on every one (and counted it as truncated).
MAX_ATTRIBUTE_ARRAY = 128
MAX_LOG_BODY = 64 * 1024
MAX_SPAN_NAME = 2048
# User feedback (collector/feedback.py): Sentry's widget caps a message at 4,096 characters,
# older clients send more; a name or an email is a line, a URL a line of a browser's bar.
MAX_FEEDBACK_MESSAGE = 8192
MAX_FEEDBACK_NAME = 200
MAX_FEEDBACK_URL = 2048
# Attachment headers (collector/attachments.py); the sizes of attachments are settings
# (SENTRAIL_MAX_ATTACHMENT_BYTES, SENTRAIL_MAX_PROJECT_ATTACHMENT_BYTES).
MAX_ATTACHMENT_FILENAME = 200
MAX_ATTACHMENT_CONTENT_TYPE = 100
MAX_ATTACHMENT_TYPE = 64


def _too_deep(value: Any, limit: int) -> bool:
    """Whether a container nests deeper than `limit` levels (the document itself is level 1).
    Recursive, but never more than `limit` calls deep: a document may nest up to the parser's
    1,024 levels. (A recursion a third faster than a walk with a stack of its own, which
    cost 5-9 µs of every span or log entry, bench/telemetry_cpu.py.)"""
    return _nests_below(value, limit - 1)


def _nests_below(container: Any, levels: int) -> bool:
    """Whether `container` holds containers more than `levels` levels below itself."""
    for child in container.values() if type(container) is dict else container:
        if (type(child) is dict or type(child) is list) and (
            levels == 0 or _nests_below(child, levels - 1)
        ):
            return True
    return False


def _trimmed(value: Any, depth: int) -> Any:
    if type(value) is dict:
        if depth > MAX_DEPTH:
            return TRIMMED
        return {key: _trimmed(child, depth + 1) for key, child in value.items()}
    if type(value) is list:
        if depth > MAX_DEPTH:
            return TRIMMED
        return [_trimmed(child, depth + 1) for child in value]
    return value


def bound_depth(value: dict[str, Any], raw: bytes) -> tuple[dict[str, Any], bytes]:
    """`value` parsed from `raw`, with what nests deeper than MAX_DEPTH trimmed; the raw text
    is written anew only when something was trimmed."""
    # No document holding at most MAX_DEPTH brackets can nest deeper: most items and headers
    # skip the walk.
    if raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH or not _too_deep(value, MAX_DEPTH):
        return value, raw
    trimmed: dict[str, Any] = _trimmed(value, 1)
    return trimmed, orjson.dumps(trimmed)
