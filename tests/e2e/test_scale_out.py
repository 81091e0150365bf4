"""Scale-out on one PostgreSQL: two `sentrail collector` processes and two `sentrail correlator`
workers under load lose nothing, duplicate nothing, and build the journeys one process would."""

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bench.http_load import run_load
from bench.server import Server, running_correlators, running_server
from correlator.worker import Correlator
from store.engine import Database
from store.models import CorrelatorState, Event
from store.settings import DatabaseSettings
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import _factory, make_project
from tests.correlator.test_worker import snapshot
from tests.services import PostgresDatabases, SqliteDatabases

ORDERS = 300


def order_events(order: str, base: float) -> list[dict[str, Any]]:
    trace = uuid.uuid4().hex
    steps = [("frontend", "info"), ("order", "info"), ("payment", "info"), ("order", "info")]
    if random.random() < 0.3:
        steps[2] = ("payment", "error")
    return [
        event(
            server_name=service,
            level=level,
            timestamp=base + i * 0.1,
            message=f"{service} step {i} of order [{order}]",
            tags={"order_id": order},
            contexts={"trace": {"trace_id": trace, "span_id": uuid.uuid4().hex[:16]}},
        )
        for i, (service, level) in enumerate(steps)
    ]


@pytest.fixture
def cluster(
    _factories: dict[str, SqliteDatabases | PostgresDatabases | str], tmp_path: Path
) -> Iterator[tuple[list[Server], Database]]:
    """A PostgreSQL deployment: SQLite has a single writer by design, so no SQLite variant."""
    database_url = _factory(_factories, "postgresql").fresh()
    database = Database(DatabaseSettings(database_url=database_url))
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                running_server(database_url, tmp_path / f"collector{i}.log", command="collector")
            )
            for i in range(2)
        ]
        logs = [tmp_path / f"correlator{i}.log" for i in range(2)]
        stack.enter_context(running_correlators(database_url, logs))
        try:
            yield servers, database
        finally:
            database.dispose()


def test_two_collectors_and_two_correlators_lose_and_duplicate_nothing(
    cluster: tuple[list[Server], Database],
) -> None:
    servers, database = cluster
    project = make_project(database, "acme")
    base = time.time() - 600
    events = [e for _ in range(ORDERS) for e in order_events(str(uuid.uuid4()), base)]
    bodies = [envelope_bytes(e) for e in events]
    # Every tenth event is sent to both collectors at once: a retry racing the original.
    duplicates = bodies[::10]
    halves = [bodies[0::2] + duplicates, bodies[1::2] + duplicates]

    async def send_all() -> list[int]:
        results = await asyncio.gather(
            *(
                run_load("127.0.0.1", int(s.url.rsplit(":", 1)[1]),
                         f"/api/{project.id}/envelope/", half, project.auth, 16)
                for s, half in zip(servers, halves, strict=True)
            )
        )  # fmt: skip
        return [r.ok for r in results]

    acked = asyncio.run(send_all())
    assert sum(acked) == len(bodies) + 2 * len(duplicates)  # every request acknowledged

    with database.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Event))
        distinct = session.scalar(select(func.count(func.distinct(Event.event_id))))
    assert stored == distinct == len(events)

    # The two workers catch up (one at a time: they take turns through the watermark).
    newest = max_id(database)
    deadline = time.monotonic() + 60
    while watermark(database) < newest:
        assert time.monotonic() < deadline, "the correlators did not catch up"
        time.sleep(0.2)  # polling the workers' progress, bounded
    # A pass commits its journeys with its watermark: they are all there now.
    by_two = snapshot(database)
    assert len(by_two) == ORDERS
    Correlator(database).rebuild()  # one process, from scratch
    assert snapshot(database) == by_two


def max_id(database: Database) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(func.max(Event.id))) or 0)


def watermark(database: Database) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(CorrelatorState.watermark)) or 0)
