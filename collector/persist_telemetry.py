"""Storing spans and log entries, and the keys they carry, in the writer's transaction.

Each is inserted once: `INSERT … ON CONFLICT DO NOTHING` on (project, trace, span) for spans
and (project, digest) for log entries, so a replay stores nothing twice and only the rows
really inserted get keys (as events do, collector/persist.py).

On SQLite the rows go to the driver as plain tuples in one `executemany` of a prepared
INSERT: SQLAlchemy's per-row work (a dict per row, a bind processor per date and JSON value,
the multi-VALUES statement written for RETURNING) cost more than SQLite's own inserts did
(bench/telemetry_cpu.py). The ids of the rows inserted are then known without RETURNING:
the writer holds SQLite's one write lock, so when every row was inserted and the largest id
grew by exactly their number, they got the ids that follow it, in the order sent (SQLite
gives a new row one more than the largest rowid); otherwise (a replay) they are read back.
PostgreSQL, whose sequences promise no such thing, keeps `RETURNING`.
"""

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Table, bindparam, func, select

from collector.batch import IngestBatch, LogRecord, SpanRecord
from store.models import LogEntry, LogKey, Span, SpanKey
from store.upsert import dialect_insert, sqlite_insert_ignore

span_table = cast(Table, Span.__table__)
span_key_table = cast(Table, SpanKey.__table__)
log_table = cast(Table, LogEntry.__table__)
log_key_table = cast(Table, LogKey.__table__)
SPAN_UNIQUE = ("project_id", "trace_id", "span_id")
LOG_UNIQUE = ("project_id", "digest")
KEY_COLUMNS = ("name", "value", "carrier", "overruled")
Record = SpanRecord | LogRecord
# A row as the unique key that finds it, its time (the insert order) and the record.
Pending = dict[tuple[Any, ...], tuple[datetime, Record]]


@cache
def _statements(dialect: str) -> SimpleNamespace:
    """Built once per dialect (building costs more than running)."""

    def insert_once(table: Table, unique: Sequence[str]) -> Any:
        return (
            dialect_insert(dialect, table)
            .on_conflict_do_nothing(index_elements=list(unique))
            .returning(table.c.id, *(table.c[name] for name in unique))
        )

    def insert_keys(table: Table, row_column: str) -> Any:
        return dialect_insert(dialect, table).on_conflict_do_nothing(
            index_elements=[row_column, "name", "value"]
        )

    return SimpleNamespace(
        span=insert_once(span_table, SPAN_UNIQUE),
        log=insert_once(log_table, LOG_UNIQUE),
        span_key=insert_keys(span_key_table, "span_row_id"),
        log_key=insert_keys(log_key_table, "log_row_id"),
    )


def write_telemetry(connection: Connection, batches: Sequence[IngestBatch]) -> None:
    spans: Pending = {}
    logs: Pending = {}
    for batch in batches:
        project_id = batch.project_id
        for span in batch.spans:
            spans.setdefault(
                (project_id, span.row["trace_id"], span.row["span_id"]),
                (span.row["started_at"], span),
            )
        for log in batch.logs:
            logs.setdefault((project_id, log.row["digest"]), (log.row["timestamp"], log))
    if connection.dialect.name == "sqlite":
        _insert_sqlite(connection, SPAN, spans)
        _insert_sqlite(connection, LOG, logs)
        return
    statements = _statements(connection.dialect.name)
    _insert(connection, statements.span, statements.span_key, "span_row_id", spans)
    _insert(connection, statements.log, statements.log_key, "log_row_id", logs)


def _in_order(rows: Pending) -> list[tuple[tuple[Any, ...], Record]]:
    """The rows in time order (ids then follow time within a request), ties broken by their
    unique key (one lock order across collectors)."""
    ordered = sorted(rows.items(), key=lambda item: (item[1][0], item[0]))
    return [(key, record) for key, (_, record) in ordered]


def _insert(
    connection: Connection, insert_rows: Any, insert_keys: Any, row_column: str, rows: Pending
) -> None:
    """The rows, then the keys of those really inserted (RETURNING names them)."""
    if not rows:
        return
    ordered = _in_order(rows)
    result = connection.execute(
        insert_rows, [{**record.row, "project_id": key[0]} for key, record in ordered]
    )
    keys = [
        {
            row_column: row_id,
            "name": key.name,
            "value": key.value,
            "carrier": key.carrier,
            "overruled": key.overruled or None,
        }
        for row_id, *unique in result
        for key in rows[tuple(unique)][1].keys
    ]
    if keys:
        connection.execute(insert_keys, keys)


# -- SQLite ----------------------------------------------------------------------------------


def _time(value: datetime) -> str:
    """A UTC time as SQLAlchemy's SQLite DATETIME stores it (store/types.py UTCDateTime)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()  # as the engine's json_serializer (store/engine.py)


SPAN_COLUMNS = (
    "project_id", "trace_id", "span_id", "parent_span_id", "segment_id", "is_segment", "service",
    "op", "name", "started_at", "ended_at", "duration_ms", "status", "release", "environment",
    "attributes", "received_at",
)  # fmt: skip
LOG_COLUMNS = (
    "project_id", "digest", "timestamp", "level", "severity_number", "body", "template",
    "parameters", "trace_id", "span_id", "service", "release", "environment", "attributes",
    "received_at",
)  # fmt: skip


def _span_values(project_id: int, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """SPAN_COLUMNS' values."""
    return (
        project_id, row["trace_id"], row["span_id"], row["parent_span_id"], row["segment_id"],
        row["is_segment"], row["service"], row["op"], row["name"], _time(row["started_at"]),
        _time(row["ended_at"]), row["duration_ms"], row["status"], row["release"],
        row["environment"], _json(row["attributes"]), _time(row["received_at"]),
    )  # fmt: skip


def _log_values(project_id: int, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """LOG_COLUMNS' values."""
    return (
        project_id, row["digest"], _time(row["timestamp"]), row["level"],
        row["severity_number"], row["body"], row["template"], _json(row["parameters"]),
        row["trace_id"], row["span_id"], row["service"], row["release"], row["environment"],
        _json(row["attributes"]), _time(row["received_at"]),
    )  # fmt: skip


class _SQLiteTable:
    """What the SQLite path writes of one kind of row: its table and key table, and how a
    record becomes the tuple of the table's `columns` (every column but the id)."""

    def __init__(
        self,
        table: Table,
        key_table: Table,
        columns: Sequence[str],
        unique: Sequence[str],
        values: Callable[[int, Mapping[str, Any]], tuple[Any, ...]],
    ) -> None:
        if sorted(columns) != sorted(c.name for c in table.columns if c.name != "id"):
            raise RuntimeError(f"{table.name}: the SQLite path names other columns than its model")
        row_column = next(iter(key_table.foreign_keys)).parent.name
        self.values = values
        self.insert = sqlite_insert_ignore(table, columns, unique)
        self.insert_keys = sqlite_insert_ignore(
            key_table, [row_column, *KEY_COLUMNS], [row_column, "name", "value"]
        )
        self.largest_id = select(func.max(table.c.id))
        self.added = select(table.c.id, *(table.c[name] for name in unique)).where(
            table.c.id > bindparam("before")
        )


SPAN = _SQLiteTable(span_table, span_key_table, SPAN_COLUMNS, SPAN_UNIQUE, _span_values)
LOG = _SQLiteTable(log_table, log_key_table, LOG_COLUMNS, LOG_UNIQUE, _log_values)


def _insert_sqlite(connection: Connection, table: _SQLiteTable, rows: Pending) -> None:
    if not rows:
        return
    ordered = _in_order(rows)
    before = _largest_id(connection, table)
    result = connection.exec_driver_sql(
        table.insert, [table.values(key[0], record.row) for key, record in ordered]
    )
    count = len(ordered)
    if result.rowcount == count and _largest_id(connection, table) == before + count:
        inserted = [(before + n, record) for n, (_, record) in enumerate(ordered, 1)]
    else:  # some were there already (a replay): the rows this statement added, by their key
        added = connection.execute(table.added, {"before": before})
        inserted = [(row_id, rows[tuple(unique)][1]) for row_id, *unique in added]
    keys = [
        (row_id, key.name, key.value, key.carrier, key.overruled or None)
        for row_id, record in inserted
        for key in record.keys
    ]
    if keys:
        connection.exec_driver_sql(table.insert_keys, keys)


def _largest_id(connection: Connection, table: _SQLiteTable) -> int:
    return int(connection.scalar(table.largest_id) or 0)
