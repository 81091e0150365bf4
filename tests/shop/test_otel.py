"""Shipping's OpenTelemetry instrumentation (shop/otel.py): the OTLP endpoint of a DSN, and a
shipment as a consumer span that continues the order's Sentry trace and hands it on."""

from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from redis import Redis

from shop import queue
from shop.otel import init_otel, otlp_endpoint, parent_of
from shop.services.common import FaultView
from shop.services.shipping import ShippingContext, ship
from shop.settings import ShopSettings

TRACE, SPAN = "771a43a4192642f0b136d5159a501700", "a0b1c2d3e4f5a6b7"


def test_the_otlp_endpoint_of_a_dsn_is_the_one_sentry_python_derives() -> None:
    base, headers = otlp_endpoint("http://abc123@sentrail.test:9000/7")
    assert base == "http://sentrail.test:9000/api/7/integration/otlp/v1"
    assert headers == {"x-sentry-auth": "sentry sentry_key=abc123, sentry_version=7"}
    assert (
        otlp_endpoint("https://k@host/prefix/3")[0]
        == "https://host/prefix/api/3/integration/otlp/v1"
    )


def test_a_message_without_a_trace_starts_one() -> None:
    assert parent_of({}) is None
    assert parent_of({"sentry-trace": "not-a-trace"}) is None


def test_a_shipment_continues_the_order_trace_and_hands_it_on(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    telemetry = init_otel("shipping", ShopSettings(SENTRY_RELEASE="r-1"))
    spans = InMemorySpanExporter()
    telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = InMemoryLogRecordExporter()
    telemetry.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    message = queue.Message(
        id="1-0",
        stream=queue.SHIPMENT_REQUESTS,
        metadata={"type": "ShipmentRequested"},
        data={"_id": "o-9", "delivery": "express"},
        headers={"sentry-trace": f"{TRACE}-{SPAN}-1"},
    )
    ship(ShippingContext(redis, FaultView(redis), telemetry), message)
    [span] = spans.get_finished_spans()
    context = span.get_span_context()
    assert (f"{context.trace_id:032x}", span.parent and f"{span.parent.span_id:016x}") == (
        TRACE,
        SPAN,
    )
    assert span.kind is SpanKind.CONSUMER and span.attributes is not None
    assert span.attributes["order_id"] == "o-9"
    assert span.resource.attributes["service.version"] == "r-1"
    published = redis.xrange(queue.SHIPMENT_EVENTS)
    assert [fields[b"sentry-trace"].decode() for _, fields in published] == [
        f"{TRACE}-{context.span_id:016x}-1"
    ] * 2
    delivered = [r.log_record for r in logs.get_finished_logs()][-1]
    assert delivered.body == "order o-9 successfully delivered"
    assert delivered.attributes is not None and delivered.attributes["order_id"] == "o-9"
    assert delivered.trace_id == context.trace_id
    telemetry.shutdown()
