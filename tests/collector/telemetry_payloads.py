"""Span v2 and log items as SDKs send them, for tests that need request bodies.

The entries are the public examples of Sentry's developer docs (data only):
- spans: develop.sentry.dev/sdk/telemetry/spans/span-protocol/, "Span v2 Envelope Item
  Payload" (the segment "GET /users" and its child "app.handle");
- logs: develop.sentry.dev/sdk/telemetry/logs/, "`log` Envelope Item Payload" (the entry
  "User John has logged in!").
Tests add an order id attribute, a service name, or change a level where they need one.
"""

import copy
from typing import Any

import orjson

TRACE_ID = "6cf173d587eb48568a9b2e12dcfbea52"
SEGMENT_ID = "438f40bd3b4a41ee"
CHILD_ID = "f1196292f76e45c0"


def _string(value: str) -> dict[str, Any]:
    return {"value": value, "type": "string"}


SPAN_EXAMPLE: list[dict[str, Any]] = [
    {
        "trace_id": TRACE_ID,
        "parent_span_id": None,
        "span_id": SEGMENT_ID,
        "name": "GET /users",
        "status": "ok",
        "is_segment": True,
        "kind": "server",
        "start_timestamp": 1742921669.158209,
        "end_timestamp": 1742921669.180536,
        "attributes": {
            "custom.attribute": _string("Some custom attribute"),
            "sentry.environment": _string("local"),
            "sentry.op": _string("http.server"),
            "sentry.origin": _string("manual"),
            "sentry.platform": _string("php"),
            "sentry.release": _string("1.0.0"),
            "sentry.sdk.name": _string("sentry.php"),
            "sentry.sdk.version": _string("4.10.0"),
            "sentry.transaction_info.source": _string("route"),
            "server.address": _string("orange.local"),
            "http.response.status_code": {"value": 200, "type": "integer"},
        },
    },
    {
        "trace_id": TRACE_ID,
        "parent_span_id": SEGMENT_ID,
        "span_id": CHILD_ID,
        "name": "app.handle",
        "status": "ok",
        "is_segment": False,
        "kind": "server",
        "start_timestamp": 1742921669.178306,
        "end_timestamp": 1742921669.180484,
        "attributes": {
            "sentry.environment": _string("local"),
            "sentry.op": _string("code"),
            "sentry.origin": _string("manual"),
            "sentry.platform": _string("php"),
            "sentry.release": _string("1.0.0"),
            "sentry.sdk.name": _string("sentry.php"),
            "sentry.sdk.version": _string("4.10.0"),
            "sentry.segment.id": _string(SEGMENT_ID),
            "sentry.segment.name": _string("GET /users"),
            "server.address": _string("orange.local"),
        },
    },
]

LOG_EXAMPLE: dict[str, Any] = {
    "timestamp": 1544719860.0,
    "trace_id": "5b8efff798038103d269b633813fc60c",
    "span_id": "b0e6f15b45c36b12",
    "level": "info",
    "body": "User John has logged in!",
    "attributes": {
        "sentry.message.template": _string("User %s has logged in!"),
        "sentry.message.parameter.0": _string("John"),
        "sentry.environment": _string("production"),
        "sentry.release": _string("1.0.0"),
        "sentry.trace.parent_span_id": _string("b0e6f15b45c36b12"),
    },
}


def spans(**attributes: Any) -> list[dict[str, Any]]:
    """The span example, with `attributes` (plain values) added to every span."""
    found = copy.deepcopy(SPAN_EXAMPLE)
    for span in found:
        span["attributes"].update({k: _typed(v) for k, v in attributes.items()})
    return found


def log(**fields: Any) -> dict[str, Any]:
    """The log example; `attributes` given are added (plain values), other fields replace."""
    found = copy.deepcopy(LOG_EXAMPLE)
    found["attributes"].update({k: _typed(v) for k, v in fields.pop("attributes", {}).items()})
    found.update(fields)
    return found


def _typed(value: Any) -> dict[str, Any]:
    kind = {bool: "boolean", int: "integer", float: "double"}.get(type(value), "string")
    return {"value": value, "type": kind}


def item(kind: str, entries: list[Any], **headers: Any) -> bytes:
    """One `span` or `log` item, as the SDKs frame it (`item_count`, content type)."""
    content_type = {
        "span": "application/vnd.sentry.items.span.v2+json",
        "log": "application/vnd.sentry.items.log+json",
    }[kind]
    header = {"type": kind, "item_count": len(entries), "content_type": content_type, **headers}
    return orjson.dumps(header) + b"\n" + orjson.dumps({"items": entries})


def envelope(*items: bytes, header: dict[str, Any] | None = None) -> bytes:
    return b"\n".join([orjson.dumps(header or {}), *items]) + b"\n"
