"""Small SQL building blocks the write paths share."""

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import case

T = TypeVar("T")

# Values per `IN (...)` list: SQLite allows 32,766 bound parameters per statement, PostgreSQL
# 65,535; a few hundred keeps each statement's plan cheap and well inside both.
IN_LIST_SIZE = 500


def chunked(values: Sequence[T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def greater_of(column: Any, value: Any) -> Any:
    """`value` where it is greater than what the column holds (an SQL GREATEST that both
    backends read the same way; SQLite's max() of one row would be the aggregate)."""
    return case((column < value, value), else_=column)


def lesser_of(column: Any, value: Any) -> Any:
    return case((value < column, value), else_=column)


def later_of(column: Any, value: Any) -> Any:
    """Like `greater_of`, for columns that may be NULL on either side."""
    return case(
        (value.is_(None), column), (column.is_(None), value), (value > column, value), else_=column
    )
