"""Feedback and attachments in the ingest transaction (collector/persist.py `write_batches`):
each stored once, each counted as an outcome by what became of it.

A replayed envelope stores nothing twice: feedback is unique per (project, event_id), an
attachment per (event_id, project, filename), both inserted with ON CONFLICT DO NOTHING. The
per-project attachment quota is one counter row per project (`attachment_usage`), moved by a
conditional UPDATE, so two collectors storing at once cannot both take the last bytes, and
the check never sums the attachment table (docs/decisions.md#14).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from functools import cache
from typing import Any, cast

from sqlalchemy import BigInteger, Connection, Integer, Table, bindparam, delete, update

from collector.batch import AttachmentRow, IngestBatch, Outcome, ProjectOutcome
from store.models import Attachment, AttachmentUsage, Feedback
from store.upsert import dialect_insert, insert_ignore

feedback_table = cast(Table, Feedback.__table__)
attachment_table = cast(Table, Attachment.__table__)
usage_table = cast(Table, AttachmentUsage.__table__)


def _stored(category: str) -> Outcome:
    return Outcome("accepted", category, "stored", 1)


def _duplicate(category: str) -> Outcome:
    return Outcome("duplicate", category, "already stored", 1)


@cache
def _statements(dialect: str) -> dict[str, Any]:
    size = bindparam("b_size", type_=BigInteger())
    project = bindparam("b_project", type_=Integer())
    return {
        "feedback": dialect_insert(dialect, feedback_table)
        .on_conflict_do_nothing(index_elements=["project_id", "event_id"])
        .returning(feedback_table.c.project_id, feedback_table.c.event_id),
        "attachment": dialect_insert(dialect, attachment_table)
        .on_conflict_do_nothing(index_elements=["event_id", "project_id", "filename"])
        .returning(attachment_table.c.id, attachment_table.c.event_id, attachment_table.c.filename),
        "reserve": update(usage_table)
        .where(
            usage_table.c.project_id == project,
            usage_table.c.bytes + size <= bindparam("b_quota"),
        )
        .values(bytes=usage_table.c.bytes + size),
    }


def write_feedback(connection: Connection, batches: Sequence[IngestBatch]) -> list[ProjectOutcome]:
    """Stores each feedback once; returns an outcome per feedback item received."""
    received = [(b.project_id, row) for b in batches for row in b.feedback]
    if not received:
        return []
    unique: dict[tuple[int, str], dict[str, Any]] = {}
    for project_id, row in received:
        unique.setdefault((project_id, row.event_id), {**asdict(row), "project_id": project_id})
    statement = _statements(connection.dialect.name)["feedback"]
    inserted = {tuple(r) for r in connection.execute(statement, list(unique.values()))}
    outcomes = []
    for project_id, row in received:
        key = (project_id, row.event_id)
        new = key in inserted
        outcomes.append((project_id, _stored(row.source) if new else _duplicate(row.source)))
        inserted.discard(key)  # a second copy in this group is a duplicate
    return outcomes


def write_attachments(
    connection: Connection, batches: Sequence[IngestBatch]
) -> list[ProjectOutcome]:
    """Stores each attachment once while its project has room; returns an outcome for each
    attachment item received (stored, duplicate, or over the project's quota)."""
    by_project: dict[int, list[AttachmentRow]] = defaultdict(list)
    quotas: dict[int, int] = {}
    for batch in batches:
        by_project[batch.project_id] += batch.attachments
        if batch.attachments:
            quotas[batch.project_id] = batch.attachment_quota
    if not quotas:
        return []
    insert_ignore(
        connection,
        usage_table,
        [{"project_id": p, "bytes": 0} for p in sorted(quotas)],
        ["project_id"],
    )
    # One order across collectors: usage rows and unique keys are locked in the same order.
    return [
        (project_id, outcome)
        for project_id in sorted(quotas)
        for outcome in _store_for_project(
            connection, project_id, quotas[project_id], by_project[project_id]
        )
    ]


def _store_for_project(
    connection: Connection, project_id: int, quota: int, received: list[AttachmentRow]
) -> list[Outcome]:
    """Two statements whatever the number of attachments: insert them all (ON CONFLICT DO
    NOTHING … RETURNING), then take the new ones' bytes from the quota in one conditional
    UPDATE. Only when that fails, near the quota, are they taken one at a time, in order, and
    those that do not fit deleted again."""
    statements = _statements(connection.dialect.name)
    unique: dict[tuple[str, str], AttachmentRow] = {}
    for row in sorted(received, key=lambda r: (r.event_id, r.filename)):
        unique.setdefault((row.event_id, row.filename), row)
    values = [{**asdict(row), "project_id": project_id} for row in unique.values()]
    ids = {(e, f): i for i, e, f in connection.execute(statements["attachment"], values)}
    total = sum(unique[key].size for key in ids)
    over: set[tuple[str, str]] = set()
    if ids and not _reserve(connection, project_id, total, quota):
        for key in sorted(ids):
            if not _reserve(connection, project_id, unique[key].size, quota):
                over.add(key)
        if over:
            connection.execute(
                delete(attachment_table).where(attachment_table.c.id.in_([ids[k] for k in over]))
            )
    outcomes = []
    for row in received:
        key = (row.event_id, row.filename)
        if key in over:
            outcomes.append(
                Outcome("rate_limited", "attachment", "project attachment quota exceeded", 1)
            )
        elif key in ids:
            outcomes.append(_stored("attachment"))
        else:
            outcomes.append(_duplicate("attachment"))
        ids.pop(key, None)  # a second copy in this group is a duplicate
        over.discard(key)
    return outcomes


def _reserve(connection: Connection, project_id: int, size: int, quota: int) -> bool:
    """Takes `size` bytes of the project's quota if they fit (atomic: a concurrent writer
    waits on the row and then sees the new total)."""
    reserve = _statements(connection.dialect.name)["reserve"]
    parameters = {"b_project": project_id, "b_size": size, "b_quota": quota}
    return bool(connection.execute(reserve, parameters).rowcount == 1)
