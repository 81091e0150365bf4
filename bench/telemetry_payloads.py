"""Span v2 and log envelopes as the SDKs send them (docs/protocol.md#spans-and-logs), for the
telemetry benchmark: realistic attributes, an order id on every entry, distinct ids.

A span envelope is one segment of a checkout and its children (`http.server` segment, then
middleware, `db` queries, `cache` gets, `http.client` calls and `code` spans), one trace per
envelope; each span carries the order's id as the `order_id` attribute (set on the scope, as
the shop's services do, so every span of the request has it). A log envelope holds the entries
of several orders, about ten each, templated bodies with their parameters as the SDKs send them
(`sentry.message.template`, `sentry.message.parameter.N`), one entry in a hundred at level
error (those also become events).
"""

import gzip
import random
import uuid
from typing import Any

import orjson

from bench.payloads import SERVICES

SDK = ("sentry.javascript.node", "11.12.0")
RELEASE = "shop@2.4.1"
SPAN_CHILDREN = (
    ("middleware.handle", "corsMiddleware", None),
    ("middleware.handle", "jsonParser", None),
    ("db", "SELECT * FROM carts WHERE user_id = $1", "postgresql"),
    ("db", "SELECT id, price, stock FROM products WHERE id = ANY($1)", "postgresql"),
    ("cache.get", "cart:{user}", "redis"),
    ("http.client", "POST http://payment:8080/charge", None),
    ("code", "validateCard", None),
    ("db", "INSERT INTO orders (id, user_id, total) VALUES ($1, $2, $3)", "postgresql"),
    ("http.client", "POST http://shipping:8080/shipments", None),
    ("queue.publish", "order.placed", None),
)
LOG_LINES = (
    ("debug", "Cart %s loaded with %s items", ("cart", "count")),
    ("info", "Order %s placed by user %s", ("order", "user")),
    ("info", "Reserving stock for order %s: %s products", ("order", "count")),
    ("info", "Payment requested for order %s, total %s EUR", ("order", "total")),
    ("info", "Card validated for order %s (%s)", ("order", "brand")),
    ("info", "Payment authorised for order %s, total %s EUR", ("order", "total")),
    ("warn", "Shipping quote for order %s took %s ms", ("order", "ms")),
    ("info", "Shipment requested for order %s to %s", ("order", "country")),
    ("info", "Confirmation mail queued for order %s", ("order",)),
    ("info", "Order %s completed in %s ms", ("order", "ms")),
)
ERROR_LINE = ("error", "Payment declined for order %s: card %s has expired", ("order", "brand"))


def typed(value: Any) -> dict[str, Any]:
    """An attribute as the protocols send it: `{"value": …, "type": …}`."""
    kind = {bool: "boolean", int: "integer", float: "double"}.get(type(value), "string")
    return {"value": value, "type": kind}


def _span(
    trace_id: str, span_id: str, parent: str | None, start: float, end: float, **fields: Any
) -> dict[str, Any]:
    attributes = {name: typed(value) for name, value in fields.pop("attributes").items()}
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent,
        "start_timestamp": start,
        "end_timestamp": end,
        "status": "ok",
        "attributes": attributes,
        **fields,
    }


def segment_spans(
    rng: random.Random, order: str, trace_id: str, service: str, start: float, count: int = 50
) -> list[dict[str, Any]]:
    """One segment (`POST /api/checkout` on `service`) and `count - 1` children."""
    segment_id = f"{rng.getrandbits(64):016x}"
    common = {
        "sentry.environment": "production",
        "sentry.release": RELEASE,
        "sentry.sdk.name": SDK[0],
        "sentry.sdk.version": SDK[1],
        "sentry.platform": "javascript",
        "sentry.origin": "auto.http.otel.http",
        "sentry.segment.id": segment_id,
        "sentry.segment.name": "POST /api/checkout",
        "server.address": f"{service}-7d9f8c-x2k4p",
        "service.name": service,
        "order_id": order,
        "user.id": str(rng.randrange(1, 100_000)),
    }
    end = start + 0.05 + 0.001 * count
    server = {
        "sentry.op": "http.server",
        "sentry.source": "route",
        "http.request.method": "POST",
        "http.route": "/api/checkout",
        "url.path": "/api/checkout",
        "http.response.status_code": 200,
    }
    spans = [
        _span(trace_id, segment_id, None, start, end, name="POST /api/checkout",
              is_segment=True, kind="server", attributes={**common, **server})
    ]  # fmt: skip
    for i in range(count - 1):
        op, name, system = SPAN_CHILDREN[i % len(SPAN_CHILDREN)]
        extra: dict[str, Any] = {"sentry.op": op}
        if system is not None:
            extra["db.system"] = system
        if op == "http.client":
            extra |= {"http.request.method": "POST", "http.response.status_code": 200}
        begin = start + 0.001 * (i + 1)
        spans.append(
            _span(trace_id, f"{rng.getrandbits(64):016x}", segment_id, begin,
                  begin + rng.uniform(0.0002, 0.02), name=name, is_segment=False,
                  kind="client" if op in ("db", "http.client", "cache.get") else "internal",
                  attributes={**common, **extra})
        )  # fmt: skip
    return spans


def _log_values(rng: random.Random, order: str) -> dict[str, Any]:
    return {
        "order": order,
        "user": f"user-{rng.randrange(1, 100_000)}",
        "cart": f"cart-{rng.getrandbits(32):08x}",
        "count": rng.randrange(1, 9),
        "total": round(rng.uniform(5, 400), 2),
        "brand": rng.choice(("visa", "mastercard", "amex")),
        "ms": rng.randrange(3, 900),
        "country": rng.choice(("DE", "FR", "NL", "US", "JP")),
    }


def order_logs(
    rng: random.Random, order: str, trace_id: str, start: float, failed: bool = False
) -> list[dict[str, Any]]:
    """The ten log entries one order's checkout writes (the last one an error when `failed`)."""
    service = rng.choice(SERVICES)
    values = _log_values(rng, order)
    lines = [*LOG_LINES[:9], ERROR_LINE] if failed else list(LOG_LINES)
    entries = []
    for i, (level, template, names) in enumerate(lines):
        parameters = [values[name] for name in names]
        attributes: dict[str, Any] = {
            "sentry.message.template": template,
            **{f"sentry.message.parameter.{n}": p for n, p in enumerate(parameters)},
            "sentry.environment": "production",
            "sentry.release": RELEASE,
            "sentry.sdk.name": SDK[0],
            "sentry.sdk.version": SDK[1],
            "sentry.origin": "auto.log.console",
            "server.address": f"{service}-7d9f8c-x2k4p",
            "service.name": service,
            "order_id": order,
        }
        entries.append(
            {
                "timestamp": start + 0.01 * i,
                "trace_id": trace_id,
                "span_id": f"{rng.getrandbits(64):016x}",
                "level": level,
                "body": template % tuple(parameters),
                "attributes": {name: typed(value) for name, value in attributes.items()},
            }
        )
    return entries


def envelope(kind: str, entries: list[dict[str, Any]], trace_id: str) -> bytes:
    """One `span` or `log` item in an envelope, framed as the SDKs frame it."""
    content_type = {
        "span": "application/vnd.sentry.items.span.v2+json",
        "log": "application/vnd.sentry.items.log+json",
    }[kind]
    header = {"sent_at": "2026-12-02T15:00:00.000Z", "trace": {"trace_id": trace_id,
              "public_key": "bench", "release": RELEASE, "environment": "production"}}  # fmt: skip
    item = {"type": kind, "item_count": len(entries), "content_type": content_type}
    body = orjson.dumps({"items": entries})
    return b"\n".join([orjson.dumps(header), orjson.dumps(item), body]) + b"\n"


def _ids(rng: random.Random) -> tuple[str, str]:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"{rng.getrandbits(128):032x}"


def span_envelopes(count: int, start: float, seed: int = 7, per: int = 50) -> list[bytes]:
    """`count` gzip'd envelopes of `per` spans, one trace (and order) each."""
    rng = random.Random(seed)
    bodies = []
    for n in range(count):
        order, trace_id = _ids(rng)
        spans = segment_spans(rng, order, trace_id, rng.choice(SERVICES), start + n * 0.001, per)
        bodies.append(gzip.compress(envelope("span", spans, trace_id), compresslevel=6))
    return bodies


def log_envelopes(count: int, start: float, seed: int = 7, per: int = 100) -> list[bytes]:
    """`count` gzip'd envelopes of `per` log entries, ten per order, one order in ten failed."""
    rng = random.Random(seed)
    bodies = []
    for n in range(count):
        entries: list[dict[str, Any]] = []
        while len(entries) < per:
            order, trace_id = _ids(rng)
            at = start + n * 0.001 + len(entries) * 0.0001
            entries += order_logs(rng, order, trace_id, at, failed=rng.random() < 0.1)
        bodies.append(gzip.compress(envelope("log", entries[:per], trace_id), compresslevel=6))
    return bodies
