"""The one transaction that stores a group of ingest batches: events, issues, keys, counters."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, String, Table, bindparam, case, select, update

from collector.batch import IngestBatch, NormalizedEvent, ProjectOutcome
from collector.persist_checkins import write_check_ins
from collector.persist_feedback import write_attachments, write_feedback
from collector.persist_telemetry import write_telemetry
from collector.persist_webhooks import accept_deliveries, write_comments, write_sentry_issues
from collector.rollup import count_events
from collector.sessions import SessionCounts, UserSeen
from store.clock import hour_of, utcnow
from store.models import (
    CorrelationKey,
    Event,
    Issue,
    ItemOutcome,
    SessionCount,
    SessionState,
    SessionUser,
)
from store.sql import chunked
from store.types import UTCDateTime
from store.upsert import dialect_insert, insert_for, insert_ignore, insert_or_add

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


def _existing(
    connection: Connection,
    project_column: Any,
    key_column: Any,
    keys: Sequence[tuple[int, str]],
    *extra: Any,
) -> list[tuple[Any, ...]]:
    """Rows whose (project, key) is among `keys`, as (project, key, *extra).

    Queried as `project_id = ? AND key IN (...)`, which the (project_id, key) unique index
    serves on both backends (a row-value IN is not always indexed by SQLite).
    """
    by_project: dict[int, list[str]] = defaultdict(list)
    for project_id, key in keys:
        by_project[project_id].append(key)
    found: list[tuple[Any, ...]] = []
    for project_id, values in by_project.items():
        for chunk in chunked(values):
            query = select(project_column, key_column, *extra).where(
                project_column == project_id, key_column.in_(chunk)
            )
            found.extend(tuple(row) for row in connection.execute(query))
    return found


def write_batches(
    connection: Connection,
    batches: Sequence[IngestBatch],
    known_issues: Mapping[tuple[int, str], int],
) -> dict[tuple[int, str], int]:
    """Stores the batches; returns the issue ids it had to look up, for the caller to cache
    once the transaction has committed."""
    batches = accept_deliveries(connection, batches)
    events = _unique_events(batches)
    found: dict[tuple[int, str], int] = {}
    if events:
        found = _ensure_issues(connection, events, known_issues)
        _insert_events(connection, events, {**known_issues, **found})
    write_telemetry(connection, batches)
    write_sentry_issues(connection, batches)
    write_comments(connection, batches)
    _write_sessions(connection, batches)
    stored = write_check_ins(connection, batches)
    stored += write_feedback(connection, batches) + write_attachments(connection, batches)
    _write_outcomes(connection, batches, stored)
    return found


@dataclass(frozen=True, slots=True)
class _Pending:
    """An event of this group with the project it came for."""

    project_id: int
    event: NormalizedEvent

    @property
    def key(self) -> tuple[int, str]:
        return self.project_id, self.event.row["event_id"]


def _unique_events(batches: Sequence[IngestBatch]) -> list[_Pending]:
    """One per (project, event_id) in this group, the first one sent wins. Events stored
    before are skipped by the insert itself (ON CONFLICT DO NOTHING)."""
    pending: dict[tuple[int, str], _Pending] = {}
    for batch in batches:
        for event in [*batch.events, *batch.derived]:
            item = _Pending(batch.project_id, event)
            pending.setdefault(item.key, item)
    return list(pending.values())


def _ensure_issues(
    connection: Connection,
    events: list[_Pending],
    known_issues: Mapping[tuple[int, str], int],
) -> dict[tuple[int, str], int]:
    seeds: dict[tuple[int, str], dict[str, Any]] = {}
    for pending in events:
        group, row = pending.event.group, pending.event.row
        if group is None or (pending.project_id, group.hash) in known_issues:
            continue
        key = (pending.project_id, group.hash)
        seed = seeds.get(key)
        if seed is None or row["timestamp"] < seed["first_seen_at"]:
            seeds[key] = {
                "project_id": pending.project_id,
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
                "sentry_id": group.sentry_id,
            }
    if not seeds:
        return {}
    insert_ignore(connection, issue_table, list(seeds.values()), ["project_id", "hash"])
    found = _existing(connection, Issue.project_id, Issue.hash, list(seeds), Issue.id)
    return {(project_id, digest): issue_id for project_id, digest, issue_id in found}


@cache
def _statements(dialect: str) -> SimpleNamespace:
    """The hot statements, built once per dialect so that only their parameters vary."""
    insert_event = (
        dialect_insert(dialect, event_table)
        .on_conflict_do_nothing(index_elements=["event_id", "project_id"])
        .returning(event_table.c.id, event_table.c.project_id, event_table.c.event_id)
    )
    insert_key = dialect_insert(dialect, key_table).on_conflict_do_nothing(
        index_elements=["event_row_id", "name", "value"]
    )
    seen = bindparam("b_seen", type_=UTCDateTime())
    release = bindparam("b_release", type_=String())
    resolved = issue_table.c.status == "resolved"
    count_issue = (
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
    return SimpleNamespace(
        insert_event=insert_event, insert_key=insert_key, count_issue=count_issue
    )


EVENT_COLUMNS = [c.name for c in event_table.columns if c.name != "id"]


def _insert_events(
    connection: Connection, events: list[_Pending], issue_ids: Mapping[tuple[int, str], int]
) -> None:
    statements = _statements(connection.dialect.name)
    by_key: dict[tuple[int, str], tuple[dict[str, Any], _Pending]] = {}
    for pending in events:
        group = pending.event.group
        row: dict[str, Any] = {
            **pending.event.row,
            "project_id": pending.project_id,
            "issue_id": issue_ids[(pending.project_id, group.hash)] if group else None,
        }
        by_key[pending.key] = (row, pending)
    # ON CONFLICT DO NOTHING skips events stored before (a replay, or a racing collector):
    # RETURNING names only the rows this transaction really inserted, and only those count
    # towards their issue and get keys.
    result = connection.execute(
        statements.insert_event, [{c: row[c] for c in EVENT_COLUMNS} for row, _ in by_key.values()]
    )
    inserted = [
        (row_id, *by_key[(project_id, event_id)]) for row_id, project_id, event_id in result
    ]
    keys = [
        {
            "event_row_id": row_id,
            "name": key.name,
            "value": key.value,
            "carrier": key.carrier,
            "overruled": key.overruled or None,
        }
        for row_id, _, pending in inserted
        for key in pending.event.keys
    ]
    if keys:
        connection.execute(statements.insert_key, keys)
    _count_into_issues(connection, [row for _, row, _ in inserted])
    count_events(connection, [row for _, row, _ in inserted])


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
    connection.execute(
        _statements(connection.dialect.name).count_issue,
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


NEW_SESSION = (False, None, False)  # not started, not ended, no error seen


def _session_updates(
    connection: Connection, batches: Sequence[IngestBatch]
) -> tuple[list[tuple[int, SessionCounts]], list[tuple[int, UserSeen]]]:
    """Counts from individual session updates, each session counted once by its `sid`."""
    updates = [(b.project_id, u) for b in batches for u in b.session_updates]
    if not updates:
        return [], []
    sids = sorted({(p, u.sid) for p, u in updates if u.sid})
    states: dict[tuple[int, str], tuple[bool, str | None, bool]] = {
        (project_id, sid): (started, outcome, errored)
        for project_id, sid, started, outcome, errored in _existing(
            connection,
            SessionState.project_id,
            SessionState.sid,
            sids,
            SessionState.started,
            SessionState.outcome,
            SessionState.errored,
        )
    }
    counts: list[tuple[int, SessionCounts]] = []
    users: list[tuple[int, UserSeen]] = []
    changed: dict[tuple[int, str], tuple[bool, str | None, bool]] = {}
    for project_id, item in updates:
        key = (project_id, item.sid) if item.sid else None
        started, outcome, errored = states.get(key, NEW_SESSION) if key else NEW_SESSION
        count_start = item.init and not started
        count_errored = item.errored and not errored
        count_end = item.end if outcome is None else None
        if count_end == "exited" and (errored or item.errored):
            count_end = None  # `exited` counts the healthy ends: this one is errored
        if count_start or count_errored or count_end:
            counts.append(
                (
                    project_id,
                    item.counts(started=count_start, errored=count_errored, end=count_end),
                )
            )
        if key is not None:
            states[key] = changed[key] = (
                started or item.init,
                outcome or item.end,
                errored or item.errored,
            )
        if item.distinct_id:
            bucket = item.counts_bucket
            users.append(
                (
                    project_id,
                    UserSeen(
                        bucket.release,
                        bucket.environment,
                        item.distinct_id,
                        (outcome or item.end) == "crashed",
                        bucket.started_at,
                    ),
                )
            )
    _store_session_states(connection, changed)
    return counts, users


def _store_session_states(
    connection: Connection, changed: Mapping[tuple[int, str], tuple[bool, str | None, bool]]
) -> None:
    """What the writer now knows of each session it saw: started, how it ended, errored."""
    if not changed:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "project_id": p,
            "sid": sid,
            "started": st,
            "outcome": out,
            "errored": err,
            "updated_at": now,
        }
        for (p, sid), (st, out, err) in sorted(changed.items())
    ]
    statement = insert_for(connection, session_state_table)
    statement = statement.on_conflict_do_update(
        index_elements=["project_id", "sid"],
        set_={
            name: statement.excluded[name]
            for name in ("started", "outcome", "errored", "updated_at")
        },
    )
    connection.execute(statement, rows)


def _write_sessions(connection: Connection, batches: Sequence[IngestBatch]) -> None:
    counters = ("total", "exited", "errored", "abnormal", "crashed", "unhandled")
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


def _write_outcomes(
    connection: Connection, batches: Sequence[IngestBatch], stored: Sequence[ProjectOutcome]
) -> None:
    """The batches' outcomes and `stored`, what the transaction itself decided (check-ins:
    accepted or for an unknown monitor; feedback and attachments: stored, duplicate, over
    quota)."""
    hour = hour_of(utcnow())
    merged: dict[tuple[Any, ...], int] = defaultdict(int)
    outcomes = [(b.project_id, o) for b in batches for o in b.outcomes] + list(stored)
    for project_id, o in outcomes:
        merged[(project_id, o.outcome, o.category, o.reason)] += o.quantity
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
