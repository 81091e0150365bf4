"""Reading attachments: the list of one event's, and one attachment's bytes.

An event id is looked up across projects, as `reads.events.get_event` does; when two projects
hold the same event id, the attachments of the first stored are read.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from reads import schemas
from reads.events import normalize_trace_id
from store.errors import NotFound
from store.models import Attachment, Event
from store.payload import decompress
from store.sql import chunked


@dataclass(frozen=True)
class AttachmentFile:
    filename: str
    data: bytes


def _event_id(event_id: str) -> str:
    """Event ids are stored as 32 lower-case hex characters (as trace ids are)."""
    return normalize_trace_id(event_id)


def list_attachments(session: Session, event_id: str) -> schemas.AttachmentList:
    """The event's attachments in the order they arrived; 404 when neither the event nor any
    attachment of it is known (an attachment may be stored without its event)."""
    wanted = _event_id(event_id)
    first = session.scalar(
        select(Attachment.project_id).where(Attachment.event_id == wanted).order_by(Attachment.id)
    )
    if first is None:
        if session.scalar(select(Event.id).where(Event.event_id == wanted).limit(1)) is None:
            raise NotFound(f"no event {wanted}")
        return schemas.AttachmentList(event_id=wanted, attachments=[])
    rows = session.scalars(
        select(Attachment)
        .options(defer(Attachment.data))  # the list never reads the bytes
        .where(Attachment.event_id == wanted, Attachment.project_id == first)
        .order_by(Attachment.id)
    )
    return schemas.AttachmentList(
        event_id=wanted,
        attachments=[schemas.AttachmentSummary.model_validate(row) for row in rows],
    )


def get_attachment(session: Session, event_id: str, filename: str) -> AttachmentFile:
    wanted = _event_id(event_id)
    row = session.scalar(
        select(Attachment)
        .where(Attachment.event_id == wanted, Attachment.filename == filename)
        .order_by(Attachment.id)
        .limit(1)
    )
    if row is None:
        raise NotFound(f"no attachment {filename!r} for event {wanted}")
    return AttachmentFile(row.filename, decompress(row.data))


def attachments_of(
    session: Session, event_ids: Sequence[str]
) -> dict[str, list[schemas.AttachmentSummary]]:
    """By event id, the attachments of these events (a page's): their names and sizes, never
    their bytes."""
    found: dict[str, list[schemas.AttachmentSummary]] = defaultdict(list)
    for chunk in chunked(sorted(set(event_ids))):
        rows = session.execute(
            select(
                Attachment.event_id,
                Attachment.filename,
                Attachment.content_type,
                Attachment.attachment_type,
                Attachment.size,
                Attachment.received_at,
            )
            .where(Attachment.event_id.in_(chunk))
            .order_by(Attachment.id)
        )
        for row in rows:
            found[row.event_id].append(schemas.AttachmentSummary.model_validate(row))
    return dict(found)
