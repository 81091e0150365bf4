"""OpenTelemetry for a shop service that does not use sentry-sdk (shipping, docs/shop.md
#instrumentation): the OpenTelemetry SDK, exporting its traces and logs over OTLP/HTTP
(protobuf) to the OTLP endpoint of the service's DSN, the way sentry-python's `OTLPIntegration`
derives it: `<scheme>://<host>/api/<project>/integration/otlp/v1/{traces,logs}/` with the key
in `x-sentry-auth`. The resource says the service, its release (`service.version`) and its
environment (`deployment.environment.name`), as `init_sentry` does for the others.

The other services speak Sentry's `sentry-trace` header: a message's `sentry-trace` is read as
the W3C `traceparent` of its consumer span, and what the service publishes carries its span
as `sentry-trace`, so the order's trace runs through it unbroken.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shop.settings import ShopSettings

FLUSH_TIMEOUT_MS = 3000  # as the Sentry SDK's flush after each message


@dataclass
class Telemetry:
    tracer: Tracer
    logger: Logger
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider

    def info(self, body: str, **attributes: str) -> None:
        """A log record in the current span, with its attributes (the order id, as a key)."""
        self.logger.emit(
            severity_number=SeverityNumber.INFO, severity_text="INFO", body=body,
            attributes=attributes,
        )  # fmt: skip

    def flush(self) -> None:
        """After each message, as the Sentry-instrumented consumers flush their SDK."""
        self.tracer_provider.force_flush(FLUSH_TIMEOUT_MS)
        self.logger_provider.force_flush(FLUSH_TIMEOUT_MS)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


def otlp_endpoint(dsn: str) -> tuple[str, dict[str, str]]:
    """The OTLP base URL of a DSN (`…/integration/otlp/v1`) and its auth header."""
    parts = urlsplit(dsn)
    path, _, project = parts.path.rstrip("/").rpartition("/")
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    base = f"{parts.scheme}://{netloc}{path}/api/{project}/integration/otlp/v1"
    return base, {"x-sentry-auth": f"sentry sentry_key={parts.username}, sentry_version=7"}


def init_otel(service: str, settings: ShopSettings) -> Telemetry:
    """The service's tracer and logger; without a DSN they record nothing anywhere."""
    resource = Resource.create(
        {
            "service.name": service,
            "service.version": settings.release,
            "deployment.environment.name": settings.sentry_environment,
        }
    )
    tracer_provider = TracerProvider(resource=resource)
    logger_provider = LoggerProvider(resource=resource)
    dsn = settings.dsn_of(service)
    if dsn:
        base, headers = otlp_endpoint(dsn)
        tracer_provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(f"{base}/traces/", headers=headers))
        )
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(f"{base}/logs/", headers=headers))
        )
    return Telemetry(
        tracer_provider.get_tracer(f"shop.{service}"),
        logger_provider.get_logger(f"shop.{service}"),
        tracer_provider,
        logger_provider,
    )


def parent_of(headers: Mapping[str, str]) -> Context | None:
    """A message's `sentry-trace` (`<trace>-<span>[-<sampled>]`) as OpenTelemetry's parent."""
    trace_id, _, rest = headers.get("sentry-trace", "").partition("-")
    span_id = rest.partition("-")[0]
    if len(trace_id) != 32 or len(span_id) != 16:
        return None
    traceparent = f"00-{trace_id}-{span_id}-01"
    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


def sentry_trace_of(span: Span) -> str:
    """The `sentry-trace` header that continues `span`'s trace."""
    context = span.get_span_context()
    return f"{context.trace_id:032x}-{context.span_id:016x}-1"
