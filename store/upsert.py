"""Insert-or-increment and insert-or-ignore that read the same on SQLite and PostgreSQL."""

from collections.abc import Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table, bindparam
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
    if not rows:
        return
    columns = tuple(rows[0])
    plain = _plain_sqlite_insert(connection.dialect, table, columns, tuple(conflict))
    if plain is not None:
        values = itemgetter(*columns)
        tuples = [values(row) for row in rows] if len(columns) > 1 else [(values(r),) for r in rows]
        connection.exec_driver_sql(plain, tuples)
        return
    statement = insert_for(connection, table).on_conflict_do_nothing(index_elements=conflict)
    connection.execute(statement, list(rows))


@lru_cache(maxsize=64)
def _plain_sqlite_insert(
    dialect: Dialect, table: Table, columns: tuple[str, ...], conflict: tuple[str, ...]
) -> str | None:
    """The INSERT … ON CONFLICT DO NOTHING of rows whose values SQLite takes as they are (no
    column converts its value on the way in: integers and text), to run as plain executemany:
    the correlator writes tens of thousands of such rows a second, and SQLAlchemy's per-row
    parameter processing was a sixth of its time. None: not SQLite, or a column converts."""
    if dialect.name != "sqlite":
        return None
    if any(table.c[name].type.bind_processor(dialect) is not None for name in columns):
        return None
    return sqlite_insert_ignore(table, columns, conflict)


def sqlite_insert_ignore(table: Table, columns: Sequence[str], unique: Sequence[str]) -> str:
    """`INSERT … VALUES (?, …) ON CONFLICT (unique) DO NOTHING` with `columns` in this order,
    compiled by SQLAlchemy once, for the DBAPI's executemany of plain tuples."""
    statement = sqlite.insert(table).values({c: bindparam(c) for c in columns})
    compiled = statement.on_conflict_do_nothing(index_elements=list(unique)).compile(
        dialect=sqlite.dialect()
    )
    if compiled.positiontup != list(columns):
        raise RuntimeError(f"{table.name}: the SQLite insert names other columns than asked")
    return str(compiled)


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
