"""The ingest app: a lean ASGI dispatcher in front of the ingest endpoints.

A framework's middleware stack (error pages, CORS, exception mapping, routing) cost more per
request than parsing the event did (bench/ingest.py), so these few routes dispatch here: match
the path, answer CORS, call the endpoint, map a `SentrailError` to its `{"detail"}` answer.
The routes are the Sentry protocol's, documented in docs/reference.md and docs/protocol.md
rather than in the read API's OpenAPI.
"""

import logging
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from collector.endpoints import envelope_endpoint, store_endpoint
from collector.otlp_endpoints import (
    metrics,
    plain_logs,
    plain_traces,
    sentry_logs,
    sentry_traces,
)
from collector.webhooks import legacy_webhook, sentry_webhook
from store.errors import SentrailError
from web.errors import FastJSONResponse, error_response

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
ROUTES: tuple[tuple[re.Pattern[str], Endpoint], ...] = (
    (re.compile(r"^/api/(?P<project_id>\d{1,18})/envelope/?$"), envelope_endpoint),
    (re.compile(r"^/api/(?P<project_id>\d{1,18})/store/?$"), store_endpoint),
    (re.compile(r"^/api/(?P<project_id>\d{1,18})/integration/otlp/v1/traces/?$"), sentry_traces),
    (re.compile(r"^/api/(?P<project_id>\d{1,18})/integration/otlp/v1/logs/?$"), sentry_logs),
    (re.compile(r"^/v1/traces/?$"), plain_traces),
    (re.compile(r"^/v1/logs/?$"), plain_logs),
    (re.compile(r"^/api/(?P<project_id>\d{1,18})/integration/otlp/v1/metrics/?$"), metrics),
    (re.compile(r"^/v1/metrics/?$"), metrics),
    (re.compile(r"^/webhooks/sentry/?$"), sentry_webhook),
    (re.compile(r"^/webhooks/sentry/legacy/?$"), legacy_webhook),
)

# Browser SDKs send from any origin: CORS is open on these paths only (webhooks come from
# servers, where CORS plays no part).
CORS_ANSWER = {"access-control-allow-origin": "*"}
CORS_SIMPLE = {
    **CORS_ANSWER,
    "access-control-expose-headers": "x-sentry-error, x-sentry-rate-limits, retry-after",
}
CORS_PREFLIGHT = {
    **CORS_ANSWER,
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": (
        "x-sentry-auth, content-type, content-encoding, authorization, sentry-trace, baggage, "
        "traceparent, tracestate"
    ),
    "access-control-max-age": "3600",
    "vary": "Origin",
}


class IngestApp:
    """Answers the ingest routes; hands every other request, and the lifespan, to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for pattern, endpoint in ROUTES:
                if matched := pattern.match(scope["path"]):
                    response = await self._answer(endpoint, matched, scope, receive)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _answer(
        self, endpoint: Endpoint, matched: re.Match[str], scope: Scope, receive: Receive
    ) -> Response:
        method = scope["method"]
        if method == "OPTIONS":
            return Response(status_code=200, headers=CORS_PREFLIGHT)
        if method != "POST":
            return FastJSONResponse(
                {"detail": "method not allowed"}, status_code=405, headers={"allow": "POST"}
            )
        scope["path_params"] = {name: int(value) for name, value in matched.groupdict().items()}
        try:
            response = await endpoint(Request(scope, receive))
        except SentrailError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("ingest request failed: %s %s", method, scope["path"])
            response = FastJSONResponse({"detail": "internal error"}, status_code=500)
        if any(name == b"origin" for name, _ in scope["headers"]):
            response.headers.update(CORS_SIMPLE)
        return response
