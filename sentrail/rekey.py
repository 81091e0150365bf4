"""Keys extracted again from stored payloads, under the rules in force.

Keys are extracted at ingest (docs/decisions.md#4), so changing the rules changes nothing for
events already stored until their keys are extracted again from the raw payloads kept beside
them (docs/decisions.md#3). `sentrail correlate --rebuild` does that before it rebuilds the
journeys, so old events follow the new rules.

This lives in `sentrail` because it needs both the collector's reading of an event
(`fields_of`) and the store; the collector and the correlator do not import each other.

Webhook events (`source = "webhook"`) are re-extracted like the others: their stored payload is
the event object of the delivery (`data.error` / `data.event`, `WebhookReader.event`), the very
object whose fields were read at ingest.
"""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from rules.config import CorrelationRules
from rules.extract import KeyExtractor
from sentrail.stored import PAGE_SIZE, keys_of, stored_pages
from store.engine import Database
from store.models import CorrelationKey, Event
from store.sql import chunked

# (name, value, carrier, overruled) as a correlation_key row holds them.
KeyRow = tuple[str, str, str, str | None]


@dataclass(slots=True)
class RekeyResult:
    events: int = 0  # events read
    changed: int = 0  # events whose keys changed, and were written anew
    unreadable: int = 0  # events whose payload could not be read: they keep their keys


def rekey(
    database: Database,
    rules: CorrelationRules,
    *,
    page_size: int = PAGE_SIZE,
) -> RekeyResult:
    """Extracts every stored event's keys again, page by page in id order, and replaces the
    keys of the events where they differ (one transaction per page, under the write lock the
    collector and the correlator take too, so ingest goes on between pages)."""
    extractor = KeyExtractor(rules)
    result = RekeyResult()
    for page in stored_pages(database, page_size=page_size):
        wanted: dict[int, set[KeyRow]] = {}
        for event in page:
            if event.payload is None:
                result.unreadable += 1
                continue
            wanted[event.id] = {
                (key.name, key.value, key.carrier, key.overruled or None)
                for key in keys_of(extractor, event.payload, event.source)
            }
        result.events += len(page)
        if wanted:
            result.changed += _replace(database, wanted)
    return result


def _replace(database: Database, wanted: dict[int, set[KeyRow]]) -> int:
    """Writes the keys of the events whose stored keys differ from `wanted`; returns how many.
    Events deleted meanwhile (retention) are left alone."""
    ids = sorted(wanted)
    with database.writing() as connection:
        existing, current = _stored_keys(connection, ids)
        changed = [i for i in ids if i in existing and current.get(i, set()) != wanted[i]]
        for chunk in chunked(changed):
            connection.execute(delete(CorrelationKey).where(CorrelationKey.event_row_id.in_(chunk)))
        rows = [
            {"event_row_id": i, "name": n, "value": v, "carrier": c, "overruled": o}
            for i in changed
            for n, v, c, o in sorted(wanted[i], key=lambda row: row[0])
        ]
        if rows:
            connection.execute(insert(CorrelationKey), rows)
        connection.commit()
    return len(changed)


def _stored_keys(connection: Connection, ids: list[int]) -> tuple[set[int], dict[int, set[KeyRow]]]:
    existing: set[int] = set()
    current: dict[int, set[KeyRow]] = defaultdict(set)
    for chunk in chunked(ids):
        existing.update(connection.scalars(select(Event.id).where(Event.id.in_(chunk))))
        for row_id, name, value, carrier, overruled in connection.execute(
            select(
                CorrelationKey.event_row_id,
                CorrelationKey.name,
                CorrelationKey.value,
                CorrelationKey.carrier,
                CorrelationKey.overruled,
            ).where(CorrelationKey.event_row_id.in_(chunk))
        ):
            current[row_id].add((name, value, carrier, overruled))
    return existing, current
