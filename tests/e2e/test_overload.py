"""When the write path falls behind, new requests get 503 with Retry-After at once instead of
queueing without bound; what was queued is stored once the database moves again."""

import asyncio
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import select

from bench.server import running_server
from store.engine import Database
from store.models import Event
from store.settings import DatabaseSettings
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import make_project

MAX_PENDING = 4
MAX_BATCH = 2


@contextmanager
def database_stalled(database_url: str) -> Iterator[None]:
    """Holds the lock every ingest commit needs, from outside sentrail."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
    else:
        url = database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url) as connection:
            connection.execute("LOCK TABLE event IN ACCESS EXCLUSIVE MODE")
            yield
            connection.rollback()


@pytest.mark.parametrize("bound", ["requests", "bytes"])
def test_overload_answers_503_and_stores_what_it_accepted(
    database_url: str, tmp_path: Path, bound: str
) -> None:
    database = Database(DatabaseSettings(database_url=database_url))
    project = make_project(database)
    env = {"SENTRAIL_WRITER_MAX_BATCH": str(MAX_BATCH)}
    if bound == "requests":
        env["SENTRAIL_WRITER_MAX_PENDING"] = str(MAX_PENDING)
    else:  # one event is over 1 KiB: the budget admits the first request and no more
        env["SENTRAIL_WRITER_MAX_PENDING_BYTES"] = "1024"
    sent = [event(event_id=uuid.uuid4().hex) for _ in range(40)]

    async def flood(url: str, release: Callable[[], None]) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            tasks = [
                asyncio.create_task(
                    client.post(
                        f"{url}/api/{project.id}/envelope/",
                        content=envelope_bytes(e),
                        headers=project.auth,
                    )
                )
                for e in sent
            ]
            # The refusals come back while the database is still stalled.
            refused = 0
            for done in asyncio.as_completed(tasks):
                if (await done).status_code == 503:
                    refused += 1
                if refused >= len(sent) - MAX_PENDING - MAX_BATCH:
                    break
            release()
            return list(await asyncio.gather(*tasks))

    with (
        running_server(database_url, tmp_path / "server.log", extra_env=env) as server,
        ExitStack() as stack,
    ):
        stack.enter_context(database_stalled(database_url))
        responses = asyncio.run(flood(server.url, stack.close))

    statuses = [r.status_code for r in responses]
    assert set(statuses) == {200, 503}
    assert all(r.headers.get("retry-after") for r in responses if r.status_code == 503)
    accepted = {e["event_id"] for e, r in zip(sent, responses, strict=True) if r.status_code == 200}
    if bound == "requests":
        assert 1 <= len(accepted) <= MAX_PENDING + MAX_BATCH  # the group in hand + the queue
    else:
        assert len(accepted) == 1
    with database.sessions() as session:
        stored = set(session.scalars(select(Event.event_id)))
    database.dispose()
    assert stored == accepted
