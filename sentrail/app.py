"""The ASGI application `sentrail serve` runs: collector + read API (+ health)."""

import gc
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from collector.app import IngestApp
from collector.endpoints import Ingest
from collector.settings import CollectorSettings
from collector.webhooks import SentryProjects, WebhookReader
from correlator.alerts_delivery import AlertThreads
from correlator.monitors import MonitorChecker, MonitorThread
from correlator.settings import CorrelatorSettings, MonitorSettings
from correlator.worker import Correlator, CorrelatorThread
from dashboard.api import router as api_router
from dashboard.apidocs import docs_router
from dashboard.pages import create_pages_app
from dashboard.security import SecurityHeaders
from dashboard.settings import DashboardSettings
from rules.alerts import AlertSettings, alert_rules
from sentrail.settings import ALL_ROLES, Role, ServerSettings, load_settings
from store.engine import Database
from store.errors import Unavailable
from store.migrations import current_revision, head_revision
from store.retention import Pruner
from store.settings import DatabaseSettings
from web.errors import install_error_handler

health = APIRouter(tags=["health"])


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@health.get("/readyz")
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


@dataclass(frozen=True)
class Parts:
    """What one server process runs, and with which settings."""

    roles: Collection[Role]
    database: DatabaseSettings | None = None
    collector: CollectorSettings | None = None
    dashboard: DashboardSettings | None = None
    correlator: CorrelatorSettings | None = None
    monitors: MonitorSettings | None = None
    alerts: AlertSettings | None = None

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        database = Database(self.database)
        state: dict[str, Any] = {
            "database": database,
            "dashboard_settings": self.dashboard or DashboardSettings(),
            "head_revision": head_revision(database.settings.database_url),
        }
        ingest = webhooks = None
        if "collector" in self.roles:
            ingest = Ingest.build(database, self.collector)
            ingest.writer.start()
            webhooks = WebhookReader(ingest, SentryProjects(database))
            state |= {"ingest": ingest, "webhooks": webhooks}
        background = None
        if "correlator" in self.roles:
            background = CorrelatorAndPruner(database, self.correlator, self.monitors, self.alerts)
            background.start()
        # Everything made so far (modules, the app, caches) lives as long as the process:
        # kept out of the collector's full passes, which otherwise walk it all and stalled
        # every request for about 100 ms every few thousand requests (bench/webhooks.py).
        gc.freeze()
        try:
            yield state
        finally:
            if webhooks is not None and webhooks.enricher is not None:
                await webhooks.enricher.close()
            if ingest is not None:
                await ingest.writer.stop()
                await run_in_threadpool(ingest.large.close)
            if background is not None:
                await run_in_threadpool(background.stop)
            database.dispose()


def create_app(
    database_settings: DatabaseSettings | None = None,
    collector_settings: CollectorSettings | None = None,
    dashboard_settings: DashboardSettings | None = None,
    roles: Collection[Role] = ALL_ROLES,
    correlator_settings: CorrelatorSettings | None = None,
    monitor_settings: MonitorSettings | None = None,
    alert_settings: AlertSettings | None = None,
) -> "IngestApp | FastAPI":
    """The parts named in `roles`: collector (ingest + webhooks), correlator (a worker thread)
    and dashboard (read API). Lifespan and state belong to the API app; the ingest app sees the
    same per-request state (Starlette copies the lifespan state into every request scope)."""
    parts = Parts(
        roles,
        database_settings,
        collector_settings,
        dashboard_settings,
        correlator_settings,
        monitor_settings,
        alert_settings,
    )
    app = FastAPI(
        title="sentrail",
        summary="A self-hosted backend for Sentry data, correlated by order, trace and release.",
        version="0.1.0",
        lifespan=parts.lifespan,
        # Served by dashboard/apidocs.py: from our own assets, behind the dashboard token.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handler(app)
    if "dashboard" in roles:
        app.include_router(api_router)
    app.include_router(health)
    app.include_router(docs_router(login_page="dashboard" in roles))
    if "dashboard" in roles:
        # Last: the pages take every path the API and health checks did not.
        app.mount("/", create_pages_app())
    app.add_middleware(SecurityHeaders)
    return IngestApp(app) if "collector" in roles else app


class CorrelatorAndPruner:
    """The correlator's thread, the cron monitor checker's, the alert evaluator's and sender's
    when there are alert rules, and the pruner's when a retention is set: what the correlator
    role runs beside the server (in each worker, or once in the parent of several)."""

    def __init__(
        self,
        database: Database,
        settings: CorrelatorSettings | None = None,
        monitor_settings: MonitorSettings | None = None,
        alert_settings: AlertSettings | None = None,
    ) -> None:
        self.correlator = CorrelatorThread(Correlator(database, settings=settings))
        self.monitors = MonitorThread(MonitorChecker(database, monitor_settings))
        alerting = alert_settings or AlertSettings()
        self.alerts = AlertThreads.build(
            database, alert_rules(alerting), alerting, dashboard_url(alerting)
        )
        retention = database.settings.retention_days
        self.pruner = Pruner(database, retention) if retention else None

    def start(self) -> None:
        self.correlator.start()
        self.monitors.start()
        if self.alerts is not None:
            self.alerts.start()
        if self.pruner is not None:
            self.pruner.start()

    def stop(self) -> None:
        self.correlator.stop()
        self.monitors.stop()
        if self.alerts is not None:
            self.alerts.stop()
        if self.pruner is not None:
            self.pruner.stop()


def dashboard_url(settings: AlertSettings) -> str:
    """Where notifications link to: SENTRAIL_ALERT_DASHBOARD_URL, else SENTRAIL_PUBLIC_URL."""
    return settings.dashboard_url or ServerSettings().public_url or "http://127.0.0.1:8000"


def create_default_app() -> "IngestApp | FastAPI":
    """Factory for uvicorn workers: settings from the environment."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    settings = load_settings()
    return create_app(
        settings.database,
        settings.collector,
        settings.dashboard,
        roles=settings.server.roles,
        correlator_settings=settings.correlator,
        monitor_settings=settings.monitors,
        alert_settings=settings.alerts,
    )
