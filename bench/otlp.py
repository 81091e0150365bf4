"""OTLP traces ingest benchmark: protobuf export requests of 100 spans, as an OpenTelemetry SDK
or Collector sends them, to the plain `/v1/traces` of a real `sentrail serve` (or collector).

    python -m bench.otlp [--requests 1000] [--concurrency 32] [--backend sqlite|postgresql] \
        [--gzip] [--command serve|collector] [--workers N]

Each request is one trace of one order: a `server` span (`POST /api/checkout`) and 99 children
(database queries, cache gets, client calls, internal work) with the attributes OpenTelemetry's
semantic conventions give them, under a resource naming one of the shop's services, its version
and environment; `order_id` on every span. Built with `opentelemetry-proto`'s classes and
serialised once before the run (the Python exporter sends them uncompressed by default;
`--gzip` as a Collector's `compression: gzip` would). They go over keep-alive connections
(bench/http_load.py) after a warm-up; then the rows in `span` are counted: only stored rows
count, and every acknowledged span must be among them.
"""

import argparse
import asyncio
import gzip
import random
import tempfile
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from bench import harness
from bench.http_load import run_load
from bench.payloads import SERVICES
from bench.server import running_server
from bench.telemetry import stored_rows

PER_REQUEST = 100
WARMUP = 50  # requests
CHILDREN = (
    ("SELECT carts", Span.SPAN_KIND_CLIENT, {"db.system.name": "postgresql",
     "db.query.text": "SELECT * FROM carts WHERE user_id = $1"}),
    ("GET cart", Span.SPAN_KIND_CLIENT, {"db.system.name": "redis", "db.operation.name": "GET"}),
    ("POST", Span.SPAN_KIND_CLIENT, {"http.request.method": "POST",
     "url.full": "http://payment:8080/charge", "http.response.status_code": 200}),
    ("validateCard", Span.SPAN_KIND_INTERNAL, {"code.function.name": "validateCard"}),
    ("order.placed publish", Span.SPAN_KIND_PRODUCER, {"messaging.system": "rabbitmq",
     "messaging.destination.name": "order.placed"}),
)  # fmt: skip


def _attributes(values: dict[str, object]) -> list[KeyValue]:
    out = []
    for key, value in values.items():
        if isinstance(value, int):
            out.append(KeyValue(key=key, value=AnyValue(int_value=value)))
        else:
            out.append(KeyValue(key=key, value=AnyValue(string_value=str(value))))
    return out


def export_request(rng: random.Random, start: float) -> bytes:
    """One trace of PER_REQUEST spans of one order, serialised."""
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.extend(
        _attributes(
            {
                "service.name": rng.choice(SERVICES),
                "service.version": "2.4.1",
                "deployment.environment.name": "production",
                "telemetry.sdk.language": "go",
                "telemetry.sdk.name": "opentelemetry",
                "host.name": "shop-7d9f8c-x2k4p",
            }
        )
    )
    scope = resource.scope_spans.add()
    scope.scope.name = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
    trace_id = rng.getrandbits(128).to_bytes(16, "big")
    root_id = rng.getrandbits(64).to_bytes(8, "big")
    order = {"order_id": f"{rng.getrandbits(128):032x}"}
    ns = int(start * 1e9)
    root = scope.spans.add(
        trace_id=trace_id, span_id=root_id, name="POST /api/checkout",
        kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=ns,
        end_time_unix_nano=ns + 150_000_000,
    )  # fmt: skip
    root.attributes.extend(
        _attributes({"http.request.method": "POST", "http.route": "/api/checkout",
                     "http.response.status_code": 200, **order})
    )  # fmt: skip
    for n in range(PER_REQUEST - 1):
        name, kind, values = CHILDREN[n % len(CHILDREN)]
        child = scope.spans.add(
            trace_id=trace_id, span_id=rng.getrandbits(64).to_bytes(8, "big"),
            parent_span_id=root_id, name=name, kind=kind,
            start_time_unix_nano=ns + n * 1_000_000,
            end_time_unix_nano=ns + n * 1_000_000 + 800_000,
        )  # fmt: skip
        child.attributes.extend(_attributes({**values, **order}))
    return request.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--command", choices=("serve", "collector"), default="serve")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(7)
    start = time.time() - 60
    bodies = [export_request(rng, start + n * 0.001) for n in range(args.requests + WARMUP)]
    if args.gzip:
        bodies = [gzip.compress(body, compresslevel=6) for body in bodies]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = harness.fresh_database(args.backend, workdir)
        database, _, key = harness.with_project(url)
        headers = {
            "x-sentry-auth": f"sentry sentry_key={key}",
            "Content-Type": "application/x-protobuf",
            **({"Content-Encoding": "gzip"} if args.gzip else {}),
        }
        log = workdir / "server.log"
        with running_server(url, log, workers=args.workers, command=args.command) as server:
            host, port = server.url.removeprefix("http://").split(":")
            load = [bodies[:WARMUP], bodies[WARMUP:]]
            first = asyncio.run(run_load(host, int(port), "/v1/traces", load[0], headers, 32))
            result = asyncio.run(
                run_load(host, int(port), "/v1/traces", load[1], headers, args.concurrency)
            )
        stored, keys, outcomes = stored_rows(database, "span")
        database.dispose()
        harness.drop_database(url)
    acked = (first.ok + result.ok) * PER_REQUEST
    print(harness.machine())
    print(
        f"backend: {args.backend}, `sentrail {args.command}`, workers: {args.workers}, "
        f"connections: {args.concurrency}, {args.requests} OTLP protobuf requests of "
        f"{PER_REQUEST} spans (+{WARMUP} warm-up), {len(bodies[-1]):,} bytes each"
        + (" gzip'd" if args.gzip else "")
    )
    statuses = dict(first.statuses)
    for status, count in result.statuses.items():
        statuses[status] = statuses.get(status, 0) + count
    print(f"statuses (requests): {dict(sorted(statuses.items()))}")
    verdict = "all acknowledged stored" if stored >= acked else "LOST: acknowledged not stored"
    print(f"spans acknowledged {acked:,}, stored {stored:,} ({keys:,} keys): {verdict}")
    print(f"outcomes other than accepted: {'; '.join(outcomes) or 'none'}")
    print(f"durably stored spans/s: {result.ok * PER_REQUEST / result.elapsed:,.0f}")
    print(
        f"ack latency p50: {result.percentile(0.50) * 1000:.1f} ms, "
        f"p99: {result.percentile(0.99) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
