"""`sentrail serve --workers 2`: a socket per worker, so connections spread over both; a worker
killed is replaced; the correlator runs once, in the parent; SIGTERM stops everything."""

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.server import Server, start_server
from store.engine import Database
from store.models import Event
from store.settings import DatabaseSettings
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import ProjectKey, make_project

CONNECTIONS = 64


def children(pid: int) -> list[int]:
    """The worker processes of a server (multiprocessing's resource tracker is no worker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
            except FileNotFoundError:
                pass  # gone meanwhile
    return found


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling a condition, bounded by the deadline


async def send_on_fresh_connections(server: Server, project: ProjectKey) -> list[str]:
    """One envelope on each of CONNECTIONS new connections at once; the orders sent."""
    url = f"{server.url}/api/{project.id}/envelope/"
    orders = [str(uuid.uuid4()) for _ in range(CONNECTIONS)]

    async def send(order: str) -> int:
        async with httpx.AsyncClient(timeout=30) as client:
            body = envelope_bytes(event(tags={"order_id": order}))
            return (await client.post(url, content=body, headers=project.auth)).status_code

    statuses = await asyncio.gather(*(send(order) for order in orders))
    assert statuses == [200] * CONNECTIONS
    return orders


def test_two_workers_share_connections_survive_a_dead_one_and_stop_together(
    database_url: str, tmp_path: Path
) -> None:
    database = Database(DatabaseSettings(database_url=database_url))
    project = make_project(database)
    log = tmp_path / "server.log"
    server = start_server(database_url, log, workers=2)
    try:
        wait_for(lambda: len(children(server.process.pid)) == 2, "two workers")
        orders = asyncio.run(send_on_fresh_connections(server, project))

        victim = children(server.process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: (
                victim not in children(server.process.pid)
                and len(children(server.process.pid)) == 2
            ),
            "the dead worker's replacement",
        )
        orders += asyncio.run(send_on_fresh_connections(server, project))

        with database.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Event)) == 2 * CONNECTIONS
        # The parent's correlator builds the journeys of what both workers stored.
        wait_for(
            lambda: all(
                httpx.get(f"{server.url}/api/v1/orders/{order}").status_code == 200
                for order in orders[:: CONNECTIONS // 4]
            ),
            "journeys",
        )
        workers = children(server.process.pid)
    finally:
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
        database.dispose()
    assert server.process.returncode == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    # At shutdown each worker's writer says how many requests it stored: both took some.
    served = [
        int(line.split("writer stopped: ", 1)[1].split()[0])
        for line in log.read_text().splitlines()
        if "writer stopped: " in line
    ]
    assert len(served) == 2 and all(served), served
