"""Stored events read back with their raw payloads, for the commands that re-run the ingest
rules over what is kept (`rules check`, `rules suggest`, `correlate --rebuild`;
docs/decisions.md#3).

Events are read in keyset pages by id (`WHERE id > last ORDER BY id LIMIT n`): each page is one
short query, so a pass over millions of rows holds no long read transaction (SQLite's WAL could
not be checkpointed behind it) and memory stays one page deep.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import zstandard
from sqlalchemy import func, select

from collector.entry_keys import SOURCES as ENTRY_SOURCES
from collector.entry_keys import entry_keys
from collector.normalize import fields_of
from rules.extract import Key, KeyExtractor
from store.engine import Database
from store.models import Event

PAGE_SIZE = 2000
# A stored payload was at most SENTRAIL_MAX_EVENT_BYTES when it arrived (1 MiB by default);
# this bounds what one decompression may allocate, whatever a row holds.
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
NUL = "\x00"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event: the columns the onboarding commands need and its decoded payload
    (None when it cannot be read: not zstd, not JSON, or not an object)."""

    id: int
    service: str | None
    trace_id: str | None
    timestamp: datetime | None
    source: str
    payload: dict[str, Any] | None


class PayloadReader:
    """Decodes stored payloads; one decompressor reused (making one per event costs more than
    decompressing a small event)."""

    def __init__(self) -> None:
        self._decompressor = zstandard.ZstdDecompressor()

    def read(self, blob: bytes | None) -> dict[str, Any] | None:
        if not blob:
            return None
        try:
            raw = self._decompressor.decompress(blob, max_output_size=MAX_PAYLOAD_BYTES)
            value = orjson.loads(raw)
        except (zstandard.ZstdError, orjson.JSONDecodeError):
            return None
        return value if isinstance(value, dict) else None


def keys_of(extractor: KeyExtractor, payload: dict[str, Any], source: str = "sdk") -> list[Key]:
    """The keys ingest would extract from this payload under `extractor`'s rules, NUL
    characters dropped as `normalize_event` drops them (PostgreSQL text cannot hold them).
    An event made of a span or log entry (`source`) stored that entry: read as ingest did."""
    if source in ENTRY_SOURCES:
        return entry_keys(extractor, source, payload)
    keys = extractor.extract(fields_of(payload))
    return [k._replace(value=k.value.replace(NUL, "")) if NUL in k.value else k for k in keys]


def event_count(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(Event)) or 0)


def stored_pages(
    database: Database,
    *,
    newest: int | None = None,
    page_size: int = PAGE_SIZE,
    timestamps: bool = False,
) -> Iterator[list[StoredEvent]]:
    """Every stored event in pages of `page_size`, oldest first; with `newest`, only the newest
    `newest` events, newest first. `timestamps` reads the timestamp column too (it costs a
    conversion per row, so only the commands that need it ask)."""
    reader = PayloadReader()
    columns: list[Any] = [Event.id, Event.service, Event.trace_id, Event.source, Event.payload]
    if timestamps:
        columns.append(Event.timestamp)
    last: int | None = None
    remaining = newest
    while remaining is None or remaining > 0:
        size = page_size if remaining is None else min(page_size, remaining)
        query = select(*columns).limit(size)
        if newest is None:
            query = query.order_by(Event.id)
            query = query if last is None else query.where(Event.id > last)
        else:
            query = query.order_by(Event.id.desc())
            query = query if last is None else query.where(Event.id < last)
        with database.engine.connect() as connection:
            rows: list[Any] = list(connection.execute(query))
        if not rows:
            return
        yield [
            StoredEvent(
                row[0], row[1], row[2], row[5] if timestamps else None, row[3], reader.read(row[4])
            )
            for row in rows
        ]
        last = rows[-1][0]
        if remaining is not None:
            remaining -= len(rows)
