"""CORS for the ingest endpoints only, so browser SDKs can send from any origin."""

import re

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

INGEST_PATH = re.compile(r"^/api/\d+/(envelope|store)/?$")


class IngestCORS:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and INGEST_PATH.match(scope["path"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
