"""Reading log entries: the filtered list (newest first, cursor paging), a trace's entries,
an order's newest entries.

Every filter is checked here, so a bad one is a 400 with a message that names it; and every
cost is bounded: `q` (a substring of the body, which no index serves) reads at most
Q_SCAN_ROWS entries past the cursor.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, func, select, union_all
from sqlalchemy.orm import Session, aliased

from reads import schemas
from reads.paging import page_by_id
from store.errors import BadRequest
from store.models import Journey, LogEntry, LogKey

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
MAX_LIMIT = 500
MAX_TEXT = 200  # the longest filter value (ids, names, `q`)
Q_SCAN_ROWS = 100_000
ORDER_LOG_LIMIT = 200
TRACE_LOG_LIMIT = 1000
ORDER_TRACE_LIMIT = 100
ORDER_FLOWS = 20  # journeys of one key read (one per flow)
SUMMARY_COLUMNS = tuple(getattr(LogEntry, name) for name in schemas.LogSummary.model_fields)
SUMMARIES = TypeAdapter(list[schemas.LogSummary])


@dataclass(frozen=True)
class LogFilter:
    order_id: str | None = None
    trace_id: str | None = None
    service: str | None = None
    level: str | None = None
    release: str | None = None
    q: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def log_filter(**given: str | None) -> LogFilter:
    """The filters as sent (query strings), checked: a bad one is refused (400)."""
    values: dict[str, Any] = {}
    for name, value in given.items():
        if value is None or value == "":
            continue
        if len(value) > MAX_TEXT:
            raise BadRequest(f"{name} is longer than {MAX_TEXT} characters")
        values[name] = value
    if "level" in values and values["level"] not in LEVELS:
        raise BadRequest(f"level must be one of {', '.join(LEVELS)}")
    if "trace_id" in values:
        trace_id = values["trace_id"].replace("-", "").lower()
        if len(trace_id) != 32 or not all(c in "0123456789abcdef" for c in trace_id):
            raise BadRequest("trace_id must be 32 hex characters")
        values["trace_id"] = trace_id
    for name in ("since", "until"):
        if name in values:
            values[name] = _time(name, values[name])
    return LogFilter(**values)


def _time(name: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 time (2026-12-02T14:00:00Z)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_limit(limit: str | None, default: int = 50) -> int:
    if limit is None or limit == "":
        return default
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit[:4]) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(limit)


def log_summary(row: LogEntry) -> schemas.LogSummary:
    return schemas.from_row(schemas.LogSummary, row)


def list_logs(
    session: Session, filters: LogFilter, *, limit: int, cursor: int | None
) -> schemas.LogList:
    """Newest first (by arrival: the id), `limit` at a time."""
    query = select(LogEntry).where(*_conditions(session, filters))
    if filters.q:
        start = cursor if cursor is not None else _newest_id(session) + 1
        query = query.where(
            LogEntry.id >= start - Q_SCAN_ROWS,
            func.lower(LogEntry.body).contains(filters.q.lower(), autoescape=True),
        )
    rows, next_cursor = page_by_id(session, LogEntry, query, limit, cursor)
    return schemas.LogList(logs=[log_summary(r) for r in rows], next_cursor=next_cursor)


def _newest_id(session: Session) -> int:
    return int(session.scalar(select(func.max(LogEntry.id))) or 0)


def _conditions(session: Session, filters: LogFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for column, value in (
        (LogEntry.trace_id, filters.trace_id),
        (LogEntry.service, filters.service),
        (LogEntry.level, filters.level),
        (LogEntry.release, filters.release),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.since is not None:
        conditions.append(LogEntry.timestamp >= filters.since)
    if filters.until is not None:
        conditions.append(LogEntry.timestamp <= filters.until)
    if filters.order_id is not None:
        # One key may make journeys in several flows (a checkout and a refund): all of them.
        found = session.scalars(
            select(Journey.trace_ids).where(Journey.key == filters.order_id).limit(ORDER_FLOWS)
        )
        traces = list(dict.fromkeys(t for trace_ids in found for t in trace_ids))
        conditions.append(of_order(filters.order_id, traces))
    return conditions


# The log table again, not correlated with the query an order's condition goes in; made once
# (an alias proxies every column: building one per request cost milliseconds).
ON_TRACES = aliased(LogEntry, name="on_traces")


def of_order(order_id: str, trace_ids: list[str]) -> ColumnElement[bool]:
    """An order's entries: those carrying its id as a key, and those on its journey's traces.
    One list of ids, both searches united, that the primary key is then searched with: an OR
    of the two made PostgreSQL walk the whole table backwards by id, testing each row (30 ms
    at 20,000 entries, growing with the table; bench/telemetry.py); SQLite did either."""
    rows = select(LogKey.log_row_id).where(LogKey.value == order_id)
    traces = trace_ids[:ORDER_TRACE_LIMIT]
    if not traces:
        return LogEntry.id.in_(rows)
    return LogEntry.id.in_(
        union_all(rows, select(ON_TRACES.id).where(ON_TRACES.trace_id.in_(traces)))
    )


def trace_logs(session: Session, trace_id: str) -> list[schemas.LogSummary]:
    """A trace's entries, oldest first, the first TRACE_LOG_LIMIT: their columns alone, checked
    in one call (100 entries: 2.4 ms, against 3.7 ms as ORM rows made into summaries one by
    one)."""
    rows = session.execute(
        select(*SUMMARY_COLUMNS)
        .where(LogEntry.trace_id == trace_id)
        .order_by(LogEntry.timestamp, LogEntry.id)
        .limit(TRACE_LOG_LIMIT)
    )
    return SUMMARIES.validate_python([row._asdict() for row in rows])


def order_logs(
    session: Session, journey: Journey, filters: LogFilter | None = None
) -> list[schemas.LogSummary]:
    """An order's newest ORDER_LOG_LIMIT entries, newest first; the order page narrows them
    by `filters.level` and `filters.q` (a substring of the body, any case)."""
    query = select(LogEntry).where(of_order(journey.key, journey.trace_ids))
    if filters is not None and filters.level:
        query = query.where(LogEntry.level == filters.level)
    if filters is not None and filters.q:
        query = query.where(func.lower(LogEntry.body).contains(filters.q.lower(), autoescape=True))
    rows = list(session.scalars(query.order_by(LogEntry.id.desc()).limit(ORDER_LOG_LIMIT)))
    carriers = _key_carriers(session, journey.key, [r.id for r in rows])
    return [
        schemas.OrderLog(
            **log_summary(r).model_dump(), joined_by=_joined_by(r, journey.key, carriers)
        )
        for r in rows
    ]


def _key_carriers(
    session: Session, order_id: str, ids: list[int]
) -> dict[int, tuple[str, str, str | None]]:
    """(key name, carrier, overruled) of the entries among `ids` that carry `order_id`."""
    if not ids:
        return {}
    return {
        row_id: (name, carrier, overruled)
        for row_id, name, carrier, overruled in session.execute(
            select(LogKey.log_row_id, LogKey.name, LogKey.carrier, LogKey.overruled).where(
                LogKey.value == order_id, LogKey.log_row_id.in_(ids)
            )
        )
    }


def _joined_by(
    entry: LogEntry, order_id: str, carriers: dict[int, tuple[str, str, str | None]]
) -> schemas.JoinedBy:
    if entry.id in carriers:
        name, carrier, overruled = carriers[entry.id]
        return schemas.JoinedByKey(key=name, carrier=carrier or None, overruled=overruled)
    return schemas.JoinedByLink(via="trace", value=entry.trace_id or "", through=None)
