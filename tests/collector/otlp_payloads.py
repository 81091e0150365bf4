"""OTLP export requests as the protobuf classes of `opentelemetry-proto` build them (the same
classes every OTLP exporter in Python encodes with), and their OTLP/JSON form."""

import time
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

TRACE_ID = "5b8efff798038103d269b633813fc60c"
ROOT_ID = "eee19b7ec3c1b174"
CHILD_ID = "eee19b7ec3c1b175"
GRANDCHILD_ID = "eee19b7ec3c1b176"
LINKED_TRACE = "0af7651916cd43dd8448eb211c80319c"
LINKED_SPAN = "b7ad6b7169203331"


def value(raw: Any) -> AnyValue:
    if isinstance(raw, bool):
        return AnyValue(bool_value=raw)
    if isinstance(raw, int):
        return AnyValue(int_value=raw)
    if isinstance(raw, float):
        return AnyValue(double_value=raw)
    return AnyValue(string_value=str(raw))


def attributes(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=value(v)) for k, v in values.items()]


def resource(service: str = "shipping", **extra: Any) -> dict[str, Any]:
    return {
        "service.name": service,
        "service.version": "shipping@2.1.0",
        "deployment.environment.name": "production",
        "telemetry.sdk.language": "python",
        **extra,
    }


def span(
    span_id: str,
    name: str,
    *,
    parent: str = "",
    kind: int = Span.SPAN_KIND_INTERNAL,
    error: bool = False,
    start: float | None = None,
    duration: float = 0.05,
    attrs: dict[str, Any] | None = None,
    trace_id: str = TRACE_ID,
) -> Span:
    started = start if start is not None else time.time() - 1
    return Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(span_id),
        parent_span_id=bytes.fromhex(parent),
        name=name,
        kind=kind,  # type: ignore[arg-type]
        start_time_unix_nano=int(started * 1e9),
        end_time_unix_nano=int((started + duration) * 1e9),
        attributes=attributes(attrs or {}),
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_OK),
    )


def exception_event(span: Span, kind: str, message: str, escaped: bool = True) -> None:
    event = span.events.add()
    event.name = "exception"
    event.time_unix_nano = span.end_time_unix_nano
    event.attributes.extend(
        attributes(
            {
                "exception.type": kind,
                "exception.message": message,
                "exception.escaped": escaped,
                "exception.stacktrace": f'Traceback:\n  File "ship.py", line 3\n{kind}: {message}',
            }
        )
    )


def traces(spans: list[Span], service_resource: dict[str, Any] | None = None) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(attributes(service_resource or resource()))
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "shop.shipping"
    scope.spans.extend(spans)
    return request.SerializeToString()


def shipment_trace(order_id: str, *, fail: bool = False) -> list[Span]:
    """A shipping request: server span, a child with a link, a db grandchild."""
    root = span(
        ROOT_ID,
        "POST /ship",
        kind=Span.SPAN_KIND_SERVER,
        error=fail,
        attrs={"http.request.method": "POST", "order_id": order_id},
    )
    child = span(CHILD_ID, "reserve parcel", parent=ROOT_ID, attrs={"parcel.size": 3})
    link = child.links.add()
    link.trace_id, link.span_id = bytes.fromhex(LINKED_TRACE), bytes.fromhex(LINKED_SPAN)
    grandchild = span(
        GRANDCHILD_ID,
        "SELECT parcels",
        parent=CHILD_ID,
        kind=Span.SPAN_KIND_CLIENT,
        attrs={"db.system": "sqlite"},
    )
    if fail:
        exception_event(root, "CarrierUnavailable", f"no carrier for order {order_id}")
    return [root, child, grandchild]


def log_record(body: str, severity: int, *, trace: bool = True, **attrs: Any) -> LogRecord:
    return LogRecord(
        time_unix_nano=int(time.time() * 1e9),
        severity_number=severity,  # type: ignore[arg-type]
        severity_text="",
        body=AnyValue(string_value=body),
        attributes=attributes(attrs),
        trace_id=bytes.fromhex(TRACE_ID) if trace else b"",
        span_id=bytes.fromhex(ROOT_ID) if trace else b"",
    )


def logs(records: list[LogRecord]) -> bytes:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.extend(attributes(resource()))
    scope = resource_logs.scope_logs.add()
    scope.scope.name = "shop.shipping"
    scope.log_records.extend(records)
    return request.SerializeToString()


def _hex_ids(node: Any) -> Any:
    """OTLP/JSON's ids are hex where protobuf's JSON mapping writes base64."""
    import base64

    if isinstance(node, dict):
        return {
            k: base64.b64decode(v).hex()
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
            else _hex_ids(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def as_json(
    request: bytes, kind: type[ExportTraceServiceRequest | ExportLogsServiceRequest]
) -> Any:
    message = kind()
    message.ParseFromString(request)
    return _hex_ids(json_format.MessageToDict(message))
