"""Group commit: requests that arrive while a commit runs share the next transaction.

A request is answered only after the transaction holding its data has committed (DESIGN.md
decision 1). One writer thread per process owns the write path; the event loop only waits.
"""

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from collector.normalize import NormalizedEvent
from collector.persist import write_batches
from collector.sessions import SessionCounts, SessionUpdate, UserSeen
from store.engine import Database
from store.errors import BadRequest, SentrailError, Unavailable

log = logging.getLogger(__name__)
ISSUE_CACHE_SIZE = 100_000


@dataclass(frozen=True)
class Outcome:
    outcome: str
    category: str
    reason: str
    quantity: int


@dataclass(frozen=True)
class Delivery:
    """A webhook delivery as received; stored once per Request-ID."""

    request_id: str
    resource: str
    action: str
    received_at: datetime
    outcome: str
    installation_uuid: str | None
    payload: bytes  # compressed


@dataclass(frozen=True)
class SentryIssue:
    """An issue as sentry.io describes it (`issue.*` webhooks)."""

    hash: str
    sentry_id: str
    title: str
    culprit: str
    type: str
    level: str
    status: str
    substatus: str
    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    external_url: str | None
    assigned_to: str | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class SentryComment:
    comment_id: str
    sentry_issue_id: str
    project_slug: str | None
    author: str | None
    text: str
    at: datetime
    deleted: bool


@dataclass
class IngestBatch:
    """Everything one request asks to store, for one project."""

    project_id: int
    events: list[NormalizedEvent] = field(default_factory=list)
    sessions: list[SessionCounts] = field(default_factory=list)  # pre-aggregated
    users: list[UserSeen] = field(default_factory=list)
    session_updates: list[SessionUpdate] = field(default_factory=list)  # one session each
    outcomes: list[Outcome] = field(default_factory=list)
    # Webhooks: the delivery itself, and what it says about issues and comments.
    delivery: Delivery | None = None
    issues: list[SentryIssue] = field(default_factory=list)
    comments: list[SentryComment] = field(default_factory=list)

    def approximate_bytes(self) -> int:
        """Memory this batch holds while it waits: its stored payloads, and a little for the
        rest of each row."""
        size = sum(len(e.row["payload"]) + 1024 for e in self.events)
        size += len(self.delivery.payload) if self.delivery else 0
        return size + 256 * (
            len(self.sessions)
            + len(self.session_updates)
            + len(self.outcomes)
            + len(self.issues)
            + len(self.comments)
        )

    def is_empty(self) -> bool:
        return not (
            self.events
            or self.sessions
            or self.users
            or self.session_updates
            or self.outcomes
            or self.delivery
            or self.issues
            or self.comments
        )


@dataclass
class _Request:
    batch: IngestBatch
    loop: asyncio.AbstractEventLoop
    future: "asyncio.Future[None]"


class Writer:
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
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._max_pending = max_pending
        self._max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0  # touched only on the event loop
        self._max_batch = max_batch
        self._linger = linger
        self._retry_after = retry_after
        self._thread = threading.Thread(target=self._run, name="sentrail-writer", daemon=True)
        self.commits = 0
        self.requests = 0
        self.busy_seconds = 0.0
        # (project, grouping hash) -> issue id, so a known issue costs no lookup. Issues are
        # never deleted while the process runs; the cache is bounded by starting over.
        self._issues: dict[tuple[int, str], int] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Drains what is queued, then ends the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
            log.info(
                "writer stopped: %d requests in %d commits, %.1f s writing",
                self.requests,
                self.commits,
                self.busy_seconds,
            )

    async def submit(self, batch: IngestBatch) -> None:
        if batch.is_empty():
            return
        size = batch.approximate_bytes()
        # Both bounds keep memory flat when the database falls behind: a request that would
        # pass either is refused at once (SDKs back off on 503 with Retry-After).
        if self._queue.qsize() >= self._max_pending or (
            self._pending_bytes and self._pending_bytes + size > self._max_pending_bytes
        ):
            raise Unavailable(
                "ingest is overloaded, retry later", headers={"Retry-After": str(self._retry_after)}
            )
        loop = asyncio.get_running_loop()
        request = _Request(batch, loop, loop.create_future())
        self._pending_bytes += size
        try:
            self._queue.put(request)
            await request.future
        finally:
            self._pending_bytes -= size

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            deadline = time.monotonic() + self._linger
            while len(group) < self._max_batch:
                try:
                    timeout = deadline - time.monotonic()
                    item = (
                        self._queue.get(timeout=timeout)
                        if timeout > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            self._commit(group)

    def _commit(self, group: list[_Request]) -> None:
        try:
            self._write([r.batch for r in group])
        except Exception as exc:
            if len(group) > 1 and not _is_outage(exc):
                # One bad batch must not fail the others: retry each alone.
                for request in group:
                    self._commit([request])
                return
            self._finish(group, _as_error(exc, self._retry_after))
            return
        self._finish(group, None)

    def _write(self, batches: list[IngestBatch]) -> None:
        started = time.perf_counter()
        with self._database.writing() as connection, connection.begin():
            found = write_batches(connection, batches, self._issues)
        if len(self._issues) + len(found) > ISSUE_CACHE_SIZE:
            self._issues.clear()
        self._issues.update(found)  # only after the commit: a rollback must not leave ids
        self.busy_seconds += time.perf_counter() - started
        self.commits += 1
        self.requests += len(batches)

    def _finish(self, group: list[_Request], error: SentrailError | None) -> None:
        for request in group:
            request.loop.call_soon_threadsafe(_settle, request.future, error)


def _settle(future: "asyncio.Future[None]", error: SentrailError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


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
