"""The one transaction that stores a group of ingest batches: events, issues, keys, counters."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, String, Table, bindparam, case, select, tuple_, update

from collector.sessions import SessionCounts
from collector.sessions import SessionUser as SessionUserSeen
from store.models import (
    CorrelationKey,
    Event,
    Issue,
    ItemOutcome,
    SessionCount,
    SessionState,
    SessionUser,
)
from store.types import UTCDateTime
from store.upsert import insert_for, insert_ignore, insert_or_add

if TYPE_CHECKING:
    from collector.writer import IngestBatch

CHUNK = 300  # rows per multi-VALUES statement: SQLite allows 32766 parameters

event_table = cast(Table, Event.__table__)
issue_table = cast(Table, Issue.__table__)
key_table = cast(Table, CorrelationKey.__table__)
session_count_table = cast(Table, SessionCount.__table__)
session_user_table = cast(Table, SessionUser.__table__)
session_state_table = cast(Table, SessionState.__table__)
outcome_table = cast(Table, ItemOutcome.__table__)


@dataclass
class _IssueDelta:
    count: int
    last_seen_at: datetime
    last_release: str | None


def _chunks(rows: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def write_batches(connection: Connection, batches: Sequence["IngestBatch"]) -> None:
    events = _new_events(connection, batches)
    if events:
        issue_ids = _ensure_issues(connection, events)
        _insert_events(connection, events, issue_ids)
    _write_sessions(connection, batches)
    _write_outcomes(connection, batches)


def _new_events(connection: Connection, batches: Sequence["IngestBatch"]) -> list[dict[str, Any]]:
    """Rows not stored yet: one per (project, event_id), the first one sent wins."""
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for batch in batches:
        for event in batch.events:
            key = (batch.project_id, event.row["event_id"])
            if key not in rows:
                rows[key] = {"project_id": batch.project_id, **event.row, "_event": event}
    if not rows:
        return []
    keys = list(rows)
    for chunk in _chunks(keys, 500):
        existing = connection.execute(
            select(Event.project_id, Event.event_id).where(
                tuple_(Event.project_id, Event.event_id).in_(chunk)
            )
        )
        for project_id, event_id in existing:
            rows.pop((project_id, event_id), None)
    return list(rows.values())


def _ensure_issues(
    connection: Connection, events: list[dict[str, Any]]
) -> dict[tuple[int, str], int]:
    seeds: dict[tuple[int, str], dict[str, Any]] = {}
    for row in events:
        group = row["_event"].group
        if group is None:
            continue
        key = (row["project_id"], group.hash)
        seed = seeds.get(key)
        if seed is None or row["timestamp"] < seed["first_seen_at"]:
            seeds[key] = {
                "project_id": row["project_id"],
                "hash": group.hash,
                "title": group.title,
                "culprit": group.culprit,
                "type": group.type,
                "level": group.level,
                "status": "unresolved",
                "substatus": "new",
                "count": 0,
                "first_seen_at": row["timestamp"],
                "last_seen_at": row["timestamp"],
                "first_release": row["release"],
                "last_release": row["release"],
            }
    if not seeds:
        return {}
    insert_ignore(connection, issue_table, list(seeds.values()), ["project_id", "hash"])
    ids: dict[tuple[int, str], int] = {}
    for chunk in _chunks(list(seeds), 500):
        found = connection.execute(
            select(Issue.id, Issue.project_id, Issue.hash).where(
                tuple_(Issue.project_id, Issue.hash).in_(chunk)
            )
        )
        ids.update({(r.project_id, r.hash): r.id for r in found})
    return ids


def _insert_events(
    connection: Connection, events: list[dict[str, Any]], issue_ids: dict[tuple[int, str], int]
) -> None:
    by_key: dict[tuple[int, str], dict[str, Any]] = {}
    for row in events:
        group = row["_event"].group
        row["issue_id"] = issue_ids[(row["project_id"], group.hash)] if group else None
        row["source"] = row.get("source", "sdk")
        by_key[(row["project_id"], row["event_id"])] = row
    columns = [c.name for c in event_table.columns if c.name != "id"]
    inserted: list[tuple[int, dict[str, Any]]] = []
    for chunk in _chunks(events):
        # ON CONFLICT DO NOTHING covers a racing collector: RETURNING names only the rows
        # this transaction really inserted, and only those count towards their issue.
        statement = (
            insert_for(connection, event_table)
            .values([{c: row[c] for c in columns} for row in chunk])
            .on_conflict_do_nothing(index_elements=["project_id", "event_id"])
            .returning(event_table.c.id, event_table.c.project_id, event_table.c.event_id)
        )
        for row_id, project_id, event_id in connection.execute(statement):
            inserted.append((row_id, by_key[(project_id, event_id)]))
    keys = [
        {"event_row_id": row_id, "name": name, "value": value}
        for row_id, row in inserted
        for name, value in row["_event"].keys
    ]
    insert_ignore(connection, key_table, keys, ["event_row_id", "name", "value"])
    _count_into_issues(connection, [row for _, row in inserted])


def _count_into_issues(connection: Connection, rows: list[dict[str, Any]]) -> None:
    deltas: dict[int, _IssueDelta] = {}
    for row in rows:
        if row["issue_id"] is None:
            continue
        delta = deltas.get(row["issue_id"])
        if delta is None:
            deltas[row["issue_id"]] = _IssueDelta(1, row["timestamp"], row["release"])
        else:
            delta.count += 1
            if row["timestamp"] >= delta.last_seen_at:
                delta.last_seen_at, delta.last_release = row["timestamp"], row["release"]
    if not deltas:
        return
    seen = bindparam("b_seen", type_=UTCDateTime())
    release = bindparam("b_release", type_=String())
    resolved = issue_table.c.status == "resolved"
    statement = (
        update(issue_table)
        .where(issue_table.c.id == bindparam("b_id"))
        .values(
            count=issue_table.c.count + bindparam("b_count"),
            last_seen_at=case(
                (issue_table.c.last_seen_at < seen, seen), else_=issue_table.c.last_seen_at
            ),
            last_release=case(
                (issue_table.c.last_seen_at < seen, release), else_=issue_table.c.last_release
            ),
            # A new event on a resolved issue is a regression (Sentry's substatus "regressed").
            status=case((resolved, "unresolved"), else_=issue_table.c.status),
            substatus=case((resolved, "regressed"), else_=issue_table.c.substatus),
            regressed_at=case((resolved, seen), else_=issue_table.c.regressed_at),
            regressed_release=case((resolved, release), else_=issue_table.c.regressed_release),
        )
    )
    connection.execute(
        statement,
        [
            {
                "b_id": issue_id,
                "b_count": d.count,
                "b_seen": d.last_seen_at,
                "b_release": d.last_release,
            }
            for issue_id, d in sorted(deltas.items())  # one lock order across collectors
        ],
    )


def _session_updates(
    connection: Connection, batches: Sequence["IngestBatch"]
) -> tuple[list[tuple[int, SessionCounts]], list[tuple[int, SessionUserSeen]]]:
    """Counts from individual session updates, each session counted once by its `sid`."""
    updates = [(b.project_id, u) for b in batches for u in b.session_updates]
    if not updates:
        return [], []
    sids = sorted({(p, u.sid) for p, u in updates if u.sid})
    states: dict[tuple[int, str], tuple[bool, str | None]] = {}
    for chunk in _chunks(sids, 500):
        found = connection.execute(
            select(
                SessionState.project_id,
                SessionState.sid,
                SessionState.started,
                SessionState.outcome,
            ).where(tuple_(SessionState.project_id, SessionState.sid).in_(chunk))
        )
        states.update({(r.project_id, r.sid): (r.started, r.outcome) for r in found})
    counts: list[tuple[int, SessionCounts]] = []
    users: list[tuple[int, SessionUserSeen]] = []
    changed: dict[tuple[int, str], tuple[bool, str | None]] = {}
    for project_id, item in updates:
        key = (project_id, item.sid) if item.sid else None
        started, outcome = states.get(key, (False, None)) if key else (False, None)
        count_start = item.init and not started
        count_outcome = item.outcome if outcome is None else None
        if count_start or count_outcome:
            counts.append((project_id, item.counts(started=count_start, outcome=count_outcome)))
        if key is not None:
            states[key] = changed[key] = (started or item.init, outcome or item.outcome)
        if item.distinct_id:
            bucket = item.counts_bucket
            users.append(
                (
                    project_id,
                    SessionUserSeen(
                        bucket.release,
                        bucket.environment,
                        item.distinct_id,
                        (outcome or item.outcome) == "crashed",
                        bucket.started_at,
                    ),
                )
            )
    now = datetime.now(UTC)
    rows = [
        {"project_id": p, "sid": sid, "started": st, "outcome": out, "updated_at": now}
        for (p, sid), (st, out) in sorted(changed.items())
    ]
    if rows:
        statement = insert_for(connection, session_state_table)
        statement = statement.on_conflict_do_update(
            index_elements=["project_id", "sid"],
            set_={name: statement.excluded[name] for name in ("started", "outcome", "updated_at")},
        )
        connection.execute(statement, rows)
    return counts, users


def _write_sessions(connection: Connection, batches: Sequence["IngestBatch"]) -> None:
    counters = ("total", "exited", "errored", "abnormal", "crashed")
    single_counts, single_users = _session_updates(connection, batches)
    all_counts = [(b.project_id, c) for b in batches for c in b.sessions] + single_counts
    all_users = [(b.project_id, u) for b in batches for u in b.users] + single_users
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for project_id, c in all_counts:
        row = merged.setdefault(
            (project_id, c.release, c.environment, c.started_at),
            {
                "project_id": project_id,
                "release": c.release,
                "environment": c.environment,
                "started_at": c.started_at,
                **dict.fromkeys(counters, 0),
            },
        )
        for name in counters:
            row[name] += getattr(c, name)
    users: dict[tuple[Any, ...], dict[str, Any]] = {}
    for project_id, u in all_users:
        user = users.setdefault(
            (project_id, u.release, u.environment, u.distinct_id),
            {
                "project_id": project_id,
                "release": u.release,
                "environment": u.environment,
                "distinct_id": u.distinct_id,
                "crashed": False,
                "first_seen_at": u.seen_at,
            },
        )
        user["crashed"] = user["crashed"] or u.crashed
    insert_or_add(
        connection,
        session_count_table,
        [merged[k] for k in sorted(merged)],
        ["project_id", "release", "environment", "started_at"],
        counters,
    )
    if users:
        table = session_user_table
        statement = insert_for(connection, table)
        statement = statement.on_conflict_do_update(
            index_elements=["project_id", "release", "environment", "distinct_id"],
            set_={"crashed": table.c.crashed | statement.excluded.crashed},
        )
        connection.execute(statement, [users[k] for k in sorted(users)])


def _write_outcomes(connection: Connection, batches: Sequence["IngestBatch"]) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    merged: dict[tuple[Any, ...], int] = defaultdict(int)
    for batch in batches:
        for o in batch.outcomes:
            merged[(batch.project_id, o.outcome, o.category, o.reason)] += o.quantity
    rows = [
        {"project_id": p, "hour_at": hour, "outcome": o, "category": c, "reason": r, "quantity": q}
        for (p, o, c, r), q in sorted(merged.items())
    ]
    insert_or_add(
        connection,
        outcome_table,
        rows,
        ["project_id", "hour_at", "outcome", "category", "reason"],
        ["quantity"],
    )
