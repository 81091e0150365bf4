"""Group commit: requests that arrive while a commit runs share the next transaction.

A request is answered only after the transaction holding its data has committed
(docs/decisions.md#1). One writer per process owns the write path.
"""

import asyncio
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from collector.batch import IngestBatch
from collector.persist import write_batches
from store.engine import Database
from store.errors import BadRequest, SentrailError, Unavailable

log = logging.getLogger(__name__)
ISSUE_CACHE_SIZE = 100_000


@dataclass
class _Request:
    batch: IngestBatch
    future: "asyncio.Future[None]"


class _Transaction:
    """One group's write transaction: the write lock and the connection, held across awaits."""

    def __init__(self, database: Database) -> None:
        with ExitStack() as held:
            self.connection = held.enter_context(database.writing())
            self._transaction = self.connection.begin()
            self._held = held.pop_all()  # kept only once the transaction has begun

    def commit(self) -> None:
        with self._held:
            self._transaction.commit()

    def rollback(self) -> None:
        with self._held:
            self._transaction.rollback()


class Writer:
    """Group commit on the event loop: a group is every request waiting once the write lock
    is taken, so those that arrive while a commit runs, or while the lock is held elsewhere,
    share the next. The waits run on one thread beside the loop: for the write lock, for the
    commit's flush to disk, and on PostgreSQL the statements, which wait on the server. On
    SQLite the statements run on the loop, at full speed: a writer thread beside a busy loop
    ran them several times slower, sharing the interpreter with it."""

    def __init__(
        self,
        database: Database,
        *,
        max_pending: int,
        max_pending_bytes: int,
        max_batch: int,
        linger: float,
        retry_after: int,
    ) -> None:
        self._database = database
        self._pending: deque[_Request] = deque()
        self._max_pending = max_pending
        self._max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0
        self._max_batch = max_batch
        self._linger = linger
        self._retry_after = retry_after
        self._waits = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentrail-writer")
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.commits = 0
        self.requests = 0
        self.busy_seconds = 0.0
        # (project, grouping hash) -> issue id, so a known issue costs no lookup. Issues are
        # never deleted while the process runs; the cache is bounded by starting over.
        self._issues: dict[tuple[int, str], int] = {}

    def start(self) -> None:
        """Starts the writer on the running event loop."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sentrail-writer")

    async def stop(self) -> None:
        """Commits what is queued, then ends."""
        if self._task is None or self._wake is None:
            return
        self._stopping = True
        self._wake.set()
        await self._task
        self._waits.shutdown()
        log.info(
            "writer stopped: %d requests in %d commits, %.1f s writing",
            self.requests,
            self.commits,
            self.busy_seconds,
        )

    async def submit(self, batch: IngestBatch) -> None:
        if batch.is_empty():
            return
        if self._wake is None or self._stopping:
            raise Unavailable("ingest is stopping, retry later", headers=self._retry_headers)
        size = batch.approximate_bytes()
        # Both bounds keep memory flat when the database falls behind: a request that would
        # pass either is refused at once (SDKs back off on 503 with Retry-After).
        if len(self._pending) >= self._max_pending or (
            self._pending_bytes and self._pending_bytes + size > self._max_pending_bytes
        ):
            raise Unavailable("ingest is overloaded, retry later", headers=self._retry_headers)
        request = _Request(batch, asyncio.get_running_loop().create_future())
        self._pending.append(request)
        self._pending_bytes += size
        self._wake.set()
        try:
            await request.future
        finally:
            self._pending_bytes -= size

    @property
    def _retry_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self._retry_after)}

    async def _run(self) -> None:
        assert self._wake is not None
        while not (self._stopping and not self._pending):
            await self._wake.wait()
            self._wake.clear()
            if self._linger and not self._stopping:
                await asyncio.sleep(self._linger)
            while self._pending:
                await self._commit_next_group()

    async def _commit_next_group(self) -> None:
        """Takes the write lock first and the group after: the requests that arrive while
        the lock is taken (or held by another worker's writer, or the correlator) join this
        commit instead of waiting for the next one."""
        try:
            transaction = await self._begin()
        except Exception as exc:  # the database is unreachable: none of them can be stored
            waiting = list(self._pending)
            self._pending.clear()
            _finish(waiting, _as_error(exc, self._retry_after))
            return
        count = min(len(self._pending), self._max_batch)
        await self._commit([self._pending.popleft() for _ in range(count)], transaction)

    async def _begin(self) -> _Transaction:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._waits, _Transaction, self._database)

    async def _commit(self, group: list[_Request], transaction: _Transaction | None = None) -> None:
        try:
            await self._write([r.batch for r in group], transaction or await self._begin())
        except Exception as exc:
            if len(group) > 1 and not _is_outage(exc):
                # One bad batch must not fail the others: retry each alone.
                for request in group:
                    await self._commit([request])
                return
            _finish(group, _as_error(exc, self._retry_after))
            return
        _finish(group, None)

    async def _write(self, batches: list[IngestBatch], transaction: _Transaction) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            if self._database.is_sqlite:
                found = write_batches(transaction.connection, batches, self._issues)
            else:  # PostgreSQL's statements wait on the server (a row lock, say): not here
                found = await loop.run_in_executor(
                    self._waits, write_batches, transaction.connection, batches, self._issues
                )
        except BaseException:
            await loop.run_in_executor(self._waits, transaction.rollback)
            raise
        await loop.run_in_executor(self._waits, transaction.commit)
        if len(self._issues) + len(found) > ISSUE_CACHE_SIZE:
            self._issues.clear()
        self._issues.update(found)  # only after the commit: a rollback must not leave ids
        self.busy_seconds += time.perf_counter() - started
        self.commits += 1
        self.requests += len(batches)


def _finish(group: list[_Request], error: SentrailError | None) -> None:
    for request in group:
        if request.future.done():  # the client went away
            continue
        if error is None:
            request.future.set_result(None)
        else:
            request.future.set_exception(error)


def _is_outage(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def _as_error(exc: Exception, retry_after: int) -> SentrailError:
    if isinstance(exc, IntegrityError | DataError):
        log.warning("batch refused by the database: %s", exc)
        return BadRequest("the event could not be stored: the database refused its data")
    log.error("storing a batch failed", exc_info=exc)
    return Unavailable(
        "storage is unavailable, retry later", headers={"Retry-After": str(retry_after)}
    )
