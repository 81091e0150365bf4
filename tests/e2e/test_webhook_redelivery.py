"""Re-deliveries that arrive at the same moment, against a real server: stored once."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bench import webhook_payloads as sp
from bench.server import Server, running_server
from store.engine import Database
from store.models import Event, WebhookDelivery
from store.settings import DatabaseSettings

SECRET = "e2e-client-secret"


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    env = {"SENTRAIL_SENTRY_CLIENT_SECRET": SECRET}
    with running_server(database_url, tmp_path / "server.log", extra_env=env) as running:
        yield running


async def send_all(url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[int]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as client:
        responses = await asyncio.gather(
            *(
                client.post(f"{url}/webhooks/sentry", content=body, headers=headers)
                for body, headers in deliveries
            )
        )
    return [r.status_code for r in responses]


def test_concurrent_redeliveries_are_stored_once(server: Server, database_url: str) -> None:
    same = sp.signed(
        sp.envelope("created", {"error": sp.event()}), "error", SECRET, request_id="a" * 32
    )
    others = [
        sp.signed(sp.envelope("created", {"error": sp.event()}), "error", SECRET) for _ in range(10)
    ]
    statuses = asyncio.run(send_all(server.url, [same] * 30 + others))
    assert statuses == [200] * 40
    database = Database(DatabaseSettings(database_url=database_url))
    try:
        with database.sessions() as session:
            deliveries = session.scalar(select(func.count()).select_from(WebhookDelivery))
            events = session.scalar(select(func.count()).select_from(Event))
    finally:
        database.dispose()
    assert (deliveries, events) == (11, 11)
