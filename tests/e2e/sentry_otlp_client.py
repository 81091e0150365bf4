"""Run as a subprocess: real sentry-python, two ways.

    sentry_otlp_client.py caller <dsn> <order id>
        The order service, with the Sentry SDK: a transaction for the order whose outgoing call
        to shipping is a span; prints the W3C `traceparent` that call would carry, so that an
        OpenTelemetry service continues the same trace.
    sentry_otlp_client.py otlp <dsn> <order id>
        A service instrumented with OpenTelemetry under sentry-python's `OTLPIntegration`: the
        integration exports the spans over OTLP to the endpoint it derives from the DSN, and
        (capture_exceptions) captures a recorded exception as a Sentry event; a Sentry log
        goes in the same trace.

Prints one JSON line of what it sent.
"""

import json
import os
import sys

import sentry_sdk


def caller(dsn: str, order_id: str) -> None:
    sentry_sdk.init(
        dsn=dsn, release="order@1.0.0", environment="e2e", server_name="order",
        traces_sample_rate=1.0,
    )  # fmt: skip
    sentry_sdk.set_tag("order_id", order_id)
    with sentry_sdk.start_transaction(name="POST /orders", op="http.server") as tx:
        with sentry_sdk.start_span(op="http.client", name="POST /ship") as call:
            traceparent = f"00-{tx.trace_id}-{call.span_id}-01"
            call_id = call.span_id
        segment = tx.span_id
    sentry_sdk.flush(timeout=10)
    print(
        json.dumps(
            {
                "trace_id": tx.trace_id,
                "segment": segment,
                "call": call_id,
                "traceparent": traceparent,
            }
        )
    )


def otlp(dsn: str, order_id: str) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind
    from sentry_sdk.integrations.otlp import OTLPIntegration

    os.environ["OTEL_SERVICE_NAME"] = "warehouse"  # the resource's service.name
    sentry_sdk.init(
        dsn=dsn, release="warehouse@1.0.0", environment="e2e", server_name="warehouse",
        enable_logs=True, integrations=[OTLPIntegration(capture_exceptions=True)],
    )  # fmt: skip
    tracer = trace.get_tracer("shop.warehouse")
    with tracer.start_as_current_span(
        "pick parcel", kind=SpanKind.CONSUMER, attributes={"order_id": order_id}
    ) as span:
        context = span.get_span_context()
        trace_id, span_id = format(context.trace_id, "032x"), format(context.span_id, "016x")
        sentry_sdk.logger.info("picking order {order_id}", order_id=order_id)
        try:
            raise LookupError(f"shelf empty for order {order_id}")
        except LookupError as exc:
            span.record_exception(exc)
    provider = trace.get_tracer_provider()
    provider.force_flush()  # type: ignore[attr-defined]
    sentry_sdk.flush(timeout=10)
    print(json.dumps({"trace_id": trace_id, "span_id": span_id}))


if __name__ == "__main__":
    {"caller": caller, "otlp": otlp}[sys.argv[1]](sys.argv[2], sys.argv[3])
