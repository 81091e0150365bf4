"""The ingest app: a lean Starlette app, so the hot path skips the API framework's layers.

Its routes are the Sentry protocol's, documented in README.md rather than in the read API's
OpenAPI; `is_ingest_path` lets the composition send these paths here first.
"""

import re

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from collector.endpoints import envelope_endpoint, store_endpoint
from collector.webhooks import legacy_webhook, sentry_webhook
from store.errors import SentrailError, handle_sentrail_error

INGEST_PATH = re.compile(r"^(/api/\d+/(envelope|store)|/webhooks/sentry(/legacy)?)/?$")


def is_ingest_path(path: str) -> bool:
    return INGEST_PATH.match(path) is not None


def create_ingest_app() -> Starlette:
    routes = [
        Route(path, endpoint, methods=["POST"])
        for endpoint, name in ((envelope_endpoint, "envelope"), (store_endpoint, "store"))
        for path in (f"/api/{{project_id:int}}/{name}/", f"/api/{{project_id:int}}/{name}")
    ]
    routes += [
        Route("/webhooks/sentry", sentry_webhook, methods=["POST"]),
        Route("/webhooks/sentry/legacy", legacy_webhook, methods=["POST"]),
    ]
    # Browser SDKs send from any origin: CORS is open on these paths only (webhooks come
    # from servers, where CORS plays no part).
    cors = Middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["POST", "OPTIONS"],
        allow_headers=[
            "x-sentry-auth",
            "content-type",
            "content-encoding",
            "authorization",
            "sentry-trace",
            "baggage",
        ],
        expose_headers=["x-sentry-error", "x-sentry-rate-limits", "retry-after"],
        max_age=3600,
    )
    return Starlette(
        routes=routes, middleware=[cors], exception_handlers={SentrailError: handle_sentrail_error}
    )
