"""`POST /api/{project_id}/envelope/` and `/store/`: authenticate, bound, parse, store, answer.

Only what the hot path needs lives here (DESIGN.md decision 9): no correlator, no pandas.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from collector.auth import ProjectKeys, key_from_dsn, keys_from_request, single_key
from collector.encodings import decode_body
from collector.items import ItemReader
from collector.parsers import parse_envelope, parse_store_body
from collector.ratelimit import RateLimiter
from collector.settings import CollectorSettings
from collector.writer import IngestBatch, Writer
from rules.config import current_rules
from rules.extract import KeyExtractor
from store.engine import Database
from store.errors import FastJSONResponse, PayloadTooLarge

router = APIRouter(tags=["ingest"])


@dataclass
class Ingest:
    """The collector's per-process state, built once at start-up."""

    settings: CollectorSettings
    projects: ProjectKeys
    limiter: RateLimiter
    reader: ItemReader
    writer: Writer

    @classmethod
    def build(cls, database: Database, settings: CollectorSettings | None = None) -> "Ingest":
        settings = settings or CollectorSettings()
        writer = Writer(
            database,
            max_pending=settings.writer_max_pending,
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
        )


def get_ingest(request: Request) -> Ingest:
    ingest: Ingest = request.state.ingest
    return ingest


IngestDep = Annotated[Ingest, Depends(get_ingest)]
ProjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():  # chunked bodies arrive this way too
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"body is larger than {limit} bytes")
    return bytes(body)


async def _authenticate(ingest: Ingest, project_id: int, keys: set[str]) -> None:
    key = single_key(keys)
    if not ingest.projects.knows(project_id, key):
        await run_in_threadpool(ingest.projects.check, project_id, key)


async def _body(ingest: Ingest, request: Request) -> bytes:
    settings = ingest.settings
    raw = await _read_body(request, settings.max_body_bytes)
    return decode_body(raw, request.headers.get("content-encoding"), settings.max_envelope_bytes)


def _answer(batch: IngestBatch) -> FastJSONResponse:
    if batch.events:
        return FastJSONResponse({"id": batch.events[0].row["event_id"]})
    return FastJSONResponse({})


@router.post("/api/{project_id}/envelope/", summary="Sentry envelope endpoint")
async def envelope_endpoint(
    project_id: ProjectId, request: Request, ingest: IngestDep
) -> FastJSONResponse:
    keys = keys_from_request(request.headers, request.query_params)
    if keys:  # refuse a bad key before reading a large body
        await _authenticate(ingest, project_id, keys)
    ingest.limiter.check(project_id)
    envelope = parse_envelope(await _body(ingest, request))
    dsn_key = key_from_dsn(envelope.headers.get("dsn"), project_id)
    if dsn_key is not None:
        keys.add(dsn_key)
    await _authenticate(ingest, project_id, keys)
    batch = ingest.reader.envelope(project_id, envelope, datetime.now(UTC))
    await ingest.writer.submit(batch)
    return _answer(batch)


@router.post("/api/{project_id}/store/", summary="Sentry store endpoint (deprecated by Sentry)")
async def store_endpoint(
    project_id: ProjectId, request: Request, ingest: IngestDep
) -> FastJSONResponse:
    await _authenticate(
        ingest, project_id, keys_from_request(request.headers, request.query_params)
    )
    ingest.limiter.check(project_id)
    limit = ingest.settings.max_event_bytes
    event, payload = parse_store_body(await _body(ingest, request), limit)
    if len(payload) > limit:
        raise PayloadTooLarge(f"event is larger than {limit} bytes")
    kind = "transaction" if event.get("type") == "transaction" else "event"
    batch = IngestBatch(project_id)
    batch.events.append(
        ingest.reader.normalize(
            event, payload, kind=kind, received_at=datetime.now(UTC), fallback_event_id=None
        )
    )
    await ingest.writer.submit(batch)
    return _answer(batch)
