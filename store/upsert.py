"""Insert-or-increment and insert-or-ignore that read the same on SQLite and PostgreSQL."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def dialect_insert(dialect: str, table: Table) -> Any:
    """An INSERT with the ON CONFLICT clauses of `dialect` (sqlite or postgresql)."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def insert_for(connection: Connection, table: Table) -> Any:
    return dialect_insert(connection.dialect.name, table)


def insert_ignore(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> None:
    if rows:
        statement = insert_for(connection, table).on_conflict_do_nothing(index_elements=conflict)
        connection.execute(statement, list(rows))


def insert_or_add(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    counters: Sequence[str],
) -> None:
    """Insert each row, or add its counters to the row already there."""
    if not rows:
        return
    statement = insert_for(connection, table)
    statement = statement.on_conflict_do_update(
        index_elements=conflict,
        set_={name: table.c[name] + statement.excluded[name] for name in counters},
    )
    connection.execute(statement, list(rows))
