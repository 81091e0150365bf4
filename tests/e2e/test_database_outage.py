"""PostgreSQL stopped under load and started again: ingestion answers 503 with Retry-After
while it is down, /readyz says why, ingestion resumes by itself, and every acknowledged event
is stored. Runs a private PostgreSQL cluster so the shared one is never stopped."""

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import select

from bench.server import Server, free_port, running_server
from store import migrations
from store.engine import Database
from store.models import Event
from store.settings import DatabaseSettings
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import make_project
from tests.services import require_postgres

PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


@dataclass
class PrivatePostgres:
    data: Path
    port: int
    bin: Path

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-w",
            "-l",
            str(self.data / "log"),
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/sentrail"


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not PG_BIN or (os.geteuid() == 0 and shutil.which("runuser") is None):
        require_postgres("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    # Outside pytest's tmp_path: the postgres user must be able to reach the directory.
    data = Path(tempfile.mkdtemp(prefix="sentrail-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    cluster = PrivatePostgres(data, free_port(), PG_BIN[-1])
    cluster._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust")
    cluster.start()
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True
    ) as connection:
        connection.execute("CREATE DATABASE sentrail")
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop()
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class Load:
    acked: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    retry_after_missing: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(60), self.changed:
            await self.changed.wait_for(predicate)


async def send(server: Server, project_id: int, auth: dict[str, str], load: Load) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        while not load.stop.is_set():
            sent = event(event_id=uuid.uuid4().hex)
            try:
                response = await client.post(
                    f"{server.url}/api/{project_id}/envelope/",
                    content=envelope_bytes(sent),
                    headers=auth,
                )
            except httpx.TransportError:
                continue
            load.statuses[response.status_code] = load.statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                load.acked.add(sent["event_id"])
            else:
                load.refused.add(sent["event_id"])
                if "retry-after" not in response.headers:
                    load.retry_after_missing += 1
            async with load.changed:
                load.changed.notify_all()


@pytest.mark.postgres
def test_outage_under_load_loses_nothing(private_postgres: PrivatePostgres, tmp_path: Path) -> None:
    migrations.upgrade(private_postgres.url)
    database = Database(DatabaseSettings(database_url=private_postgres.url))
    project = make_project(database)
    database.dispose()
    readyz_during_outage: list[httpx.Response] = []

    async def scenario(server: Server) -> Load:
        load = Load()
        senders = [
            asyncio.create_task(send(server, project.id, project.auth, load)) for _ in range(16)
        ]
        await load.until(lambda: len(load.acked) >= 200)
        private_postgres.stop()
        await load.until(lambda: load.statuses.get(503, 0) >= 50)
        async with httpx.AsyncClient() as client:
            readyz_during_outage.append(await client.get(f"{server.url}/readyz"))
        private_postgres.start()
        acked_before = len(load.acked)
        await load.until(lambda: len(load.acked) >= acked_before + 200)
        load.stop.set()
        await asyncio.gather(*senders)
        return load

    with running_server(private_postgres.url, tmp_path / "server.log") as server:
        load = asyncio.run(scenario(server))
        assert httpx.get(f"{server.url}/readyz").status_code == 200

    assert set(load.statuses) == {200, 503}, load.statuses  # never a 500
    assert load.retry_after_missing == 0
    [readyz] = readyz_during_outage
    assert readyz.status_code == 503 and "database unreachable" in readyz.json()["detail"]
    database = Database(DatabaseSettings(database_url=private_postgres.url))
    try:
        with database.sessions() as session:
            stored = set(session.scalars(select(Event.event_id)))
    finally:
        database.dispose()
    assert load.acked <= stored, f"{len(load.acked - stored)} acknowledged events lost"
    # A 503 means not stored, except when the connection died after COMMIT was sent.
    assert stored - load.acked <= load.refused
    print(
        f"acknowledged {len(load.acked)}, stored {len(stored)}, "
        f"refused with 503 {load.statuses[503]}"
    )
