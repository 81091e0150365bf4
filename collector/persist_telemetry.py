"""Storing spans and log entries, and the keys they carry, in the writer's transaction.

Each is inserted once: `INSERT … ON CONFLICT DO NOTHING … RETURNING` on (project, trace, span)
for spans and (project, digest) for log entries, so a replay stores nothing twice and only the
rows really inserted get keys (as events do, collector/persist.py).
"""

from collections.abc import Mapping, Sequence
from functools import cache
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, Table

from collector.batch import IngestBatch, LogRecord, SpanRecord
from store.models import LogEntry, LogKey, Span, SpanKey
from store.upsert import dialect_insert

span_table = cast(Table, Span.__table__)
span_key_table = cast(Table, SpanKey.__table__)
log_table = cast(Table, LogEntry.__table__)
log_key_table = cast(Table, LogKey.__table__)
SPAN_UNIQUE = ("project_id", "trace_id", "span_id")
LOG_UNIQUE = ("project_id", "digest")


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
    statements = _statements(connection.dialect.name)
    spans: dict[tuple[Any, ...], tuple[dict[str, Any], SpanRecord]] = {}
    logs: dict[tuple[Any, ...], tuple[dict[str, Any], LogRecord]] = {}
    for batch in batches:
        for span in batch.spans:
            row = {**span.row, "project_id": batch.project_id}
            spans.setdefault(tuple(row[c] for c in SPAN_UNIQUE), (row, span))
        for log in batch.logs:
            row = {**log.row, "project_id": batch.project_id}
            logs.setdefault(tuple(row[c] for c in LOG_UNIQUE), (row, log))
    _insert(connection, statements.span, statements.span_key, "span_row_id", spans)
    _insert(connection, statements.log, statements.log_key, "log_row_id", logs)


def _insert(
    connection: Connection,
    insert_rows: Any,
    insert_keys: Any,
    row_column: str,
    rows: Mapping[tuple[Any, ...], tuple[dict[str, Any], SpanRecord | LogRecord]],
) -> None:
    """The rows in time order (ids then follow time within a request), ties broken by their
    unique key (one lock order across collectors); then the keys of those really inserted."""
    if not rows:
        return
    ordered = [row for key, (row, _) in sorted(rows.items(), key=_in_time_order)]
    result = connection.execute(insert_rows, ordered)
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


def _in_time_order(entry: tuple[tuple[Any, ...], tuple[dict[str, Any], Any]]) -> tuple[Any, ...]:
    key, (row, _) = entry
    return (row.get("timestamp") or row["started_at"], key)
