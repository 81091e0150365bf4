"""Run as a subprocess: a shipping service instrumented with the OpenTelemetry SDK (no Sentry
SDK), exporting traces and logs over OTLP/HTTP to sentrail with the OpenTelemetry exporters.

    otel_client.py protobuf <base url> <project id> <key> <order id> <traceparent> <fail>
    otel_client.py json     …the same…

`protobuf` exports with the protobuf exporters, gzip'd, to the plain `/v1/traces` and
`/v1/logs` (the key in `x-sentry-auth`, as an OpenTelemetry Collector would be set up);
`json` with the JSON exporters to Sentry's `/api/<id>/integration/otlp/v1/…` paths. The request
continues the trace of `traceparent` (the W3C header a Sentry-instrumented caller sends), and
with `fail` = 1 the carrier call raises: the span records the exception and ends in error.

Prints one JSON line: what it sent, and what each export returned.
"""

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

RESULTS: list[str] = []


class Recorded(SpanExporter, LogRecordExporter):  # type: ignore[misc]
    """The real exporter, with what each export returned kept for the test."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def export(self, batch: Sequence[ReadableSpan] | Sequence[ReadableLogRecord]) -> Any:
        result = self.inner.export(batch)
        RESULTS.append(result.name)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def exporters(mode: str, base: str, project_id: str, key: str) -> tuple[Any, Any]:
    auth = {"x-sentry-auth": f"sentry sentry_key={key}, sentry_version=7"}
    if mode == "protobuf":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return (
            OTLPSpanExporter(f"{base}/v1/traces", headers=auth, compression=Compression.Gzip),
            OTLPLogExporter(f"{base}/v1/logs", headers=auth, compression=Compression.Gzip),
        )
    from opentelemetry.exporter.otlp.json.http._log_exporter import (
        OTLPLogExporter as JSONLogExporter,
    )
    from opentelemetry.exporter.otlp.json.http.trace_exporter import (
        OTLPSpanExporter as JSONSpanExporter,
    )

    path = f"{base}/api/{project_id}/integration/otlp/v1"
    return JSONSpanExporter(f"{path}/traces/", headers=auth), JSONLogExporter(
        f"{path}/logs/", headers=auth
    )


def main(mode: str, base: str, project_id: str, key: str, order_id: str, parent: str) -> None:
    fail = sys.argv[7] == "1"
    resource = Resource.create(
        {
            "service.name": "shipping",
            "service.version": "shipping@3.0.0",
            "deployment.environment.name": "e2e",
        }
    )
    span_exporter, log_exporter = exporters(mode, base, project_id, key)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(Recorded(span_exporter)))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(Recorded(log_exporter)))
    log = logging.getLogger("shipping")
    log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    log.setLevel(logging.INFO)
    tracer = tracer_provider.get_tracer("shop.shipping")
    context = TraceContextTextMapPropagator().extract({"traceparent": parent})
    with tracer.start_as_current_span(
        "POST /ship",
        context=context,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "POST", "order_id": order_id},
    ) as server:
        log.info("shipping order %s", order_id, extra={"order_id": order_id})
        with tracer.start_as_current_span("carrier.book", kind=SpanKind.CLIENT) as call:
            call_id = format(call.get_span_context().span_id, "016x")
            if fail:
                try:
                    raise ConnectionError(f"carrier unreachable for order {order_id}")
                except ConnectionError as exc:
                    call.record_exception(exc)
                    call.set_status(Status(StatusCode.ERROR, "carrier unreachable"))
                    server.set_status(Status(StatusCode.ERROR))
                    log.error("could not ship order %s", order_id, extra={"order_id": order_id})
        server_id = format(server.get_span_context().span_id, "016x")
    tracer_provider.shutdown()
    logger_provider.shutdown()
    print(json.dumps({"server": server_id, "call": call_id, "results": RESULTS}))


if __name__ == "__main__":
    main(*sys.argv[1:7])
