"""The ASGI application `sentrail serve` runs: collector + read API (+ health)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from collector.cors import IngestCORS
from collector.endpoints import Ingest
from collector.endpoints import router as ingest_router
from collector.settings import CollectorSettings
from dashboard.api import router as api_router
from dashboard.settings import DashboardSettings
from store.engine import Database
from store.errors import Unavailable, install_error_handler
from store.migrations import current_revision, head_revision
from store.settings import DatabaseSettings


def create_app(
    database_settings: DatabaseSettings | None = None,
    collector_settings: CollectorSettings | None = None,
    dashboard_settings: DashboardSettings | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        database = Database(database_settings)
        ingest = Ingest.build(database, collector_settings)
        ingest.writer.start()
        try:
            yield {
                "database": database,
                "ingest": ingest,
                "dashboard_settings": dashboard_settings or DashboardSettings(),
                "head_revision": head_revision(database.settings.database_url),
            }
        finally:
            await run_in_threadpool(ingest.writer.stop)
            database.dispose()

    app = FastAPI(
        title="sentrail",
        summary="A self-hosted backend for Sentry data, correlated by order, trace and release.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handler(app)
    app.include_router(api_router)
    app.include_router(ingest_router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> dict[str, str]:
        """The database answers and its schema is at the newest migration."""
        database: Database = request.state.database
        try:
            current = await run_in_threadpool(current_revision, database.engine)
        except Exception as exc:
            raise Unavailable(
                f"database unreachable: {type(exc).__name__}", headers={"Retry-After": "5"}
            ) from None
        head = request.state.head_revision
        if current != head:
            raise Unavailable(
                f"database schema at {current}, migrations at {head}: run `sentrail db upgrade`",
                headers={"Retry-After": "5"},
            )
        return {"status": "ready", "revision": str(current)}

    app.add_middleware(IngestCORS)
    return app


def create_default_app() -> FastAPI:
    """Factory for uvicorn workers: settings from the environment."""
    return create_app()
