"""OTLP/HTTP: `POST /api/{project_id}/integration/otlp/v1/traces` and `…/v1/logs` (Sentry's
paths, `x-sentry-auth` names the key), and the plain `/v1/traces` and `/v1/logs` an
OpenTelemetry Collector or SDK exports to, where the key alone names the project
(docs/reference.md#opentelemetry-otlp).

As the envelope endpoint: a bad key is refused before the body is read, the rate limit and the
size caps apply, large bodies take the large-request lane, and the answer comes only once the
writer has committed (docs/decisions.md#1). Errors are a google.rpc.Status in the request's
encoding, with the same HTTP status and Retry-After the envelope endpoint would send.
"""

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from collector.auth import keys_from_request, single_key
from collector.endpoints import (
    Ingest,
    authenticate,
    ingest_of,
    project_id_of,
    request_body,
)
from collector.otlp import (
    JSON,
    LOGS,
    PROTOBUF,
    TRACES,
    Signal,
    check_encoding,
    media_type,
    read_otlp,
    response_body,
    status_body,
)
from store.errors import SentrailError

CONTENT_TYPES = {PROTOBUF: "application/x-protobuf", JSON: "application/json"}


async def sentry_traces(request: Request) -> Response:
    """`POST /api/{project_id}/integration/otlp/v1/traces`"""
    return await _export(request, TRACES, named_project=True)


async def sentry_logs(request: Request) -> Response:
    """`POST /api/{project_id}/integration/otlp/v1/logs`"""
    return await _export(request, LOGS, named_project=True)


async def plain_traces(request: Request) -> Response:
    """`POST /v1/traces`"""
    return await _export(request, TRACES, named_project=False)


async def plain_logs(request: Request) -> Response:
    """`POST /v1/logs`"""
    return await _export(request, LOGS, named_project=False)


async def metrics(request: Request) -> Response:
    """`POST /v1/metrics` (and Sentry's path): 404 as an OTLP Status, so that an exporter
    configured for all three signals says why, rather than getting the dashboard's page."""
    kind = _kind_of(request)
    return Response(
        status_body(kind, 404, "metrics are not stored: sentrail takes OTLP traces and logs"),
        status_code=404,
        media_type=CONTENT_TYPES[kind],
    )


def _kind_of(request: Request) -> str:
    """The encoding to answer in: the request's, else protobuf (OTLP's default)."""
    try:
        return media_type(request.headers.get("content-type"))
    except SentrailError:
        return PROTOBUF


async def _export(request: Request, signal: Signal, *, named_project: bool) -> Response:
    answer_kind = _kind_of(request)
    try:
        body = await _accept(request, signal, named_project)
    except SentrailError as exc:
        return Response(
            status_body(answer_kind, exc.status_code, exc.detail),
            status_code=exc.status_code,
            headers=exc.headers,
            media_type=CONTENT_TYPES[answer_kind],
        )
    return Response(body, media_type=CONTENT_TYPES[answer_kind])


async def _project(ingest: Ingest, request: Request, named_project: bool) -> int:
    """The project the request is for, its key checked."""
    keys = keys_from_request(request.headers, request.query_params)
    if named_project:
        project_id = project_id_of(request)
    else:
        key = single_key(keys)
        known = ingest.projects.known_project(key)
        project_id = (
            known if known is not None else await run_in_threadpool(ingest.projects.project_of, key)
        )
    await authenticate(ingest, project_id, keys)
    return project_id


async def _accept(request: Request, signal: Signal, named_project: bool) -> bytes:
    """Reads, stores and answers one export request (its response body)."""
    ingest = ingest_of(request)
    project_id = await _project(ingest, request, named_project)
    ingest.limiter.check(project_id)
    kind = media_type(request.headers.get("content-type"))
    check_encoding(request.headers.get("content-encoding"))
    body, encoding, large = await request_body(ingest, request)
    now = datetime.now(UTC)
    args = (signal.name, kind, project_id, body, encoding, now)
    if large:
        batch, answer = await ingest.large.run(read_otlp, *args)
    else:
        batch, answer = read_otlp(*args, reader=ingest.reader)
    await ingest.writer.submit(batch)
    return response_body(signal, kind, answer)
