"""kill -9 of the server under full load: every event that got a 2xx is there after restart."""

import asyncio
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select

from bench.server import Server, start_server
from store.engine import Database
from store.models import Event
from store.settings import DatabaseSettings
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import ProjectKey, make_project

CONCURRENCY = 32
KILL_AFTER_ACKS = 400


async def load_until_killed(server: Server, project: ProjectKey) -> tuple[set[str], int]:
    """Sends until the server dies; kills it (SIGKILL) once enough events were acknowledged,
    while the other requests are still in flight. Returns the acknowledged ids."""
    acked: set[str] = set()
    attempted = 0
    enough = asyncio.Event()
    url = f"{server.url}/api/{project.id}/envelope/"

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal attempted
        while True:
            sent = event(event_id=uuid.uuid4().hex, tags={"order_id": str(uuid.uuid4())})
            attempted += 1
            try:
                response = await client.post(
                    url, content=envelope_bytes(sent), headers=project.auth
                )
            except httpx.TransportError:
                return  # the server is gone
            if response.status_code == 200:
                acked.add(sent["event_id"])
                if len(acked) >= KILL_AFTER_ACKS:
                    enough.set()

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        senders = [asyncio.create_task(sender(client)) for _ in range(CONCURRENCY)]
        await enough.wait()
        server.kill()
        await asyncio.gather(*senders)
    return acked, attempted


def test_acknowledged_events_survive_kill_9(database_url: str, tmp_path: Path) -> None:
    database = Database(DatabaseSettings(database_url=database_url))
    project = make_project(database)
    server = start_server(database_url, tmp_path / "server.log")
    acked, attempted = asyncio.run(load_until_killed(server, project))
    assert server.process.returncode == -9
    assert len(acked) >= KILL_AFTER_ACKS and attempted > len(acked)

    restarted = start_server(database_url, tmp_path / "server.log")
    try:
        with database.sessions() as session:
            stored = set(session.scalars(select(Event.event_id)))
        missing = acked - stored
        assert not missing, f"{len(missing)} acknowledged events lost"
        # and the restarted server takes new events
        sent = event()
        response = httpx.post(
            f"{restarted.url}/api/{project.id}/envelope/",
            content=envelope_bytes(sent),
            headers=project.auth,
        )
        assert response.status_code == 200
    finally:
        restarted.process.terminate()
        restarted.process.wait(timeout=15)
        database.dispose()
