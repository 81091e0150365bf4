"""The group-commit writer, against a real database."""

import asyncio
import threading

import pytest
from sqlalchemy import func, select

from collector.batch import IngestBatch, Outcome
from collector.writer import Writer
from store.engine import Database
from store.models import ItemOutcome
from tests.conftest import ProjectKey


def _writer(database: Database) -> Writer:
    return Writer(
        database, max_pending=100, max_pending_bytes=1 << 20, max_batch=512, linger=0, retry_after=1
    )


def _batch(project: ProjectKey) -> IngestBatch:
    return IngestBatch(project.id, outcomes=[Outcome("filtered", "error", "sample_rate", 1)])


# SQLite only: its writers take turns through one write lock (PostgreSQL has none to wait for).
@pytest.mark.parametrize("backend", ["sqlite"])
def test_requests_that_arrive_while_the_lock_is_taken_join_that_commit(
    database: Database, project: ProjectKey
) -> None:
    held, release = threading.Event(), threading.Event()

    def another_writer() -> None:  # the correlator, or another worker's writer
        with database.writing():
            held.set()
            release.wait(10)

    async def scenario() -> Writer:
        writer = _writer(database)
        writer.start()
        first = asyncio.create_task(writer.submit(_batch(project)))
        # One loop turn runs the submission, the next the writer, which now waits for the lock.
        for _ in range(3):
            await asyncio.sleep(0)
        later = [asyncio.create_task(writer.submit(_batch(project))) for _ in range(19)]
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, *later)
        await writer.stop()
        return writer

    blocker = threading.Thread(target=another_writer)
    blocker.start()
    assert held.wait(10)
    writer = asyncio.run(scenario())
    blocker.join()
    assert (writer.requests, writer.commits) == (20, 1)
    with database.sessions() as session:
        stored = session.scalar(select(func.sum(ItemOutcome.quantity)))
    assert stored == 20
