"""What the writer stores for webhook deliveries: the delivery, Sentry's issues, comments."""

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Connection, Table

from collector.batch import IngestBatch
from store.models import Issue, IssueComment, WebhookDelivery
from store.sql import greater_of
from store.upsert import insert_for

delivery_table = cast(Table, WebhookDelivery.__table__)
issue_table = cast(Table, Issue.__table__)
comment_table = cast(Table, IssueComment.__table__)


def accept_deliveries(connection: Connection, batches: Sequence[IngestBatch]) -> list[IngestBatch]:
    """Records each delivery once; a re-delivery (same Request-ID, now or before) is dropped
    with everything it carries, so it changes nothing."""
    first: dict[str, IngestBatch] = {}
    plain: list[IngestBatch] = []
    for batch in batches:
        if batch.delivery is None:
            plain.append(batch)
        else:
            first.setdefault(batch.delivery.request_id, batch)
    if not first:
        return plain
    rows = [
        {
            "request_id": d.request_id,
            "resource": d.resource,
            "action": d.action,
            "received_at": d.received_at,
            "outcome": d.outcome,
            "installation_uuid": d.installation_uuid,
            "payload": d.payload,
        }
        for d in (b.delivery for b in first.values())
        if d is not None
    ]
    statement = (
        insert_for(connection, delivery_table)
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(delivery_table.c.request_id)
    )
    stored = set(connection.execute(statement, rows).scalars())
    return plain + [b for request_id, b in first.items() if request_id in stored]


def write_sentry_issues(connection: Connection, batches: Sequence[IngestBatch]) -> None:
    rows = [
        {
            "project_id": batch.project_id,
            "hash": i.hash,
            "sentry_id": i.sentry_id,
            "title": i.title,
            "culprit": i.culprit,
            "type": i.type,
            "level": i.level,
            "status": i.status,
            "substatus": i.substatus,
            "count": i.count,
            "first_seen_at": i.first_seen_at,
            "last_seen_at": i.last_seen_at,
            "first_release": None,
            "last_release": None,
            "external_url": i.external_url,
            "assigned_to": i.assigned_to,
            "resolved_at": i.resolved_at,
        }
        for batch in batches
        for i in batch.issues
    ]
    if not rows:
        return
    statement = insert_for(connection, issue_table)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["project_id", "hash"],
        set_={
            "sentry_id": new.sentry_id,
            "title": new.title,
            "culprit": new.culprit,
            "level": new.level,
            "status": new.status,
            "substatus": new.substatus,
            "external_url": new.external_url,
            "assigned_to": new.assigned_to,
            "resolved_at": new.resolved_at,
            # Sentry's own count and last-seen, unless our events already say more.
            "count": greater_of(issue_table.c.count, new.count),
            "last_seen_at": greater_of(issue_table.c.last_seen_at, new.last_seen_at),
        },
    )
    for row in rows:  # one at a time: two updates of one issue may share a group commit
        connection.execute(statement, row)


def write_comments(connection: Connection, batches: Sequence[IngestBatch]) -> None:
    for comment in (c for batch in batches for c in batch.comments):
        statement = insert_for(connection, comment_table)
        statement = statement.on_conflict_do_update(
            index_elements=["comment_id"],
            set_=(
                {"deleted_at": statement.excluded.updated_at}
                if comment.deleted
                else {"text": statement.excluded.text, "updated_at": statement.excluded.updated_at}
            ),
        )
        connection.execute(
            statement,
            {
                "comment_id": comment.comment_id,
                "sentry_issue_id": comment.sentry_issue_id,
                "project_slug": comment.project_slug,
                "author": comment.author,
                "text": comment.text,
                "created_at": comment.at,
                "updated_at": comment.at,
                "deleted_at": comment.at if comment.deleted else None,
            },
        )
