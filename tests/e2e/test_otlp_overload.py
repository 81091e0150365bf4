"""OTLP under overload, as the envelope path: while the database is stalled, the requests past
the writer's queue get 503 with Retry-After and a google.rpc.Status (UNAVAILABLE, which OTLP
exporters retry) at once; every acknowledged span is stored once the database moves."""

import asyncio
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
from google.rpc.status_pb2 import Status
from sqlalchemy import select

from bench.server import running_server
from store.engine import Database
from store.models import Span
from store.settings import DatabaseSettings
from tests.collector import otlp_payloads as otlp
from tests.conftest import make_project
from tests.e2e.test_overload import MAX_BATCH, MAX_PENDING, database_stalled

REQUESTS = 24


def test_overload_answers_503_with_a_status_and_stores_what_it_accepted(
    database_url: str, tmp_path: Path
) -> None:
    database = Database(DatabaseSettings(database_url=database_url))
    project = make_project(database)
    env = {
        "SENTRAIL_WRITER_MAX_BATCH": str(MAX_BATCH),
        "SENTRAIL_WRITER_MAX_PENDING": str(MAX_PENDING),
    }
    span_ids = [f"{n + 1:016x}" for n in range(REQUESTS)]
    bodies = [otlp.traces([otlp.span(span_id, "work")]) for span_id in span_ids]
    headers = {"content-type": "application/x-protobuf", **project.auth}

    async def flood(url: str, release: Callable[[], None]) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            tasks = [
                asyncio.create_task(client.post(f"{url}/v1/traces", content=b, headers=headers))
                for b in bodies
            ]
            refused = 0
            for done in asyncio.as_completed(tasks):
                if (await done).status_code == 503:
                    refused += 1
                if refused >= REQUESTS - MAX_PENDING - MAX_BATCH:
                    break
            release()
            return list(await asyncio.gather(*tasks))

    with (
        running_server(database_url, tmp_path / "server.log", extra_env=env) as server,
        ExitStack() as stack,
    ):
        stack.enter_context(database_stalled(database_url))
        responses = asyncio.run(flood(server.url, stack.close))

    assert {r.status_code for r in responses} == {200, 503}
    for refused in (r for r in responses if r.status_code == 503):
        assert refused.headers["retry-after"]
        status = Status()
        status.ParseFromString(refused.content)
        assert (status.code, status.message) == (14, "ingest is overloaded, retry later")
    accepted = {s for s, r in zip(span_ids, responses, strict=True) if r.status_code == 200}
    assert 1 <= len(accepted) <= MAX_PENDING + MAX_BATCH
    with database.sessions() as session:
        stored = set(session.scalars(select(Span.span_id)))
    database.dispose()
    assert stored == accepted
