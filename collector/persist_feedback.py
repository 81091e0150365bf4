"""Feedback and attachments in the ingest transaction (collector/persist.py `write_batches`):
each stored once, each counted as an outcome by what became of it.

A replayed envelope stores nothing twice: feedback is unique per (project, event_id), an
attachment per (event_id, project, filename), both inserted with ON CONFLICT DO NOTHING. The
per-project attachment quota is one counter row per project (`attachment_usage`), moved by a
conditional UPDATE, so two collectors storing at once cannot both take the last bytes, and
the check never sums the attachment table (docs/decisions.md#14).
"""

from collections.abc import Sequence
from dataclasses import asdict
from functools import cache
from typing import Any, cast

from sqlalchemy import BigInteger, Connection, Integer, Table, bindparam, update

from collector.batch import AttachmentRow, IngestBatch, Outcome
from store.models import Attachment, AttachmentUsage, Feedback
from store.upsert import dialect_insert, insert_ignore

feedback_table = cast(Table, Feedback.__table__)
attachment_table = cast(Table, Attachment.__table__)
usage_table = cast(Table, AttachmentUsage.__table__)
ProjectOutcome = tuple[int, Outcome]


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
        .returning(attachment_table.c.id),
        "reserve": update(usage_table)
        .where(
            usage_table.c.project_id == project,
            usage_table.c.bytes + size <= bindparam("b_quota"),
        )
        .values(bytes=usage_table.c.bytes + size),
        "release": update(usage_table)
        .where(usage_table.c.project_id == project)
        .values(bytes=usage_table.c.bytes - size),
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
    received = [(b.project_id, b.attachment_quota, row) for b in batches for row in b.attachments]
    if not received:
        return []
    projects = sorted({project_id for project_id, _, _ in received})
    insert_ignore(
        connection, usage_table, [{"project_id": p, "bytes": 0} for p in projects], ["project_id"]
    )
    # One order across collectors: usage rows and unique keys are locked in the same order.
    received.sort(key=lambda r: (r[0], r[2].event_id, r[2].filename))
    return [
        (project_id, _store_attachment(connection, project_id, quota, row))
        for project_id, quota, row in received
    ]


def _store_attachment(
    connection: Connection, project_id: int, quota: int, row: AttachmentRow
) -> Outcome:
    statements = _statements(connection.dialect.name)
    sizes = {"b_project": project_id, "b_size": row.size}
    if connection.execute(statements["reserve"], {**sizes, "b_quota": quota}).rowcount != 1:
        return Outcome("rate_limited", "attachment", "project attachment quota exceeded", 1)
    values = {**asdict(row), "project_id": project_id}
    if connection.execute(statements["attachment"], values).first() is None:
        connection.execute(statements["release"], sizes)
        return _duplicate("attachment")
    return _stored("attachment")
