"""`POST /api/{project_id}/envelope/` and `/store/`: authenticate, bound, parse, store, answer.

Only what the hot path needs lives here (docs/decisions.md#9): no correlator, no pandas.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from collector.auth import ProjectKeys, key_from_dsn, keys_from_request, single_key
from collector.batch import IngestBatch
from collector.items import ItemReader
from collector.lanes import LargeRequestLane, read_envelope, read_store_body
from collector.ratelimit import RateLimiter
from collector.settings import CollectorSettings
from collector.writer import Writer
from rules.config import current_rules
from rules.extract import KeyExtractor
from store.engine import Database
from store.errors import Forbidden, PayloadTooLarge
from web.errors import FastJSONResponse


@dataclass
class Ingest:
    """The collector's per-process state, built once at start-up."""

    settings: CollectorSettings
    projects: ProjectKeys
    limiter: RateLimiter
    reader: ItemReader
    writer: Writer
    large: LargeRequestLane

    @classmethod
    def build(cls, database: Database, settings: CollectorSettings | None = None) -> "Ingest":
        settings = settings or CollectorSettings()
        writer = Writer(
            database,
            max_pending=settings.writer_max_pending,
            max_pending_bytes=settings.writer_max_pending_bytes,
            max_batch=settings.writer_max_batch,
            linger=settings.writer_linger,
            retry_after=settings.retry_after_seconds,
        )
        return cls(
            settings,
            ProjectKeys(database),
            RateLimiter(settings.rate_limit_per_minute),
            ItemReader(settings, KeyExtractor(current_rules())),
            writer,
            LargeRequestLane(settings),
        )


def ingest_of(request: Request) -> Ingest:
    ingest: Ingest = request.state.ingest
    return ingest


def project_id_of(request: Request) -> int:
    project_id: int = request.path_params["project_id"]
    if not 1 <= project_id < 2**31:
        raise Forbidden(f"unknown project {project_id}")
    return project_id


async def read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():  # chunked bodies arrive this way too
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"body is larger than {limit} bytes")
    return bytes(body)


async def authenticate(ingest: Ingest, project_id: int, keys: set[str]) -> None:
    key = single_key(keys)
    if not ingest.projects.knows(project_id, key):
        await run_in_threadpool(ingest.projects.check, project_id, key)


async def request_body(ingest: Ingest, request: Request) -> tuple[bytes, str | None, bool]:
    """The body, its encoding, and whether it is large (collector/lanes.py): a large one as
    sent, for the lane to decode; a small one decoded already (its encoding then None)."""
    encoding = request.headers.get("content-encoding")
    ingest.large.check_room(request.headers.get("content-length"), encoding)
    body = await read_body(request, ingest.settings.max_body_bytes)
    small = ingest.large.small_body(body, encoding)
    if small is None:
        return body, encoding, True
    return small, None, False


def _client_ip(request: Request) -> str | None:
    """The peer, or what a proxy uvicorn trusts forwarded (its ProxyHeadersMiddleware)."""
    return request.client.host if request.client else None


def _answer(batch: IngestBatch) -> FastJSONResponse:
    if batch.events:
        return FastJSONResponse({"id": batch.events[0].row["event_id"]})
    return FastJSONResponse({})


async def envelope_endpoint(request: Request) -> FastJSONResponse:
    """`POST /api/{project_id}/envelope/`"""
    project_id, ingest = project_id_of(request), ingest_of(request)
    keys = keys_from_request(request.headers, request.query_params)
    if keys:  # refuse a bad key before reading a large body
        await authenticate(ingest, project_id, keys)
    ingest.limiter.check(project_id)
    body, encoding, large = await request_body(ingest, request)
    now, client_ip = datetime.now(UTC), _client_ip(request)
    if large:
        dsn, batch = await ingest.large.run(
            read_envelope, project_id, body, encoding, now, client_ip
        )
    else:
        dsn, batch = read_envelope(project_id, body, encoding, now, client_ip, ingest.reader)
    dsn_key = key_from_dsn(dsn, project_id)
    if dsn_key is not None:
        keys.add(dsn_key)
    await authenticate(ingest, project_id, keys)
    await ingest.writer.submit(batch)
    return _answer(batch)


async def store_endpoint(request: Request) -> FastJSONResponse:
    """`POST /api/{project_id}/store/` (deprecated by Sentry, still sent by old SDKs)."""
    project_id, ingest = project_id_of(request), ingest_of(request)
    await authenticate(ingest, project_id, keys_from_request(request.headers, request.query_params))
    ingest.limiter.check(project_id)
    body, encoding, large = await request_body(ingest, request)
    now, client_ip = datetime.now(UTC), _client_ip(request)
    batch = IngestBatch(project_id)
    if large:
        event = await ingest.large.run(read_store_body, body, encoding, now, client_ip)
    else:
        event = read_store_body(body, encoding, now, client_ip, ingest.reader)
    batch.events.append(event)
    await ingest.writer.submit(batch)
    return _answer(batch)
