"""Cursor paging, one way for the API and the pages: newest first by id, the cursor is the id
the page ends at (stable while new rows arrive)."""

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from store.errors import BadRequest
from store.models import (
    Alert,
    AlertDelivery,
    CheckIn,
    Issue,
    LogEntry,
    Monitor,
    WebhookDelivery,
)

MAX_CURSOR_DIGITS = 18  # ids are 64-bit


def parse_cursor(cursor: str | None) -> int | None:
    """The id a page continues after; a cursor that is not one is refused, not ignored."""
    if cursor is None or cursor == "":
        return None
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > MAX_CURSOR_DIGITS:
        raise BadRequest("invalid cursor")
    return int(cursor)


Row = TypeVar("Row", Issue, WebhookDelivery, Monitor, CheckIn, LogEntry, Alert, AlertDelivery)


def page_by_id(
    session: Session, model: type[Row], query: Select[Any], limit: int, cursor: int | None
) -> tuple[list[Row], str | None]:
    """One row more than asked is fetched: it says whether a next page exists."""
    query = query.order_by(model.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(model.id < cursor)
    rows: list[Row] = list(session.scalars(query))
    return rows[:limit], str(rows[limit - 1].id) if len(rows) > limit else None
