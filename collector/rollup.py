"""Hourly counts of the events a transaction inserted, per release, environment and service."""

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, Table

from store.clock import hour_of
from store.levels import is_error
from store.models import EventRollup
from store.sql import later_of, lesser_of
from store.upsert import dialect_insert

rollup_table = cast(Table, EventRollup.__table__)
KEY = ("hour_at", "release", "environment", "service")


def count_events(connection: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Adds the rows (events just inserted) to their hours."""
    counts: dict[tuple[datetime, str, str, str], dict[str, Any]] = {}
    for row in rows:
        at: datetime = row["timestamp"]
        key = (
            hour_of(at),
            row["release"] or "",
            row["environment"] or "",
            row["service"] or "",
        )
        error = is_error(row["type"], row["level"])
        entry = counts.get(key)
        if entry is None:
            counts[key] = entry = {
                **dict(zip(KEY, key, strict=True)),
                "events": 0,
                "errors": 0,
                "first_seen_at": at,
                "last_seen_at": at,
                "last_error_at": None,
            }
        entry["events"] += 1
        entry["first_seen_at"] = min(entry["first_seen_at"], at)
        entry["last_seen_at"] = max(entry["last_seen_at"], at)
        if error:
            entry["errors"] += 1
            entry["last_error_at"] = max(entry["last_error_at"] or at, at)
    if counts:
        # Sorted: one lock order across collectors.
        connection.execute(
            _add_counts(connection.dialect.name), [counts[key] for key in sorted(counts)]
        )


@cache
def _add_counts(dialect: str) -> Any:
    """Insert an hour's counts or add them to the row there; built once per dialect (building
    it costs more than running it)."""
    statement = dialect_insert(dialect, rollup_table)
    new = statement.excluded
    c = rollup_table.c
    return statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={
            "events": c.events + new.events,
            "errors": c.errors + new.errors,
            "first_seen_at": lesser_of(c.first_seen_at, new.first_seen_at),
            "last_seen_at": later_of(c.last_seen_at, new.last_seen_at),
            "last_error_at": later_of(c.last_error_at, new.last_error_at),
        },
    )
