"""Realistic SDK payloads: a Python error event as sentry-python builds it, gzip'd as it sends."""

import gzip
import random
import time
import uuid
from typing import Any

import orjson

SERVICES = ["frontend", "order", "payment", "shipping", "cart", "catalog", "users"]


def error_event(rng: random.Random, release: str, order_id: str | None = None) -> dict[str, Any]:
    order_id = order_id or str(uuid.UUID(int=rng.getrandbits(128)))
    service = rng.choice(SERVICES)
    frames = [
        {
            "filename": f"shop/{service}/handlers.py",
            "abs_path": f"/app/shop/{service}/handlers.py",
            "function": f"handle_{i}",
            "module": f"shop.{service}.handlers",
            "lineno": 40 + i,
            "context_line": f"    result = step_{i}(message)",
            "pre_context": ["", "def f():"],
            "post_context": ["    return result", ""],
            "in_app": i > 3,
            "vars": {"i": str(i)},
        }
        for i in range(10)
    ]
    return {
        "event_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "server_name": service,
        "release": release,
        "environment": "production",
        "sdk": {"name": "sentry.python.fastapi", "version": "2.75.0"},
        "tags": {"order_id": order_id, "service": service},
        "contexts": {
            "trace": {
                "trace_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "span_id": f"{rng.getrandbits(64):016x}",
                "op": "http.server",
            },
            "runtime": {"name": "CPython", "version": "3.11.7"},
        },
        "breadcrumbs": {
            "values": [
                {
                    "timestamp": time.time(),
                    "type": "default",
                    "category": "PaymentRequested",
                    "level": "info",
                    "data": {"OrderID": order_id, "Total": 62.5},
                }
                for _ in range(8)
            ]
        },
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": f"validation failed for order [{order_id}] : creditcard has expired",
                    "module": None,
                    "mechanism": {"type": "generic", "handled": True},
                    "stacktrace": {"frames": frames},
                }
            ]
        },
        "extra": {"sys.argv": ["uvicorn"]},
        "modules": {"fastapi": "0.115.0", "sentry-sdk": "2.75.0"},
    }


def envelope(event: dict[str, Any]) -> bytes:
    payload = orjson.dumps(event)
    header = orjson.dumps({"event_id": event["event_id"], "sent_at": "2026-11-27T00:00:00Z"})
    item = orjson.dumps({"type": "event", "length": len(payload)})
    return header + b"\n" + item + b"\n" + payload + b"\n"


def gzipped_envelopes(
    count: int, seed: int = 7, release: str = "bench-1", events_per_order: int = 1
) -> list[bytes]:
    """`count` envelopes of one error event each; every `events_per_order` events a new order."""
    rng = random.Random(seed)
    bodies = []
    order_id: str | None = None
    for i in range(count):
        if events_per_order > 1 and i % events_per_order == 0:
            order_id = str(uuid.UUID(int=rng.getrandbits(128)))
        event = error_event(rng, release, order_id)
        bodies.append(gzip.compress(envelope(event), compresslevel=6))
    return bodies
